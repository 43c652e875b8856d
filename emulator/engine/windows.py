"""Cut samples into windows and describe each window with spectral features.

Windows follow an impulse's time-series input block: a window of
`window_size_ms` starts every `window_increase_ms`, from 0 ms, and only
windows that lie fully inside the sample are kept. A sample shorter than one
window has no windows.

Each window gets, per axis, the kind of features a spectral-analysis block
produces: mean, root mean square of the mean-free signal, skewness,
kurtosis, and the log power in `NUM_BANDS` equal-width frequency bands
between 0 Hz (exclusive) and the Nyquist frequency. Features are then
standardized over all windows (zero mean, unit variance per feature), so
that no axis dominates a distance because of its unit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NUM_BANDS = 4
FEATURES_PER_AXIS = 4 + NUM_BANDS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class EngineSample:
    """Engine input for one sample: its id, label index and signal."""

    id: int
    label: int
    interval_ms: float
    values: FloatArray  # shape (steps, axes)


@dataclass(frozen=True)
class WindowSet:
    """Every window of a dataset, in sample order.

    Windows of one sample are contiguous: sample `i` owns rows
    `sample_offsets[i]` to `sample_offsets[i + 1]`.
    """

    features: FloatArray  # shape (windows, features), standardized
    sample_index: IntArray  # position of the owning sample in the input list
    sample_ids: IntArray
    labels: IntArray  # label index of each window (the label of its sample)
    starts_ms: IntArray
    ends_ms: IntArray
    sample_offsets: IntArray  # shape (samples + 1,)

    @property
    def count(self) -> int:
        return int(self.features.shape[0])


def window_bounds(
    total_steps: int, interval_ms: float, window_size_ms: int, window_increase_ms: int
) -> list[tuple[int, int]]:
    """Return the (start ms, end ms) of each window that fits fully inside a sample."""
    total_ms = total_steps * interval_ms
    bounds = []
    start = 0
    while start + window_size_ms <= total_ms + 1e-9:
        bounds.append((start, start + window_size_ms))
        start += window_increase_ms
    return bounds


def spectral_features(windows: FloatArray, interval_ms: float) -> FloatArray:
    """Compute per-axis features of windows shaped (windows, steps, axes).

    Returns shape (windows, axes * FEATURES_PER_AXIS), grouped by feature
    kind: all means first, then all RMS values, and so on.
    """
    mean = windows.mean(axis=1)
    centred = windows - mean[:, np.newaxis, :]
    rms = np.sqrt((centred**2).mean(axis=1))
    safe_rms = np.where(rms > 0, rms, 1.0)
    skewness = np.where(rms > 0, (centred**3).mean(axis=1) / safe_rms**3, 0.0)
    kurtosis = np.where(rms > 0, (centred**4).mean(axis=1) / safe_rms**4, 0.0)

    steps = windows.shape[1]
    power = np.abs(np.fft.rfft(centred, axis=1)) ** 2 / steps
    frequencies = np.fft.rfftfreq(steps, d=interval_ms / 1000.0)
    edges = np.linspace(0.0, 500.0 / interval_ms, NUM_BANDS + 1)  # up to Nyquist
    bands = []
    for low, high in itertools.pairwise(edges):
        in_band = (frequencies > low) & (frequencies <= high)
        bands.append(np.log1p(power[:, in_band, :].sum(axis=1)))

    return np.concatenate([mean, rms, skewness, kurtosis, *bands], axis=1)


def build_windows(
    samples: Sequence[EngineSample], window_size_ms: int, window_increase_ms: int
) -> WindowSet:
    """Window every sample and return the standardized features of all windows."""
    rows: list[FloatArray] = []
    sample_index: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    offsets = [0]
    for position, sample in enumerate(samples):
        bounds = window_bounds(
            sample.values.shape[0], sample.interval_ms, window_size_ms, window_increase_ms
        )
        if bounds:
            steps = round(window_size_ms / sample.interval_ms)
            firsts = [round(start_ms / sample.interval_ms) for start_ms, _ in bounds]
            stacked = np.stack([sample.values[first : first + steps] for first in firsts])
            rows.append(spectral_features(stacked, sample.interval_ms))
            sample_index.extend([position] * len(bounds))
            starts.extend(start_ms for start_ms, _ in bounds)
            ends.extend(end_ms for _, end_ms in bounds)
        offsets.append(len(sample_index))

    axes = samples[0].values.shape[1] if samples else 0
    features = np.vstack(rows) if rows else np.zeros((0, axes * FEATURES_PER_AXIS))
    index = np.asarray(sample_index, dtype=np.int64)
    ids = np.asarray([sample.id for sample in samples], dtype=np.int64)
    labels = np.asarray([sample.label for sample in samples], dtype=np.int64)
    return WindowSet(
        features=standardize(features),
        sample_index=index,
        sample_ids=ids[index] if len(index) else np.zeros(0, dtype=np.int64),
        labels=labels[index] if len(index) else np.zeros(0, dtype=np.int64),
        starts_ms=np.asarray(starts, dtype=np.int64),
        ends_ms=np.asarray(ends, dtype=np.int64),
        sample_offsets=np.asarray(offsets, dtype=np.int64),
    )


def standardize(features: FloatArray) -> FloatArray:
    """Scale each feature to zero mean and unit variance; constant features become 0."""
    if features.shape[0] == 0:
        return features
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    standardized: FloatArray = (features - mean) / np.where(std > 0, std, 1.0)
    return standardized
