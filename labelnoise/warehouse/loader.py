"""Load one run's label-noise results into the fact tables with COPY, all or nothing.

A load runs in one transaction that holds a per-project advisory lock, so
two loads of the same project never interleave. It deletes the rows the
run already has, COPYs the new ones table by table, and marks the run
`loaded` with its row counts. Loading the same payload twice therefore
leaves exactly one copy. When anything fails, the transaction rolls back,
the run is marked failed in a separate transaction, and `LoadError` is
raised, chained to the cause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, Table, delete, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from labelnoise.exceptions import LoadError, RunNotFoundError
from labelnoise.warehouse import runs
from labelnoise.warehouse.archive import read_payload
from labelnoise.warehouse.flatten import (
    BINARY_HEADER,
    BINARY_TABLES,
    BINARY_TRAILER,
    COLUMNS,
    Flattener,
    SampleSnapshot,
)
from models.label_noise import LabelNoiseData, decode_label_noise
from models.warehouse import SCHEMA, Base, Run, RunLabel, RunSample

__all__ = ["LoadResult", "SampleSnapshot", "load_run", "lock_project", "reload_run"]

logger = logging.getLogger(__name__)

# First key of the two-key advisory lock that serializes loads of a project;
# the second is hashint8(project_id). Two-key locks never collide with
# one-key locks, and any constant no other code uses works.
LOAD_LOCK_CLASS = 0x6C6E

FACT_TABLES = (
    "cosine_issues",
    "cosine_matches",
    "neighbor_scores",
    "neighbor_windows",
    "cross_validation_scores",
)

# Row count column of the run row, per table.
COUNT_COLUMNS = {
    "run_labels": "label_rows",
    "run_samples": "sample_rows",
    "cosine_issues": "cosine_issue_rows",
    "cosine_matches": "cosine_match_rows",
    "neighbor_scores": "neighbor_score_rows",
    "neighbor_windows": "neighbor_window_rows",
    "cross_validation_scores": "cross_validation_rows",
}


@dataclass(frozen=True)
class LoadResult:
    """Outcome of a load: the run's rows per table after it, and the duplicates dropped."""

    run_id: int
    rows: dict[str, int]
    duplicates_dropped: int
    seconds: float


def load_run(
    engine: Engine,
    run_id: int,
    *,
    body: bytes | None = None,
    labels: Sequence[str] | None = None,
    samples: Iterable[SampleSnapshot] | None = None,
) -> LoadResult:
    """Replace the run's rows with those of `body` and mark the run `loaded`.

    `body` None reads the run's archived payload. `labels` gives the label
    name of each index. `samples` lists the project's samples at fetch time;
    samples embedded in the results are added when the list lacks them.
    `labels` or `samples` None keeps the run's existing `run_labels` or
    `run_samples` rows.

    Raises `RunNotFoundError` when no run has that id. Any other failure
    marks the run failed and raises `LoadError`, chained to the cause, which
    is `InvalidPayloadError` for a body that fails validation.
    """
    started = time.perf_counter()
    project_id = _project_of(engine, run_id)
    try:
        with engine.connect() as connection, connection.begin():
            rows, duplicates = _load(connection, run_id, project_id, body, labels, samples)
    except RunNotFoundError:
        raise
    # Any failure must mark the run failed, so the boundary is broad on purpose;
    # the error is re-raised, chained, and BaseException (interrupts) passes through.
    except Exception as exc:
        _record_failure(engine, run_id, exc)
        raise LoadError(_failure_message(run_id, project_id, exc)) from exc

    seconds = time.perf_counter() - started
    dropped = sum(duplicates.values())
    if dropped:
        logger.warning(
            "Run %d listed %d keys twice; kept the first of each and dropped the others: %s",
            run_id,
            dropped,
            ", ".join(f"{table} {count}" for table, count in sorted(duplicates.items())),
        )
    logger.info(
        "Loaded run %d of project %d: %d rows in %d tables in %.2f s",
        run_id,
        project_id,
        sum(rows.values()),
        len(rows),
        seconds,
    )
    return LoadResult(run_id=run_id, rows=rows, duplicates_dropped=dropped, seconds=seconds)


def reload_run(engine: Engine, run_id: int) -> LoadResult:
    """Rebuild the run's rows from its archived payload, keeping its labels and samples."""
    return load_run(engine, run_id)


def lock_project(connection: Connection, project_id: int) -> None:
    """Wait for, then hold until the end of the transaction, the project's load lock."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:lock_class, hashint8(:project_id))"),
        {"lock_class": LOAD_LOCK_CLASS, "project_id": project_id},
    )


def _project_of(engine: Engine, run_id: int) -> int:
    with engine.connect() as connection:
        project_id: int | None = connection.execute(
            select(Run.project_id).where(Run.run_id == run_id)
        ).scalar()
    if project_id is None:
        raise RunNotFoundError(
            f"Cannot load run {run_id}: no run has that id; "
            "list the runs in labelnoise.runs to find the right one."
        )
    return project_id


def _load(
    connection: Connection,
    run_id: int,
    project_id: int,
    body: bytes | None,
    labels: Sequence[str] | None,
    samples: Iterable[SampleSnapshot] | None,
) -> tuple[dict[str, int], dict[str, int]]:
    lock_project(connection, project_id)
    connection.execute(select(Run.run_id).where(Run.run_id == run_id).with_for_update())

    if body is None:
        body = read_payload(connection, run_id)
    data = decode_label_noise(body, project_id=project_id)
    # The archive keeps the bytes, and from here on the flattener is the only
    # holder of the decoded sections, so each is freed once its tables are written.
    del body
    sections = _section_values(data)
    flattener = Flattener(run_id, data)
    del data

    rows = _replace_rows(connection, run_id, flattener, labels, samples)
    _mark_loaded(connection, run_id, sections, rows, sum(flattener.duplicates.values()))
    return rows, dict(flattener.duplicates)


def _replace_rows(
    connection: Connection,
    run_id: int,
    flattener: Flattener,
    labels: Sequence[str] | None,
    samples: Iterable[SampleSnapshot] | None,
) -> dict[str, int]:
    for name in FACT_TABLES:
        table = _table(name)
        connection.execute(delete(table).where(table.c.run_id == run_id))

    cursor = _driver_connection(connection).cursor()
    rows: dict[str, int] = {}

    if labels is not None:
        connection.execute(delete(RunLabel).where(RunLabel.run_id == run_id))
        _copy(cursor, "run_labels", flattener.labels(labels))
    rows["run_labels"] = _count(connection, "run_labels", run_id)

    if samples is not None:
        connection.execute(delete(RunSample).where(RunSample.run_id == run_id))
        _copy(cursor, "run_samples", flattener.samples(samples))
    else:
        existing = connection.execute(
            select(RunSample.sample_id).where(RunSample.run_id == run_id)
        ).scalars()
        _copy(cursor, "run_samples", flattener.samples((), skip_ids=set(existing)))
    rows["run_samples"] = _count(connection, "run_samples", run_id)

    rows["cosine_issues"] = _copy(cursor, "cosine_issues", flattener.cosine_issues())
    rows["cosine_matches"] = _copy(cursor, "cosine_matches", flattener.cosine_matches())
    flattener.release("cosine_similarity")
    rows["neighbor_scores"] = _copy(cursor, "neighbor_scores", flattener.neighbor_scores())
    rows["neighbor_windows"] = _copy(cursor, "neighbor_windows", flattener.neighbor_windows())
    flattener.release("neighbors")
    rows["cross_validation_scores"] = _copy(
        cursor, "cross_validation_scores", flattener.cross_validation_scores()
    )
    flattener.release("cross_validation")
    return rows


def _copy(
    cursor: psycopg.Cursor[object], table: str, chunks: Iterator[str] | Iterator[bytes]
) -> int:
    """COPY `chunks` into `table` and return the row count PostgreSQL reports."""
    started = time.perf_counter()
    binary = table in BINARY_TABLES
    statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(SCHEMA, table),
        sql.SQL(", ").join(sql.Identifier(column) for column in COLUMNS[table]),
        sql.SQL(" (FORMAT binary)") if binary else sql.SQL(""),
    )
    with cursor.copy(statement) as copy:
        if binary:
            copy.write(BINARY_HEADER)
        for chunk in chunks:
            copy.write(chunk)
        if binary:
            copy.write(BINARY_TRAILER)
    rows = max(cursor.rowcount, 0)
    logger.debug("Copied %d rows into %s in %.3f s", rows, table, time.perf_counter() - started)
    return rows


def _section_values(data: LabelNoiseData) -> dict[str, object]:
    """Return the run-row columns that describe which methods the response contains."""
    cosine = data.cosine_similarity
    neighbors = data.neighbors
    cross_validation = data.cross_validation
    return {
        "num_neighbors": neighbors.num_neighbors if neighbors is not None else None,
        "cosine_state": _section_state(
            cosine,
            cosine is not None
            and bool(cosine.similar_but_different_label or cosine.different_but_same_label),
        ),
        "neighbors_state": _section_state(
            neighbors, neighbors is not None and bool(neighbors.scores_and_neighbors)
        ),
        "cross_validation_state": _section_state(
            cross_validation, cross_validation is not None and bool(cross_validation.scores)
        ),
    }


def _mark_loaded(
    connection: Connection,
    run_id: int,
    sections: dict[str, object],
    rows: dict[str, int],
    duplicates: int,
) -> None:
    counts = {COUNT_COLUMNS[table]: count for table, count in rows.items()}
    connection.execute(
        update(Run)
        .where(Run.run_id == run_id)
        .values(
            status="loaded",
            finished_at=func.now(),
            error=None,
            same_as_run_id=None,
            duplicate_rows_dropped=duplicates,
            **sections,
            **counts,
        )
    )


def _section_state(section: object | None, has_rows: bool) -> str:
    if section is None:
        return "absent"
    return "present" if has_rows else "empty"


def _failure_message(run_id: int, project_id: int, exc: Exception) -> str:
    message = (
        f"Loading run {run_id} of project {project_id} failed, so its rows are as they were "
        f"before the load: {str(exc).rstrip('.')}."
    )
    if isinstance(exc, LoadError):
        return message  # its message already names the next step
    return f"{message} Fix the cause, then run `labelnoise reload {run_id}`."


def _record_failure(engine: Engine, run_id: int, exc: Exception) -> None:
    logger.error("Loading run %d failed: %s", run_id, exc)
    try:
        runs.mark_failed(engine, run_id, str(exc))
    except SQLAlchemyError as mark_exc:  # the load error is raised next and must not be hidden
        logger.error("Could not mark run %d failed: %s", run_id, mark_exc)


def _count(connection: Connection, name: str, run_id: int) -> int:
    table = _table(name)
    count: int = connection.execute(
        select(func.count()).select_from(table).where(table.c.run_id == run_id)
    ).scalar_one()
    return count


def _table(name: str) -> Table:
    return Base.metadata.tables[f"{SCHEMA}.{name}"]


def _driver_connection(connection: Connection) -> psycopg.Connection[object]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver
