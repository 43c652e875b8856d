"""The run lock: waiting, logging, timing out, and release when its holder dies."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from labelnoise.exceptions import WarehouseError
from labelnoise.warehouse.loader import lock_project
from labelnoise.warehouse.locks import (
    RUN_LOCK_CLASS,
    RUN_LOCK_CLASS_FOLDED,
    hold_run_lock,
    run_lock_key,
)

PROJECT_ID = 42
LOCKS_LOGGER = "labelnoise.warehouse.locks"

# Takes the run lock of project 42 in its own process, then sleeps until killed.
HOLDER_SCRIPT = f"""
import os, sys, time
import psycopg
connection = psycopg.connect(os.environ["LOCK_TEST_URL"], autocommit=True)
connection.execute("SELECT pg_advisory_lock({RUN_LOCK_CLASS}, {PROJECT_ID})")
print(connection.info.backend_pid, flush=True)
time.sleep(600)
"""


class FakeClock:
    """A monotonic clock that only `sleep` moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def holder(engine: Engine) -> Iterator[Connection]:
    """Return a connection of another session holding the run lock of project 42."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    connection.execute(text(f"SELECT pg_advisory_lock({RUN_LOCK_CLASS}, {PROJECT_ID})"))
    try:
        yield connection
    finally:
        connection.invalidate()
        connection.close()


def backend_pid(connection: Connection) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def lock_is_free(engine: Engine, key: tuple[int, int]) -> bool:
    """Tell whether another session could take `key` now, releasing it again at once."""
    with engine.connect() as connection:
        taken = connection.execute(
            text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": key[0], "b": key[1]}
        ).scalar_one()
        if taken:
            connection.execute(
                text("SELECT pg_advisory_unlock(:a, :b)"), {"a": key[0], "b": key[1]}
            )
        connection.commit()
    return bool(taken)


def lock_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOCKS_LOGGER]


def test_key_of_int4_project_id_is_exact() -> None:
    assert run_lock_key(42) == (RUN_LOCK_CLASS, 42)
    assert run_lock_key(2**31 - 1) == (RUN_LOCK_CLASS, 2**31 - 1)


def test_key_of_bigint_project_id_is_folded() -> None:
    assert run_lock_key(2**40 + 5) == (RUN_LOCK_CLASS_FOLDED, 256 ^ 5)
    assert run_lock_key(2**32 - 1) == (RUN_LOCK_CLASS_FOLDED, -1)
    assert run_lock_key(2**63 - 1) == (RUN_LOCK_CLASS_FOLDED, -(2**31))


def test_key_rejects_non_positive_id() -> None:
    with pytest.raises(ValueError, match=r"^A project id must be a positive bigint, got 0$"):
        run_lock_key(0)


def test_folded_key_is_accepted_by_postgresql(engine: Engine) -> None:
    with hold_run_lock(engine, 2**63 - 1, timeout=1, poll_interval=1):
        assert not lock_is_free(engine, run_lock_key(2**63 - 1))

    assert lock_is_free(engine, run_lock_key(2**63 - 1))


def test_lock_free_before_and_after_block(engine: Engine) -> None:
    key = run_lock_key(PROJECT_ID)
    assert lock_is_free(engine, key)

    with hold_run_lock(engine, PROJECT_ID, timeout=1, poll_interval=1):
        assert not lock_is_free(engine, key)

    assert lock_is_free(engine, key)


def test_lock_released_when_block_raises(engine: Engine) -> None:
    with (
        pytest.raises(RuntimeError, match=r"^step failed$"),
        hold_run_lock(engine, PROJECT_ID, timeout=1, poll_interval=1),
    ):
        raise RuntimeError("step failed")

    assert lock_is_free(engine, run_lock_key(PROJECT_ID))


def test_loader_lock_does_not_block_run_lock(engine: Engine) -> None:
    clock = FakeClock()
    with engine.begin() as loading:
        lock_project(loading, PROJECT_ID)

        with hold_run_lock(
            engine, PROJECT_ID, timeout=1, poll_interval=1, clock=clock, sleep=clock.sleep
        ):
            pass

    assert clock.sleeps == []


def test_waiting_run_logs_once_and_goes_on_when_holder_ends(
    engine: Engine, holder: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    holder_pid = backend_pid(holder)
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 3:
            with engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder_pid})

    with (
        caplog.at_level(logging.INFO, logger=LOCKS_LOGGER),
        hold_run_lock(engine, PROJECT_ID, timeout=60, poll_interval=5, clock=clock, sleep=sleep),
    ):
        assert not lock_is_free(engine, run_lock_key(PROJECT_ID))

    # The terminated backend may need a moment to exit, so count at least three polls.
    assert len(clock.sleeps) >= 3
    assert set(clock.sleeps) == {5}
    assert lock_messages(caplog) == [
        "Waiting for another run of project 42 to finish (it holds the run lock "
        f"in PostgreSQL backend {holder_pid}); giving up after 60 s",
        "The other run of project 42 finished; "
        f"this run goes on after waiting {5 * len(clock.sleeps)} s",
    ]


def test_wait_times_out_naming_project(engine: Engine, holder: Connection) -> None:
    clock = FakeClock()

    with (
        pytest.raises(WarehouseError) as raised,
        hold_run_lock(
            engine, PROJECT_ID, timeout=10, poll_interval=4, clock=clock, sleep=clock.sleep
        ),
    ):
        pytest.fail("the lock was taken while another session held it")

    assert str(raised.value) == (
        "Timed out after waiting 10 s (LABELNOISE_RUN_LOCK_TIMEOUT) for another run of "
        "project 42 to finish; let that run finish or stop it, then start this run again"
    )
    assert clock.sleeps == [4, 4, 4]
    # The timed-out run holds nothing, so the holder's lock is still the only one.
    assert not lock_is_free(engine, run_lock_key(PROJECT_ID))


def test_lock_freed_when_holder_process_killed(engine: Engine, database_url: str) -> None:
    libpq_url = make_url(database_url).set(drivername="postgresql")
    environment = {**os.environ, "LOCK_TEST_URL": libpq_url.render_as_string(hide_password=False)}
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT], env=environment, stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip().isdigit()
            assert not lock_is_free(engine, run_lock_key(PROJECT_ID))
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    # The server notices the closed socket and ends the session within moments.
    with hold_run_lock(engine, PROJECT_ID, timeout=10, poll_interval=0.05):
        assert not lock_is_free(engine, run_lock_key(PROJECT_ID))
