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
their symptomatic windows, taken from the best matches found above. For
*similar but different label* those are windows of other labels among the
flagged sample's windows' `matches_per_label` best matches across all other
labels, with a similarity at or above `similar_threshold`. For *different
but same label* they are the windows of its own label that come closest to
the flagged sample's windows, which shows how far even the closest ones
are. Each listed window's score is its highest cosine similarity to any
window of the flagged sample, and windows and samples come most similar
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

from emulator.engine.windows import FloatArray, IntArray, WindowSet


@dataclass(frozen=True)
class CosineSettings:
    """Settings of the cosine-similarity method (similarities are in [-1, 1]).

    The defaults were chosen on BasicMotions with 10% of samples relabelled
    (`benchmarks/engine_quality.py`, seeds 0 to 4). Averaging 20 matches
    ranked relabelled windows better than 5 or 10 (window precision at K
    0.987 against 0.945 and 0.973). At 0.7 the first list flagged all 40
    relabelled samples and no correct one, and at 0.3 the second list
    flagged 9 relabelled samples and no correct one.
    """

    matches_per_label: int = 20
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


@dataclass(frozen=True)
class LabelMatches:
    """Each window's best matches: among its own label and across the other labels.

    Rows are window positions (-1 pads), scores cosine similarities (-inf
    pads), both shaped (windows, matches_per_label), best first.
    """

    best_same: FloatArray
    best_other: FloatArray
    same_rows: IntArray
    same_scores: FloatArray
    other_rows: IntArray
    other_scores: FloatArray


def match_windows(windows: WindowSet, num_labels: int, matches: int) -> LabelMatches:
    """Find every window's best matches per label and their average similarity."""
    count = windows.count
    units = unit_rows(windows.features)
    per_label = np.full((count, num_labels), -np.inf)
    same_rows = np.full((count, matches), -1, dtype=np.int64)
    same_scores = np.full((count, matches), -np.inf)
    other_rows = np.full((count, matches), -1, dtype=np.int64)
    other_scores = np.full((count, matches), -np.inf)
    max_sample_windows = int(np.diff(windows.sample_offsets).max()) if count else 0

    for label in range(num_labels):
        members = np.flatnonzero(windows.labels == label)
        if len(members) == 0:
            continue
        rows, scores = _best_matches_in(windows, units, members, matches, max_sample_windows)
        found = np.isfinite(scores).sum(axis=1)
        totals = np.where(np.isfinite(scores), scores, 0.0).sum(axis=1)
        per_label[:, label] = np.where(found > 0, totals / np.maximum(found, 1), -np.inf)

        own = windows.labels == label
        same_rows[own] = rows[own]
        same_scores[own] = scores[own]
        other_rows[~own], other_scores[~own] = _merge_best(
            other_rows[~own], other_scores[~own], rows[~own], scores[~own], matches
        )

    all_rows = np.arange(count)
    best_same = per_label[all_rows, windows.labels]
    others = per_label.copy()
    others[all_rows, windows.labels] = -np.inf
    best_other = others.max(axis=1) if num_labels else np.full(count, -np.inf)
    return LabelMatches(best_same, best_other, same_rows, same_scores, other_rows, other_scores)


def _best_matches_in(
    windows: WindowSet,
    units: FloatArray,
    members: IntArray,
    matches: int,
    max_sample_windows: int,
) -> tuple[IntArray, FloatArray]:
    """Return every window's `matches` most similar windows among `members`, own sample excluded."""
    # Extra candidates make up for the ones dropped from the query's own sample.
    wanted = min(len(members), matches + max_sample_windows)
    search = NearestNeighbors(n_neighbors=wanted, algorithm="brute", metric="euclidean")
    search.fit(units[members])
    distances, positions = search.kneighbors(units)
    candidates = members[positions]
    similarities = 1.0 - distances**2 / 2.0  # both vectors have unit length

    # Kneighbors returns nearest first, so a stable sort that moves the
    # window's own sample to the end keeps the best candidates in order.
    other_sample = windows.sample_index[candidates] != windows.sample_index[:, np.newaxis]
    order = np.argsort(~other_sample, axis=1, kind="stable")[:, :matches]
    kept = np.take_along_axis(other_sample, order, axis=1)
    rows = np.where(kept, np.take_along_axis(candidates, order, axis=1), -1)
    scores = np.where(kept, np.take_along_axis(similarities, order, axis=1), -np.inf)
    width = min(matches, rows.shape[1])
    padded_rows = np.full((len(units), matches), -1, dtype=np.int64)
    padded_scores = np.full((len(units), matches), -np.inf)
    padded_rows[:, :width] = rows[:, :width]
    padded_scores[:, :width] = scores[:, :width]
    return padded_rows, padded_scores


def _merge_best(
    rows: IntArray, scores: FloatArray, new_rows: IntArray, new_scores: FloatArray, keep: int
) -> tuple[IntArray, FloatArray]:
    """Merge two best-first match lists per window and keep the `keep` best."""
    all_rows = np.concatenate([rows, new_rows], axis=1)
    all_scores = np.concatenate([scores, new_scores], axis=1)
    order = np.argsort(-all_scores, axis=1, kind="stable")[:, :keep]
    return np.take_along_axis(all_rows, order, axis=1), np.take_along_axis(
        all_scores, order, axis=1
    )


def find_cosine_issues(
    windows: WindowSet, num_labels: int, settings: CosineSettings
) -> CosineResult:
    """Compute both cosine-similarity issue lists over all windows."""
    found = match_windows(windows, num_labels, settings.matches_per_label)
    best_same, best_other = found.best_same, found.best_other
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
            rows = found.other_rows[low:high][
                found.other_scores[low:high] >= settings.similar_threshold
            ]
            similar_issues.append(_issue(windows, units, sample, rows, settings))
        if dissimilar[low:high].mean() >= settings.min_window_share:
            rows = found.same_rows[low:high][found.same_rows[low:high] >= 0]
            dissimilar_issues.append(_issue(windows, units, sample, rows, settings))

    return CosineResult(
        best_same=best_same,
        best_other=best_other,
        similar_but_different_label=tuple(similar_issues),
        different_but_same_label=tuple(dissimilar_issues),
    )


def _issue(
    windows: WindowSet,
    units: FloatArray,
    sample: int,
    candidate_rows: IntArray,
    settings: CosineSettings,
) -> CosineIssue:
    """Build the issue of a flagged sample from the windows that matched it."""
    low, high = windows.sample_offsets[sample], windows.sample_offsets[sample + 1]
    rows = np.unique(candidate_rows)
    scores = (units[rows] @ units[low:high].T).max(axis=1) if len(rows) else np.zeros(0)
    # Most similar first; equal scores keep window order.
    order = np.lexsort((rows, -scores))
    grouped: dict[int, list[tuple[int, float]]] = {}
    for row, score in zip(rows[order], scores[order], strict=True):
        owner = int(windows.sample_index[row])
        if owner not in grouped and len(grouped) >= settings.max_issue_samples:
            continue
        group = grouped.setdefault(owner, [])
        if len(group) < settings.max_issue_windows:
            group.append((int(row), float(score)))
    # Dicts keep insertion order, so samples come out by their best window.
    issues = tuple(IssueSample(owner, tuple(pairs)) for owner, pairs in grouped.items())
    return CosineIssue(sample, issues)
