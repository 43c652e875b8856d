"""Typed models of Studio's label-noise response (`getLabelNoiseData`).

The structs mirror `GetLabelNoiseDataResponse` of the Edge Impulse API
(bindings `edgeimpulse-api` 1.96.3) with Studio's camelCase JSON names.
They are msgspec structs rather than pydantic models because a response
with 100,000 windows is tens of megabytes: msgspec decodes straight into
compact objects without an intermediate dict tree, and its validation
errors carry the JSON path of the offending value.

Unknown fields are ignored, so a newer Studio that adds fields keeps
working. Every field the schema marks optional defaults to `None`,
including each of the three method sections and every embedded `sample`.
"""

from __future__ import annotations

import msgspec

from labelnoise.exceptions import InvalidPayloadError

LABEL_NOISE_ENDPOINT = "/api/{projectId}/raw-data/data-quality/label-noise"


class EmbeddedSample(msgspec.Struct, rename="camel", frozen=True):
    """The subset of Studio's `Sample` that the warehouse keeps.

    Studio sends the whole sample record; the other fields are skipped
    while decoding, which keeps large responses cheap.
    """

    id: int
    filename: str
    label: str
    category: str
    is_disabled: bool


class CosineWindow(msgspec.Struct, rename="camel", frozen=True):
    window_start: int
    window_end: int
    score: float


class CosineIssueSample(msgspec.Struct, rename="camel", frozen=True):
    """Another sample whose windows cause a cosine-similarity issue."""

    id: int
    label: int
    windows: list[CosineWindow]
    sample: EmbeddedSample | None = None


class CosineSimilarityIssue(msgspec.Struct, rename="camel", frozen=True):
    """A sample flagged by the cosine-similarity method."""

    id: int
    label: int
    issues: list[CosineIssueSample]
    sample: EmbeddedSample | None = None


class CosineSimilarityData(msgspec.Struct, rename="camel", frozen=True):
    similar_but_different_label: list[CosineSimilarityIssue]
    different_but_same_label: list[CosineSimilarityIssue]


class NeighborWindow(msgspec.Struct, rename="camel", frozen=True):
    """A nearest neighbour; Studio gives no distance, so its rank is its position."""

    id: int
    window_start: int
    window_end: int
    sample: EmbeddedSample | None = None


class NeighborsScore(msgspec.Struct, rename="camel", frozen=True):
    """A window that the nearest-neighbours method flags, with its score."""

    id: int
    window_start: int
    window_end: int
    score: float
    neighbor_windows: list[NeighborWindow]
    sample: EmbeddedSample | None = None


class NeighborsData(msgspec.Struct, rename="camel", frozen=True):
    scores_and_neighbors: list[NeighborsScore]
    num_neighbors: int


class CrossValidationScore(msgspec.Struct, rename="camel", frozen=True):
    """A window's out-of-fold probability of its label, and that probability's z-score."""

    id: int
    window_start: int
    window_end: int
    label: int
    probability: float
    score: float
    sample: EmbeddedSample | None = None


class CrossValidationData(msgspec.Struct, rename="camel", frozen=True):
    scores: list[CrossValidationScore]


class LabelNoiseData(msgspec.Struct, rename="camel", frozen=True):
    """The `data` object: each method is `None` when Studio left it out."""

    cosine_similarity: CosineSimilarityData | None = None
    neighbors: NeighborsData | None = None
    cross_validation: CrossValidationData | None = None


class LabelNoiseResponse(msgspec.Struct, rename="camel", frozen=True):
    success: bool
    data: LabelNoiseData | None = None
    error: str | None = None


_decoder = msgspec.json.Decoder(LabelNoiseResponse)


def decode_label_noise(body: bytes, *, project_id: int | None = None) -> LabelNoiseData:
    """Decode a label-noise response body into typed results.

    Raises `InvalidPayloadError` naming the project, the endpoint and the
    JSON path of the first value that does not match the schema.
    """
    try:
        response = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidPayloadError(
            f"Invalid label-noise response: {exc}",
            project_id=project_id,
            endpoint=LABEL_NOISE_ENDPOINT,
        ) from exc
    except msgspec.DecodeError as exc:
        raise InvalidPayloadError(
            f"Label-noise response is not valid JSON ({len(body)} bytes): {exc}",
            project_id=project_id,
            endpoint=LABEL_NOISE_ENDPOINT,
        ) from exc

    if not response.success:
        raise InvalidPayloadError(
            f"Label-noise response has success false: {response.error or 'no error text'}",
            project_id=project_id,
            endpoint=LABEL_NOISE_ENDPOINT,
        )
    if response.data is None:
        raise InvalidPayloadError(
            "Invalid label-noise response: Object missing required field `data`",
            project_id=project_id,
            endpoint=LABEL_NOISE_ENDPOINT,
        )
    return response.data
