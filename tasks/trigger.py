"""Tasks that read the project from Studio and start its data-quality job."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelnoise.exceptions import StudioApiError, StudioAuthenticationError
from labelnoise.projects import ProjectConfig
from labelnoise.settings import TriggerMode
from labelnoise.warehouse import runs
from models.studio import ProjectInfo
from tasks.resources import open_studio, warehouse_engine
from tasks.retry import RETRY_DELAYS, retry_on_transient


@task(
    name="read-project",
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
)
def read_project(project: ProjectConfig) -> ProjectInfo:
    """Read the project from Studio, which also checks its API key.

    It runs before the trigger, so a wrong key fails here with
    `StudioAuthenticationError` and is never taken for a rejected trigger.
    """
    with open_studio(project) as studio:
        info = studio.get_project()
    get_run_logger().info(
        "Read project %d (%s) from Studio: %d labels", info.id, info.name, len(info.labels)
    )
    return info


@task(name="trigger-job", cache_policy=NO_CACHE)
def trigger_job(project: ProjectConfig, run_id: int) -> int | None:
    """Start the data-quality job and record its id on run `run_id` at once.

    Returns the job id, or None when Studio rejected the trigger in trigger
    mode `auto`, so that the run fetches the results Studio already has.
    In mode `always` the rejection is raised. The task is never retried: a
    POST whose outcome is unknown may have started a job already, and that
    job is found again only through the run row.
    """
    logger = get_run_logger()
    representation = project.representation.value if project.representation else None

    with open_studio(project) as studio:
        try:
            job_id = studio.start_data_quality_job(representation)
        except (StudioAuthenticationError, StudioApiError) as exc:
            if project.trigger_mode is not TriggerMode.AUTO:
                raise
            logger.warning(
                "Studio rejected the data-quality trigger of %s in run %d (%s). Trigger "
                "mode is auto, so the run goes on with the latest results Studio has",
                project.label,
                run_id,
                exc,
            )
            return None

    runs.record_trigger(warehouse_engine(), run_id, job_id)
    logger.info("Triggered data-quality job %d of %s in run %d", job_id, project.label, run_id)
    return job_id
