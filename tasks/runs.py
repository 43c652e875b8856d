"""Tasks that keep the run row: start (or resume) a run, record its end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelnoise.projects import ProjectConfig
from labelnoise.settings import get_settings
from labelnoise.warehouse import runs
from tasks.resources import warehouse_engine


@dataclass(frozen=True)
class StartedRun:
    """A new run row, and the job of an interrupted run that it adopted, if any."""

    run_id: int
    job_id: int | None
    resumed_run_id: int | None


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(project: ProjectConfig, *, owner: str | None, flow_run_id: str | None) -> StartedRun:
    """Record the project and a new run, adopting the job of a recent interrupted run.

    A run that crashed or was cancelled after starting its job stays
    `triggered` or `running` with that job id. Its job, when younger than
    the `resume_window` setting, is polled by this run instead of starting
    another one.
    """
    logger = get_run_logger()
    engine = warehouse_engine()
    window = timedelta(seconds=get_settings().resume_window)

    runs.upsert_project(engine, project_id=project.known_id, name=project.name or "", owner=owner)
    resumable = runs.find_resumable_run(engine, project.known_id, max_age=window)
    run_id = runs.create_run(
        engine,
        project_id=project.known_id,
        trigger_mode=project.trigger_mode.value,
        representation=project.representation.value if project.representation else None,
        flow_run_id=flow_run_id,
    )

    if resumable is None:
        logger.info("Started run %d of %s", run_id, project.label)
        return StartedRun(run_id=run_id, job_id=None, resumed_run_id=None)

    # This also marks the interrupted run failed, so it is resumed only once.
    runs.record_resumed_job(engine, run_id, resumable.job_id)
    logger.info(
        "Started run %d of %s, resuming job %d of interrupted run %d",
        run_id,
        project.label,
        resumable.job_id,
        resumable.run_id,
    )
    return StartedRun(run_id=run_id, job_id=resumable.job_id, resumed_run_id=resumable.run_id)


@task(name="mark-run-unchanged", cache_policy=NO_CACHE)
def mark_run_unchanged(project: ProjectConfig, run_id: int, same_as_run_id: int) -> None:
    """Record that run `run_id` fetched the same results as run `same_as_run_id`."""
    runs.mark_unchanged(warehouse_engine(), run_id, same_as_run_id=same_as_run_id)
    get_run_logger().info(
        "Run %d of %s is unchanged: Studio returned the same results as run %d, "
        "so nothing was loaded",
        run_id,
        project.label,
        same_as_run_id,
    )


@task(name="record-failure", cache_policy=NO_CACHE)
def record_failure(project: ProjectConfig, run_id: int, error: str) -> None:
    """Mark run `run_id` failed with `error`, which must contain no secret."""
    runs.mark_failed(warehouse_engine(), run_id, error)
    get_run_logger().error("Run %d of %s failed: %s", run_id, project.label, error)
