"""The structured result of a diff, as stored in the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from labelnoise.diffing.thresholds import DiffThresholds


@dataclass(frozen=True)
class MethodCounts:
    """Change counts and flagged rates of one method in a diff.

    Change counts are `None` when the method was not compared, because its
    section is absent from the run or the base run. Flagged counts are `None`
    for a run whose section is absent. `scored` is the denominator of the
    flagged rate: windows scored by cross validation for window methods,
    enabled samples for cosine methods. A rate is `None` when its denominator
    is unknown or zero.
    """

    method: str
    run_state: str
    base_state: str
    new: int | None
    persisting: int | None
    resolved: int | None
    sample_removed: int | None
    relabelled: int | None
    flagged: int | None
    base_flagged: int | None
    scored: int | None
    base_scored: int | None

    @property
    def compared(self) -> bool:
        return self.new is not None

    @property
    def cleared(self) -> int | None:
        """Base-run flags gone from the run, whatever the reason."""
        if self.resolved is None or self.sample_removed is None or self.relabelled is None:
            return None
        return self.resolved + self.sample_removed + self.relabelled

    @property
    def net_new(self) -> int | None:
        cleared = self.cleared
        if self.new is None or cleared is None:
            return None
        return self.new - cleared

    @property
    def flagged_rate(self) -> float | None:
        return _rate(self.flagged, self.scored)

    @property
    def base_flagged_rate(self) -> float | None:
        return _rate(self.base_flagged, self.base_scored)

    @property
    def rate_change_points(self) -> float | None:
        """Change of the flagged rate in percentage points; `None` when either rate is unknown."""
        rate, base_rate = self.flagged_rate, self.base_flagged_rate
        if rate is None or base_rate is None:
            return None
        return (rate - base_rate) * 100


@dataclass(frozen=True)
class MethodDiff(MethodCounts):
    """A method's counts and its outcome: regression, improvement, steady or not_compared."""

    outcome: str


@dataclass(frozen=True)
class FlagChange:
    """A flag of a diff, with the sample's filename, label and category.

    Window bounds are milliseconds inside the sample, `None` for cosine
    flags. Scores are `None` on the side where the flag is absent and for
    cosine flags, which carry no score.
    """

    method: str
    change: str
    sample_id: int
    window_start: int | None
    window_end: int | None
    base_score: float | None
    score: float | None
    filename: str | None
    label: str | None
    category: str | None


@dataclass(frozen=True)
class DiffSummary:
    """A stored diff: verdict, reasons, per-method counts and the worst new flags.

    `methods` follows the order of `models.diffs.METHODS`. `top_new` contains
    the worst new flags of each method in that order, worst first.
    """

    diff_id: int
    project_id: int
    run_id: int
    base_run_id: int
    base_is_previous: bool
    verdict: str
    reasons: list[str]
    methods: list[MethodDiff]
    top_new: list[FlagChange]
    thresholds: DiffThresholds
    created_at: datetime


def _rate(flagged: int | None, scored: int | None) -> float | None:
    if flagged is None or not scored:
        return None
    return flagged / scored
