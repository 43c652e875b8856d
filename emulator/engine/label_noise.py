"""Run the three label-noise methods over one dataset.

The result keeps the continuous per-window scores that the benchmark ranks
by, next to the flagged windows and samples that the API reports. The same
samples and settings always give the same result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from emulator.engine.cosine import CosineResult, CosineSettings, find_cosine_issues
from emulator.engine.cross_validation import (
    CrossValidationResult,
    can_cross_validate,
    cross_validate,
)
from emulator.engine.neighbors import NeighborsResult, score_neighbors
from emulator.engine.windows import EngineSample, WindowSet, build_windows

logger = logging.getLogger(__name__)

LogLine = Callable[[str], None]


@dataclass(frozen=True)
class EngineSettings:
    """Windowing and method settings of one data-quality job.

    The defaults were chosen on BasicMotions with 10% of samples relabelled
    (`benchmarks/engine_quality.py`, seeds 0 to 4): 3000 ms windows ranked
    relabelled windows better than 2000 or 1500 ms ones with every method,
    and k = 20 neighbours better than 5, 10 or 15 (window precision at K
    0.990 against 0.943, 0.974 and 0.982; 30 gave 0.991).
    """

    window_size_ms: int = 3000
    window_increase_ms: int = 500
    num_neighbors: int = 20
    cross_validation_folds: int = 5
    cosine: CosineSettings = field(default_factory=CosineSettings)

    def __post_init__(self) -> None:
        if self.window_size_ms <= 0 or self.window_increase_ms <= 0:
            raise ValueError(
                f"Invalid window: size {self.window_size_ms} ms, increase "
                f"{self.window_increase_ms} ms; both must be positive"
            )
        if self.num_neighbors < 1:
            raise ValueError(f"Invalid num_neighbors {self.num_neighbors}; expected at least 1")
        if self.cross_validation_folds < 2:
            raise ValueError(
                f"Invalid cross_validation_folds {self.cross_validation_folds}; expected at least 2"
            )


@dataclass(frozen=True)
class LabelNoiseResult:
    """Everything one engine run computed; `cross_validation` is None when skipped."""

    windows: WindowSet
    cosine: CosineResult
    neighbors: NeighborsResult
    cross_validation: CrossValidationResult | None


class EngineInputError(ValueError):
    """The samples cannot be analysed (no windows, or mismatched axes)."""


def compute_label_noise(
    samples: Sequence[EngineSample],
    num_labels: int,
    settings: EngineSettings,
    log: LogLine | None = None,
) -> LabelNoiseResult:
    """Window the samples and run cosine similarity, neighbours and cross validation.

    `log` receives progress lines for the job log. Raises `EngineInputError`
    when the samples have different numbers of axes or yield no windows.
    """
    emit = log or (lambda line: None)
    axis_counts = {sample.values.shape[1] for sample in samples}
    if len(axis_counts) > 1:
        raise EngineInputError(
            f"Samples have different numbers of axes {sorted(axis_counts)}; "
            "every sample of a project must have the same sensors"
        )

    windows = build_windows(samples, settings.window_size_ms, settings.window_increase_ms)
    emit(
        f"Windowed {len(samples)} samples into {windows.count} windows of "
        f"{settings.window_size_ms} ms every {settings.window_increase_ms} ms"
    )
    if windows.count == 0:
        raise EngineInputError(
            f"No sample is at least {settings.window_size_ms} ms long, so there are no "
            "windows to analyse; shorten the window or add longer samples"
        )

    cosine = find_cosine_issues(windows, num_labels, settings.cosine)
    emit(
        f"Cosine similarity: {len(cosine.similar_but_different_label)} samples similar to "
        f"another label, {len(cosine.different_but_same_label)} dissimilar to their own"
    )

    neighbors = score_neighbors(windows, settings.num_neighbors)
    emit(
        f"Nearest neighbours (k={settings.num_neighbors}): "
        f"{int((neighbors.scores > 0).sum())} windows with a disagreeing neighbour"
    )

    cross_validation = None
    if can_cross_validate(windows):
        cross_validation = cross_validate(windows, num_labels, settings.cross_validation_folds)
        emit(f"Cross validation: {cross_validation.folds} folds grouped by sample")
    else:
        emit("Cross validation skipped: it needs at least two labels and two samples")

    return LabelNoiseResult(windows, cosine, neighbors, cross_validation)
