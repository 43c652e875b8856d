"""Loading projects from data-acquisition JSON, bundled and user-supplied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.dataset import BUNDLED_DATASET_DIR, load_dataset
from emulator.server import EmulatorServer, ProjectSpec
from labelnoise.exceptions import ConfigurationError
from tests.emulator.helpers import label_noise, run_job, studio_client
from tests.emulator.synthetic import make_samples


def write_sample(path: Path, values: list[list[float]], interval_ms: float = 100.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "protected": {"ver": "v1", "alg": "none", "iat": 0},
        "signature": "0" * 64,
        "payload": {
            "device_name": "test-device",
            "device_type": "TEST",
            "interval_ms": interval_ms,
            "sensors": [{"name": f"axis{index}", "units": "m/s2"} for index in range(3)],
            "values": values,
        },
    }
    path.write_text(json.dumps(document), encoding="utf-8")


def synthetic_dataset(directory: Path) -> Path:
    """Write 12 synthetic samples of three labels into training/ and testing/."""
    names = ("low", "mid", "high")
    for position, sample in enumerate(make_samples(4, 3)):
        category = "testing" if position >= 9 else "training"
        path = directory / category / f"{names[sample.label]}.{position:02d}.json"
        write_sample(path, sample.values.tolist())
    return directory


def test_bundled_dataset_contents() -> None:
    samples = load_dataset(BUNDLED_DATASET_DIR)

    assert len(samples) == 80
    assert [sample.id for sample in samples] == list(range(1, 81))
    assert sum(sample.category == "training" for sample in samples) == 40
    assert {sample.label for sample in samples} == {"badminton", "running", "standing", "walking"}
    assert {sample.values.shape for sample in samples} == {(100, 6)}
    assert {sample.interval_ms for sample in samples} == {100.0}


def test_bundled_ids_follow_category_and_name() -> None:
    samples = load_dataset(BUNDLED_DATASET_DIR, first_sample_id=10)

    assert (samples[0].id, samples[0].filename, samples[0].category) == (
        10,
        "badminton.01",
        "training",
    )
    assert (samples[40].id, samples[40].filename, samples[40].category) == (
        50,
        "badminton.01",
        "testing",
    )


def test_folder_names_set_category(tmp_path: Path) -> None:
    synthetic_dataset(tmp_path)
    write_sample(tmp_path / "loose.extra.json", [[0.0, 0.0, 0.0]] * 10)

    samples = load_dataset(tmp_path)

    categories = {sample.filename: sample.category for sample in samples}
    assert categories["loose.extra"] == "training"
    assert categories["high.11"] == "testing"
    assert {sample.label for sample in samples} == {"loose", "low", "mid", "high"}


def test_labels_file_overrides_names(tmp_path: Path) -> None:
    write_sample(tmp_path / "files" / "a.json", [[1.0, 2.0, 3.0]] * 20)
    write_sample(tmp_path / "files" / "b.json", [[1.0, 2.0, 3.0]] * 20)
    labels = {
        "version": 1,
        "files": [
            {
                "path": "files/a.json",
                "category": "training",
                "label": {"type": "label", "label": "idle"},
            },
            {
                "path": "files/b.json",
                "category": "testing",
                "label": {"type": "label", "label": "wave"},
            },
        ],
    }
    (tmp_path / "info.labels").write_text(json.dumps(labels), encoding="utf-8")

    samples = load_dataset(tmp_path)

    assert [(s.filename, s.label, s.category) for s in samples] == [
        ("a", "idle", "training"),
        ("b", "wave", "testing"),
    ]


def test_missing_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_dataset(tmp_path / "absent")


def test_empty_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"contains no \*\.json samples"):
        load_dataset(tmp_path)


def test_invalid_document_rejected(tmp_path: Path) -> None:
    (tmp_path / "bad.01.json").write_text('{"payload": {"values": []}}', encoding="utf-8")

    with pytest.raises(ConfigurationError, match="is not an Edge Impulse data-acquisition"):
        load_dataset(tmp_path)


def test_values_not_matching_sensors_rejected(tmp_path: Path) -> None:
    write_sample(tmp_path / "bad.01.json", [[1.0, 2.0]] * 5)

    with pytest.raises(ConfigurationError, match=r"values of shape \(5, 2\) for 3 sensors"):
        load_dataset(tmp_path)


def test_emulator_serves_custom_dataset(tmp_path: Path) -> None:
    project = ProjectSpec(
        project_id=7, name="Synthetic", api_key="ei_custom", dataset_dir=synthetic_dataset(tmp_path)
    )

    with EmulatorServer.start(projects=[project]) as server, studio_client(server) as client:
        summary = client.get("/api/7").json()["dataSummary"]
        job = run_job(client, server, 7)
        scores = label_noise(client, 7)["data"]["crossValidation"]["scores"]

    assert summary["labels"] == ["high", "low", "mid"]
    assert summary["dataCount"] == 9
    assert job["finishedSuccessful"] is True
    assert len(scores) == 9 * 15  # 3000 ms windows every 500 ms in 10 s


def test_too_short_samples_fail_job(tmp_path: Path) -> None:
    write_sample(tmp_path / "training" / "a.01.json", [[1.0, 2.0, 3.0]] * 5)
    write_sample(tmp_path / "training" / "b.01.json", [[1.0, 2.0, 3.0]] * 5)
    project = ProjectSpec(project_id=8, name="Short", api_key="ei_short", dataset_dir=tmp_path)

    with EmulatorServer.start(projects=[project]) as server, studio_client(server) as client:
        job = run_job(client, server, 8)
        log = client.get(f"/api/8/jobs/{job['id']}/stdout", params={"logLevel": "error"})

    assert job["finishedSuccessful"] is False
    assert log.json()["stdout"][0]["data"] == (
        "Failed to calculate data quality metrics: No sample is at least 3000 ms long, so "
        "there are no windows to analyse; shorten the window or add longer samples"
    )
