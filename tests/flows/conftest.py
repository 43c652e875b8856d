"""Fixtures for end-to-end flow tests: Prefect's test harness, settings, events.

Flows read their settings from the environment, so `flow_settings` points
them at the `emulator` fixture and the `warehouse` database, and makes job
polling fast. `emitted_events` records the events that flows emit while
still sending them to the harness server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import prefect.main  # noqa: F401
import pytest
from prefect.events.clients import AssertingPassthroughEventsClient
from prefect.events.schemas.events import Event
from prefect.events.worker import EventsWorker
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import Engine

from emulator.server import EmulatorServer
from labelnoise.cli.runs import PREFECT_ANALYTICS_VARIABLE as ANALYTICS_VARIABLE
from labelnoise.settings import get_settings

# `prefect.main` (imported above) points Prefect's console log handler at
# the current stderr. Importing it here, at collection, keeps that handler
# off the short-lived streams of `CliRunner`, which close after each command.


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    # The harness server inherits the environment; without this it would try
    # to send usage data to Prefect, a host outside this machine.
    previous = os.environ.get(ANALYTICS_VARIABLE)
    os.environ[ANALYTICS_VARIABLE] = "false"
    try:
        with prefect_test_harness():
            yield
    finally:
        if previous is None:
            os.environ.pop(ANALYTICS_VARIABLE, None)
        else:
            os.environ[ANALYTICS_VARIABLE] = previous


@pytest.fixture
def flow_settings(
    prefect_harness: None,
    emulator: EmulatorServer,
    database_url: str,
    warehouse: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[None]:
    """Point the flows' settings at the emulator and the emptied test warehouse."""
    # The temporary working directory contains no `.env` or `labelnoise.toml` to read.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABELNOISE_PROJECTS_FILE", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("EI_API_KEY", emulator.api_key)
    monkeypatch.setenv("EI_API_ENDPOINT", emulator.base_url)
    monkeypatch.setenv("EI_PROJECT_ID", str(emulator.project_id))
    monkeypatch.setenv("LABELNOISE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LABELNOISE_TRIGGER_MODE", "always")
    # Emulator jobs take about a second, so poll often.
    monkeypatch.setenv("LABELNOISE_POLL_INTERVAL_INITIAL", "0.05")
    monkeypatch.setenv("LABELNOISE_POLL_INTERVAL_MAX", "0.2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def emitted_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], list[Event]]]:
    """Return a function that lists the events of one name emitted so far."""
    worker = EventsWorker.instance(AssertingPassthroughEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *args, **kwargs: worker)

    def events_named(name: str) -> list[Event]:
        worker.wait_until_empty()
        client = AssertingPassthroughEventsClient.last
        assert client is not None, "no events client was started"
        return [event for event in client.events if event.event == name]

    try:
        yield events_named
    finally:
        worker.drain()
        AssertingPassthroughEventsClient.reset()
