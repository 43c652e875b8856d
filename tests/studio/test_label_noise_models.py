"""Decoding label-noise responses with `models.label_noise.decode_label_noise`."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from labelnoise.exceptions import InvalidPayloadError
from models.label_noise import EmbeddedSample, decode_label_noise

ENDPOINT = "(project 42, GET /api/{projectId}/raw-data/data-quality/label-noise)"

FULL_SAMPLE = {
    "id": 11,
    "filename": "wave.01.json",
    "label": "wave",
    "category": "training",
    "isDisabled": False,
    "signatureValidate": True,
    "sensors": [{"index": 0, "name": "accX", "units": "m/s2"}],
    "boundingBoxes": [],
    "datastreams": [],
}

RESPONSE: dict[str, Any] = {
    "success": True,
    "data": {
        "cosineSimilarity": {
            "similarButDifferentLabel": [
                {
                    "id": 11,
                    "label": 2,
                    "sample": FULL_SAMPLE,
                    "issues": [
                        {
                            "id": 12,
                            "label": 0,
                            "windows": [{"windowStart": 0, "windowEnd": 2000, "score": 0.97}],
                        }
                    ],
                }
            ],
            "differentButSameLabel": [],
        },
        "neighbors": {
            "numNeighbors": 2,
            "scoresAndNeighbors": [
                {
                    "id": 11,
                    "windowStart": 0,
                    "windowEnd": 2000,
                    "score": 1.5,
                    "neighborWindows": [
                        {"id": 12, "windowStart": 0, "windowEnd": 2000},
                        {"id": 13, "windowStart": 500, "windowEnd": 2500},
                    ],
                }
            ],
        },
        "crossValidation": {
            "scores": [
                {
                    "id": 11,
                    "windowStart": 0,
                    "windowEnd": 2000,
                    "label": 2,
                    "probability": 0.12,
                    "score": -2.4,
                }
            ]
        },
    },
}


def encode(response: dict[str, Any]) -> bytes:
    return json.dumps(response).encode()


def decode_error(response: dict[str, Any] | bytes) -> str:
    body = response if isinstance(response, bytes) else encode(response)
    with pytest.raises(InvalidPayloadError) as caught:
        decode_label_noise(body, project_id=42)
    return str(caught.value)


def test_decode_full_response() -> None:
    data = decode_label_noise(encode(RESPONSE), project_id=42)

    assert data.cosine_similarity is not None
    issue = data.cosine_similarity.similar_but_different_label[0]
    assert (issue.id, issue.label) == (11, 2)
    assert issue.sample == EmbeddedSample(
        id=11, filename="wave.01.json", label="wave", category="training", is_disabled=False
    )
    assert issue.issues[0].windows[0].score == 0.97
    assert data.neighbors is not None
    assert data.neighbors.num_neighbors == 2
    assert [n.id for n in data.neighbors.scores_and_neighbors[0].neighbor_windows] == [12, 13]
    assert data.cross_validation is not None
    assert data.cross_validation.scores[0].score == -2.4


@pytest.mark.parametrize("section", ["cosineSimilarity", "neighbors", "crossValidation"])
def test_each_method_section_may_be_absent(section: str) -> None:
    response = copy.deepcopy(RESPONSE)
    del response["data"][section]

    data = decode_label_noise(encode(response), project_id=42)

    present = {
        "cosineSimilarity": data.cosine_similarity is not None,
        "neighbors": data.neighbors is not None,
        "crossValidation": data.cross_validation is not None,
    }
    assert present == {name: name != section for name in present}


def test_empty_data_has_no_sections() -> None:
    data = decode_label_noise(b'{"success": true, "data": {}}', project_id=42)

    assert (data.cosine_similarity, data.neighbors, data.cross_validation) == (None, None, None)


def test_every_sample_may_be_absent() -> None:
    response = copy.deepcopy(RESPONSE)
    del response["data"]["cosineSimilarity"]["similarButDifferentLabel"][0]["sample"]

    data = decode_label_noise(encode(response), project_id=42)

    assert data.cosine_similarity is not None
    issue = data.cosine_similarity.similar_but_different_label[0]
    assert issue.sample is None
    assert issue.issues[0].sample is None
    assert data.neighbors is not None
    assert data.neighbors.scores_and_neighbors[0].sample is None
    assert data.neighbors.scores_and_neighbors[0].neighbor_windows[0].sample is None
    assert data.cross_validation is not None
    assert data.cross_validation.scores[0].sample is None


def test_extra_fields_are_ignored() -> None:
    response = copy.deepcopy(RESPONSE)
    response["requestId"] = "r-1"
    response["data"]["diversity"] = {"clusters": []}
    response["data"]["neighbors"]["scoresAndNeighbors"][0]["distance"] = 0.3

    data = decode_label_noise(encode(response), project_id=42)

    assert data.neighbors is not None
    assert data.neighbors.scores_and_neighbors[0].score == 1.5


def test_missing_required_field_names_json_path() -> None:
    response = copy.deepcopy(RESPONSE)
    del response["data"]["neighbors"]["scoresAndNeighbors"][0]["neighborWindows"][1]["windowEnd"]

    assert decode_error(response) == (
        "Invalid label-noise response: Object missing required field `windowEnd` - at "
        f"`$.data.neighbors.scoresAndNeighbors[0].neighborWindows[1]` {ENDPOINT}"
    )


def test_wrong_type_names_json_path() -> None:
    response = copy.deepcopy(RESPONSE)
    response["data"]["crossValidation"]["scores"][0]["label"] = "wave"

    assert decode_error(response) == (
        "Invalid label-noise response: Expected `int`, got `str` - at "
        f"`$.data.crossValidation.scores[0].label` {ENDPOINT}"
    )


def test_missing_data_is_invalid() -> None:
    assert decode_error(b'{"success": true}') == (
        f"Invalid label-noise response: Object missing required field `data` {ENDPOINT}"
    )


def test_success_false_carries_error_text() -> None:
    assert decode_error(b'{"success": false, "error": "No data yet"}') == (
        f"Label-noise response has success false: No data yet {ENDPOINT}"
    )


def test_truncated_body_is_invalid() -> None:
    body = encode(RESPONSE)[:200]

    assert decode_error(body) == (
        f"Label-noise response is not valid JSON (200 bytes): Input data was truncated {ENDPOINT}"
    )
