"""The data-quality job: trigger, lifecycle, log, cancel and refusal."""

from __future__ import annotations

import httpx
import pytest
from edgeimpulse_api.models import (
    GenericApiResponse,
    GetJobResponse,
    ListJobsResponse,
    LogStdoutResponse,
    StartJobResponse,
)

from emulator.server import EmulatorServer
from tests.emulator.helpers import assert_matches_model, run_job

STAFF_ONLY = "Only available for EI staff: this API key may not calculate data quality metrics"


def trigger(studio: httpx.Client, project_id: int, body: object = None) -> httpx.Response:
    return studio.post(
        f"/api/{project_id}/jobs/data-quality-metrics", json={} if body is None else body
    )


def test_trigger_matches_model(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = trigger(studio, emulator.project_id)

    started = assert_matches_model(StartJobResponse, response)

    assert started.success is True
    assert emulator.state.wait_for_job(started.id).finished_successful is True


def test_trigger_accepts_representation(studio: httpx.Client, emulator: EmulatorServer) -> None:
    job = run_job(studio, emulator, representation="current-impulse")

    assert job["finishedSuccessful"] is True
    assert job["metadata"] == {"representation": "current-impulse"}


def test_trigger_accepts_empty_body(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.post(f"/api/{emulator.project_id}/jobs/data-quality-metrics")

    assert response.status_code == 200
    emulator.state.wait_for_job(response.json()["id"])


def test_invalid_representation_is_400(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = trigger(studio, emulator.project_id, {"representation": "spectral"})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "Invalid representation 'spectral'; expected one of keywords, images, "
        "current-impulse, current-impulse-embeddings",
    }
    assert emulator.state.jobs(emulator.project_id) == []


def test_job_lifecycle_created_started_finished(
    studio: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.pause_jobs()
    job_id = trigger(studio, emulator.project_id).json()["id"]
    status_url = f"/api/{emulator.project_id}/jobs/{job_id}/status"

    queued = assert_matches_model(GetJobResponse, studio.get(status_url)).job
    assert queued.created is not None
    assert queued.started is None
    assert queued.finished is None

    emulator.state.resume_jobs()
    emulator.state.wait_for_job(job_id)
    done = studio.get(status_url).json()["job"]

    assert done["id"] == job_id
    assert done["started"] >= done["created"]
    assert done["finished"] >= done["started"]
    assert done["finishedSuccessful"] is True
    assert done["categoryKey"] == "data-quality-metrics"


def test_active_jobs_lists_unfinished(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.pause_jobs()
    job_id = trigger(studio, emulator.project_id).json()["id"]

    listing = assert_matches_model(ListJobsResponse, studio.get(f"/api/{emulator.project_id}/jobs"))

    assert [job.id for job in listing.jobs] == [job_id]
    assert listing.total_job_count == 1
    emulator.state.resume_jobs()
    emulator.state.wait_for_job(job_id)


def test_job_log_matches_model(studio: httpx.Client, emulator: EmulatorServer) -> None:
    job = run_job(studio, emulator)

    response = studio.get(f"/api/{emulator.project_id}/jobs/{job['id']}/stdout")
    log = assert_matches_model(LogStdoutResponse, response)

    lines = [item.data for item in log.stdout]
    assert lines[0] == "Job started"
    assert lines[1] == "Calculating data quality metrics over 40 training samples"
    assert lines[2] == "Windowed 40 samples into 600 windows of 3000 ms every 500 ms"
    assert lines[-1] == "Job completed"
    assert log.total_count == len(lines)


def test_job_log_limit_returns_tail(studio: httpx.Client, emulator: EmulatorServer) -> None:
    job = run_job(studio, emulator)
    url = f"/api/{emulator.project_id}/jobs/{job['id']}/stdout"
    full = studio.get(url).json()

    tail = studio.get(url, params={"limit": 2}).json()

    assert tail["stdout"] == full["stdout"][-2:]
    assert tail["totalCount"] == full["totalCount"]


def test_job_log_filters_level(studio: httpx.Client, emulator: EmulatorServer) -> None:
    job = run_job(studio, emulator, representation="images")

    log = studio.get(
        f"/api/{emulator.project_id}/jobs/{job['id']}/stdout", params={"logLevel": "error"}
    ).json()

    assert [line["data"] for line in log["stdout"]] == [
        "Representation 'images' needs image data, but this project has time-series "
        "sensor data; use 'current-impulse' instead",
        "Job failed",
    ]
    assert {line["logLevel"] for line in log["stdout"]} == {"error"}


def test_image_representation_fails_job(studio: httpx.Client, emulator: EmulatorServer) -> None:
    job = run_job(studio, emulator, representation="images")

    assert job["finishedSuccessful"] is False
    assert "finished" in job


def test_cancel_finishes_unsuccessfully(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.pause_jobs()
    job_id = trigger(studio, emulator.project_id).json()["id"]

    response = studio.post(f"/api/{emulator.project_id}/jobs/{job_id}/cancel")

    assert_matches_model(GenericApiResponse, response)
    job = studio.get(f"/api/{emulator.project_id}/jobs/{job_id}/status").json()["job"]
    assert "finished" in job
    assert job["finishedSuccessful"] is False
    assert "started" not in job


def test_cancel_keeps_finished_job(studio: httpx.Client, emulator: EmulatorServer) -> None:
    job = run_job(studio, emulator)

    studio.post(f"/api/{emulator.project_id}/jobs/{job['id']}/cancel")

    after = studio.get(f"/api/{emulator.project_id}/jobs/{job['id']}/status").json()["job"]
    assert after["finishedSuccessful"] is True
    assert after["finished"] == job["finished"]


def test_cancelled_job_stores_no_results(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.pause_jobs()
    job_id = trigger(studio, emulator.project_id).json()["id"]
    studio.post(f"/api/{emulator.project_id}/jobs/{job_id}/cancel")
    emulator.state.resume_jobs()

    exists = studio.get(f"/api/{emulator.project_id}/raw-data/data-quality/label-noise/exists")

    assert exists.json() == {"success": True, "hasFeatures": False}


def test_refused_trigger_forbidden_is_403(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.set_refuse_trigger(emulator.project_id, "forbidden")

    response = trigger(studio, emulator.project_id)

    assert response.status_code == 403
    assert response.json() == {"success": False, "error": STAFF_ONLY}
    assert emulator.state.jobs(emulator.project_id) == []


def test_refused_trigger_success_false_is_200(
    studio: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.set_refuse_trigger(emulator.project_id, "success-false")

    response = trigger(studio, emulator.project_id)

    assert response.status_code == 200
    assert response.json() == {"success": False, "error": STAFF_ONLY}


def test_refusal_set_through_control_api(studio: httpx.Client, emulator: EmulatorServer) -> None:
    control = httpx.put(
        f"{emulator.control_url}/projects/{emulator.project_id}/refuse-trigger",
        json={"mode": "forbidden"},
    )

    response = trigger(studio, emulator.project_id)

    assert control.json() == {"projectId": emulator.project_id, "mode": "forbidden"}
    assert response.status_code == 403


def test_refusal_setting_per_project(pristine_two_projects: EmulatorServer) -> None:
    pristine_two_projects.state.set_refuse_trigger(2, "forbidden")

    with httpx.Client(
        base_url=pristine_two_projects.base_url, headers={"x-api-key": "ei_" + "a" * 64}
    ) as client:
        response = client.post("/api/1/jobs/data-quality-metrics", json={})

    assert response.status_code == 200
    pristine_two_projects.state.wait_for_job(response.json()["id"])


def test_reset_clears_refusal(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.set_refuse_trigger(emulator.project_id, "forbidden")

    emulator.state.reset()

    assert emulator.state.project(emulator.project_id).refuse_trigger is None


def test_invalid_refusal_mode_raises(emulator: EmulatorServer) -> None:
    with pytest.raises(ValueError, match="Invalid refuse-trigger mode 'maybe'"):
        emulator.state.set_refuse_trigger(emulator.project_id, "maybe")  # type: ignore[arg-type]
