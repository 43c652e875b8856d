"""Connect to the warehouse database and migrate it.

`DATABASE_URL` selects the server: PostgreSQL 14 or newer, although the
tests run only on the 16.2 that pgserver 0.1.4 bundles. Without it, an
embedded PostgreSQL from the `pgserver` package runs in
`settings.data_dir/"postgres"`, and its data stays there between runs. The
loader needs psycopg 3 for COPY, so every URL uses `postgresql+psycopg`.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

import migrations
from labelnoise.exceptions import ConfigurationError, DatabaseStartError
from labelnoise.settings import Settings, get_settings

logger = logging.getLogger(__name__)

DRIVER = "postgresql+psycopg"
EMBEDDED_SUBDIR = "postgres"
EMBEDDED_DATABASE = "labelnoise"

# Any constant works as long as no other code takes the same advisory lock.
MIGRATION_LOCK_KEY = 0x6C6E_0001

_PLAIN_SCHEMES = ("postgresql", "postgres")


def open_engine(settings: Settings | None = None) -> Engine:
    """Create an engine on `DATABASE_URL`, or on the embedded server when it is unset.

    The first start of the embedded server also runs `initdb` in its data
    folder. The database is not migrated: call `upgrade_database` for that.
    """
    settings = settings or get_settings()
    if settings.database_url is not None:
        url = normalize_url(settings.database_url.get_secret_value())
        logger.info("Using the PostgreSQL database %s", describe_database(url))
    else:
        server = start_embedded_server(settings.data_dir / EMBEDDED_SUBDIR)
        url = server.url
        logger.info(
            "Using the embedded PostgreSQL in %s (%s)", server.pgdata, describe_database(url)
        )
    return create_engine(url, pool_pre_ping=True, connect_args=_session_options(url))


def _session_options(url: str) -> dict[str, str]:
    # Timestamps read back as UTC whatever the server's TimeZone setting is,
    # unless the URL sets its own libpq `options`.
    if "options" in make_url(url).query:
        return {}
    return {"options": "-c timezone=UTC"}


def normalize_url(url: str) -> str:
    """Return `url` with the psycopg 3 driver, rejecting other drivers and other databases."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            "DATABASE_URL is not a valid database URL; expected a URL such as "
            "postgresql://USER:PASSWORD@HOST:5432/DATABASE"
        ) from exc

    if parsed.drivername in _PLAIN_SCHEMES:
        parsed = parsed.set(drivername=DRIVER)
    elif parsed.drivername != DRIVER:
        raise ConfigurationError(
            f"DATABASE_URL uses the driver {parsed.drivername!r}, but the warehouse needs "
            f"PostgreSQL through psycopg 3; use a postgresql:// or {DRIVER}:// URL"
        )
    return parsed.render_as_string(hide_password=False)


def describe_database(url: str) -> str:
    """Describe the server, database and user of `url` for logs, leaving out the password.

    The query string is read only for libpq's `host`, `port` and `user`
    parameters, because it may carry other secrets (`password`, `sslkey`).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an invalid database URL"

    host = parsed.host or _query_value(parsed, "host") or "localhost"
    port = parsed.port or _query_value(parsed, "port") or 5432
    user = parsed.username or _query_value(parsed, "user") or "(default user)"
    database = parsed.database or "(default database)"
    return f"host={host} port={port} dbname={database} user={user}"


def _query_value(url: URL, key: str) -> str | None:
    value = url.query.get(key)
    if isinstance(value, tuple):
        return value[0] if value else None
    return value


def upgrade_database(engine: Engine) -> None:
    """Apply every Alembic migration up to head; a database already at head is left as it is.

    Concurrent callers are serialized by a PostgreSQL advisory lock, so two
    processes starting on a fresh database do not both create the tables.
    """
    # Alembic 1.20 logs one INFO line per autogenerate plugin when it is imported.
    _quiet_logger("alembic.runtime.plugins")
    from alembic import command

    config = alembic_config()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock_connection:
        lock_connection.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
        try:
            with engine.connect() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            lock_connection.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
    logger.info("Database %s is at the latest migration", describe_database(str(engine.url)))


def alembic_config() -> Any:
    """Build the Alembic configuration from code, so no `alembic.ini` is needed."""
    from alembic.config import Config

    # Alembic's default `stdout` is bound when alembic.config is first imported.
    # If that import happened under a redirected stream (a CLI test runner), the
    # default would be a closed file, so pass the current stream.
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded PostgreSQL and the URL of its `labelnoise` database."""

    pgdata: Path
    url: str
    handle: Any

    def stop(self) -> None:
        """Stop the server, unless another Python process still has a handle open on it."""
        self.handle.cleanup()
        logger.info("Stopped the embedded PostgreSQL in %s", self.pgdata)


def start_embedded_server(pgdata: Path, *, database: str = EMBEDDED_DATABASE) -> EmbeddedServer:
    """Start (or join) the embedded PostgreSQL in `pgdata` and create `database` on it.

    pgserver stops the server when the last Python process using it exits.
    After an unclean stop, the stale `postmaster.pid` is removed first.
    """
    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_pid_file(pgdata)

    pgserver = _import_pgserver()
    with pgserver.postgres_server.PostgresServer._lock:
        prune_handle_pids(pgdata)
    try:
        handle = pgserver.get_server(pgdata, cleanup_mode="stop")
    except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as exc:
        raise DatabaseStartError(
            f"The embedded PostgreSQL in {pgdata} did not start: {exc!r}. "
            f"Read its log in {pgdata / 'log'}, or set DATABASE_URL to use another server."
        ) from exc

    admin_uri: str = handle.get_uri()
    _create_database(admin_uri, database, pgdata)
    url = normalize_url(handle.get_uri(database))
    return EmbeddedServer(pgdata=pgdata, url=url, handle=handle)


def _import_pgserver() -> Any:
    # At import time, pgserver 0.1.4 reads a runtime folder from platformdirs only to
    # keep a lock file there, and platformdirs warns when XDG_RUNTIME_DIR is unset.
    # The fallback folder works as well, so that one warning is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
        import pgserver

    # pgserver logs every pg_ctl command line and its whole output at INFO;
    # our own INFO line already names the database in use.
    _quiet_logger("pgserver")
    return pgserver


def _quiet_logger(name: str) -> None:
    """Raise a chatty library logger to WARNING, unless it is configured or DEBUG is on."""
    library_logger = logging.getLogger(name)
    if library_logger.level == logging.NOTSET and not logging.getLogger().isEnabledFor(
        logging.DEBUG
    ):
        library_logger.setLevel(logging.WARNING)


def _create_database(admin_uri: str, database: str, pgdata: Path) -> None:
    try:
        with psycopg.connect(admin_uri, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if exists is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
                logger.info("Created database %s in the embedded PostgreSQL", database)
    except psycopg.errors.DuplicateDatabase:
        pass  # another process created it between the check and CREATE DATABASE
    except psycopg.OperationalError as exc:
        raise DatabaseStartError(
            f"The embedded PostgreSQL in {pgdata} started but rejected the connection: {exc}. "
            f"Read its log in {pgdata / 'log'}."
        ) from exc


def remove_stale_pid_file(pgdata: Path) -> bool:
    """Remove `postmaster.pid` and pgserver's handle list when no server owns them.

    A server killed without a clean shutdown leaves `postmaster.pid` behind.
    PostgreSQL does not start while the PID in it belongs to any live
    process, and after a reboot or in a container that PID is often reused.
    So the file counts as stale unless its PID is a `postgres` process whose
    command line names this folder. Returns whether a stale file was removed.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return False

    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    if pid is not None and _is_postmaster_of(pid, pgdata):
        return False

    logger.warning(
        "Removing the stale postmaster.pid in %s: PID %s is not a running PostgreSQL server "
        "for this folder, so the last server stopped uncleanly",
        pgdata,
        pid,
    )
    pid_file.unlink(missing_ok=True)
    # pgserver 0.1.4 stops the server at exit only when the exiting process is the
    # last one in this list, so PIDs left by a crashed process would keep it running.
    (pgdata / ".handle_pids.json").unlink(missing_ok=True)
    _remove_stale_socket_files(pgdata, lines, pid)
    return True


def prune_handle_pids(pgdata: Path) -> list[int]:
    """Drop the PIDs of exited processes from pgserver's handle list, and return them.

    pgserver 0.1.4 stops the server when the last process in
    `.handle_pids.json` exits, and a process killed with SIGKILL never
    removes itself, so without this the server would outlive every later
    command. Call it under pgserver's inter-process lock, which guards the
    list. A PID reused by an unrelated process still counts as live.
    """
    handle_list = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handle_list.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []

    exited = [pid for pid in pids if not _is_running(pid)]
    if exited:
        live = [pid for pid in pids if pid not in exited]
        handle_list.write_text(json.dumps(live), encoding="utf-8")
        logger.warning(
            "Dropped %d exited process(es) from the embedded PostgreSQL's handle list in %s: "
            "they were killed before they could stop the server",
            len(exited),
            pgdata,
        )
    return exited


def _is_running(pid: int) -> bool:
    # A killed process stays a zombie until its parent reaps it, which a
    # container without a real init may never do.
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        name = str(process.name())
        command_line = [str(part) for part in process.cmdline()]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    if not name.startswith("postgres"):
        return False
    return any(_same_path(part, pgdata) for part in command_line)


def _same_path(argument: str, pgdata: Path) -> bool:
    try:
        return Path(argument).resolve() == pgdata
    except (OSError, ValueError):
        return False


def _remove_stale_socket_files(pgdata: Path, pid_file_lines: list[str], pid: int | None) -> None:
    # PostgreSQL applies the same live-PID check to `.s.PGSQL.<port>.lock` in the
    # socket folder (line 5 of postmaster.pid). Outside `pgdata`, only lock files
    # that name the dead PID are removed, with their socket, as the folder may be shared.
    socket_dirs = {pgdata}
    if len(pid_file_lines) >= 5 and pid_file_lines[4].strip():
        socket_dirs.add(Path(pid_file_lines[4].strip()))
    for socket_dir in socket_dirs:
        for lock_file in socket_dir.glob(".s.PGSQL.*.lock"):
            try:
                owner = lock_file.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
            except OSError:
                continue
            if socket_dir == pgdata or owner.strip() == str(pid):
                lock_file.unlink(missing_ok=True)
                lock_file.with_suffix("").unlink(missing_ok=True)
