"""`Retry-After` parsing, backoff and jitter in `studio.retry`."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest

from studio.retry import RetryPolicy, equal_jitter, no_jitter, parse_retry_after, response_time

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 30 ", 30.0),
        ("Wed, 01 May 2024 10:01:30 GMT", 90.0),
        ("Wed, 01 May 2024 09:00:00 GMT", 0.0),
        ("Wednesday, 01-May-24 10:00:10 GMT", 10.0),
    ],
    ids=["zero", "seconds", "padded", "http-date", "past-date", "rfc850-date"],
)
def test_parse_retry_after_valid(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    "header",
    ["", "soon", "-5", "1.5", "²", "Wed, 32 May 2024 10:00:00 GMT"],
    ids=["empty", "word", "negative", "fraction", "unicode-digit", "bad-date"],
)
def test_parse_retry_after_invalid_is_none(header: str) -> None:
    assert parse_retry_after(header, now=NOW) is None


def test_response_time_reads_date_header() -> None:
    response = httpx.Response(429, headers={"Date": "Wed, 01 May 2024 10:00:00 GMT"})

    assert response_time(response) == NOW


def test_response_time_without_date_is_now() -> None:
    before = datetime.now(UTC)

    measured = response_time(httpx.Response(429))

    assert before <= measured <= datetime.now(UTC)


def test_response_time_invalid_date_is_now() -> None:
    before = datetime.now(UTC)

    measured = response_time(httpx.Response(429, headers={"Date": "yesterday"}))

    assert before <= measured <= datetime.now(UTC)


def test_backoff_doubles_up_to_max() -> None:
    policy = RetryPolicy(backoff_initial=0.5, backoff_max=3.0, jitter=no_jitter)

    assert [policy.backoff(attempt) for attempt in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_survives_huge_attempt_numbers() -> None:
    policy = RetryPolicy(backoff_initial=1.0, backoff_max=60.0, jitter=no_jitter)

    assert policy.backoff(10_000) == 60.0


def test_delay_prefers_retry_after_and_caps_it() -> None:
    policy = RetryPolicy(backoff_initial=1.0, retry_after_max=100.0, jitter=no_jitter)

    assert policy.delay(3, 7.0) == 7.0
    assert policy.delay(3, 1000.0) == 100.0
    assert policy.delay(3, None) == 8.0


def test_equal_jitter_stays_within_half_and_full_delay() -> None:
    random.seed(1234)

    delays = [equal_jitter(8.0) for _ in range(1000)]

    assert min(delays) >= 4.0
    assert max(delays) <= 8.0
    assert len(set(delays)) > 900
