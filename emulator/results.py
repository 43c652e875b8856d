"""Turn an engine result into the `data` object of `getLabelNoiseData`.

Sample ids, label indexes and window times are frozen when the job runs.
Embedded `sample` objects, when the project includes them, describe each
sample as it is at fetch time, as Studio's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emulator.engine.cosine import CosineIssue
from emulator.engine.label_noise import LabelNoiseResult
from emulator.payloads import JsonObject

SampleLookup = Callable[[int], JsonObject | None]

SCORE_DECIMALS = 6


@dataclass(frozen=True)
class StoredResult:
    """The results of one successful job, as the label-noise endpoint serves them."""

    job_id: int
    labels: tuple[str, ...]  # label index -> name when the job ran
    result: LabelNoiseResult


def label_noise_data(stored: StoredResult, lookup: SampleLookup | None) -> JsonObject:
    """Build the `data` object; `lookup` returns the embedded sample of an id, if any."""
    result = stored.result
    data: JsonObject = {
        "cosineSimilarity": {
            "similarButDifferentLabel": [
                _cosine_issue(result, issue, lookup)
                for issue in result.cosine.similar_but_different_label
            ],
            "differentButSameLabel": [
                _cosine_issue(result, issue, lookup)
                for issue in result.cosine.different_but_same_label
            ],
        },
        "neighbors": _neighbors(result, lookup),
    }
    if result.cross_validation is not None:
        data["crossValidation"] = _cross_validation(result, lookup)
    return data


def _with_sample(body: JsonObject, sample_id: int, lookup: SampleLookup | None) -> JsonObject:
    if lookup is not None:
        sample = lookup(sample_id)
        if sample is not None:
            body["sample"] = sample
    return body


def _cosine_issue(
    result: LabelNoiseResult, issue: CosineIssue, lookup: SampleLookup | None
) -> JsonObject:
    windows = result.windows
    first_row = windows.sample_offsets[issue.sample]
    others = []
    for other in issue.issues:
        other_row = windows.sample_offsets[other.sample]
        other_id = int(windows.sample_ids[other_row])
        body: JsonObject = {
            "id": other_id,
            "label": int(windows.labels[other_row]),
            "windows": [
                {
                    "windowStart": int(windows.starts_ms[row]),
                    "windowEnd": int(windows.ends_ms[row]),
                    "score": round(score, SCORE_DECIMALS),
                }
                for row, score in other.windows
            ],
        }
        others.append(_with_sample(body, other_id, lookup))
    sample_id = int(windows.sample_ids[first_row])
    flagged: JsonObject = {
        "id": sample_id,
        "label": int(windows.labels[first_row]),
        "issues": others,
    }
    return _with_sample(flagged, sample_id, lookup)


def _neighbors(result: LabelNoiseResult, lookup: SampleLookup | None) -> JsonObject:
    windows = result.windows
    neighbors = result.neighbors
    flagged = np.flatnonzero(neighbors.scores > 0)
    # Most suspicious first; equal scores keep window order.
    flagged = flagged[np.argsort(-neighbors.scores[flagged], kind="stable")]
    entries = []
    for row in flagged:
        neighbor_windows = []
        for neighbor in neighbors.neighbors[row]:
            if neighbor < 0:
                continue
            neighbor_id = int(windows.sample_ids[neighbor])
            neighbor_body: JsonObject = {
                "id": neighbor_id,
                "windowStart": int(windows.starts_ms[neighbor]),
                "windowEnd": int(windows.ends_ms[neighbor]),
            }
            neighbor_windows.append(_with_sample(neighbor_body, neighbor_id, lookup))
        sample_id = int(windows.sample_ids[row])
        entry: JsonObject = {
            "id": sample_id,
            "windowStart": int(windows.starts_ms[row]),
            "windowEnd": int(windows.ends_ms[row]),
            "score": float(neighbors.scores[row]),
            "neighborWindows": neighbor_windows,
        }
        entries.append(_with_sample(entry, sample_id, lookup))
    return {"scoresAndNeighbors": entries, "numNeighbors": neighbors.num_neighbors}


def _cross_validation(result: LabelNoiseResult, lookup: SampleLookup | None) -> JsonObject:
    windows = result.windows
    cross_validation = result.cross_validation
    assert cross_validation is not None
    scores = []
    for row in range(windows.count):
        sample_id = int(windows.sample_ids[row])
        entry: JsonObject = {
            "id": sample_id,
            "windowStart": int(windows.starts_ms[row]),
            "windowEnd": int(windows.ends_ms[row]),
            "label": int(windows.labels[row]),
            "probability": round(float(cross_validation.probability[row]), SCORE_DECIMALS),
            "score": round(float(cross_validation.zscores[row]), SCORE_DECIMALS),
        }
        scores.append(_with_sample(entry, sample_id, lookup))
    return {"scores": scores}
