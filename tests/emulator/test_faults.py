"""Fault injection through `server.state` and through the control API."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from pydantic import ValidationError

from emulator.faults import FaultSpec
from emulator.server import EmulatorServer
from tests.emulator.helpers import run_job


def project_url(emulator: EmulatorServer) -> str:
    return f"/api/{emulator.project_id}"


def label_noise_url(emulator: EmulatorServer) -> str:
    return f"/api/{emulator.project_id}/raw-data/data-quality/label-noise"


def test_rate_limit_sends_retry_after(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("rate-limit", retry_after=7, count=1)

    response = studio.get(project_url(emulator))

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"success": False, "error": "Too many requests, slow down"}


def test_fault_count_limits_occurrences(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("rate-limit", count=2)

    statuses = [studio.get(project_url(emulator)).status_code for _ in range(3)]

    assert statuses == [429, 429, 200]
    assert emulator.state.faults.list() == []


def test_fault_without_count_persists(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("server-error", status=500)

    statuses = [studio.get(project_url(emulator)).status_code for _ in range(4)]

    assert statuses == [500, 500, 500, 500]
    assert emulator.state.faults.list()[0].triggered == 4


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_burst(studio: httpx.Client, emulator: EmulatorServer, status: int) -> None:
    emulator.state.add_fault("server-error", status=status, count=3, retry_after=2)

    responses = [studio.get(project_url(emulator)) for _ in range(4)]

    assert [response.status_code for response in responses] == [status] * 3 + [200]
    assert responses[0].json()["success"] is False
    expected_retry_after = "2" if status == 503 else None
    assert responses[0].headers.get("retry-after") == expected_retry_after


def test_fault_limited_to_operation(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("server-error", endpoint="getLabelNoiseData", count=1)

    project = studio.get(project_url(emulator))
    results = studio.get(label_noise_url(emulator))

    assert project.status_code == 200
    assert results.status_code == 503


def test_fault_limited_to_path_template(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault(
        "rate-limit",
        endpoint="GET /v1/api/{projectId}/raw-data/data-quality/label-noise/exists",
        count=1,
    )

    results = studio.get(label_noise_url(emulator))
    exists = studio.get(label_noise_url(emulator) + "/exists")

    assert results.status_code == 200
    assert exists.status_code == 429


def test_fault_limited_to_project(pristine_two_projects: EmulatorServer) -> None:
    pristine_two_projects.state.add_fault("rate-limit", project_id=2)

    with httpx.Client(
        base_url=pristine_two_projects.base_url, headers={"x-api-key": "ei_" + "a" * 64}
    ) as client:
        response = client.get("/api/1")

    assert response.status_code == 200


def test_unknown_fault_endpoint_rejected(emulator: EmulatorServer) -> None:
    with pytest.raises(ValidationError, match="Unknown endpoint 'GET /api/nothing'"):
        emulator.state.add_fault("rate-limit", endpoint="GET /api/nothing")


def test_success_false_with_http_200(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("success-false", message="Project is being migrated", count=1)

    response = studio.get(label_noise_url(emulator))

    assert response.status_code == 200
    assert response.json() == {"success": False, "error": "Project is being migrated"}


def test_latency_delays_response(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("latency", latency_seconds=0.3, count=1)

    started = time.monotonic()
    response = studio.get(project_url(emulator))
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.3


def test_latency_combines_with_error(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("latency", latency_seconds=0.1, count=1)
    emulator.state.add_fault("server-error", status=502, count=1)

    started = time.monotonic()
    response = studio.get(project_url(emulator))

    assert response.status_code == 502
    assert time.monotonic() - started >= 0.1


def test_truncated_body_drops_connection(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("truncate", endpoint="getProjectInfo", count=1)

    with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
        studio.get(project_url(emulator))

    assert studio.get(project_url(emulator)).status_code == 200


def test_truncated_body_as_invalid_json(studio: httpx.Client, emulator: EmulatorServer) -> None:
    full = studio.get(project_url(emulator)).content
    emulator.state.add_fault("truncate", truncate_mode="invalid-json", keep_fraction=0.25, count=1)

    response = studio.get(project_url(emulator))

    assert response.status_code == 200
    assert response.content == full[: int(len(full) * 0.25)]
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_job_failure_logs_reason(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("job-failure", message="disk quota exceeded", count=1)

    job = run_job(studio, emulator)
    log = studio.get(f"/api/{emulator.project_id}/jobs/{job['id']}/stdout").json()

    assert job["finishedSuccessful"] is False
    assert [line["data"] for line in log["stdout"] if line["logLevel"] == "error"] == [
        "Failed to calculate data quality metrics: disk quota exceeded",
        "Job failed",
    ]


def test_job_failure_applies_once(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("job-failure", count=1)

    first = run_job(studio, emulator)
    second = run_job(studio, emulator)

    assert first["finishedSuccessful"] is False
    assert second["finishedSuccessful"] is True


def test_job_hang_never_finishes(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("job-hang", count=1)
    job_id = studio.post(f"/api/{emulator.project_id}/jobs/data-quality-metrics", json={}).json()[
        "id"
    ]

    with pytest.raises(TimeoutError, match=f"Job {job_id} did not finish within 0.5 s"):
        emulator.state.wait_for_job(job_id, timeout=0.5)
    job = studio.get(f"/api/{emulator.project_id}/jobs/{job_id}/status").json()["job"]

    assert "started" in job
    assert "finished" not in job


def test_hung_job_ends_on_cancel(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("job-hang", count=1)
    job_id = studio.post(f"/api/{emulator.project_id}/jobs/data-quality-metrics", json={}).json()[
        "id"
    ]

    studio.post(f"/api/{emulator.project_id}/jobs/{job_id}/cancel")

    assert emulator.state.wait_for_job(job_id, timeout=5).finished_successful is False


def test_faults_precede_authentication(emulator: EmulatorServer) -> None:
    emulator.state.add_fault("rate-limit", count=1)

    response = httpx.get(f"{emulator.base_url}{project_url(emulator)}")

    assert response.status_code == 429


def test_reset_clears_faults(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("rate-limit")

    emulator.state.reset()

    assert studio.get(project_url(emulator)).status_code == 200


def test_control_api_adds_fault(studio: httpx.Client, emulator: EmulatorServer) -> None:
    created = httpx.post(
        f"{emulator.control_url}/faults",
        json={"kind": "server-error", "status": 502, "count": 1, "endpoint": "getProjectInfo"},
    )

    response = studio.get(project_url(emulator))

    assert created.status_code == 201
    assert created.json()["remaining"] == 1
    assert created.json()["endpoint"] == "getProjectInfo"
    assert response.status_code == 502


def test_control_api_lists_and_removes(emulator: EmulatorServer) -> None:
    fault = emulator.state.add_fault("latency", latency_seconds=0.5)
    listing = httpx.get(f"{emulator.control_url}/faults").json()

    removed = httpx.delete(f"{emulator.control_url}/faults/{fault.id}")

    assert [item["id"] for item in listing["faults"]] == [fault.id]
    assert listing["faults"][0]["kind"] == "latency"
    assert removed.json() == {"removed": fault.id}
    assert emulator.state.faults.list() == []


def test_control_api_rejects_invalid_fault(emulator: EmulatorServer) -> None:
    response = httpx.post(f"{emulator.control_url}/faults", json={"kind": "explode"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "kind"]


def test_control_api_clears_faults(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("rate-limit")

    cleared = httpx.delete(f"{emulator.control_url}/faults")

    assert cleared.json() == {"faults": []}
    assert studio.get(project_url(emulator)).status_code == 200


def test_control_api_resets_state(studio: httpx.Client, emulator: EmulatorServer) -> None:
    studio.post(f"{project_url(emulator)}/raw-data/1/edit-label", json={"label": "x"})

    response = httpx.post(f"{emulator.control_url}/reset")

    assert response.json() == {"reset": True}
    label = studio.get(f"{project_url(emulator)}/raw-data/1").json()["sample"]["label"]
    assert label == "badminton"


def test_control_api_needs_no_key(emulator: EmulatorServer) -> None:
    response = httpx.get(f"{emulator.control_url}/faults")

    assert response.status_code == 200


def test_request_log_counts_operations(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("rate-limit", count=1)
    studio.get(project_url(emulator))
    studio.get(project_url(emulator))

    requests = httpx.get(f"{emulator.control_url}/requests").json()["requests"]

    assert emulator.state.request_count("getProjectInfo") == 2
    assert emulator.state.request_count("getProjectInfo", status=429) == 1
    assert requests == [
        {"method": "GET", "operation": "getProjectInfo", "projectId": 1, "status": 429},
        {"method": "GET", "operation": "getProjectInfo", "projectId": 1, "status": 200},
    ]


def impatient_client(emulator: EmulatorServer) -> httpx.Client:
    """Return a client whose read timeout is far shorter than the latency faults below."""
    return httpx.Client(
        base_url=emulator.base_url,
        headers={"x-api-key": emulator.api_key},
        timeout=httpx.Timeout(30.0, read=0.5),
    )


def test_request_logged_before_response(emulator: EmulatorServer) -> None:
    # The response is still held back by the latency fault when the client
    # gives up, so only a request logged on arrival can be counted here.
    emulator.state.add_fault("latency", endpoint="getProjectInfo", latency_seconds=1.5, count=1)

    with impatient_client(emulator) as client, pytest.raises(httpx.ReadTimeout):
        client.get(project_url(emulator))

    assert emulator.state.request_count("getProjectInfo") == 1
    assert emulator.state.request_count("getProjectInfo", status=200) == 1


def test_latency_after_handler_creates_job(emulator: EmulatorServer) -> None:
    emulator.state.pause_jobs()
    emulator.state.add_fault(
        "latency", endpoint="calculateDataQualityMetrics", latency_seconds=1.5, count=1
    )

    with impatient_client(emulator) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{project_url(emulator)}/jobs/data-quality-metrics", json={})

    assert len(emulator.state.jobs(emulator.project_id)) == 1
    assert emulator.state.request_count("calculateDataQualityMetrics") == 1


def test_latency_before_handler_creates_no_job(emulator: EmulatorServer) -> None:
    emulator.state.add_fault(
        "latency",
        endpoint="calculateDataQualityMetrics",
        latency_seconds=1.5,
        latency_phase="before",
        count=1,
    )

    with impatient_client(emulator) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{project_url(emulator)}/jobs/data-quality-metrics", json={})

    assert emulator.state.jobs(emulator.project_id) == []
    assert emulator.state.request_count("calculateDataQualityMetrics") == 1
    assert emulator.state.request_count("calculateDataQualityMetrics", status=200) == 0


def test_latency_before_handler_keeps_body(studio: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault(
        "latency",
        endpoint="calculateDataQualityMetrics",
        latency_seconds=0.1,
        latency_phase="before",
        count=1,
    )

    response = studio.post(
        f"{project_url(emulator)}/jobs/data-quality-metrics", json={"representation": "audio"}
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid representation 'audio'")


def test_control_api_reports_rate_limit_status(emulator: EmulatorServer) -> None:
    created = httpx.post(f"{emulator.control_url}/faults", json={"kind": "rate-limit"})

    listing = httpx.get(f"{emulator.control_url}/faults").json()

    assert created.status_code == 201
    assert created.json()["status"] == 429
    assert [fault["status"] for fault in listing["faults"]] == [429]


def test_rate_limit_rejects_other_status() -> None:
    with pytest.raises(ValidationError, match="A rate-limit fault always responds with HTTP 429"):
        FaultSpec(kind="rate-limit", status=503)  # type: ignore[arg-type]
