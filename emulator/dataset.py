"""Load a project's samples from Edge Impulse data-acquisition JSON files.

A dataset directory contains one JSON document per sample, in the format that
Studio ingests and exports (`protected`, `signature`, `payload` with
`interval_ms`, `sensors` and `values`). The category of a sample comes from
the subfolder it sits in (`training`, `testing`, `validation`,
`post-processing`); files directly in the directory count as training data.
The label is the file name up to its first dot (`walking.01.json` has the
label `walking`), which is how Studio names exported files. When the
directory has an `info.labels` file, as a Studio export does, its labels and
categories take precedence.

Sample ids are assigned in a stable order (category, then file name), so the
same directory always yields the same ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from labelnoise.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

BUNDLED_DATASET_DIR = Path(__file__).parent / "data" / "basicmotions"
CATEGORIES = ("training", "testing", "validation", "post-processing")
LABELS_FILE = "info.labels"


@dataclass(frozen=True)
class SensorAxis:
    """One axis of a sample, with its SenML unit."""

    name: str
    units: str


@dataclass
class SampleRecord:
    """One sample of an emulated project.

    `label` and `last_modified` change when a label is edited; the other
    fields are fixed once the dataset is loaded.
    """

    id: int
    filename: str
    label: str
    category: str
    interval_ms: float
    sensors: tuple[SensorAxis, ...]
    values: npt.NDArray[np.float64]  # shape (steps, axes)
    device_name: str
    device_type: str
    sha256: str
    created: datetime
    last_modified: datetime
    is_disabled: bool = False
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def values_count(self) -> int:
        return int(self.values.shape[0])

    @property
    def total_length_ms(self) -> float:
        return self.values_count * self.interval_ms

    @property
    def frequency_hz(self) -> float:
        return 1000.0 / self.interval_ms


@dataclass(frozen=True)
class _SampleFile:
    path: Path
    label: str
    category: str


def load_dataset(
    directory: Path, *, first_sample_id: int = 1, created: datetime | None = None
) -> list[SampleRecord]:
    """Load every sample under `directory`, with ids counting up from `first_sample_id`.

    Raises `ConfigurationError` when the directory is missing, contains no
    samples, or contains a document that is not valid data-acquisition JSON.
    """
    if not directory.is_dir():
        raise ConfigurationError(
            f"Dataset directory {directory} does not exist; "
            "pass a folder of Edge Impulse data-acquisition JSON files."
        )
    sample_files = _find_sample_files(directory)
    if not sample_files:
        raise ConfigurationError(
            f"Dataset directory {directory} contains no *.json samples; "
            "put them directly in it or in training/ and testing/ subfolders."
        )

    timestamp = created or datetime(2024, 1, 1, tzinfo=UTC)
    samples = [
        _read_sample(sample_file, sample_id, timestamp)
        for sample_id, sample_file in enumerate(sample_files, start=first_sample_id)
    ]
    logger.info("Loaded %d samples from %s", len(samples), directory)
    return samples


def _find_sample_files(directory: Path) -> list[_SampleFile]:
    labels_file = directory / LABELS_FILE
    if labels_file.is_file():
        return _read_labels_file(directory, labels_file)

    found: list[_SampleFile] = []
    for path in directory.glob("*.json"):
        found.append(_SampleFile(path, _label_from_name(path), "training"))
    for category in CATEGORIES:
        for path in (directory / category).glob("*.json"):
            found.append(_SampleFile(path, _label_from_name(path), category))
    return sorted(found, key=lambda item: (CATEGORIES.index(item.category), item.path.name))


def _label_from_name(path: Path) -> str:
    return path.name.split(".", 1)[0]


def _read_labels_file(directory: Path, labels_file: Path) -> list[_SampleFile]:
    """Read the file list of a Studio export (`info.labels`)."""
    try:
        document = json.loads(labels_file.read_text(encoding="utf-8"))
        entries = document["files"]
        found = [
            _SampleFile(
                directory / entry["path"],
                entry["label"]["label"],
                entry.get("category", "training"),
            )
            for entry in entries
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"Invalid {labels_file}: expected a `files` list whose entries have `path`, "
            f"`category` and `label.label` ({exc!r})"
        ) from exc
    for item in found:
        if item.category not in CATEGORIES:
            raise ConfigurationError(
                f"Invalid category {item.category!r} for {item.path} in {labels_file}; "
                f"expected one of {', '.join(CATEGORIES)}"
            )
    return sorted(found, key=lambda item: (CATEGORIES.index(item.category), item.path.name))


def _read_sample(sample_file: _SampleFile, sample_id: int, created: datetime) -> SampleRecord:
    raw = sample_file.path.read_bytes()
    try:
        payload: dict[str, Any] = json.loads(raw)["payload"]
        interval_ms = float(payload["interval_ms"])
        sensors = tuple(
            SensorAxis(str(sensor["name"]), str(sensor["units"])) for sensor in payload["sensors"]
        )
        values = np.asarray(payload["values"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{sample_file.path} is not an Edge Impulse data-acquisition document: "
            f"expected payload.interval_ms, payload.sensors and payload.values ({exc!r})"
        ) from exc

    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2 or values.shape[1] != len(sensors) or interval_ms <= 0:
        raise ConfigurationError(
            f"{sample_file.path} has values of shape {values.shape} for {len(sensors)} sensors "
            f"at interval_ms={interval_ms}; expected one row per step with one value per "
            "sensor, and a positive interval"
        )

    return SampleRecord(
        id=sample_id,
        filename=sample_file.path.name.removesuffix(".json"),
        label=sample_file.label,
        category=sample_file.category,
        interval_ms=interval_ms,
        sensors=sensors,
        values=values,
        device_name=str(payload.get("device_name", "")),
        device_type=str(payload.get("device_type", "")),
        sha256=hashlib.sha256(raw).hexdigest(),
        created=created,
        last_modified=created,
    )
