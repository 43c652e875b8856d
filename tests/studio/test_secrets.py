"""The API key travels only in the `x-api-key` header, and never in a message or log."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from labelnoise.exceptions import (
    JobFailedError,
    StudioApiError,
    StudioAuthenticationError,
    StudioError,
    StudioNotFoundError,
    StudioRateLimitedError,
    StudioTransportError,
)
from studio.client import StudioClient
from studio.http import ApiKeyAuth
from tests.studio.helpers import API_KEY, MockStudio, job_json, ok

OpenClient = Callable[..., StudioClient]

STATUS = "/api/42/jobs/7/status"


def echo_key(code: int) -> httpx.Response:
    """A response whose error text quotes the API key back, as a careless server might."""
    return httpx.Response(code, json={"success": False, "error": f"Invalid key {API_KEY}"})


def test_key_is_sent_only_in_header(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add(STATUS, ok(job=job_json()))

    open_client().get_job(7)

    request = mock_studio.requests[0]
    assert request.headers["x-api-key"] == API_KEY
    assert API_KEY not in str(request.url)
    assert request.content == b""
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (echo_key(401), StudioAuthenticationError),
        (echo_key(404), StudioNotFoundError),
        (echo_key(429), StudioRateLimitedError),
        (echo_key(400), StudioApiError),
        (httpx.Response(200, json={"success": False, "error": f"bad {API_KEY}"}), StudioApiError),
        (httpx.ConnectError(f"refused for {API_KEY}"), StudioTransportError),
    ],
    ids=["401", "404", "429", "400", "success-false", "transport"],
)
def test_key_is_masked_in_exception_messages(
    open_client: OpenClient,
    mock_studio: MockStudio,
    caplog: pytest.LogCaptureFixture,
    reply: httpx.Response | Exception,
    expected: type[StudioError],
) -> None:
    caplog.set_level(logging.DEBUG)
    mock_studio.add(STATUS, reply)

    with pytest.raises(expected) as caught:
        open_client().get_job(7)

    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value.args)
    assert "***" in str(caught.value)
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


def test_key_is_masked_in_job_log_lines(
    open_client: OpenClient, mock_studio: MockStudio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mock_studio.add(STATUS, ok(job=job_json(finished="2024-05-01T10:03:00Z")))
    mock_studio.add(
        "/api/42/jobs/7/stdout",
        ok(stdout=[{"created": "2024-05-01T10:02:00Z", "data": f"key={API_KEY}"}], totalCount=1),
    )

    with pytest.raises(JobFailedError) as caught:
        open_client().wait_for_job(7)

    assert caught.value.log_tail == ["key=***"]
    assert "'key=***'" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


def test_run_logs_never_contain_key(
    open_client: OpenClient, mock_studio: MockStudio, caplog: pytest.LogCaptureFixture
) -> None:
    # DEBUG on the root logger also captures httpx's and httpcore's own lines.
    caplog.set_level(logging.DEBUG)
    mock_studio.add("/api/projects/api-key-info", ok(apiKeyId=1, projectId=42, role="admin"))
    mock_studio.add("/api/42/jobs/data-quality-metrics", httpx.Response(503))
    mock_studio.add(STATUS, httpx.Response(503), ok(job=job_json()))
    mock_studio.add("/api/42/raw-data/data-quality/label-noise", ok(data={"neighbors": None}))

    client = open_client(project_id=None)
    with pytest.raises(StudioError):
        client.start_data_quality_job()
    client.get_job(7)
    client.fetch_label_noise_body()

    assert len(caplog.records) > 0
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.args)


def test_auth_repr_masks_key() -> None:
    auth = ApiKeyAuth(SecretStr(API_KEY))

    assert repr(auth) == "ApiKeyAuth(api_key=SecretStr('**********'))"
