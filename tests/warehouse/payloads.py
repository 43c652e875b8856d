"""Small label-noise response bodies in Studio's JSON shape, for warehouse tests."""

from __future__ import annotations

import json
from typing import Any

from labelnoise.warehouse.flatten import SampleSnapshot

PROJECT_ID = 7001
LABELS = ["idle", "wave"]

# Every character that COPY text format or JSON treats specially, and non-ASCII text.
TRICKY_TEXT = "tab\there, new\nline, cr\rreturn, back\\slash, \"quote\", 'apos', ünï ☃ 𝄞 \\N"
BIG_ID = 2**31 + 17
BIGGER_ID = 2**53 + 1


def sample(sample_id: int, *, filename: str = "", label: str = "idle") -> dict[str, Any]:
    """Return a Studio `Sample` object with the fields the warehouse keeps and a few others."""
    return {
        "id": sample_id,
        "filename": filename or f"sample-{sample_id}.json",
        "label": label,
        "category": "training",
        "isDisabled": False,
        "signatureValidate": True,
        "created": "2024-05-01T10:00:00.000Z",
        "valuesCount": 125,
    }


def cv_score(
    sample_id: int,
    start: int,
    end: int,
    *,
    label: int = 0,
    probability: float = 0.5,
    score: float = -0.25,
    embedded: dict[str, Any] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": sample_id,
        "windowStart": start,
        "windowEnd": end,
        "label": label,
        "probability": probability,
        "score": score,
    }
    if embedded is not None:
        entry["sample"] = embedded
    return entry


def neighbors_entry(
    sample_id: int, start: int, end: int, score: float, neighbors: list[tuple[int, int, int]]
) -> dict[str, Any]:
    return {
        "id": sample_id,
        "windowStart": start,
        "windowEnd": end,
        "score": score,
        "neighborWindows": [
            {"id": other, "windowStart": other_start, "windowEnd": other_end}
            for other, other_start, other_end in neighbors
        ],
    }


def cosine_issue(
    sample_id: int, label: int, others: list[tuple[int, int, list[tuple[int, int, float]]]]
) -> dict[str, Any]:
    return {
        "id": sample_id,
        "label": label,
        "issues": [
            {
                "id": other_id,
                "label": other_label,
                "windows": [
                    {"windowStart": start, "windowEnd": end, "score": score}
                    for start, end, score in windows
                ],
            }
            for other_id, other_label, windows in others
        ],
    }


def standard_data() -> dict[str, Any]:
    """Return a `data` object with every method present and known row counts.

    Rows: 2 cosine issues, 3 cosine matches, 2 neighbour scores, 4 neighbour
    windows, 4 cross-validation scores; sample 3 is embedded only.
    """
    return {
        "cosineSimilarity": {
            "similarButDifferentLabel": [
                cosine_issue(1, 0, [(2, 1, [(0, 1000, 0.97), (1000, 2000, 0.91)])]),
            ],
            "differentButSameLabel": [
                cosine_issue(2, 1, [(1, 0, [(2000, 3000, 0.12)])]),
            ],
        },
        "neighbors": {
            "numNeighbors": 2,
            "scoresAndNeighbors": [
                neighbors_entry(1, 0, 1000, 2.0, [(2, 0, 1000), (2, 1000, 2000)]),
                neighbors_entry(2, 1000, 2000, 1.0, [(1, 0, 1000), (1, 1000, 2000)]),
            ],
        },
        "crossValidation": {
            "scores": [
                cv_score(1, 0, 1000, probability=0.9, score=0.5),
                cv_score(1, 1000, 2000, probability=0.1, score=-2.5),
                cv_score(2, 0, 1000, label=1, probability=0.75, score=0.1),
                cv_score(3, 0, 1000, label=1, probability=0.6, score=-0.1, embedded=sample(3)),
            ]
        },
    }


STANDARD_ROWS = {
    "run_labels": 2,
    "run_samples": 3,
    "cosine_issues": 2,
    "cosine_matches": 3,
    "neighbor_scores": 2,
    "neighbor_windows": 4,
    "cross_validation_scores": 4,
}


def standard_samples() -> list[SampleSnapshot]:
    return [
        SampleSnapshot(1, "one.json", "idle", "training", False),
        SampleSnapshot(2, "two.json", "wave", "testing", True),
    ]


def body(data: dict[str, Any] | None = None) -> bytes:
    """Encode a successful response around `data` (the standard data by default)."""
    return json.dumps({"success": True, "data": standard_data() if data is None else data}).encode()
