"""Test data for the diff tests: real emulator results, and an oracle that classifies flags.

`fetch_results` starts a data-quality job on the emulator over HTTP and
fetches its results, as a flow does. `expected_changes` classifies flags with Python
sets, independently of the SQL in `labelnoise.diffing`, so the tests compare
two implementations of the same rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine

from emulator.server import EmulatorServer
from labelnoise.settings import Settings
from labelnoise.warehouse import loader, runs
from labelnoise.warehouse.flatten import SampleSnapshot
from models.label_noise import decode_label_noise
from studio.client import StudioClient

# Polls of the emulator's job without long waits.
FAST_POLLING = Settings(poll_interval_initial=0.02, poll_interval_max=0.1)

FlagKey = tuple[str, int, int | None, int | None]


@dataclass(frozen=True)
class StudioResults:
    """A label-noise response body with the label list and sample list fetched with it."""

    project_id: int
    project_name: str
    body: bytes
    labels: list[str]
    samples: list[SampleSnapshot]

    def without_sample(self, sample_id: int) -> StudioResults:
        return replace(self, samples=[s for s in self.samples if s.sample_id != sample_id])

    def with_disabled(self, sample_id: int) -> StudioResults:
        samples = [
            replace(s, is_disabled=True) if s.sample_id == sample_id else s for s in self.samples
        ]
        return replace(self, samples=samples)


def fetch_results(server: EmulatorServer) -> StudioResults:
    """Run a data-quality job on the emulator and fetch its results, labels and samples."""
    with StudioClient.open(
        SecretStr(server.api_key),
        project_id=server.project_id,
        base_url=server.base_url,
        settings=FAST_POLLING,
    ) as studio:
        studio.wait_for_job(studio.start_data_quality_job())
        body = studio.fetch_label_noise_body()
        project = studio.get_project()
        samples = [SampleSnapshot.from_sample(sample) for sample in studio.iter_samples()]
    return StudioResults(server.project_id, project.name, body, project.labels, samples)


def relabel(server: EmulatorServer, sample_id: int, label: str) -> None:
    """Change a sample's label through the emulator's edit-label endpoint."""
    response = httpx.post(
        f"{server.base_url}/api/{server.project_id}/raw-data/{sample_id}/edit-label",
        json={"label": label},
        headers={"x-api-key": server.api_key},
    )
    response.raise_for_status()


def load(engine: Engine, results: StudioResults) -> int:
    """Record a run of the results' project and load the results into it."""
    runs.upsert_project(
        engine, project_id=results.project_id, name=results.project_name, owner=None
    )
    run_id = runs.create_run(
        engine, project_id=results.project_id, trigger_mode="always", representation=None
    )
    loader.load_run(
        engine, run_id, body=results.body, labels=results.labels, samples=results.samples
    )
    return run_id


def flags(results: StudioResults, cv_zscore_threshold: float = -2.0) -> dict[FlagKey, float | None]:
    """Return every flag of the results, keyed by method and natural key, with its score."""
    data = decode_label_noise(results.body)
    found: dict[FlagKey, float | None] = {}
    if data.neighbors is not None:
        for window in data.neighbors.scores_and_neighbors:
            key = ("neighbors", window.id, window.window_start, window.window_end)
            found.setdefault(key, window.score)
    if data.cross_validation is not None:
        for window in data.cross_validation.scores:
            if window.score <= cv_zscore_threshold:
                key = ("cross_validation", window.id, window.window_start, window.window_end)
                found.setdefault(key, window.score)
    cosine = data.cosine_similarity
    if cosine is not None:
        kinds = {
            "cosine_similar_but_different_label": cosine.similar_but_different_label,
            "cosine_different_but_same_label": cosine.different_but_same_label,
        }
        for method, issues in kinds.items():
            for issue in issues:
                found[(method, issue.id, None, None)] = None
    return found


def expected_changes(
    base: StudioResults, run: StudioResults, cv_zscore_threshold: float = -2.0
) -> Counter[tuple[str, str]]:
    """Count (method, change) pairs between two results with Python sets."""
    before = flags(base, cv_zscore_threshold)
    after = flags(run, cv_zscore_threshold)
    run_samples = {sample.sample_id: sample for sample in run.samples}
    base_samples = {sample.sample_id: sample for sample in base.samples}

    counts: Counter[tuple[str, str]] = Counter()
    for key in after.keys() - before.keys():
        counts[(key[0], "new")] += 1
    for key in after.keys() & before.keys():
        counts[(key[0], "persisting")] += 1
    for key in before.keys() - after.keys():
        method, sample_id = key[0], key[1]
        now = run_samples.get(sample_id)
        if now is None or now.is_disabled:
            change = "sample_removed"
        elif sample_id in base_samples and base_samples[sample_id].label != now.label:
            change = "relabelled"
        else:
            change = "resolved"
        counts[(method, change)] += 1
    return counts
