"""Cosine-similarity label-noise method.

For every window w, over the standardized features of `windows.py`:

- `best_same[w]` is the highest cosine similarity between w and any window
  of *another* sample with the same label;
- `best_other[w]` is the highest cosine similarity between w and any window
  of another sample with a different label.

Windows of w's own sample are never compared with w, because windows cut
from one recording are near-copies and would vouch for each other. A window
with no candidate (for example, the only sample of its label) gets `-inf`.

A window is symptomatic of *similar but different label* when
`best_other >= similar_threshold` and `best_other > best_same`: it sits
closer to another label than to its own. It is symptomatic of *different
but same label* when `best_same < dissimilar_threshold`: no window of its
own label resembles it. A sample is flagged for a kind when at least
`min_window_share` of its windows are symptomatic of that kind.

For each flagged sample, the issue lists the other samples involved and
their symptomatic windows, each with its highest similarity to any window
of the flagged sample. For *similar but different label* those are windows
of differently labelled samples at or above `similar_threshold`, most
similar first. For *different but same label* they are windows of samples
with the same label that stay below `dissimilar_threshold`, least similar
first. Both lists are capped so that a response stays small on large
projects.

The continuous window score `best_other - best_same` (higher is more
suspicious) ranks windows in the benchmark; the API exposes only the flags.

All similarities of one block of rows are computed at a time, so memory
stays at `block_rows x windows` floats and no full n x n matrix is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from emulator.engine.windows import FloatArray, IntArray, WindowSet

# Each block of similarities holds at most this many float32 values (64 MiB).
BLOCK_VALUES = 16 * 1024 * 1024


@dataclass(frozen=True)
class CosineSettings:
    """Thresholds of the cosine-similarity method (similarities are in [-1, 1])."""

    similar_threshold: float = 0.9
    dissimilar_threshold: float = 0.3
    min_window_share: float = 0.5
    max_issue_samples: int = 10
    max_issue_windows: int = 10


@dataclass(frozen=True)
class IssueSample:
    """Another sample involved in an issue, with (window row, similarity) pairs."""

    sample: int  # position in the engine's sample list
    windows: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class CosineIssue:
    """A flagged sample and the other samples that show why."""

    sample: int
    issues: tuple[IssueSample, ...]


@dataclass(frozen=True)
class CosineResult:
    best_same: FloatArray
    best_other: FloatArray
    similar_but_different_label: tuple[CosineIssue, ...]
    different_but_same_label: tuple[CosineIssue, ...]

    @property
    def window_scores(self) -> FloatArray:
        """`best_other - best_same` per window, with missing candidates counted as -1."""
        same = np.where(np.isfinite(self.best_same), self.best_same, -1.0)
        other = np.where(np.isfinite(self.best_other), self.best_other, -1.0)
        return other - same


def unit_rows(features: FloatArray) -> FloatArray:
    """Scale each row to unit length; all-zero rows stay zero."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)


def best_similarity_per_label(windows: WindowSet, num_labels: int) -> tuple[FloatArray, FloatArray]:
    """Return `best_same` and `best_other` for every window (see the module docstring)."""
    count = windows.count
    units = unit_rows(windows.features).astype(np.float32)

    # Sorting the columns by label makes every label a contiguous column range,
    # and keeps each sample's windows contiguous because a sample has one label.
    order = np.argsort(windows.labels, kind="stable")
    position_of = np.empty(count, dtype=np.int64)
    position_of[order] = np.arange(count)
    sorted_units = np.ascontiguousarray(units[order])
    label_bounds = np.searchsorted(windows.labels[order], np.arange(num_labels + 1))

    per_label = np.full((count, num_labels), -np.inf, dtype=np.float32)
    block_rows = max(1, BLOCK_VALUES // max(count, 1))
    for first in range(0, count, block_rows):
        last = min(count, first + block_rows)
        similarities = units[first:last] @ sorted_units.T
        _mask_own_sample(similarities, windows, first, last, position_of)
        for label in range(num_labels):
            low, high = label_bounds[label], label_bounds[label + 1]
            if high > low:
                per_label[first:last, label] = similarities[:, low:high].max(axis=1)

    rows = np.arange(count)
    best_same = per_label[rows, windows.labels].astype(np.float64)
    others = per_label.copy()
    others[rows, windows.labels] = -np.inf
    best_other = others.max(axis=1).astype(np.float64) if num_labels else np.full(count, -np.inf)
    return best_same, best_other


def _mask_own_sample(
    similarities: npt.NDArray[np.floating[Any]],
    windows: WindowSet,
    first: int,
    last: int,
    position_of: IntArray,
) -> None:
    """Set the similarity of each row to windows of its own sample to -inf, in place."""
    offsets = windows.sample_offsets
    first_sample = windows.sample_index[first]
    last_sample = windows.sample_index[last - 1]
    for sample in range(first_sample, last_sample + 1):
        row_low = max(offsets[sample], first) - first
        row_high = min(offsets[sample + 1], last) - first
        if row_high <= row_low:
            continue
        column_low = position_of[offsets[sample]]
        column_high = column_low + (offsets[sample + 1] - offsets[sample])
        similarities[row_low:row_high, column_low:column_high] = -np.inf


def find_cosine_issues(
    windows: WindowSet, num_labels: int, settings: CosineSettings
) -> CosineResult:
    """Compute both cosine-similarity issue lists over all windows."""
    best_same, best_other = best_similarity_per_label(windows, num_labels)
    similar = (best_other >= settings.similar_threshold) & (best_other > best_same)
    dissimilar = np.isfinite(best_same) & (best_same < settings.dissimilar_threshold)

    units = unit_rows(windows.features)
    similar_issues = []
    dissimilar_issues = []
    for sample in range(len(windows.sample_offsets) - 1):
        low, high = windows.sample_offsets[sample], windows.sample_offsets[sample + 1]
        if high == low:
            continue
        if similar[low:high].mean() >= settings.min_window_share:
            similar_issues.append(_similar_issue(windows, units, sample, settings))
        if dissimilar[low:high].mean() >= settings.min_window_share:
            dissimilar_issues.append(_dissimilar_issue(windows, units, sample, settings))

    return CosineResult(
        best_same=best_same,
        best_other=best_other,
        similar_but_different_label=tuple(similar_issues),
        different_but_same_label=tuple(dissimilar_issues),
    )


def _similarity_to_sample(windows: WindowSet, units: FloatArray, sample: int) -> FloatArray:
    """Highest similarity of every window to any window of `sample`."""
    low, high = windows.sample_offsets[sample], windows.sample_offsets[sample + 1]
    result: FloatArray = (units @ units[low:high].T).max(axis=1)
    return result


def _similar_issue(
    windows: WindowSet, units: FloatArray, sample: int, settings: CosineSettings
) -> CosineIssue:
    scores = _similarity_to_sample(windows, units, sample)
    label = windows.labels[windows.sample_offsets[sample]]
    candidates = (windows.labels != label) & (scores >= settings.similar_threshold)
    return CosineIssue(sample, _group_by_sample(windows, scores, candidates, settings, True))


def _dissimilar_issue(
    windows: WindowSet, units: FloatArray, sample: int, settings: CosineSettings
) -> CosineIssue:
    scores = _similarity_to_sample(windows, units, sample)
    label = windows.labels[windows.sample_offsets[sample]]
    candidates = (
        (windows.labels == label)
        & (windows.sample_index != sample)
        & (scores < settings.dissimilar_threshold)
    )
    return CosineIssue(sample, _group_by_sample(windows, scores, candidates, settings, False))


def _group_by_sample(
    windows: WindowSet,
    scores: FloatArray,
    candidates: np.ndarray,
    settings: CosineSettings,
    most_similar_first: bool,
) -> tuple[IssueSample, ...]:
    """Group candidate windows by sample, order both levels by score and cap them."""
    rows = np.flatnonzero(candidates)
    # Sort by score, then by row so that equal scores keep a stable order.
    keys = -scores[rows] if most_similar_first else scores[rows]
    rows = rows[np.lexsort((rows, keys))]

    grouped: dict[int, list[tuple[int, float]]] = {}
    for row in rows:
        sample = int(windows.sample_index[row])
        if sample not in grouped and len(grouped) >= settings.max_issue_samples:
            continue
        group = grouped.setdefault(sample, [])
        if len(group) < settings.max_issue_windows:
            group.append((int(row), float(scores[row])))
    # Dicts keep insertion order, so samples come out by their best window.
    return tuple(IssueSample(sample, tuple(pairs)) for sample, pairs in grouped.items())
