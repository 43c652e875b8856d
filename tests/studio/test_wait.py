"""Waiting for a Studio job: poll intervals, outcomes, deadline and rate limits.

Settings from `make_settings`: polls start 2 s apart and double up to
10 s, the deadline is 60 s, `Retry-After` is capped at 120 s, no jitter.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from labelnoise.exceptions import JobFailedError, JobTimeoutError, StudioServerError
from studio.client import StudioClient
from tests.studio.helpers import FakeClock, MockStudio, job_json, ok

STATUS = "/api/42/jobs/7/status"
STATUS_URL = "http://127.0.0.1:9/v1/api/42/jobs/7/status"
LOG = "/api/42/jobs/7/stdout"

OpenClient = Callable[..., StudioClient]

QUEUED = ok(job=job_json())
RUNNING = ok(job=job_json(started="2024-05-01T10:00:05Z"))
SUCCEEDED = ok(
    job=job_json(
        started="2024-05-01T10:00:05Z",
        finished="2024-05-01T10:03:00Z",
        finishedSuccessful=True,
    )
)
FAILED = ok(
    job=job_json(
        started="2024-05-01T10:00:05Z",
        finished="2024-05-01T10:03:00Z",
        finishedSuccessful=False,
    )
)
FINISHED_WITHOUT_OUTCOME = ok(
    job=job_json(started="2024-05-01T10:00:05Z", finished="2024-05-01T10:03:00Z")
)
LOG_LINES = ok(
    stdout=[
        {
            "created": "2024-05-01T10:02:59Z",
            "data": "Error: not enough windows",
            "logLevel": "error",
        },
        {"created": "2024-05-01T10:02:58Z", "data": "Calculating neighbours", "logLevel": "info"},
    ],
    totalCount=120,
)


def test_wait_polls_with_doubling_interval_until_success(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(STATUS, QUEUED, RUNNING, RUNNING, RUNNING, RUNNING, SUCCEEDED)

    job = open_client().wait_for_job(7)

    assert job.id == 7
    assert job.succeeded is True
    assert mock_studio.count(STATUS) == 6
    assert clock.sleeps == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_wait_returns_at_once_for_finished_job(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(STATUS, SUCCEEDED)

    assert open_client().wait_for_job(7).finished_successful is True

    assert mock_studio.count(STATUS) == 1
    assert clock.sleeps == []


def test_wait_raises_job_failed_with_log_tail(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(STATUS, RUNNING, FAILED)
    mock_studio.add(LOG, LOG_LINES)

    with pytest.raises(JobFailedError) as caught:
        open_client().wait_for_job(7)

    assert str(caught.value) == (
        "Job 7 finished unsuccessfully (finishedSuccessful is false). Last errors in its "
        "log: 'Error: not enough windows'. See the job's log in Studio for details. "
        f"(project 42, job 7, GET {STATUS_URL})"
    )
    assert caught.value.log_tail == ["Calculating neighbours", "Error: not enough windows"]
    assert caught.value.job_id == 7
    log_request = next(r for r in mock_studio.requests if r.url.path.endswith("/stdout"))
    assert log_request.url.params["limit"] == "50"


def log_line(second: int, text: str, level: str | None) -> dict[str, str]:
    line = {"created": f"2024-05-01T10:02:{second:02d}Z", "data": text}
    if level is not None:
        line["logLevel"] = level
    return line


def test_job_failed_quotes_last_three_errors(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(STATUS, FAILED)
    mock_studio.add(
        LOG,
        ok(
            stdout=[
                log_line(1, "Loading windows", "info"),
                log_line(2, "Error: shard 1 lost", "error"),
                log_line(3, "Retrying shard 1", "warn"),
                log_line(4, "Error: out of memory on node", "error"),
                log_line(5, "Error: worker exited with code 137", "error"),
                log_line(6, "Job failed", "error"),
                log_line(7, "Uploading partial logs", "info"),
            ],
            totalCount=7,
        ),
    )

    with pytest.raises(JobFailedError) as caught:
        open_client().wait_for_job(7)

    assert caught.value.reason == (
        "Job 7 finished unsuccessfully (finishedSuccessful is false). Last errors in its "
        "log: 'Error: out of memory on node' | 'Error: worker exited with code 137' | "
        "'Job failed'. See the job's log in Studio for details."
    )
    assert len(caught.value.log_tail) == 7


def test_job_failed_quotes_warnings_without_errors(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(STATUS, FAILED)
    mock_studio.add(
        LOG,
        ok(
            stdout=[
                log_line(1, "Job was cancelled", "warn"),
                log_line(2, "Stopping workers", "info"),
            ],
            totalCount=2,
        ),
    )

    with pytest.raises(JobFailedError) as caught:
        open_client().wait_for_job(7)

    assert caught.value.reason == (
        "Job 7 finished unsuccessfully (finishedSuccessful is false). Last warnings in its "
        "log: 'Job was cancelled'. See the job's log in Studio for details."
    )


def test_job_failed_quotes_last_lines_without_levels(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(STATUS, FAILED)
    mock_studio.add(
        LOG,
        ok(
            stdout=[log_line(second, f"line {second}", None) for second in range(1, 6)],
            totalCount=5,
        ),
    )

    with pytest.raises(JobFailedError) as caught:
        open_client().wait_for_job(7)

    assert caught.value.reason == (
        "Job 7 finished unsuccessfully (finishedSuccessful is false). Last lines of its "
        "log: 'line 3' | 'line 4' | 'line 5'. See the job's log in Studio for details."
    )


def test_job_failed_shortens_long_log_line(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(STATUS, FAILED)
    mock_studio.add(LOG, ok(stdout=[log_line(1, "x" * 500, "error")], totalCount=1))

    with pytest.raises(JobFailedError) as caught:
        open_client().wait_for_job(7)

    assert caught.value.reason == (
        "Job 7 finished unsuccessfully (finishedSuccessful is false). Last errors in its "
        f"log: '{'x' * 199}…'. See the job's log in Studio for details."
    )
    assert caught.value.log_tail == ["x" * 500]


def test_wait_treats_missing_outcome_as_failure(
    open_client: OpenClient, mock_studio: MockStudio
) -> None:
    mock_studio.add(STATUS, FINISHED_WITHOUT_OUTCOME)
    mock_studio.add(LOG, ok(stdout=[], totalCount=0))

    with pytest.raises(JobFailedError) as caught:
        open_client().wait_for_job(7)

    assert caught.value.reason == (
        "Job 7 finished without a finishedSuccessful value, which counts as a failure. "
        "Its log is empty. See the job's log in Studio for details."
    )
    assert caught.value.log_tail == []


def test_wait_reports_failure_when_log_cannot_be_read(
    open_client: OpenClient,
    mock_studio: MockStudio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mock_studio.add(STATUS, FAILED)
    mock_studio.add(LOG, httpx.Response(500, json={"success": False, "error": "log store down"}))

    with pytest.raises(JobFailedError) as caught:
        open_client().wait_for_job(7)

    assert caught.value.log_tail == []
    assert caught.value.reason.endswith(
        "Its log is empty. See the job's log in Studio for details."
    )
    warnings = [r.getMessage() for r in caplog.records if r.name == "studio.jobs"]
    assert warnings[-1].startswith("Could not read the log of failed job 7 of project 42: ")


def test_wait_raises_timeout_at_deadline(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(STATUS, RUNNING)

    with pytest.raises(JobTimeoutError) as caught:
        open_client().wait_for_job(7, deadline_seconds=30)

    assert str(caught.value) == (
        "Job 7 did not finish within 30 s (6 status polls). It may still be running in "
        "Studio. Run the project again within LABELNOISE_RESUME_WINDOW seconds of the "
        "job's start to resume waiting for this job instead of starting another, with a "
        "higher LABELNOISE_JOB_DEADLINE if the job needs longer. "
        f"(project 42, job 7, GET {STATUS_URL})"
    )
    assert isinstance(caught.value, TimeoutError)
    # 2 + 4 + 8 + 10 = 24 s, then the last sleep is cut to the 6 s left.
    assert clock.sleeps == [2.0, 4.0, 8.0, 10.0, 6.0]
    assert sum(clock.sleeps) == 30.0
    assert mock_studio.count(STATUS) == 6


def test_wait_deadline_defaults_to_setting(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(STATUS, RUNNING)

    with pytest.raises(JobTimeoutError):
        open_client().wait_for_job(7)

    assert sum(clock.sleeps) == 60.0


def test_wait_slows_down_on_429_without_failing(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    rate_limited = httpx.Response(
        429, headers={"Retry-After": "7"}, json={"success": False, "error": "slow down"}
    )
    mock_studio.add(STATUS, RUNNING, rate_limited, RUNNING, SUCCEEDED)

    job = open_client().wait_for_job(7)

    assert job.succeeded is True
    # Poll 1 runs, sleep 2. Poll 2 gets 429: the interval doubles to 8 and
    # exceeds Retry-After (7). Poll 3 runs, sleep 8 and double to 10.
    assert clock.sleeps == [2.0, 8.0, 8.0]
    assert mock_studio.count(STATUS) == 4


def test_wait_429_waits_for_longer_retry_after(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    rate_limited = httpx.Response(429, headers={"Retry-After": "45"}, json={"success": False})
    mock_studio.add(STATUS, rate_limited, SUCCEEDED)

    open_client().wait_for_job(7, deadline_seconds=600)

    assert clock.sleeps == [45.0]


def test_wait_429_not_retried_by_requester(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    rate_limited = httpx.Response(429, json={"success": False})
    mock_studio.add(STATUS, rate_limited, rate_limited, rate_limited, rate_limited, SUCCEEDED)

    open_client().wait_for_job(7, deadline_seconds=600)

    # Each 429 is one request, and the interval doubles 2 -> 4 -> 8 -> 10 -> 10.
    assert mock_studio.count(STATUS) == 5
    assert clock.sleeps == [4.0, 8.0, 10.0, 10.0]


def test_wait_propagates_server_errors_after_retries(
    open_client: OpenClient, mock_studio: MockStudio, clock: FakeClock
) -> None:
    mock_studio.add(STATUS, RUNNING, httpx.Response(503, json={"success": False}))

    with pytest.raises(StudioServerError):
        open_client().wait_for_job(7)

    # One poll sleep, then the requester's three backoff sleeps.
    assert clock.sleeps == [2.0, 1.0, 2.0, 4.0]


def test_wait_logs_success(
    open_client: OpenClient, mock_studio: MockStudio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="studio.jobs")
    mock_studio.add(STATUS, RUNNING, SUCCEEDED)

    open_client().wait_for_job(7)

    messages = [r.getMessage() for r in caplog.records if r.name == "studio.jobs"]
    assert messages == [
        "Waiting for Studio job 7 of project 42",
        "Studio job 7 of project 42 succeeded after 2 status polls",
    ]
