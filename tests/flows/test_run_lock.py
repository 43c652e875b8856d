"""Two runs of one project never overlap: the second waits for the first's run lock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from emulator.server import EmulatorServer
from flows.project_run import run_project
from labelnoise.exceptions import WarehouseError
from labelnoise.settings import get_settings
from labelnoise.warehouse import runs
from labelnoise.warehouse.locks import run_lock_key
from tests.flows.helpers import run_ids

pytestmark = pytest.mark.usefixtures("flow_settings")

WAITING_MESSAGE = "Waiting for another run of project 1 to finish"


@pytest.fixture
def other_run(warehouse: Engine) -> Iterator[Connection]:
    """Return the session of another run of project 1, holding that project's run lock."""
    connection = warehouse.connect().execution_options(isolation_level="AUTOCOMMIT")
    class_key, object_key = run_lock_key(1)
    connection.execute(text(f"SELECT pg_advisory_lock({class_key}, {object_key})"))
    try:
        yield connection
    finally:
        connection.invalidate()
        connection.close()


@pytest.fixture
def fast_lock_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELNOISE_RUN_LOCK_POLL_INTERVAL", "0.05")
    get_settings.cache_clear()


def waiting_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith(WAITING_MESSAGE)
    ]


@pytest.mark.usefixtures("fast_lock_polling")
def test_run_waits_for_other_run(
    emulator: EmulatorServer,
    warehouse: Engine,
    other_run: Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other_pid = int(other_run.execute(text("SELECT pg_backend_pid()")).scalar_one())
    started_while_waiting: list[int] = []

    def end_other_run_once_waiting() -> None:
        deadline = time.monotonic() + 30
        while not waiting_lines(caplog) and time.monotonic() < deadline:
            time.sleep(0.02)
        started_while_waiting.extend(run_ids(warehouse, emulator.project_id))
        # As when the other run's process is killed: its session ends.
        with warehouse.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": other_pid})

    ender = threading.Thread(target=end_other_run_once_waiting)
    with caplog.at_level(logging.INFO):
        ender.start()
        try:
            outcome = run_project()
        finally:
            ender.join()

    assert waiting_lines(caplog) == [
        f"{WAITING_MESSAGE} (it holds the run lock in PostgreSQL backend {other_pid}); "
        "giving up after 7200 s"
    ]
    assert started_while_waiting == []
    assert outcome.status == "loaded"
    assert runs.get_run(warehouse, outcome.run_id).status == "loaded"


@pytest.mark.usefixtures("fast_lock_polling", "other_run")
def test_run_times_out_naming_project(
    emulator: EmulatorServer, warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELNOISE_RUN_LOCK_TIMEOUT", "0.2")
    get_settings.cache_clear()

    with pytest.raises(WarehouseError) as raised:
        run_project()

    assert str(raised.value) == (
        "Timed out after waiting 0.2 s (LABELNOISE_RUN_LOCK_TIMEOUT) for another run of "
        "project 1 to finish; let that run finish or stop it, then start this run again"
    )
    assert run_ids(warehouse, emulator.project_id) == []
    assert emulator.state.request_count("calculateDataQualityMetrics") == 0
