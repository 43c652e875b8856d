"""How the Studio client checks and decodes response bodies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from labelnoise.exceptions import InvalidPayloadError, StudioApiError
from models.studio import ProjectInfo
from studio.client import StudioClient
from tests.studio.helpers import FakeClock, MockStudio, job_json, ok

OpenClient = Callable[..., StudioClient]

STATUS = "/api/42/jobs/7/status"
STATUS_URL = "http://127.0.0.1:9/v1/api/42/jobs/7/status"
LABEL_NOISE = "/api/42/raw-data/data-quality/label-noise"
LABEL_NOISE_URL = "http://127.0.0.1:9/v1/api/42/raw-data/data-quality/label-noise"
PROJECT = "/api/42"
SAMPLES = "/api/42/raw-data"


def summary(labels: list[str], total: int | None = None) -> dict[str, object]:
    return {
        "labels": labels,
        "totalLabels": len(labels) if total is None else total,
        "dataCount": 12,
        "totalLengthMs": 24000.0,
    }


def project_body(**project: object) -> dict[str, object]:
    return {
        "project": {
            "id": 42,
            "name": "Gestures",
            "owner": "Ada Lovelace",
            "description": "Accelerometer gestures",
            "created": "2024-01-02T03:04:05Z",
            "labelingMethod": "single_label",
            **project,
        },
        "dataSummary": summary(["idle", "snake", "wave"]),
        "dataSummaryPerCategory": {
            "training": summary(["idle", "snake", "wave"]),
            "testing": summary(["idle", "wave"]),
            "validation": summary([]),
            "postProcessing": summary([]),
        },
    }


def sample_json(sample_id: int, **fields: object) -> dict[str, object]:
    """A `Sample` with the fields the client requires, plus `fields`."""
    return {
        "id": sample_id,
        "filename": f"idle.{sample_id}.json",
        "category": "training",
        "label": "idle",
        "isDisabled": False,
        "projectId": 42,
        "created": "2024-01-02T03:04:05Z",
        "lastModified": "2024-01-02T03:04:05Z",
        "added": "2024-01-02T03:04:05Z",
        "intervalMs": 16.0,
        "frequency": 62.5,
        "valuesCount": 125,
        "deviceType": "PHONE",
        "sha256Hash": "ab" * 32,
        **fields,
    }


def test_success_false_with_200_is_an_api_error(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(STATUS, ok(success=False, error="Job not found"))

    with pytest.raises(StudioApiError) as caught:
        open_client().get_job(7)

    assert str(caught.value) == (
        "Studio reported a failure for the job status request: Job not found "
        f"(project 42, job 7, GET {STATUS_URL}, HTTP 200)"
    )
    assert mock_studio.count(STATUS) == 1
    assert clock.sleeps == []


def test_success_false_without_error_text(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add(STATUS, httpx.Response(200, json={"success": False}))

    with pytest.raises(StudioApiError) as caught:
        open_client().get_job(7)

    assert caught.value.reason == (
        "Studio reported a failure for the job status request: no error text"
    )


def test_missing_success_is_invalid_payload(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(STATUS, httpx.Response(200, json={"job": job_json()}))

    with pytest.raises(InvalidPayloadError) as caught:
        open_client().get_job(7)

    assert caught.value.reason == (
        "Invalid job status response: Object missing required field `success`. Every Studio "
        "response is a JSON object with a boolean `success`, so the endpoint may not be Studio."
    )


def test_truncated_body_is_invalid_payload(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(STATUS, httpx.Response(200, content=b'{"success": true, "job": {"id": 7, "ca'))

    with pytest.raises(InvalidPayloadError) as caught:
        open_client().get_job(7)

    assert str(caught.value) == (
        "The job status response is not valid JSON (38 bytes): Input data was truncated. "
        "A truncated body usually means a dropped connection. Try again. "
        f"(project 42, job 7, GET {STATUS_URL}, HTTP 200)"
    )
    assert mock_studio.count(STATUS) == 1
    assert clock.sleeps == []


def test_html_body_is_invalid_payload(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add(STATUS, httpx.Response(200, text="<html>Maintenance</html>"))

    with pytest.raises(InvalidPayloadError) as caught:
        open_client().get_job(7)

    assert caught.value.reason.startswith(
        "The job status response is not valid JSON (24 bytes): JSON is malformed"
    )


def test_missing_required_field_names_json_path(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    job = job_json()
    del job["categoryKey"]
    mock_studio.add(STATUS, ok(job=job))

    with pytest.raises(InvalidPayloadError) as caught:
        open_client().get_job(7)

    assert str(caught.value) == (
        "Invalid job status response: Object missing required field `categoryKey` - at "
        "`$.job`. Studio's API may have changed, or the endpoint is not Studio. "
        f"(project 42, job 7, GET {STATUS_URL})"
    )


def test_wrong_type_names_json_path(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add(
        SAMPLES,
        ok(samples=[sample_json(1), sample_json(2), sample_json(3, id="three")], totalCount=3),
    )

    with pytest.raises(InvalidPayloadError) as caught:
        list(open_client().iter_samples())

    assert caught.value.reason == (
        "Invalid sample list response: Expected `int`, got `str` - at `$.samples[2].id`. "
        "Studio's API may have changed, or the endpoint is not Studio."
    )


def test_extra_fields_are_ignored(open_client: OpenClient, mock_studio: MockStudio) -> None:
    job = job_json(finished="2024-05-01T10:03:00Z", finishedSuccessful=True)
    job["queuePosition"] = 3
    job["createdByUser"] = {"id": 1, "name": "Ada", "username": "ada", "team": "ml"}
    mock_studio.add(STATUS, ok(job=job, serverVersion="2.0", requestId="r-1"))

    result = open_client().get_job(7)

    assert result.succeeded is True
    assert result.created_by_user is not None
    assert result.created_by_user.username == "ada"


def test_job_optional_fields_may_be_absent(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(STATUS, ok(job=job_json()))

    job = open_client().get_job(7)

    assert job.started is None
    assert job.finished is None
    assert job.finished_successful is None
    assert job.compute_time is None
    assert job.metadata is None
    assert job.state == "queued"
    assert job.is_finished is False


def test_label_noise_body_is_returned_unchanged(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    body = (
        b'{"success": true, "data": {"neighbors": {"numNeighbors": 3, "scoresAndNeighbors": []}}}'
    )
    mock_studio.add(LABEL_NOISE, httpx.Response(200, content=body))

    assert open_client().fetch_label_noise_body() == body


def test_label_noise_success_false_is_an_api_error(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(LABEL_NOISE, ok(success=False, error="No label noise data yet"))

    with pytest.raises(StudioApiError) as caught:
        open_client().fetch_label_noise_body()

    assert str(caught.value) == (
        "Studio reported a failure for the label-noise results request: No label noise data "
        f"yet (project 42, GET {LABEL_NOISE_URL}, HTTP 200)"
    )


def test_label_noise_truncated_body_is_not_returned(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(LABEL_NOISE, httpx.Response(200, content=b'{"success": true, "data": {"neigh'))

    with pytest.raises(InvalidPayloadError) as caught:
        open_client().fetch_label_noise_body()

    assert caught.value.reason.startswith(
        "The label-noise results response is not valid JSON (33 bytes): Input data was truncated."
    )


def test_get_project_reads_labels_per_category(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(PROJECT, ok(**project_body(), defaultImpulseId=1, studioUrl="x"))

    project = open_client().get_project()

    assert project == ProjectInfo(
        id=42,
        name="Gestures",
        owner="Ada Lovelace",
        labels=["idle", "snake", "wave"],
        total_labels=3,
        labels_by_category={
            "training": ["idle", "snake", "wave"],
            "testing": ["idle", "wave"],
            "validation": [],
            "post-processing": [],
        },
    )
    assert project.labels_truncated is False
    assert "truncateLabels" not in mock_studio.requests[0].url.params


def test_get_project_warns_about_truncated_labels(
    open_client: OpenClient, mock_studio: MockStudio, caplog: pytest.LogCaptureFixture
) -> None:
    body = project_body()
    body["dataSummary"] = summary(["idle", "snake"], total=5)
    mock_studio.add(PROJECT, ok(**body))

    project = open_client().get_project()

    assert project.labels_truncated is True
    assert (
        "Studio returned 2 of the 5 labels of project 42, so label indexes past the list "
        "have no name"
    ) in caplog.messages


def test_project_id_is_resolved_from_api_key(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add("/api/projects/api-key-info", ok(apiKeyId=3, projectId=42, role="readonly"))

    client = open_client(project_id=None)

    assert client.project_id == 42
    assert mock_studio.count("/api/projects/api-key-info") == 1


def test_given_project_id_skips_key_lookup(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    client = open_client(project_id=42)

    assert client.project_id == 42
    assert mock_studio.requests == []


def test_iter_samples_pages_until_total_count(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        ids = range(offset + 1, min(offset + limit, 5) + 1)
        return ok(samples=[sample_json(i) for i in ids], totalCount=5)

    mock_studio.add(SAMPLES, page)

    samples = list(open_client().iter_samples(page_size=2))

    assert [s.id for s in samples] == [1, 2, 3, 4, 5]
    assert [dict(r.url.params) for r in mock_studio.requests] == [
        {"category": "all", "limit": "2", "offset": str(offset), "excludeSensors": "true"}
        for offset in (0, 2, 4)
    ]


def test_iter_samples_follows_short_pages(open_client: OpenClient, mock_studio: MockStudio) -> None:
    # Studio may cap the page size below the requested limit.
    mock_studio.add(
        SAMPLES,
        ok(samples=[sample_json(1), sample_json(2)], totalCount=4),
        ok(samples=[sample_json(3), sample_json(4)], totalCount=4),
    )

    samples = list(open_client().iter_samples(category="training", page_size=500))

    assert [s.id for s in samples] == [1, 2, 3, 4]
    assert [r.url.params["offset"] for r in mock_studio.requests] == ["0", "2"]


def test_iter_samples_skips_samples_listed_twice(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    # A sample added while paging shifts sample 2 onto the second page too.
    mock_studio.add(
        SAMPLES,
        ok(samples=[sample_json(1), sample_json(2)], totalCount=5),
        ok(samples=[sample_json(2), sample_json(3)], totalCount=5),
        ok(samples=[sample_json(4)], totalCount=5),
    )

    samples = list(open_client().iter_samples(page_size=2))

    assert [s.id for s in samples] == [1, 2, 3, 4]


def test_iter_samples_stops_at_empty_page(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add(
        SAMPLES,
        ok(samples=[sample_json(1)], totalCount=10),
        ok(samples=[], totalCount=10),
    )

    samples = list(open_client().iter_samples(page_size=1))

    assert [s.id for s in samples] == [1]
    assert len(mock_studio.requests) == 2


def test_iter_samples_rejects_unknown_category(open_client: OpenClient) -> None:
    with pytest.raises(ValueError) as caught:
        open_client().iter_samples(category="train")

    assert str(caught.value) == (
        "Unknown sample category 'train': expected one of training, testing, validation, "
        "post-processing, all"
    )


def test_get_sample_asks_for_one_payload_value(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(
        "/api/42/raw-data/9",
        ok(
            sample=sample_json(9, label="wave", isDisabled=True, metadata={"site": "lab"}),
            payload={"device_type": "PHONE", "sensors": [], "values": [[0.1, 0.2]]},
            totalPayloadLength=125,
            datastreamPayloads=[],
        ),
    )

    sample = open_client().get_sample(9)

    assert (sample.id, sample.label, sample.is_disabled) == (9, "wave", True)
    assert sample.metadata == {"site": "lab"}
    assert sample.total_length_ms is None
    assert mock_studio.requests[0].url.params["limitPayloadValues"] == "1"


def test_job_log_tail_is_sorted_oldest_first(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(
        "/api/42/jobs/7/stdout",
        ok(
            stdout=[
                {"created": "2024-05-01T10:00:03Z", "data": "third"},
                {"created": "2024-05-01T10:00:01Z", "data": "first"},
                {"created": "2024-05-01T10:00:02Z", "data": "second"},
            ],
            totalCount=3,
        ),
    )

    assert open_client().get_job_log_tail(7, limit=2) == ["second", "third"]
    assert mock_studio.requests[0].url.params["limit"] == "2"
