"""Project endpoints, checked against the edgeimpulse-api models."""

from __future__ import annotations

import httpx
from edgeimpulse_api.models import (
    GetCurrentApiKeyInfoResponse,
    ListProjectsResponse,
    ProjectInfoResponse,
)

from emulator.server import EmulatorServer
from tests.emulator.helpers import assert_matches_model

BASIC_MOTIONS_LABELS = ["badminton", "running", "standing", "walking"]


def test_project_info_matches_model(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(f"/api/{emulator.project_id}")

    info = assert_matches_model(ProjectInfoResponse, response)

    assert info.success is True
    assert info.project.id == emulator.project_id
    assert info.project.name == "BasicMotions"
    assert info.project.owner == "Emulator"


def test_project_labels_are_sorted_training_labels(
    studio: httpx.Client, emulator: EmulatorServer
) -> None:
    summary = studio.get(f"/api/{emulator.project_id}").json()["dataSummary"]

    assert summary["labels"] == BASIC_MOTIONS_LABELS
    assert summary["totalLabels"] == 4
    assert summary["dataCount"] == 40
    assert summary["totalLengthMs"] == 40 * 10_000.0


def test_project_summary_per_category(studio: httpx.Client, emulator: EmulatorServer) -> None:
    per_category = studio.get(f"/api/{emulator.project_id}").json()["dataSummaryPerCategory"]

    assert per_category["training"]["dataCount"] == 40
    assert per_category["testing"]["dataCount"] == 40
    assert per_category["testing"]["labels"] == BASIC_MOTIONS_LABELS
    assert per_category["validation"]["dataCount"] == 0
    assert per_category["postProcessing"]["labels"] == []


def test_project_labels_follow_relabel(studio: httpx.Client, emulator: EmulatorServer) -> None:
    project = emulator.project_id
    studio.post(f"/api/{project}/raw-data/1/edit-label", json={"label": "jumping"})

    summary = studio.get(f"/api/{project}").json()["dataSummary"]

    assert summary["labels"] == ["badminton", "jumping", "running", "standing", "walking"]
    assert summary["totalLabels"] == 5


def test_truncate_labels_keeps_total(studio: httpx.Client, emulator: EmulatorServer) -> None:
    for sample_id in range(1, 13):
        studio.post(
            f"/api/{emulator.project_id}/raw-data/{sample_id}/edit-label",
            json={"label": f"label-{sample_id:02d}"},
        )

    response = studio.get(f"/api/{emulator.project_id}", params={"truncateLabels": "True"})

    summary = response.json()["dataSummary"]
    assert len(summary["labels"]) == 10
    assert summary["totalLabels"] == 15  # 12 new labels; badminton is gone


def test_list_projects_returns_key_project(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get("/api/projects")

    projects = assert_matches_model(ListProjectsResponse, response)

    assert [project.id for project in projects.projects] == [emulator.project_id]


def test_list_projects_needs_key(emulator: EmulatorServer) -> None:
    response = httpx.get(f"{emulator.base_url}/api/projects")

    assert response.status_code == 401
    assert response.json()["success"] is False


def test_api_key_info_names_project(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get("/api/projects/api-key-info")

    info = assert_matches_model(GetCurrentApiKeyInfoResponse, response)

    assert info.project_id == emulator.project_id
    assert info.role == "admin"
