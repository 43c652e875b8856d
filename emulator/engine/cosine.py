"""Cosine-similarity label-noise method.

For every window w and every label, the engine finds the `matches_per_label`
windows of that label that are most similar to w by cosine similarity of
the standardized features of `windows.py`, and averages their similarity.
Windows of w's own sample are never candidates, because windows cut from
one recording are near-copies and would vouch for each other. The average
of several matches rather than the single best one keeps one odd window of
another recording from deciding the result. Then:

- `best_same[w]` is that average for w's own label;
- `best_other[w]` is the highest such average over the other labels.

A label with no candidate windows gives `-inf`; a label with fewer than
`matches_per_label` candidates averages the ones it has.

A window is symptomatic of *similar but different label* when
`best_other >= similar_threshold` and `best_other > best_same`: it sits
closer to another label than to its own. It is symptomatic of *different
but same label* when `best_same < dissimilar_threshold`: no group of windows
of its own label resembles it. A sample is flagged for a kind when at least
`min_window_share` of its windows are symptomatic of that kind.

For each flagged sample, the issue lists the other samples involved and
their symptomatic windows, each with its highest similarity to any window
of the flagged sample. For *similar but different label* those are windows
of differently labelled samples at or above `similar_threshold`, most
similar first. For *different but same label* they are windows of samples
with the same label that stay below `dissimilar_threshold`, least similar
first. Both lists are capped (`max_issue_samples` samples with at most
`max_issue_windows` windows each) so that a response stays small on large
projects.

The continuous window score `best_other - best_same` (higher is more
suspicious) ranks windows in the benchmark; the API exposes only the flags.

The search runs one scikit-learn brute-force k-neighbours query per label
over unit-length feature vectors, where Euclidean order equals cosine
order. It processes distances in chunks, so no n x n matrix is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from emulator.engine.windows import FloatArray, WindowSet


@dataclass(frozen=True)
class CosineSettings:
    """Settings of the cosine-similarity method (similarities are in [-1, 1]).

    The defaults were chosen on BasicMotions with 10% of samples relabelled
    (`benchmarks/engine_quality.py`): at 0.7 every relabelled sample was
    flagged as similar to another label and no correct one was, and 0.3
    flagged no correct sample as dissimilar to its own label.
    """

    matches_per_label: int = 10
    similar_threshold: float = 0.7
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


def best_similarity_per_label(
    windows: WindowSet, num_labels: int, matches: int
) -> tuple[FloatArray, FloatArray]:
    """Return `best_same` and `best_other` for every window (see the module docstring)."""
    count = windows.count
    units = unit_rows(windows.features)
    per_label = np.full((count, num_labels), -np.inf)
    max_sample_windows = int(np.diff(windows.sample_offsets).max()) if count else 0

    for label in range(num_labels):
        members = np.flatnonzero(windows.labels == label)
        if len(members) == 0:
            continue
        # Extra candidates make up for the ones dropped from the query's own sample.
        wanted = min(len(members), matches + max_sample_windows)
        search = NearestNeighbors(n_neighbors=wanted, algorithm="brute", metric="euclidean")
        search.fit(units[members])
        distances, positions = search.kneighbors(units)
        candidates = members[positions]
        similarities = 1.0 - distances**2 / 2.0  # both vectors have unit length

        other_sample = windows.sample_index[candidates] != windows.sample_index[:, np.newaxis]
        # Kneighbors returns nearest first, so the first `matches` kept ones are the best.
        kept = np.cumsum(other_sample, axis=1) <= matches
        use = other_sample & kept
        found = use.sum(axis=1)
        totals = np.where(use, similarities, 0.0).sum(axis=1)
        per_label[:, label] = np.where(found > 0, totals / np.maximum(found, 1), -np.inf)

    rows = np.arange(count)
    best_same = per_label[rows, windows.labels]
    others = per_label.copy()
    others[rows, windows.labels] = -np.inf
    best_other = others.max(axis=1) if num_labels else np.full(count, -np.inf)
    return best_same, best_other


def find_cosine_issues(
    windows: WindowSet, num_labels: int, settings: CosineSettings
) -> CosineResult:
    """Compute both cosine-similarity issue lists over all windows."""
    best_same, best_other = best_similarity_per_label(
        windows, num_labels, settings.matches_per_label
    )
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
