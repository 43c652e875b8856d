"""Starting and cancelling the data-quality job."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from labelnoise.exceptions import ConfigurationError, InvalidPayloadError
from studio.client import StudioClient
from tests.studio.helpers import MockStudio, ok

OpenClient = Callable[..., StudioClient]

TRIGGER = "/api/42/jobs/data-quality-metrics"


def test_trigger_without_representation_sends_empty_object(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(TRIGGER, ok(id=1234))

    assert open_client().start_data_quality_job() == 1234

    request = mock_studio.requests[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {}


def test_trigger_sends_representation(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add(TRIGGER, ok(id=1234))

    open_client().start_data_quality_job("current-impulse-embeddings")

    assert json.loads(mock_studio.requests[0].content) == {
        "representation": "current-impulse-embeddings"
    }


def test_trigger_rejects_unknown_representation(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_client().start_data_quality_job("spectrogram")

    assert str(caught.value) == (
        "Unknown data-quality representation 'spectrogram': expected one of keywords, images, "
        "current-impulse, current-impulse-embeddings. Check LABELNOISE_REPRESENTATION."
    )
    assert mock_studio.requests == []


def test_trigger_without_job_id_is_invalid_payload(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(TRIGGER, ok(jobId=1234))

    with pytest.raises(InvalidPayloadError) as caught:
        open_client().start_data_quality_job()

    assert caught.value.reason.startswith(
        "Invalid data-quality job start response: Object missing required field `id`."
    )


def test_trigger_logs_job_id(
    open_client: OpenClient, mock_studio: MockStudio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="studio.client")
    mock_studio.add(TRIGGER, ok(id=1234))

    open_client().start_data_quality_job()

    assert "Started Studio data-quality job 1234 for project 42" in caplog.messages


def test_cancel_posts_without_body(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add("/api/42/jobs/1234/cancel", ok())

    open_client().cancel_job(1234)

    request = mock_studio.requests[0]
    assert request.method == "POST"
    assert request.content == b""
    assert "content-type" not in request.headers
