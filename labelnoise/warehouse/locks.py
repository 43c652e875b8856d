"""The run lock: a PostgreSQL advisory lock that keeps two runs of one project apart.

A project run holds a session-level advisory lock on a connection of its
own for as long as it runs. PostgreSQL releases a session lock when its
connection closes, including when the process holding it is killed, so a
crashed run cannot leave the lock taken.

Key of the lock, in PostgreSQL's two-key form `pg_advisory_lock(int4, int4)`:
`(RUN_LOCK_CLASS, project_id)` for project ids up to 2**31 - 1, and
`(RUN_LOCK_CLASS_FOLDED, high 32 bits XOR low 32 bits)` for larger ids.
PostgreSQL keeps two-key and one-key (bigint) locks apart, and the loader's
per-project lock uses another class (`loader.LOAD_LOCK_CLASS`), so no other lock of
labelnoise shares these keys. Two projects whose ids are both above
2**31 - 1 may fold to the same key, and then their runs wait for each other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from labelnoise.exceptions import WarehouseError

__all__ = ["RUN_LOCK_CLASS", "RUN_LOCK_CLASS_FOLDED", "hold_run_lock", "run_lock_key"]

# First keys of the run lock. Any int4 values that no other lock uses would work.
RUN_LOCK_CLASS = 0x6C72
RUN_LOCK_CLASS_FOLDED = 0x6C73

INT4_MAX = 2**31 - 1
_UINT32 = 2**32

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


def run_lock_key(project_id: int) -> tuple[int, int]:
    """Return the two int4 keys of the run lock of `project_id`, a positive bigint."""
    if not 0 < project_id <= 2**63 - 1:
        raise ValueError(f"A project id must be a positive bigint, got {project_id}")
    if project_id <= INT4_MAX:
        return RUN_LOCK_CLASS, project_id

    folded = (project_id >> 32) ^ (project_id % _UINT32)
    # Read the 32 bits as a signed int4, the type that PostgreSQL expects.
    signed = folded - _UINT32 if folded > INT4_MAX else folded
    return RUN_LOCK_CLASS_FOLDED, signed


@contextmanager
def hold_run_lock(
    engine: Engine,
    project_id: int,
    *,
    timeout: float,
    poll_interval: float,
    logger: Logger | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the run lock of `project_id` on a dedicated connection until the block ends.

    While another session holds the lock, this tries again every
    `poll_interval` seconds and logs one "Waiting for another run" line.
    Raises `WarehouseError` naming the project when the lock is still taken
    after `timeout` seconds.
    """
    logger = logger or logging.getLogger(__name__)
    key = run_lock_key(project_id)
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        _acquire(connection, project_id, key, timeout, poll_interval, logger, clock, sleep)
    except BaseException:
        # Closing the session releases the lock, in case it was taken
        # while the wait was being interrupted.
        connection.invalidate()
        connection.close()
        raise

    try:
        yield
    finally:
        _release(connection, project_id, key, logger)


def _acquire(
    connection: Connection,
    project_id: int,
    key: tuple[int, int],
    timeout: float,
    poll_interval: float,
    logger: Logger,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    started = clock()
    waiting = False
    while not _try_lock(connection, key):
        if clock() - started >= timeout:
            raise WarehouseError(
                f"Timed out after waiting {timeout:g} s (LABELNOISE_RUN_LOCK_TIMEOUT) for "
                f"another run of project {project_id} to finish; let that run finish "
                "or stop it, then start this run again"
            )
        if not waiting:
            waiting = True
            holder = _holder_pid(connection, key)
            logger.info(
                "Waiting for another run of project %d to finish (it holds the run lock "
                "in PostgreSQL backend %s); giving up after %.0f s",
                project_id,
                holder if holder is not None else "unknown",
                timeout,
            )
        sleep(poll_interval)

    if waiting:
        logger.info(
            "The other run of project %d finished; this run goes on after waiting %.0f s",
            project_id,
            clock() - started,
        )


def _try_lock(connection: Connection, key: tuple[int, int]) -> bool:
    locked = connection.execute(
        text("SELECT pg_try_advisory_lock(:class_key, :object_key)"),
        {"class_key": key[0], "object_key": key[1]},
    ).scalar_one()
    return bool(locked)


def _holder_pid(connection: Connection, key: tuple[int, int]) -> int | None:
    # pg_locks shows the two keys of a two-key lock as unsigned oids in
    # classid and objid, with objsubid 2.
    pid: int | None = connection.execute(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = :class_oid AND objid = :object_oid AND objsubid = 2 LIMIT 1"
        ),
        {"class_oid": key[0] % _UINT32, "object_oid": key[1] % _UINT32},
    ).scalar()
    return pid


def _release(connection: Connection, project_id: int, key: tuple[int, int], logger: Logger) -> None:
    try:
        released = connection.execute(
            text("SELECT pg_advisory_unlock(:class_key, :object_key)"),
            {"class_key": key[0], "object_key": key[1]},
        ).scalar_one()
    except SQLAlchemyError as exc:
        # The session is gone or broken, and closing it releases whatever it held.
        logger.warning(
            "Could not release the run lock of project %d, closing its connection instead: %s",
            project_id,
            type(exc).__name__,
        )
        connection.invalidate()
        released = True
    finally:
        connection.close()

    if not released:
        # Only an explicit unlock by other code on this session gets here.
        logger.warning(
            "The run lock of project %d was no longer held at the end of the run, "
            "so another run of the project may have overlapped with it",
            project_id,
        )
