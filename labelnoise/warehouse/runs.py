"""Run lifecycle in the warehouse: create, trigger, resume, finish or fail a run.

Every function runs in its own short transaction, so a run row records
progress even when a later step crashes. Timestamps come from the
database clock (`now()`), so runs recorded by different hosts compare.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from labelnoise.exceptions import RunNotFoundError, WarehouseError
from models.warehouse import Project, Run

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = ("triggered", "running")
# A run with one of these statuses has fetched results, so its job is never resumed.
DONE_STATUSES = ("loaded", "unchanged")


@dataclass(frozen=True)
class ResumableRun:
    """A run whose Studio job may still be running, so a new run can poll it instead."""

    run_id: int
    job_id: int
    triggered_job: bool
    started_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """One row of `labelnoise.runs`."""

    run_id: int
    project_id: int
    status: str
    job_id: int | None
    triggered_job: bool
    trigger_mode: str
    representation: str | None
    flow_run_id: str | None
    started_at: datetime
    triggered_at: datetime | None
    job_finished_at: datetime | None
    fetched_at: datetime | None
    finished_at: datetime | None
    payload_id: int | None
    same_as_run_id: int | None
    num_neighbors: int | None
    cosine_state: str | None
    neighbors_state: str | None
    cross_validation_state: str | None
    label_rows: int | None
    sample_rows: int | None
    cosine_issue_rows: int | None
    cosine_match_rows: int | None
    neighbor_score_rows: int | None
    neighbor_window_rows: int | None
    cross_validation_rows: int | None
    duplicate_rows_dropped: int
    error: str | None


def upsert_project(engine: Engine, *, project_id: int, name: str, owner: str | None) -> None:
    """Insert the project, or update its name and owner when it is already tracked."""
    statement = pg_insert(Project).values(project_id=project_id, name=name, owner=owner)
    statement = statement.on_conflict_do_update(
        index_elements=[Project.project_id],
        set_={"name": name, "owner": owner, "updated_at": func.now()},
    )
    with engine.begin() as connection:
        connection.execute(statement)


def create_run(
    engine: Engine,
    *,
    project_id: int,
    trigger_mode: str,
    representation: str | None,
    flow_run_id: str | None = None,
) -> int:
    """Insert a run with status `running` and return its id; the project must be tracked."""
    statement = (
        insert(Run)
        .values(
            project_id=project_id,
            status="running",
            trigger_mode=trigger_mode,
            representation=representation,
            flow_run_id=flow_run_id,
        )
        .returning(Run.run_id)
    )
    try:
        with engine.begin() as connection:
            run_id: int = connection.execute(statement).scalar_one()
    except IntegrityError as exc:
        raise WarehouseError(
            f"Cannot create a run for project {project_id}: the project is not in "
            "labelnoise.projects. Call upsert_project first."
        ) from exc
    logger.info("Created run %d of project %d", run_id, project_id)
    return run_id


def record_trigger(engine: Engine, run_id: int, job_id: int) -> None:
    """Record that this run triggered Studio job `job_id`."""
    _update_run(
        engine,
        run_id,
        status="triggered",
        job_id=job_id,
        triggered_job=True,
        triggered_at=func.now(),
    )


def record_resumed_job(engine: Engine, run_id: int, job_id: int) -> None:
    """Make this run poll job `job_id`, which an earlier run of the project started.

    The run takes over whether labelnoise triggered the job, and when. The
    earlier runs that still wait on the job are marked failed, so they are
    not resumed a second time. A run that already failed, such as one whose
    wait timed out, keeps its status and error. Raises `WarehouseError` when
    a run of the project already saw the job finish, because a finished job
    has nothing left to wait for.
    """
    with engine.begin() as connection:
        project_id = _project_of(connection, run_id)
        # Locking the job's rows makes two runs that adopt the job at once
        # take turns, so the second one reads the first one's row.
        earlier = connection.execute(
            select(
                Run.run_id,
                Run.status,
                Run.triggered_job,
                Run.triggered_at,
                Run.job_finished_at,
            )
            .where(
                Run.project_id == project_id,
                Run.job_id == job_id,
                Run.run_id != run_id,
            )
            .order_by(Run.run_id.desc())
            .with_for_update()
        ).all()

        finished = [row.run_id for row in earlier if row.job_finished_at is not None]
        if finished:
            raise WarehouseError(
                f"Cannot resume job {job_id} in run {run_id}: run {finished[0]} of project "
                f"{project_id} already saw the job finish. Start a new run, which triggers "
                "a new job."
            )

        adopted_from = earlier[0] if earlier else None
        connection.execute(
            update(Run)
            .where(Run.run_id == run_id)
            .values(
                status="triggered",
                job_id=job_id,
                triggered_job=adopted_from.triggered_job if adopted_from else False,
                triggered_at=adopted_from.triggered_at if adopted_from else None,
            )
        )
        waiting = [row.run_id for row in earlier if row.status in ACTIVE_STATUSES]
        if waiting:
            connection.execute(
                update(Run)
                .where(Run.run_id.in_(waiting))
                .values(
                    status="failed",
                    finished_at=func.now(),
                    error=f"Stopped before job {job_id} finished; run {run_id} resumed the job.",
                )
            )
    logger.info(
        "Run %d resumed job %d of project %d from runs %s",
        run_id,
        job_id,
        project_id,
        [row.run_id for row in earlier],
    )


def record_job_finished(engine: Engine, run_id: int) -> None:
    """Record when the run saw its Studio job finish, successfully or not.

    A job with this time recorded is never resumed.
    """
    _update_run(engine, run_id, job_finished_at=func.now())


def find_resumable_run(
    engine: Engine, project_id: int, *, max_age: timedelta
) -> ResumableRun | None:
    """Return the run whose unfinished job the project's next run should poll, if any.

    That is the project's latest run with a job id, when it has not seen
    the job finish, is not `loaded` or `unchanged`, and the first run that
    recorded the job started within `max_age`. Its status may be `failed`,
    as after a wait that timed out, or `triggered`/`running`, as after a
    crash. A run that adopts the job becomes the latest run with it, so the
    run it adopted from is never returned again.
    """
    latest = (
        select(
            Run.run_id,
            Run.job_id,
            Run.status,
            Run.triggered_job,
            Run.started_at,
            Run.job_finished_at,
        )
        .where(Run.project_id == project_id, Run.job_id.is_not(None))
        .order_by(Run.started_at.desc(), Run.run_id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(latest).first()
        if row is None or row.job_id is None:
            return None
        if row.job_finished_at is not None or row.status in DONE_STATUSES:
            return None
        # The job's age counts from its first run, so a chain of runs that
        # adopt a job that never finishes ends once the job is `max_age` old.
        job_is_recent = connection.execute(
            select(func.min(Run.started_at) >= func.now() - max_age).where(
                Run.project_id == project_id, Run.job_id == row.job_id
            )
        ).scalar_one()
    if not job_is_recent:
        return None
    return ResumableRun(
        run_id=row.run_id,
        job_id=row.job_id,
        triggered_job=row.triggered_job,
        started_at=row.started_at,
    )


def mark_failed(engine: Engine, run_id: int, error: str) -> None:
    """Mark the run failed with `error`, in a transaction of its own.

    A missing run is logged, not raised, because callers use this while
    handling another error that should not be hidden.
    """
    statement = (
        update(Run)
        .where(Run.run_id == run_id)
        .values(status="failed", error=error, finished_at=func.now())
    )
    with engine.begin() as connection:
        updated = connection.execute(statement).rowcount
    if updated == 0:
        logger.error("Cannot mark run %d failed: no run has that id", run_id)
        return
    logger.info("Marked run %d failed", run_id)


def mark_unchanged(engine: Engine, run_id: int, *, same_as_run_id: int) -> None:
    """Mark the run `unchanged`: its payload equals that of `same_as_run_id`, so no facts load."""
    _update_run(
        engine,
        run_id,
        status="unchanged",
        same_as_run_id=same_as_run_id,
        finished_at=func.now(),
        error=None,
    )
    logger.info("Run %d is unchanged since run %d", run_id, same_as_run_id)


def get_run(engine: Engine, run_id: int) -> RunRecord:
    """Return the run row; raises `RunNotFoundError` when no run has that id."""
    with engine.connect() as connection:
        row = connection.execute(select(Run.__table__).where(Run.run_id == run_id)).first()
    if row is None:
        raise RunNotFoundError(_not_found_message(run_id))
    return RunRecord(**row._asdict())


def previous_loaded_run_id(engine: Engine, project_id: int, before_run_id: int) -> int | None:
    """Return the latest `loaded` run of the project with an id below `before_run_id`."""
    statement = select(func.max(Run.run_id)).where(
        Run.project_id == project_id,
        Run.status == "loaded",
        Run.run_id < before_run_id,
    )
    with engine.connect() as connection:
        previous: int | None = connection.execute(statement).scalar()
    return previous


def _update_run(engine: Engine, run_id: int, **values: object) -> None:
    with engine.begin() as connection:
        updated = connection.execute(
            update(Run).where(Run.run_id == run_id).values(**values)
        ).rowcount
    if updated == 0:
        raise RunNotFoundError(_not_found_message(run_id))


def _project_of(connection: Connection, run_id: int) -> int:
    project_id: int | None = connection.execute(
        select(Run.project_id).where(Run.run_id == run_id)
    ).scalar()
    if project_id is None:
        raise RunNotFoundError(_not_found_message(run_id))
    return project_id


def _not_found_message(run_id: int) -> str:
    return f"No run has id {run_id}; list the runs in labelnoise.runs to find the right one."
