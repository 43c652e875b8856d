"""Thresholds of the regression verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass

from labelnoise.exceptions import ConfigurationError
from labelnoise.settings import Settings


@dataclass(frozen=True)
class DiffThresholds:
    """When a window counts as flagged, and how much change makes a regression.

    `cv_zscore_threshold`: a window is flagged by cross validation when its
    z-score is at or below this value. `net_new_tolerance`: a method regresses
    when its new flags exceed its cleared flags by more than this many.
    `rate_points`: a method also regresses when its flagged rate rises by more
    than this many percentage points (and improves when it falls by more).
    """

    cv_zscore_threshold: float = -2.0
    net_new_tolerance: int = 0
    rate_points: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.cv_zscore_threshold):
            raise ConfigurationError(
                f"cv_zscore_threshold must be a finite number, got {self.cv_zscore_threshold}"
            )
        if self.net_new_tolerance < 0:
            raise ConfigurationError(
                f"net_new_tolerance must be 0 or more flags, got {self.net_new_tolerance}"
            )
        if not math.isfinite(self.rate_points) or self.rate_points < 0:
            raise ConfigurationError(
                f"rate_points must be a finite number of percentage points, 0 or more, "
                f"got {self.rate_points}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> DiffThresholds:
        """Build the thresholds from the `cv_zscore_threshold` and `regression_*` settings."""
        return cls(
            cv_zscore_threshold=settings.cv_zscore_threshold,
            net_new_tolerance=settings.regression_net_new_tolerance,
            rate_points=settings.regression_rate_points,
        )
