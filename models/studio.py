"""Typed models of the Studio responses that the client reads.

The structs mirror the models of the Edge Impulse API bindings
(`edgeimpulse-api` 1.96.3) and keep Studio's camelCase JSON names through
`rename="camel"`. They are msgspec structs rather than pydantic models for
three reasons. msgspec decodes JSON straight into compact objects without
an intermediate dict tree, so large sample pages stay cheap. Its validation
errors carry the JSON path of the offending value (for example
`$.samples[3].id`), which goes straight into `InvalidPayloadError`. And the
label-noise models in `models.label_noise` are msgspec structs too, so the
whole client decodes one way.

Unknown fields are ignored (msgspec's default, `forbid_unknown_fields=False`),
so a newer Studio that adds fields keeps working. Each struct declares only
the fields labelnoise reads or keeps. A field the schema marks required is
required here, and a field the schema marks optional defaults to `None`.

The `...Response` structs describe one endpoint's body apart from the
`success` and `error` envelope, which `Envelope` reads first so that
`success: false` is reported as Studio's error text rather than as a
missing field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

# `RawDataCategory` values, in the order Studio lists them.
SAMPLE_CATEGORIES = ("training", "testing", "validation", "post-processing")
# `RawDataFilterCategory`: the `category` query parameter of `listSamples`.
SAMPLE_FILTER_CATEGORIES = (*SAMPLE_CATEGORIES, "all")


class Envelope(msgspec.Struct):
    """The `success` and `error` keys that every Studio response carries."""

    success: bool
    error: str | None = None


# Jobs.


class CreatedByUser(msgspec.Struct, rename="camel", frozen=True):
    """The user who started a job."""

    id: int
    name: str
    username: str
    photo: str | None = None


class Job(msgspec.Struct, rename="camel", frozen=True):
    """A Studio job as `getJobStatus` returns it.

    `finished` is set once the job has ended. Only `finished_successful is True`
    means success: `False` is a failure or a cancellation, and a missing value
    after `finished` counts as a failure too.
    """

    id: int
    category: str
    category_key: str
    key: str
    created: datetime
    job_notification_uids: list[int]
    started: datetime | None = None
    finished: datetime | None = None
    finished_successful: bool | None = None
    additional_info: str | None = None
    compute_time: float | None = None
    created_by_user: CreatedByUser | None = None
    category_count: int | None = None
    metadata: dict[str, Any] | None = None

    @property
    def is_finished(self) -> bool:
        return self.finished is not None

    @property
    def succeeded(self) -> bool:
        return self.finished is not None and self.finished_successful is True

    @property
    def state(self) -> str:
        """Job state for messages: queued, running, succeeded or failed."""
        if self.finished is None:
            return "queued" if self.started is None else "running"
        return "succeeded" if self.finished_successful is True else "failed"


class StartJobResponse(msgspec.Struct, frozen=True):
    """Body of `calculateDataQualityMetrics`: the id of the job it started."""

    id: int


class GetJobResponse(msgspec.Struct, frozen=True):
    job: Job


class JobLogItem(msgspec.Struct, rename="camel", frozen=True):
    """One line of a job's log."""

    created: datetime
    data: str
    log_level: str | None = None


class LogStdoutResponse(msgspec.Struct, rename="camel", frozen=True):
    """Body of `getJobsLogs`: up to the last 1000 lines and the total line count."""

    stdout: list[JobLogItem]
    total_count: int


# Data-quality results.


class HasFeaturesResponse(msgspec.Struct, rename="camel", frozen=True):
    """Body of `hasLabelNoiseData`: whether label-noise results are stored."""

    has_features: bool


# Projects and API keys.


class ApiKeyInfoResponse(msgspec.Struct, rename="camel", frozen=True):
    """Body of `getCurrentApiKeyInfo`: the project a key belongs to."""

    api_key_id: int
    project_id: int
    role: str
    expires: datetime | None = None


class Project(msgspec.Struct, rename="camel", frozen=True):
    id: int
    name: str
    owner: str
    description: str
    created: datetime
    labeling_method: str
    owner_user_id: int | None = None
    owner_organization_id: int | None = None
    last_modified: datetime | None = None


class DataSummary(msgspec.Struct, rename="camel", frozen=True):
    """`ProjectDataSummary` of one category.

    `labels` is truncated when `total_labels` is larger than its length.
    """

    labels: list[str]
    total_labels: int
    data_count: int
    total_length_ms: float


class DataSummaryPerCategory(msgspec.Struct, rename="camel", frozen=True):
    training: DataSummary
    testing: DataSummary
    validation: DataSummary
    post_processing: DataSummary


class ProjectInfoResponse(msgspec.Struct, rename="camel", frozen=True):
    """Body of `getProjectInfo`. `data_summary` is the training set."""

    project: Project
    data_summary: DataSummary
    data_summary_per_category: DataSummaryPerCategory


class ProjectInfo(msgspec.Struct, frozen=True):
    """A project's identity and label names, as labelnoise uses them.

    `labels` is the training set's label list. Label indexes in label-noise
    results are positions in it. `labels_by_category` maps each sample
    category (`training`, `testing`, `validation`, `post-processing`) to its
    own label list.
    """

    id: int
    name: str
    owner: str
    labels: list[str]
    total_labels: int
    labels_by_category: dict[str, list[str]]

    @property
    def labels_truncated(self) -> bool:
        return self.total_labels > len(self.labels)

    @classmethod
    def from_response(cls, response: ProjectInfoResponse) -> ProjectInfo:
        per_category = response.data_summary_per_category
        return cls(
            id=response.project.id,
            name=response.project.name,
            owner=response.project.owner,
            labels=response.data_summary.labels,
            total_labels=response.data_summary.total_labels,
            labels_by_category={
                "training": per_category.training.labels,
                "testing": per_category.testing.labels,
                "validation": per_category.validation.labels,
                "post-processing": per_category.post_processing.labels,
            },
        )


# Samples.


class Sample(msgspec.Struct, rename="camel", frozen=True):
    """The metadata of one sample, without its signal values.

    A subset of Studio's 46-field `Sample` model: identity, label, category,
    timing and provenance. The other fields are skipped while decoding.
    """

    id: int
    filename: str
    category: str
    label: str
    is_disabled: bool
    project_id: int
    created: datetime
    last_modified: datetime
    added: datetime
    interval_ms: float
    frequency: float
    values_count: int
    device_type: str
    sha256_hash: str
    total_length_ms: float | None = None
    device_name: str | None = None
    metadata: dict[str, str] | None = None


class ListSamplesResponse(msgspec.Struct, rename="camel", frozen=True):
    """Body of `listSamples`: one page, and the count of matches across all pages."""

    samples: list[Sample]
    total_count: int


class GetSampleResponse(msgspec.Struct, frozen=True):
    """Body of `getSample`. The signal `payload` is skipped while decoding."""

    sample: Sample
