"""Task that waits for the data-quality job to finish."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelnoise.exceptions import JobFailedError
from labelnoise.projects import ProjectConfig
from labelnoise.settings import get_settings
from labelnoise.warehouse import runs
from tasks.resources import open_studio, warehouse_engine
from tasks.retry import RETRY_DELAYS, retry_on_transient


@task(
    name="wait-for-job",
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
)
def wait_for_job(project: ProjectConfig, run_id: int, job_id: int) -> None:
    """Poll job `job_id` until it finishes, within the `job_deadline` setting.

    Records when the job finished, successfully or not. Raises
    `JobFailedError` (with the tail of the job log) when the job finished
    unsuccessfully, and `JobTimeoutError` at the deadline. A run that timed
    out leaves the job unfinished in its row, so the project's next run
    within the `resume_window` setting resumes waiting for it. Polling is
    read-only, so a transient failure is retried.
    """
    logger = get_run_logger()
    deadline = get_settings().job_deadline
    logger.info(
        "Waiting for job %d of %s in run %d, for at most %.0f s",
        job_id,
        project.label,
        run_id,
        deadline,
    )
    with open_studio(project) as studio:
        try:
            studio.wait_for_job(job_id, deadline_seconds=deadline)
        except JobFailedError:
            # The job ended, so the project's next run must not resume it.
            runs.record_job_finished(warehouse_engine(), run_id)
            raise

    runs.record_job_finished(warehouse_engine(), run_id)
    logger.info("Job %d of %s in run %d finished successfully", job_id, project.label, run_id)
