"""Fixtures for Studio client tests over `httpx.MockTransport`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from studio.client import StudioClient
from studio.retry import no_jitter
from tests.studio.helpers import API_KEY, BASE_URL, PROJECT_ID, FakeClock, MockStudio, make_settings


@pytest.fixture
def mock_studio() -> MockStudio:
    return MockStudio()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_client(mock_studio: MockStudio, clock: FakeClock) -> Iterator[Callable[..., StudioClient]]:
    """Open clients for project 42 over `mock_studio`; each is closed after the test."""
    opened: list[Any] = []

    def open_(**overrides: Any) -> StudioClient:
        settings = overrides.pop("settings", None) or make_settings()
        context = StudioClient.open(
            SecretStr(API_KEY),
            project_id=overrides.pop("project_id", PROJECT_ID),
            base_url=BASE_URL,
            settings=settings,
            sleep=clock.sleep,
            clock=clock.monotonic,
            transport=mock_studio.transport,
            jitter=overrides.pop("jitter", no_jitter),
        )
        opened.append(context)
        return context.__enter__()

    yield open_
    for context in reversed(opened):
        context.__exit__(None, None, None)
