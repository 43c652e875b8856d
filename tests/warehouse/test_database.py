"""Engine factory, URL handling and the embedded server's recovery from an unclean stop."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from labelnoise.database import (
    EmbeddedServer,
    describe_database,
    normalize_url,
    open_engine,
    prune_handle_pids,
    remove_stale_pid_file,
    start_embedded_server,
)
from labelnoise.exceptions import ConfigurationError
from labelnoise.settings import Settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://etl:s3cret@db.example.com:6543/warehouse",
            "host=db.example.com port=6543 dbname=warehouse user=etl",
        ),
        (
            "postgresql+psycopg://etl:s3cret@db.example.com/warehouse?sslmode=require",
            "host=db.example.com port=5432 dbname=warehouse user=etl",
        ),
        (
            "postgresql+psycopg://postgres:@/labelnoise?host=/tmp/pg&password=s3cret",
            "host=/tmp/pg port=5432 dbname=labelnoise user=postgres",
        ),
        ("not a url s3cret", "an invalid database URL"),
    ],
    ids=["password", "query-string", "socket-and-query-password", "invalid"],
)
def test_describe_database_leaves_out_secrets(url: str, expected: str) -> None:
    assert describe_database(url) == expected


@pytest.mark.parametrize(
    "url",
    ["postgres://u:p@h/d", "postgresql://u:p@h/d", "postgresql+psycopg://u:p@h/d"],
    ids=["postgres", "postgresql", "psycopg"],
)
def test_normalize_url_selects_psycopg(url: str) -> None:
    assert normalize_url(url) == "postgresql+psycopg://u:p@h/d"


def test_normalize_url_rejects_other_driver() -> None:
    with pytest.raises(ConfigurationError) as caught:
        normalize_url("postgresql+psycopg2://u:s3cret@h/d")

    assert str(caught.value) == (
        "DATABASE_URL uses the driver 'postgresql+psycopg2', but the warehouse needs PostgreSQL "
        "through psycopg 3; use a postgresql:// or postgresql+psycopg:// URL"
    )


def test_normalize_url_rejects_invalid_url() -> None:
    with pytest.raises(ConfigurationError) as caught:
        normalize_url("s3cret")

    assert str(caught.value) == (
        "DATABASE_URL is not a valid database URL; expected a URL such as "
        "postgresql://USER:PASSWORD@HOST:5432/DATABASE"
    )


def test_open_engine_logs_database_without_password(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The embedded server trusts local connections, so any password connects.
    url = make_url(database_url).set(password="s3cret-password")

    with caplog.at_level(logging.INFO, logger="labelnoise.database"):
        engine = open_engine(Settings(database_url=url.render_as_string(hide_password=False)))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()

    socket_dir = url.query["host"]
    assert [record.getMessage() for record in caplog.records] == [
        f"Using the PostgreSQL database host={socket_dir} port=5432 dbname=labelnoise_test "
        "user=postgres"
    ]
    assert "s3cret-password" not in caplog.text


def test_open_engine_reads_timestamps_in_utc(database_url: str) -> None:
    engine = open_engine(Settings(database_url=database_url))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW timezone")).scalar() == "UTC"
    finally:
        engine.dispose()


def test_live_server_pid_file_is_kept(pg_server: EmbeddedServer) -> None:
    assert remove_stale_pid_file(pg_server.pgdata) is False
    assert (pg_server.pgdata / "postmaster.pid").exists()


@pytest.fixture
def stopped_server(tmp_path: Path) -> Iterator[Path]:
    """Yield the data folder of an embedded server that ran, kept a table, and stopped."""
    server = start_embedded_server(tmp_path / "data")
    engine = open_engine(Settings(database_url=server.url))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE kept (value text)"))
            connection.execute(text("INSERT INTO kept VALUES ('survives restarts')"))
    finally:
        engine.dispose()
    server.stop()
    yield server.pgdata

    restarted = start_embedded_server(server.pgdata)
    restarted.stop()


@pytest.fixture
def unrelated_process() -> Iterator[int]:
    """Yield the PID of a live process that is not PostgreSQL."""
    process = subprocess.Popen(["sleep", "300"])
    yield process.pid
    process.kill()
    process.wait()


def _kept_value(server: EmbeddedServer) -> object:
    engine = open_engine(Settings(database_url=server.url))
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT value FROM kept")).scalar()
    finally:
        engine.dispose()


def test_start_recovers_from_pid_reused_by_other_process(
    stopped_server: Path, unrelated_process: int, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = stopped_server / "postmaster.pid"
    pid_file.write_text(
        f"{unrelated_process}\n{stopped_server}\n1700000000\n5432\n\n\n0 0\nready\n"
    )

    with caplog.at_level(logging.WARNING, logger="labelnoise.database"):
        server = start_embedded_server(stopped_server)

    assert _kept_value(server) == "survives restarts"
    assert [record.getMessage() for record in caplog.records] == [
        f"Removing the stale postmaster.pid in {stopped_server}: PID {unrelated_process} is not "
        "a running PostgreSQL server for this folder, so the last server stopped uncleanly"
    ]


def test_start_recovers_from_truncated_pid_file(stopped_server: Path) -> None:
    (stopped_server / "postmaster.pid").write_text("12")

    server = start_embedded_server(stopped_server)

    assert _kept_value(server) == "survives restarts"


def _exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_prune_drops_exited_handle_pids(tmp_path: Path) -> None:
    # A process killed with SIGKILL never removes its PID from pgserver's
    # handle list, and pgserver stops the server only when the list empties.
    handle_list = tmp_path / ".handle_pids.json"
    dead_pid = _exited_pid()
    handle_list.write_text(json.dumps([dead_pid, os.getpid()]))

    removed = prune_handle_pids(tmp_path)

    assert removed == [dead_pid]
    assert json.loads(handle_list.read_text()) == [os.getpid()]


def test_prune_keeps_list_of_live_pids(tmp_path: Path) -> None:
    handle_list = tmp_path / ".handle_pids.json"
    handle_list.write_text(json.dumps([os.getpid()]))

    assert prune_handle_pids(tmp_path) == []
    assert json.loads(handle_list.read_text()) == [os.getpid()]


def test_prune_without_handle_list(tmp_path: Path) -> None:
    assert prune_handle_pids(tmp_path) == []
    assert not (tmp_path / ".handle_pids.json").exists()


def test_prune_drops_unreaped_zombie(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    # Not waited for, so the exited child stays a zombie of this process.
    while psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.01)
    handle_list = tmp_path / ".handle_pids.json"
    handle_list.write_text(json.dumps([process.pid]))

    try:
        assert prune_handle_pids(tmp_path) == [process.pid]
    finally:
        process.wait()
    assert json.loads(handle_list.read_text()) == []
