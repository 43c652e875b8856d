"""Which failures the Studio client retries, how long it waits, and what it raises.

Settings from `make_settings`: 3 retries, backoff 1 s doubling up to 4 s,
`Retry-After` capped at 120 s, and no jitter.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from labelnoise.exceptions import (
    StudioApiError,
    StudioAuthenticationError,
    StudioNotFoundError,
    StudioRateLimitedError,
    StudioServerError,
    StudioTransportError,
)
from studio.client import StudioClient
from tests.studio.helpers import FakeClock, MockStudio, make_settings, ok

EXISTS = "/api/42/raw-data/data-quality/label-noise/exists"
EXISTS_URL = "http://127.0.0.1:9/v1/api/42/raw-data/data-quality/label-noise/exists"
TRIGGER = "/api/42/jobs/data-quality-metrics"
TRIGGER_URL = "http://127.0.0.1:9/v1/api/42/jobs/data-quality-metrics"
CANCEL = "/api/42/jobs/7/cancel"

OpenClient = Callable[..., StudioClient]


def status(code: int, headers: dict[str, str] | None = None, error: str = "busy") -> httpx.Response:
    return httpx.Response(code, headers=headers, json={"success": False, "error": error})


def test_get_404_is_not_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, status(404, error="Project not found"))

    with pytest.raises(StudioNotFoundError) as caught:
        open_client().has_label_noise_data()

    assert str(caught.value) == (
        "Studio found nothing for the label-noise existence request: Project not found. "
        f"Check the project id and the job or sample id. (project 42, GET {EXISTS_URL}, HTTP 404)"
    )
    assert caught.value.status_code == 404
    assert mock_studio.count(EXISTS) == 1
    assert clock.sleeps == []


def test_get_503_is_retried_with_backoff(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, status(503), status(503), ok(hasFeatures=True))

    assert open_client().has_label_noise_data() is True

    assert mock_studio.count(EXISTS) == 3
    assert clock.sleeps == [1.0, 2.0]


@pytest.mark.parametrize("code", [502, 503, 504])
def test_get_gateway_errors_raise_after_all_retries(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock, code: int
) -> None:
    mock_studio.add(EXISTS, status(code))

    with pytest.raises(StudioServerError) as caught:
        open_client().has_label_noise_data()

    assert str(caught.value) == (
        "Studio failed the label-noise existence request after 4 attempts: busy. "
        f"Try again later. (project 42, GET {EXISTS_URL}, HTTP {code})"
    )
    assert mock_studio.count(EXISTS) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_get_500_is_not_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, status(500, error="internal error"))

    with pytest.raises(StudioServerError) as caught:
        open_client().has_label_noise_data()

    assert caught.value.reason == (
        "Studio failed the label-noise existence request: internal error. Try again later."
    )
    assert mock_studio.count(EXISTS) == 1
    assert clock.sleeps == []


def test_backoff_is_capped_at_backoff_max(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, status(503))
    client = open_client(settings=make_settings(max_retries=5))

    with pytest.raises(StudioServerError):
        client.has_label_noise_data()

    assert clock.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert mock_studio.count(EXISTS) == 6


def test_zero_retries_sends_one_request(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, status(503))
    client = open_client(settings=make_settings(max_retries=0))

    with pytest.raises(StudioServerError):
        client.has_label_noise_data()

    assert mock_studio.count(EXISTS) == 1
    assert clock.sleeps == []


def test_retry_after_seconds_is_honoured(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, status(429, {"Retry-After": "17"}), ok(hasFeatures=False))

    assert open_client().has_label_noise_data() is False

    assert clock.sleeps == [17.0]
    assert mock_studio.count(EXISTS) == 2


def test_retry_after_http_date(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    headers = {
        "Date": "Wed, 01 May 2024 10:00:00 GMT",
        "Retry-After": "Wed, 01 May 2024 10:00:45 GMT",
    }
    mock_studio.add(EXISTS, status(503, headers), ok(hasFeatures=True))

    assert open_client().has_label_noise_data() is True

    assert clock.sleeps == [45.0]


def test_retry_after_past_date(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    headers = {
        "Date": "Wed, 01 May 2024 10:00:00 GMT",
        "Retry-After": "Wed, 01 May 2024 09:59:00 GMT",
    }
    mock_studio.add(EXISTS, status(429, headers), ok(hasFeatures=True))

    assert open_client().has_label_noise_data() is True

    assert clock.sleeps == [0.0]


def test_retry_after_is_capped_at_retry_after_max(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, status(429, {"Retry-After": "86400"}), ok(hasFeatures=True))

    assert open_client().has_label_noise_data() is True

    assert clock.sleeps == [120.0]


def test_malformed_retry_after_falls_back_to_backoff(
    open_client: OpenClient,
    mock_studio: MockStudio,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mock_studio.add(EXISTS, status(429, {"Retry-After": "soon"}), ok(hasFeatures=True))

    assert open_client().has_label_noise_data() is True

    assert clock.sleeps == [1.0]
    assert "Ignoring invalid Retry-After header 'soon' from Studio (HTTP 429)" in caplog.messages


def test_429_after_all_retries_raises_rate_limited(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, status(429, {"Retry-After": "5"}, error="Too many requests"))

    with pytest.raises(StudioRateLimitedError) as caught:
        open_client().has_label_noise_data()

    assert str(caught.value) == (
        "Studio rate-limited the label-noise existence request after 4 attempts: "
        "Too many requests. Try again later, or raise LABELNOISE_MAX_RETRIES. "
        f"(project 42, GET {EXISTS_URL}, HTTP 429)"
    )
    assert caught.value.retry_after == 5.0
    assert clock.sleeps == [5.0, 5.0, 5.0]


def test_each_retry_is_logged(
    open_client: OpenClient,
    mock_studio: MockStudio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mock_studio.add(EXISTS, status(503), ok(hasFeatures=True))

    open_client().has_label_noise_data()

    retries = [r for r in caplog.records if r.name == "studio.requester"]
    assert [r.getMessage() for r in retries] == [
        "Studio label-noise existence request for project 42 failed with HTTP 503, "
        f"retry 1 of 3 in 1.0 s (GET {EXISTS_URL})"
    ]
    assert retries[0].levelname == "WARNING"


@pytest.mark.parametrize("code", [401, 403])
def test_authentication_failure_is_not_retried(
    open_client: OpenClient, mock_studio: MockStudio, code: int
) -> None:
    mock_studio.add(EXISTS, status(code, error="Invalid API key"))

    with pytest.raises(StudioAuthenticationError) as caught:
        open_client().has_label_noise_data()

    assert caught.value.reason == (
        "Studio rejected the API key for the label-noise existence request: Invalid API key. "
        "Check EI_API_KEY and that the key belongs to this project."
    )
    assert caught.value.status_code == code
    assert mock_studio.count(EXISTS) == 1


@pytest.mark.parametrize("code", [400, 409, 422])
def test_other_4xx_is_an_api_error_without_retry(
    open_client: OpenClient, mock_studio: MockStudio, code: int
) -> None:
    mock_studio.add(EXISTS, status(code, error="Bad request"))

    with pytest.raises(StudioApiError) as caught:
        open_client().has_label_noise_data()

    assert caught.value.reason == (
        "Studio rejected the label-noise existence request: Bad request."
    )
    assert mock_studio.count(EXISTS) == 1


def test_error_status_html_body(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add(EXISTS, httpx.Response(404, text="<html>Not Found</html>"))

    with pytest.raises(StudioNotFoundError) as caught:
        open_client().has_label_noise_data()

    assert caught.value.reason == (
        "Studio found nothing for the label-noise existence request. "
        "Check the project id and the job or sample id."
    )


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
    ids=["connect-error", "connect-timeout", "read-timeout", "closed-mid-response"],
)
def test_get_transport_errors_are_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock, error: Exception
) -> None:
    mock_studio.add(EXISTS, error, ok(hasFeatures=True))

    assert open_client().has_label_noise_data() is True

    assert mock_studio.count(EXISTS) == 2
    assert clock.sleeps == [1.0]


def test_get_transport_error_after_all_retries_raises(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(EXISTS, httpx.ReadTimeout("timed out"))

    with pytest.raises(StudioTransportError) as caught:
        open_client().has_label_noise_data()

    assert str(caught.value) == (
        "The label-noise existence request failed after 4 attempts with ReadTimeout "
        "(timed out). Check the network and EI_API_ENDPOINT, then try again. "
        f"(project 42, GET {EXISTS_URL})"
    )
    assert isinstance(caught.value, ConnectionError)
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_undecodable_gzip_body_is_not_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    # A stream, unlike `content=`, is decoded only when the client reads it.
    body = httpx.ByteStream(b"not gzip")
    mock_studio.add(EXISTS, httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=body))

    with pytest.raises(StudioTransportError) as caught:
        open_client().has_label_noise_data()

    assert caught.value.reason.startswith(
        "The label-noise existence request failed with DecodingError ("
    )
    assert mock_studio.count(EXISTS) == 1
    assert clock.sleeps == []


def test_trigger_503_is_not_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(TRIGGER, status(503, {"Retry-After": "1"}, error="Service unavailable"))

    with pytest.raises(StudioServerError) as caught:
        open_client().start_data_quality_job()

    assert str(caught.value) == (
        "Studio failed the data-quality job start request: Service unavailable. "
        "The request may have reached Studio and started a job, so it was not retried, "
        "to avoid starting a second one. Check the project's jobs in Studio before running "
        f"again. (project 42, POST {TRIGGER_URL}, HTTP 503)"
    )
    assert mock_studio.count(TRIGGER) == 1
    assert clock.sleeps == []


def test_trigger_read_timeout_is_not_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(TRIGGER, httpx.ReadTimeout("timed out"))

    with pytest.raises(StudioTransportError) as caught:
        open_client().start_data_quality_job()

    assert caught.value.reason == (
        "The data-quality job start request failed with ReadTimeout (timed out). "
        "The request may have reached Studio and started a job, so it was not retried, "
        "to avoid starting a second one. Check the project's jobs in Studio before running again."
    )
    assert mock_studio.count(TRIGGER) == 1
    assert clock.sleeps == []


def test_trigger_429_is_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(TRIGGER, status(429, {"Retry-After": "30"}), ok(id=7))

    assert open_client().start_data_quality_job() == 7

    assert mock_studio.count(TRIGGER) == 2
    assert clock.sleeps == [30.0]


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("connection refused"), httpx.ConnectTimeout("connect timed out")],
    ids=["connect-error", "connect-timeout"],
)
def test_trigger_unsent_request_is_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock, error: Exception
) -> None:
    mock_studio.add(TRIGGER, error, ok(id=7))

    assert open_client().start_data_quality_job() == 7

    assert mock_studio.count(TRIGGER) == 2
    assert clock.sleeps == [1.0]


def test_trigger_connect_error_exhausted(open_client: OpenClient, mock_studio: MockStudio) -> None:
    mock_studio.add(TRIGGER, httpx.ConnectError("connection refused"))

    with pytest.raises(StudioTransportError) as caught:
        open_client().start_data_quality_job()

    assert caught.value.reason == (
        "The data-quality job start request failed after 4 attempts with ConnectError "
        "(connection refused). Check the network and EI_API_ENDPOINT, then try again."
    )
    assert mock_studio.count(TRIGGER) == 4


def test_trigger_403_explains_the_staff_only_endpoint(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(TRIGGER, status(403, error="Only available for EI staff"))

    with pytest.raises(StudioAuthenticationError) as caught:
        open_client().start_data_quality_job()

    assert caught.value.reason == (
        "Studio rejected the API key for the data-quality job start request: "
        "Only available for EI staff. Check EI_API_KEY and that the key belongs to this "
        "project. Starting a data-quality job is documented as available to Edge Impulse "
        "staff only. Set LABELNOISE_TRIGGER_MODE to auto or never to fetch the results "
        "Studio already has."
    )
    assert mock_studio.count(TRIGGER) == 1


def test_cancel_503_is_retried(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(CANCEL, status(503), ok())

    open_client().cancel_job(7)

    assert mock_studio.count(CANCEL) == 2
    assert clock.sleeps == [1.0]
