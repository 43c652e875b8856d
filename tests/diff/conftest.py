"""Fixtures of the diff tests: emulator results before and after relabelling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.server import EmulatorServer
from tests.diff.support import StudioResults, fetch_results, relabel

# Training samples relabelled between the two runs, and their new label.
# Standing samples labelled running sit among the running windows, so the
# emulator's methods flag them.
RELABELLED_COUNT = 4
NEW_LABEL = "running"


@pytest.fixture(scope="session")
def studio_runs(emulator_server: EmulatorServer) -> Iterator[dict[str, StudioResults]]:
    """Return the emulator's results with its bundled labels and after relabelling samples.

    Keys: `pristine`, `relabelled`. The emulator's labels are reset afterwards.
    """
    emulator_server.state.reset()
    pristine = fetch_results(emulator_server)
    standing = [
        sample
        for sample in pristine.samples
        if sample.category == "training" and sample.label == "standing"
    ]
    for sample in standing[:RELABELLED_COUNT]:
        relabel(emulator_server, sample.sample_id, NEW_LABEL)
    relabelled = fetch_results(emulator_server)
    emulator_server.state.reset()
    yield {"pristine": pristine, "relabelled": relabelled}


@pytest.fixture
def relabelled_ids(studio_runs: dict[str, StudioResults]) -> list[int]:
    before = {s.sample_id: s.label for s in studio_runs["pristine"].samples}
    return sorted(
        s.sample_id for s in studio_runs["relabelled"].samples if before[s.sample_id] != s.label
    )
