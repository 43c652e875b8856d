"""Archive of raw label-noise response bodies, compressed and deduplicated by SHA-256.

The body is archived before it is decoded, so a run whose payload fails
validation keeps the exact bytes for inspection, and `labelnoise reload`
can rebuild any run's rows later without asking Studio again.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import zlib
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from labelnoise.exceptions import LoadError, RunNotFoundError
from models.warehouse import RawPayload, Run

logger = logging.getLogger(__name__)

COMPRESSION = "gzip"
# Archiving sits on the path of every run, so speed wins over size. On the
# 24 MiB body of benchmarks/load.py (2 shared cores), level 1 gives 4.5 MiB in
# 0.20 s and the default level 6 gives 3.7 MiB in 0.68 s.
COMPRESSION_LEVEL = 1


@dataclass(frozen=True)
class ArchivedPayload:
    """Location of a run's archived body, and the earlier run it repeats, if any.

    `same_as_run_id` is the loaded run whose facts already describe this body,
    found through the project's previous `loaded` or `unchanged` run. It is
    `None` when that run had a different body, or when there is none.
    """

    payload_id: int
    sha256: str
    size_bytes: int
    same_as_run_id: int | None


def archive_payload(engine: Engine, run_id: int, body: bytes) -> ArchivedPayload:
    """Store `body` once per distinct content and attach it to the run.

    Sets `runs.payload_id` and `runs.fetched_at`, in a transaction of its own.
    Raises `RunNotFoundError` when no run has that id.
    """
    sha256 = hashlib.sha256(body).hexdigest()
    with engine.begin() as connection:
        project_id = connection.execute(select(Run.project_id).where(Run.run_id == run_id)).scalar()
        if project_id is None:
            raise RunNotFoundError(
                f"Cannot archive a payload for run {run_id}: no run has that id."
            )

        payload_id, stored = _store(connection, body, sha256)
        same_as_run_id = _repeated_run(connection, project_id, run_id, payload_id)
        connection.execute(
            update(Run)
            .where(Run.run_id == run_id)
            .values(payload_id=payload_id, fetched_at=func.now())
        )

    logger.info(
        "Archived the payload of run %d: %d bytes, sha256 %s, %s",
        run_id,
        len(body),
        sha256[:12],
        "new" if stored else f"already stored as payload {payload_id}",
    )
    return ArchivedPayload(
        payload_id=payload_id,
        sha256=sha256,
        size_bytes=len(body),
        same_as_run_id=same_as_run_id,
    )


def read_payload(connection: Connection, run_id: int) -> bytes:
    """Return the decompressed body archived for the run.

    Raises `RunNotFoundError` for a missing run and `LoadError` when the run
    has no archived body, or the stored one fails its SHA-256 check.
    """
    row = connection.execute(
        select(Run.run_id, RawPayload.compression, RawPayload.body, RawPayload.sha256)
        .outerjoin(RawPayload, RawPayload.payload_id == Run.payload_id)
        .where(Run.run_id == run_id)
    ).first()
    if row is None:
        raise RunNotFoundError(f"Cannot read the payload of run {run_id}: no run has that id.")
    if row.body is None:
        raise LoadError(
            f"Run {run_id} has no archived payload, so it cannot be reloaded; "
            "start a new run to fetch the results from Studio."
        )

    body = decompress(row.body, row.compression)
    if hashlib.sha256(body).hexdigest() != row.sha256:
        raise LoadError(
            f"The archived payload of run {run_id} does not match its SHA-256 {row.sha256}; "
            "the stored body is corrupt, so start a new run to fetch the results again."
        )
    return body


def decompress(data: bytes, compression: str) -> bytes:
    """Return `data` decompressed with the named algorithm."""
    if compression != COMPRESSION:
        raise LoadError(
            f"Archived payload uses compression {compression!r}; this version reads only "
            f"{COMPRESSION!r}. Upgrade labelnoise to read it."
        )
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise LoadError(f"Archived payload is not valid {compression} data: {exc}") from exc


def _store(connection: Connection, body: bytes, sha256: str) -> tuple[int, bool]:
    existing = _payload_id(connection, sha256)
    if existing is not None:
        return existing, False

    compressed = gzip.compress(body, compresslevel=COMPRESSION_LEVEL, mtime=0)
    inserted = connection.execute(
        pg_insert(RawPayload)
        .values(
            sha256=sha256,
            size_bytes=len(body),
            compression=COMPRESSION,
            body=compressed,
        )
        .on_conflict_do_nothing(index_elements=[RawPayload.sha256])
        .returning(RawPayload.payload_id)
    ).scalar()
    if inserted is not None:
        return inserted, True

    # Another transaction stored the same body between the check and the insert.
    concurrent = _payload_id(connection, sha256)
    assert concurrent is not None
    return concurrent, False


def _payload_id(connection: Connection, sha256: str) -> int | None:
    payload_id: int | None = connection.execute(
        select(RawPayload.payload_id).where(RawPayload.sha256 == sha256)
    ).scalar()
    return payload_id


def _repeated_run(
    connection: Connection, project_id: int, run_id: int, payload_id: int
) -> int | None:
    previous = connection.execute(
        select(Run.run_id, Run.payload_id, Run.same_as_run_id)
        .where(
            Run.project_id == project_id,
            Run.run_id < run_id,
            Run.status.in_(("loaded", "unchanged")),
        )
        .order_by(Run.run_id.desc())
        .limit(1)
    ).first()
    if previous is None or previous.payload_id != payload_id:
        return None
    # An unchanged run points at the loaded run that has the facts.
    same_as_run_id: int = previous.same_as_run_id or previous.run_id
    return same_as_run_id
