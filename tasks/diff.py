"""Task that diffs a loaded run against the project's previous loaded run."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelnoise.diffing import DiffSummary, DiffThresholds, diff_runs
from labelnoise.projects import ProjectConfig
from tasks.resources import warehouse_engine
from tasks.retry import RETRY_DELAYS, retry_on_transient


@task(
    name="diff-run",
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
)
def diff_run(project: ProjectConfig, run_id: int) -> DiffSummary | None:
    """Store the diff of run `run_id` with the previous loaded run and return it.

    Returns None for the project's first loaded run. Storing replaces an
    earlier diff of the same two runs, so a retry is safe.
    """
    logger = get_run_logger()
    thresholds = DiffThresholds(
        cv_zscore_threshold=project.cv_zscore_threshold,
        net_new_tolerance=project.net_new_tolerance,
        rate_points=project.rate_points,
    )
    summary = diff_runs(warehouse_engine(), run_id, thresholds=thresholds)
    if summary is None:
        logger.info(
            "Run %d is the first loaded run of %s: nothing to compare", run_id, project.label
        )
        return None

    logger.info(
        "Run %d of %s against run %d: verdict %s%s",
        run_id,
        project.label,
        summary.base_run_id,
        summary.verdict,
        f" ({'; '.join(summary.reasons)})" if summary.reasons else "",
    )
    return summary
