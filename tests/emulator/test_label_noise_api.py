"""Label-noise endpoints: availability, shape, label indexes and embedded samples."""

from __future__ import annotations

from typing import Any

import httpx
from edgeimpulse_api.models import GetLabelNoiseDataResponse, HasDataExplorerFeaturesResponse

from emulator.server import EmulatorServer
from tests.emulator.conftest import OTHER_PROJECT_ID, OTHER_PROJECT_KEY
from tests.emulator.helpers import assert_matches_model, label_noise, run_job


def label_noise_url(project_id: int) -> str:
    return f"/api/{project_id}/raw-data/data-quality/label-noise"


def embedded_samples(data: dict[str, Any]) -> list[Any]:
    """Collect the `sample` value (or None) of every entry that may embed one."""
    found = []
    cosine = data["cosineSimilarity"]
    for issue in cosine["similarButDifferentLabel"] + cosine["differentButSameLabel"]:
        found.append(issue.get("sample"))
        found += [other.get("sample") for other in issue["issues"]]
    for entry in data["neighbors"]["scoresAndNeighbors"]:
        found.append(entry.get("sample"))
        found += [neighbor.get("sample") for neighbor in entry["neighborWindows"]]
    found += [score.get("sample") for score in data["crossValidation"]["scores"]]
    return found


def test_exists_false_before_any_job(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(label_noise_url(emulator.project_id) + "/exists")

    exists = assert_matches_model(HasDataExplorerFeaturesResponse, response)

    assert exists.has_features is False


def test_results_before_any_job_fail(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(label_noise_url(emulator.project_id))

    assert response.status_code == 200
    assert response.json() == {
        "success": False,
        "error": "No label noise data for this project yet; start a data quality metrics "
        "job and wait for it to finish",
    }


def test_exists_true_after_job(studio: httpx.Client, emulator: EmulatorServer) -> None:
    run_job(studio, emulator)

    response = studio.get(label_noise_url(emulator.project_id) + "/exists")

    assert response.json() == {"success": True, "hasFeatures": True}


def test_results_match_model(studio: httpx.Client, emulator: EmulatorServer) -> None:
    run_job(studio, emulator)

    response = studio.get(label_noise_url(emulator.project_id))
    results = assert_matches_model(GetLabelNoiseDataResponse, response)

    assert results.success is True
    assert results.data.neighbors.num_neighbors == 20
    assert len(results.data.cross_validation.scores) == 600


def test_flipped_results_match_model(studio: httpx.Client, emulator: EmulatorServer) -> None:
    for sample_id in (1, 2, 15):
        studio.post(
            f"/api/{emulator.project_id}/raw-data/{sample_id}/edit-label",
            json={"label": "walking"},
        )
    run_job(studio, emulator)

    response = studio.get(label_noise_url(emulator.project_id))
    results = assert_matches_model(GetLabelNoiseDataResponse, response)

    cosine = results.data.cosine_similarity
    assert cosine.similar_but_different_label != []
    assert all(issue.issues != [] for issue in cosine.similar_but_different_label)


def test_windows_lie_inside_samples(studio: httpx.Client, emulator: EmulatorServer) -> None:
    run_job(studio, emulator)

    scores = label_noise(studio, emulator.project_id)["data"]["crossValidation"]["scores"]

    assert {(score["windowStart"], score["windowEnd"]) for score in scores} == {
        (start, start + 3000) for start in range(0, 7001, 500)
    }


def test_label_index_is_project_label_position(
    studio: httpx.Client, emulator: EmulatorServer
) -> None:
    studio.post(f"/api/{emulator.project_id}/raw-data/3/edit-label", json={"label": "jumping"})
    run_job(studio, emulator)
    labels = studio.get(f"/api/{emulator.project_id}").json()["dataSummary"]["labels"]
    samples = studio.get(
        f"/api/{emulator.project_id}/raw-data", params={"category": "training"}
    ).json()["samples"]
    label_of = {sample["id"]: sample["label"] for sample in samples}

    scores = label_noise(studio, emulator.project_id)["data"]["crossValidation"]["scores"]

    assert labels == ["badminton", "jumping", "running", "standing", "walking"]
    assert all(labels[score["label"]] == label_of[score["id"]] for score in scores)
    assert {score["label"] for score in scores if score["id"] == 3} == {1}


def test_neighbor_scores_above_zero(studio: httpx.Client, emulator: EmulatorServer) -> None:
    studio.post(f"/api/{emulator.project_id}/raw-data/3/edit-label", json={"label": "walking"})
    run_job(studio, emulator)

    entries = label_noise(studio, emulator.project_id)["data"]["neighbors"]["scoresAndNeighbors"]

    assert entries != []
    assert all(0 < entry["score"] <= 20 for entry in entries)
    assert all(len(entry["neighborWindows"]) == 20 for entry in entries)
    assert all(
        neighbor["id"] != entry["id"] for entry in entries for neighbor in entry["neighborWindows"]
    )


def test_samples_left_out_by_default(studio: httpx.Client, emulator: EmulatorServer) -> None:
    studio.post(f"/api/{emulator.project_id}/raw-data/3/edit-label", json={"label": "walking"})
    run_job(studio, emulator)

    data = label_noise(studio, emulator.project_id)["data"]

    assert set(embedded_samples(data)) == {None}


def test_samples_embedded_when_enabled(studio: httpx.Client, emulator: EmulatorServer) -> None:
    studio.post(f"/api/{emulator.project_id}/raw-data/3/edit-label", json={"label": "walking"})
    run_job(studio, emulator)
    emulator.state.set_include_samples(emulator.project_id, True)

    response = studio.get(label_noise_url(emulator.project_id))
    assert_matches_model(GetLabelNoiseDataResponse, response)
    data = response.json()["data"]

    samples = embedded_samples(data)
    assert None not in samples
    sample_three = studio.get(f"/api/{emulator.project_id}/raw-data/3").json()["sample"]
    assert sample_three in samples


def test_embedded_sample_shows_fetch_time_label(
    studio: httpx.Client, emulator: EmulatorServer
) -> None:
    run_job(studio, emulator)
    emulator.state.set_include_samples(emulator.project_id, True)
    studio.post(f"/api/{emulator.project_id}/raw-data/1/edit-label", json={"label": "running"})

    scores = label_noise(studio, emulator.project_id)["data"]["crossValidation"]["scores"]

    first = next(score for score in scores if score["id"] == 1)
    assert first["label"] == 0  # badminton when the job ran
    assert first["sample"]["label"] == "running"


def test_include_samples_through_control_api(
    studio: httpx.Client, emulator: EmulatorServer
) -> None:
    run_job(studio, emulator)

    control = httpx.put(
        f"{emulator.control_url}/projects/{emulator.project_id}/include-samples",
        json={"include": True},
    )

    scores = label_noise(studio, emulator.project_id)["data"]["crossValidation"]["scores"]
    assert control.status_code == 200
    assert scores[0]["sample"]["id"] == scores[0]["id"]


def test_project_option_embeds_samples(pristine_two_projects: EmulatorServer) -> None:
    with httpx.Client(
        base_url=pristine_two_projects.base_url, headers={"x-api-key": OTHER_PROJECT_KEY}
    ) as client:
        run_job(client, pristine_two_projects, OTHER_PROJECT_ID)
        data = label_noise(client, OTHER_PROJECT_ID)["data"]

    assert None not in embedded_samples(data)


def test_same_labels_give_same_body(studio: httpx.Client, emulator: EmulatorServer) -> None:
    run_job(studio, emulator)
    first = studio.get(label_noise_url(emulator.project_id)).content

    run_job(studio, emulator)
    second = studio.get(label_noise_url(emulator.project_id)).content

    assert first == second


def test_unchanged_labels_reuse_result(studio: httpx.Client, emulator: EmulatorServer) -> None:
    run_job(studio, emulator)
    runs_before = emulator.state.engine_runs

    run_job(studio, emulator)

    assert emulator.state.engine_runs == runs_before


def test_relabel_changes_results(studio: httpx.Client, emulator: EmulatorServer) -> None:
    run_job(studio, emulator)
    before = label_noise(studio, emulator.project_id)["data"]
    studio.post(f"/api/{emulator.project_id}/raw-data/25/edit-label", json={"label": "running"})

    run_job(studio, emulator)
    after = label_noise(studio, emulator.project_id)["data"]

    flagged = {entry["id"] for entry in after["neighbors"]["scoresAndNeighbors"]}
    assert after != before
    assert 25 in flagged


def test_failed_job_keeps_earlier_results(studio: httpx.Client, emulator: EmulatorServer) -> None:
    run_job(studio, emulator)
    before = studio.get(label_noise_url(emulator.project_id)).content

    failed = run_job(studio, emulator, representation="keywords")

    assert failed["finishedSuccessful"] is False
    assert studio.get(label_noise_url(emulator.project_id)).content == before


def test_reset_drops_results(studio: httpx.Client, emulator: EmulatorServer) -> None:
    run_job(studio, emulator)

    emulator.state.reset()

    response = studio.get(label_noise_url(emulator.project_id) + "/exists")
    assert response.json()["hasFeatures"] is False
