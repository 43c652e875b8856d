"""Tasks that fetch a run's results from Studio and archive the response body."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from labelnoise.projects import ProjectConfig
from labelnoise.warehouse import archive
from labelnoise.warehouse.archive import ArchivedPayload
from labelnoise.warehouse.loader import SampleSnapshot
from tasks.resources import open_studio, warehouse_engine
from tasks.retry import RETRY_DELAYS, retry_on_transient


@dataclass(frozen=True)
class FetchedResults:
    """Results of one fetch: the raw label-noise body, the label names and every sample."""

    body: bytes
    labels: list[str]
    samples: list[SampleSnapshot]


@task(
    name="fetch-results",
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
)
def fetch_results(project: ProjectConfig, run_id: int) -> FetchedResults:
    """Fetch the label-noise body, the project's label names and all of its samples.

    The body is kept as raw bytes so that it is archived before anything
    decodes it. Labels and samples are read after the body, so they are at
    least as recent as the results they describe.
    """
    with open_studio(project) as studio:
        body = studio.fetch_label_noise_body()
        labels = list(studio.get_project().labels)
        samples = [SampleSnapshot.from_sample(sample) for sample in studio.iter_samples()]

    get_run_logger().info(
        "Fetched %d bytes of label-noise results, %d labels and %d samples of %s in run %d",
        len(body),
        len(labels),
        len(samples),
        project.label,
        run_id,
    )
    return FetchedResults(body=body, labels=labels, samples=samples)


@task(
    name="archive-results",
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
)
def archive_results(project: ProjectConfig, run_id: int, body: bytes) -> ArchivedPayload:
    """Store the compressed body with its SHA-256 before it is decoded."""
    archived = archive.archive_payload(warehouse_engine(), run_id, body)
    get_run_logger().info(
        "Archived the results of %s in run %d as payload %d (sha256 %s, %d bytes)",
        project.label,
        run_id,
        archived.payload_id,
        archived.sha256[:12],
        archived.size_bytes,
    )
    return archived
