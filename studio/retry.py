"""Retry rules for Studio calls, and the wait before each retry.

The rules, applied by `studio.requester`:

- Idempotent calls (every GET, and the job cancel) are retried on connect,
  read, write and pool timeouts, on connection errors, on a connection that
  closed mid-response, and on HTTP 429, 502, 503 and 504.
- The trigger POST is retried only when Studio cannot have started a job:
  on HTTP 429, and on errors raised before the request was sent (connect
  error, connect timeout, pool timeout).
- Any other status, 4xx or 500, is never retried.

A retry waits for `Retry-After` when the response carries a valid one,
capped at `retry_after_max`. Otherwise it waits an exponential backoff,
`backoff_initial * 2**attempt` capped at `backoff_max`, passed through a
jitter function so that many clients do not retry in step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from labelnoise.settings import Settings

RETRYABLE_STATUS_CODES = frozenset({429, 502, 503, 504})

# Errors raised before any byte of the request reached the server, so even
# a non-idempotent POST can be sent again without risk of a duplicate.
UNSENT_REQUEST_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)

# Errors after which an idempotent request may be sent again. ReadError and
# RemoteProtocolError cover a server that closed the connection mid-response.
TRANSIENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)

Jitter = Callable[[float], float]


def equal_jitter(delay: float) -> float:
    """Return a random delay between half of `delay` and all of it.

    The random part keeps many clients from retrying in step, and the fixed
    half keeps every wait at least half the backoff.
    """
    return random.uniform(delay / 2, delay)


def no_jitter(delay: float) -> float:
    """Return `delay` unchanged, for tests that assert exact sleeps."""
    return delay


def parse_retry_after(value: str, *, now: datetime) -> float | None:
    """Parse a `Retry-After` header into seconds to wait from `now`.

    Both forms of RFC 9110 section 10.2.3 are accepted: delay-seconds
    (`120`) and an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`). A date in the
    past gives 0. Returns `None` for a value that is neither, so the caller
    falls back to exponential backoff.
    """
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)

    try:
        retry_at = parsedate_to_datetime(text)
    except (TypeError, ValueError):  # the two errors the parser raises for malformed dates
        return None
    if retry_at.tzinfo is None:  # HTTP-dates are always GMT
        retry_at = retry_at.replace(tzinfo=UTC)
    return max(0.0, (retry_at - now).total_seconds())


def response_time(response: httpx.Response) -> datetime:
    """Return the server's `Date` header as a UTC time, or the local time without one.

    Measuring an HTTP-date `Retry-After` against the server's own clock
    makes the wait independent of clock skew between client and server.
    """
    header = response.headers.get("date")
    if header is not None:
        try:
            sent_at = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            sent_at = None
        if sent_at is not None:
            return sent_at if sent_at.tzinfo is not None else sent_at.replace(tzinfo=UTC)
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed call is retried and how long each wait is, in seconds."""

    max_retries: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    jitter: Jitter = field(default=equal_jitter)

    @classmethod
    def from_settings(cls, settings: Settings, *, jitter: Jitter = equal_jitter) -> RetryPolicy:
        return cls(
            max_retries=settings.max_retries,
            backoff_initial=settings.retry_backoff_initial,
            backoff_max=settings.retry_backoff_max,
            retry_after_max=settings.retry_after_max,
            jitter=jitter,
        )

    def backoff(self, attempt: int) -> float:
        """Return the jittered wait before retry number `attempt` (0 for the first retry)."""
        # Cap the exponent too: 2**attempt overflows a float long before any
        # realistic max_retries, but a huge setting must not raise.
        exponent = min(attempt, 64)
        delay = min(self.backoff_max, self.backoff_initial * math.pow(2, exponent))
        return self.jitter(delay)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Return the wait before retry number `attempt`.

        A `Retry-After` value wins over the backoff, without jitter, because
        the server stated when it will accept the request again. It is capped
        at `retry_after_max` so that a wrong or hostile header cannot stall a
        run for hours.
        """
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return self.backoff(attempt)
