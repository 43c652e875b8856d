"""Authentication and error envelopes of the emulated Studio API."""

from __future__ import annotations

import httpx
import pytest

from emulator.server import EmulatorServer
from tests.emulator.conftest import OTHER_PROJECT_ID, OTHER_PROJECT_KEY


def test_missing_api_key_is_401(emulator: EmulatorServer) -> None:
    response = httpx.get(f"{emulator.base_url}/api/{emulator.project_id}")

    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": "Missing API key; send the project's API key in x-api-key",
    }


def test_wrong_api_key_is_401(emulator: EmulatorServer) -> None:
    response = httpx.get(
        f"{emulator.base_url}/api/{emulator.project_id}", headers={"x-api-key": "ei_wrong"}
    )

    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": "Invalid API key; check the project's API key in Studio",
    }


def test_wrong_api_key_never_echoed(emulator: EmulatorServer) -> None:
    response = httpx.get(
        f"{emulator.base_url}/api/{emulator.project_id}",
        headers={"x-api-key": "ei_secret_value"},
    )

    assert "ei_secret_value" not in response.text


def test_key_of_other_project_is_403(pristine_two_projects: EmulatorServer) -> None:
    response = httpx.get(
        f"{pristine_two_projects.base_url}/api/1", headers={"x-api-key": OTHER_PROJECT_KEY}
    )

    assert response.status_code == 403
    assert response.json() == {
        "success": False,
        "error": "This API key has no access to project 1",
    }


def test_each_key_reaches_its_own_project(pristine_two_projects: EmulatorServer) -> None:
    response = httpx.get(
        f"{pristine_two_projects.base_url}/api/{OTHER_PROJECT_ID}",
        headers={"x-api-key": OTHER_PROJECT_KEY},
    )

    assert response.status_code == 200
    assert response.json()["project"]["id"] == OTHER_PROJECT_ID
    assert response.json()["project"]["name"] == "Second"


def test_unknown_project_is_404(studio: httpx.Client) -> None:
    response = studio.get("/api/999")

    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Project 999 not found"}


def test_unknown_job_is_404(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(f"/api/{emulator.project_id}/jobs/12345/status")

    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": f"Job 12345 not found in project {emulator.project_id}",
    }


def test_job_of_other_project_is_404(pristine_two_projects: EmulatorServer) -> None:
    base_url = pristine_two_projects.base_url
    with (
        httpx.Client(base_url=base_url, headers={"x-api-key": "ei_" + "a" * 64}) as first,
        httpx.Client(base_url=base_url, headers={"x-api-key": OTHER_PROJECT_KEY}) as second,
    ):
        job_id = first.post("/api/1/jobs/data-quality-metrics", json={}).json()["id"]
        pristine_two_projects.state.wait_for_job(job_id)

        response = second.get(f"/api/{OTHER_PROJECT_ID}/jobs/{job_id}/status")

    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": f"Job {job_id} not found in project {OTHER_PROJECT_ID}",
    }


def test_unknown_sample_is_404(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(f"/api/{emulator.project_id}/raw-data/99999")

    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": f"Sample 99999 not found in project {emulator.project_id}",
    }


@pytest.mark.parametrize(
    "path",
    ["/api/abc", "/api/1/jobs/x/status", "/api/1/raw-data/x"],
    ids=["project", "job", "sample"],
)
def test_non_integer_id_is_400(studio: httpx.Client, path: str) -> None:
    response = studio.get(path)

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error"].startswith("Invalid request: path.")


def test_unknown_route_is_404_envelope(studio: httpx.Client) -> None:
    response = studio.get("/api/1/no-such-thing/here")

    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": "Not found: GET /v1/api/1/no-such-thing/here",
    }
