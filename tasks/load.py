"""Task that loads a run's results into the warehouse."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelnoise.projects import ProjectConfig
from labelnoise.warehouse import loader
from labelnoise.warehouse.loader import LoadResult
from tasks.fetch import FetchedResults
from tasks.resources import warehouse_engine
from tasks.retry import RETRY_DELAYS, retry_on_transient


@task(
    name="load-results",
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
)
def load_results(project: ProjectConfig, run_id: int, fetched: FetchedResults) -> LoadResult:
    """Load the fetched results in one transaction; loading twice gives the same rows.

    Raises `LoadError` (or `InvalidPayloadError` for a body that does not
    match the schema) after the loader has marked the run failed.
    """
    result = loader.load_run(
        warehouse_engine(),
        run_id,
        body=fetched.body,
        labels=fetched.labels,
        samples=fetched.samples,
    )
    get_run_logger().info(
        "Loaded run %d of %s: %d rows in %.2f s",
        run_id,
        project.label,
        sum(result.rows.values()),
        result.seconds,
    )
    return result
