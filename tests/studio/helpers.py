"""Test doubles for Studio client tests that run over `httpx.MockTransport`.

`MockStudio` replies to each request from a queue of responses per path and
records every request, so tests can assert exactly what was sent.
`FakeClock` stands in for `time.sleep` and `time.monotonic`: sleeping
advances the clock and records the seconds, and never blocks.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import httpx

from labelnoise.settings import Settings

API_KEY = "ei_test_key_5f3a9c0d"
BASE_URL = "http://127.0.0.1:9/v1"
PROJECT_ID = 42

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A monotonic clock that only moves when `sleep` is called."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


class MockStudio:
    """Queued replies per URL path (without the `/v1` prefix), and the requests made.

    Each request takes the next reply of its path, and the last reply
    repeats for every later request. A reply that is an exception is raised,
    as the transport would raise it.
    """

    def __init__(self) -> None:
        self.replies: dict[str, deque[Reply]] = defaultdict(deque)
        self.requests: list[httpx.Request] = []

    def add(self, path: str, *replies: Reply) -> None:
        self.replies[path].extend(replies)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1")
        queue = self.replies.get(path)
        if not queue:
            return httpx.Response(
                404, json={"success": False, "error": f"no mock reply for {path}"}
            )
        reply = queue[0] if len(queue) == 1 else queue.popleft()
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path.removeprefix("/v1") == path)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def ok(**fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"success": True, **fields})


def job_json(job_id: int = 7, **fields: Any) -> dict[str, Any]:
    """A `Job` with only its required fields, plus `fields`."""
    return {
        "id": job_id,
        "category": "Calculating data quality metrics",
        "categoryKey": "data-quality-metrics",
        "key": "data-quality",
        "created": "2024-05-01T10:00:00Z",
        "jobNotificationUids": [],
        **fields,
    }


def make_settings(**overrides: Any) -> Settings:
    """Return settings with every Studio timing fixed, whatever the environment sets."""
    values: dict[str, Any] = {
        "ei_api_endpoint": BASE_URL,
        "connect_timeout": 3.0,
        "read_timeout": 30.0,
        "max_retries": 3,
        "retry_backoff_initial": 1.0,
        "retry_backoff_max": 4.0,
        "retry_after_max": 120.0,
        "poll_interval_initial": 2.0,
        "poll_interval_max": 10.0,
        "job_deadline": 60.0,
    }
    values.update(overrides)
    return Settings(**values)
