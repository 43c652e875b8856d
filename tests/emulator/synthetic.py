"""Small synthetic sensor datasets with known structure, for engine tests."""

from __future__ import annotations

import numpy as np

from emulator.engine.windows import EngineSample

INTERVAL_MS = 100.0
STEPS = 100
# One dominant frequency per class, in Hz (Nyquist is 5 Hz at 10 Hz sampling).
CLASS_FREQUENCIES = (0.5, 1.5, 3.0, 4.5)


def class_signal(label: int, rng: np.random.Generator) -> np.ndarray:
    """Three axes of a sine at the class frequency, with random phase and noise."""
    times = np.arange(STEPS) * INTERVAL_MS / 1000.0
    frequency = CLASS_FREQUENCIES[label]
    axes = [
        np.sin(2 * np.pi * frequency * times + rng.uniform(0, 2 * np.pi)) * (axis + 1)
        + rng.normal(0, 0.1, STEPS)
        for axis in range(3)
    ]
    return np.stack(axes, axis=1)


def make_samples(
    per_class: int, num_labels: int, seed: int = 0, relabel: dict[int, int] | None = None
) -> list[EngineSample]:
    """Build `per_class` samples per class; `relabel` maps sample position to a wrong label."""
    rng = np.random.default_rng(seed)
    samples = []
    for position in range(per_class * num_labels):
        label = position % num_labels
        values = class_signal(label, rng)
        given = (relabel or {}).get(position, label)
        samples.append(EngineSample(100 + position, given, INTERVAL_MS, values))
    return samples
