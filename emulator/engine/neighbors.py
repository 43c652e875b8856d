"""Nearest-neighbours label-noise method.

Each window's k nearest neighbours are the k windows of *other* samples with
the smallest Euclidean distance between standardized features. Windows of
the window's own sample are excluded, because windows cut from one
recording are near-copies and would vouch for each other's label. Distance
ties are broken by window order, so the result is deterministic.

The score of a window w is the number of its own k nearest neighbours whose
label differs from w's label. It is an integer from 0 to k, which lies
within the range from 0 to the number of windows that Studio documents. Higher means
more suspicious. Windows with a score above zero are reported, each with
its neighbours nearest first.

The engine also computes, for the benchmark only, how often w appears as a
disagreeing neighbour of other windows (`reverse_disagreements`). That
count ranks flipped windows much worse, because a window of a relabelled
recording is surrounded by its true class whichever way the relation runs.

The search uses scikit-learn's brute-force k-neighbours, which processes
the distance matrix in chunks, so no full n x n matrix is held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from emulator.engine.windows import IntArray, WindowSet


@dataclass(frozen=True)
class NeighborsResult:
    num_neighbors: int
    neighbors: IntArray  # shape (windows, k): window rows, nearest first; -1 pads
    scores: IntArray  # own neighbours with another label, per window
    reverse_disagreements: IntArray  # times a window is a disagreeing neighbour


def find_neighbors(
    windows: WindowSet, num_neighbors: int, *, exclude_own_sample: bool = True
) -> IntArray:
    """Return the k nearest windows of other samples for every window, padded with -1.

    `exclude_own_sample=False` only excludes the window itself; the benchmark
    uses it to measure what excluding the rest of the sample gains.
    """
    count = windows.count
    result = np.full((count, num_neighbors), -1, dtype=np.int64)
    if count < 2 or num_neighbors < 1:
        return result

    # Ask for enough extra neighbours to survive dropping the window's own sample.
    max_sample_windows = int(np.diff(windows.sample_offsets).max())
    wanted = min(count, num_neighbors + max_sample_windows)
    model = NearestNeighbors(n_neighbors=wanted, algorithm="brute", metric="euclidean")
    model.fit(windows.features)
    distances, candidates = model.kneighbors(windows.features)

    # Re-sort each row by (distance, window row) so that ties do not depend on
    # how the search split its work.
    # NOTE: if more windows tie at the last requested distance than were
    # requested, which of them the search returned is not guaranteed to be
    # the same between runs; this needs exact duplicate windows.
    order = np.lexsort((candidates, distances), axis=1)
    candidates = np.take_along_axis(candidates, order, axis=1)

    if exclude_own_sample:
        other_sample = windows.sample_index[candidates] != windows.sample_index[:, np.newaxis]
    else:
        other_sample = candidates != np.arange(count)[:, np.newaxis]
    # Stable sort puts the kept candidates first, in their distance order.
    keep_first = np.argsort(~other_sample, axis=1, kind="stable")[:, :num_neighbors]
    kept = np.take_along_axis(candidates, keep_first, axis=1)
    kept_valid = np.take_along_axis(other_sample, keep_first, axis=1)
    result[:, : kept.shape[1]] = np.where(kept_valid, kept, -1)
    return result


def score_neighbors(
    windows: WindowSet, num_neighbors: int, *, exclude_own_sample: bool = True
) -> NeighborsResult:
    """Find every window's neighbours and count its label disagreements."""
    neighbors = find_neighbors(windows, num_neighbors, exclude_own_sample=exclude_own_sample)
    valid = neighbors >= 0
    neighbor_labels = windows.labels[np.where(valid, neighbors, 0)]
    disagrees = valid & (neighbor_labels != windows.labels[:, np.newaxis])
    scores = disagrees.sum(axis=1).astype(np.int64)
    reverse = np.bincount(neighbors[disagrees], minlength=windows.count).astype(np.int64)
    return NeighborsResult(
        num_neighbors=num_neighbors,
        neighbors=neighbors,
        scores=scores,
        reverse_disagreements=reverse,
    )
