"""Sample endpoints: listing, counting, reading and relabelling."""

from __future__ import annotations

import httpx
import pytest
from edgeimpulse_api.models import (
    CountSamplesResponse,
    GenericApiResponse,
    GetSampleResponse,
    ListSamplesResponse,
)

from emulator.server import EmulatorServer
from tests.emulator.conftest import OTHER_FIRST_SAMPLE_ID, OTHER_PROJECT_ID, OTHER_PROJECT_KEY
from tests.emulator.helpers import assert_matches_model


def test_list_samples_matches_model(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(
        f"/api/{emulator.project_id}/raw-data", params={"category": "training", "limit": 5}
    )

    listing = assert_matches_model(ListSamplesResponse, response)

    assert listing.total_count == 40
    assert [sample.id for sample in listing.samples] == [40, 39, 38, 37, 36]


def test_list_samples_pages_cover_all(studio: httpx.Client, emulator: EmulatorServer) -> None:
    seen = []
    for offset in range(0, 80, 30):
        page = studio.get(
            f"/api/{emulator.project_id}/raw-data",
            params={"category": "all", "limit": 30, "offset": offset},
        ).json()
        seen += [sample["id"] for sample in page["samples"]]

    assert sorted(seen) == list(range(1, 81))


def test_list_samples_filters_labels(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(
        f"/api/{emulator.project_id}/raw-data",
        params={"category": "testing", "labels": '["walking","running"]'},
    )

    samples = response.json()["samples"]
    assert response.json()["totalCount"] == 20
    assert {sample["label"] for sample in samples} == {"walking", "running"}
    assert {sample["category"] for sample in samples} == {"testing"}


def test_list_samples_excludes_sensors(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(
        f"/api/{emulator.project_id}/raw-data",
        params={"category": "training", "limit": 1, "excludeSensors": "True"},
    )

    assert response.json()["samples"][0]["sensors"] == []


def test_list_samples_without_category_is_400(
    studio: httpx.Client, emulator: EmulatorServer
) -> None:
    response = studio.get(f"/api/{emulator.project_id}/raw-data")

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "Missing category; expected one of training, testing, validation, "
        "post-processing, all",
    }


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"category": "train"},
            "Invalid category 'train'; expected one of training, testing, validation, "
            "post-processing, all",
        ),
        (
            {"category": "all", "labels": "walking"},
            "Invalid labels 'walking'; expected a JSON array of label names",
        ),
        ({"category": "all", "limit": "ten"}, "Invalid limit 'ten'; expected an integer"),
    ],
    ids=["category", "labels", "limit"],
)
def test_list_samples_rejects_invalid_query(
    studio: httpx.Client, emulator: EmulatorServer, params: dict[str, str], error: str
) -> None:
    response = studio.get(f"/api/{emulator.project_id}/raw-data", params=params)

    assert response.status_code == 400
    assert response.json() == {"success": False, "error": error}


def test_count_samples_matches_model(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(
        f"/api/{emulator.project_id}/raw-data/count",
        params={"category": "training", "labels": '["standing"]'},
    )

    count = assert_matches_model(CountSamplesResponse, response)

    assert count.count == 10


def test_get_sample_matches_model(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.get(
        f"/api/{emulator.project_id}/raw-data/1", params={"limitPayloadValues": 3}
    )

    sample = assert_matches_model(GetSampleResponse, response)

    assert sample.sample.filename == "badminton.01"
    assert sample.sample.label == "badminton"
    assert sample.sample.values_count == 100
    assert sample.sample.interval_ms == 100.0
    assert [sensor.name for sensor in sample.sample.sensors] == [
        "accX",
        "accY",
        "accZ",
        "gyrX",
        "gyrY",
        "gyrZ",
    ]
    assert len(sample.payload.values) == 3
    assert sample.total_payload_length == 100


def test_payload_keeps_snake_case_keys(studio: httpx.Client, emulator: EmulatorServer) -> None:
    payload = studio.get(f"/api/{emulator.project_id}/raw-data/1").json()["payload"]

    assert payload["device_type"] == "SMARTWATCH"
    assert payload["device_name"] == "basicmotions-smartwatch"
    assert len(payload["values"]) == 100
    assert len(payload["values"][0]) == 6


def test_edit_label_changes_sample(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.post(
        f"/api/{emulator.project_id}/raw-data/5/edit-label", json={"label": "walking"}
    )

    assert_matches_model(GenericApiResponse, response)
    assert response.json() == {"success": True}
    sample = studio.get(f"/api/{emulator.project_id}/raw-data/5").json()["sample"]
    assert sample["label"] == "walking"


def test_edit_label_without_label_is_400(studio: httpx.Client, emulator: EmulatorServer) -> None:
    response = studio.post(f"/api/{emulator.project_id}/raw-data/5/edit-label", json={})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": 'Missing label; send {"label": "<new label>"}',
    }


def test_reset_restores_labels(studio: httpx.Client, emulator: EmulatorServer) -> None:
    studio.post(f"/api/{emulator.project_id}/raw-data/5/edit-label", json={"label": "x"})

    emulator.state.reset()

    sample = studio.get(f"/api/{emulator.project_id}/raw-data/5").json()["sample"]
    assert sample["label"] == "badminton"


def test_sample_ids_can_exceed_32_bits(pristine_two_projects: EmulatorServer) -> None:
    with httpx.Client(
        base_url=pristine_two_projects.base_url, headers={"x-api-key": OTHER_PROJECT_KEY}
    ) as client:
        response = client.get(f"/api/{OTHER_PROJECT_ID}/raw-data/{OTHER_FIRST_SAMPLE_ID + 79}")

    sample = assert_matches_model(GetSampleResponse, response)
    assert sample.sample.id == OTHER_FIRST_SAMPLE_ID + 79
    assert sample.sample.filename == "walking.10"
    assert sample.sample.category == "testing"
