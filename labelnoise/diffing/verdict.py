"""The regression verdict: a pure function of per-method counts and thresholds.

A compared method regresses when its new flags exceed its cleared flags
(resolved, relabelled or sample removed) by more than the net-new
tolerance, or when its flagged rate rises by more than the allowed
percentage points. It improves when either measure moves as far the other
way and it does not regress. The diff is a regression when any method
regresses, else an improvement when any method improves, else steady.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from labelnoise.diffing.summary import MethodCounts, MethodDiff
from labelnoise.diffing.thresholds import DiffThresholds
from models.diffs import WINDOW_METHODS

# Rates are compared after rounding, so that a rise of exactly the allowed
# points is not a regression because of floating-point error.
_POINTS_DECIMALS = 9

_OUTCOME_WORDS = {"regression": "regressed", "improvement": "improved", "steady": "steady"}


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reasons: list[str]
    methods: list[MethodDiff]


def judge(
    counts: Sequence[MethodCounts], thresholds: DiffThresholds, *, run_id: int, base_run_id: int
) -> Verdict:
    """Decide each method's outcome and the diff's verdict, with one reason per method.

    Reasons of the methods whose outcome is the verdict come first, then
    the others in the order of `counts`.
    """
    methods = [
        MethodDiff(**asdict(method), outcome=method_outcome(method, thresholds))
        for method in counts
    ]
    outcomes = {method.outcome for method in methods}
    if "regression" in outcomes:
        verdict = "regression"
    elif "improvement" in outcomes:
        verdict = "improvement"
    else:
        verdict = "steady"

    ordered = sorted(methods, key=lambda method: method.outcome != verdict)
    reasons = [describe(method, thresholds, run_id, base_run_id) for method in ordered]
    return Verdict(verdict=verdict, reasons=reasons, methods=methods)


def method_outcome(method: MethodCounts, thresholds: DiffThresholds) -> str:
    """Return regression, improvement, steady or not_compared for one method."""
    net_new = method.net_new
    if net_new is None:
        return "not_compared"

    points = method.rate_change_points
    if points is not None:
        points = round(points, _POINTS_DECIMALS)

    tolerance = thresholds.net_new_tolerance
    if net_new > tolerance or (points is not None and points > thresholds.rate_points):
        return "regression"
    if net_new < -tolerance or (points is not None and points < -thresholds.rate_points):
        return "improvement"
    return "steady"


def describe(method: MethodDiff, thresholds: DiffThresholds, run_id: int, base_run_id: int) -> str:
    """Describe a method's outcome in words and numbers.

    For example "neighbors regressed: 14 new, 2 resolved (net +12, tolerance 0),
    flagged rate 3.1% -> 4.9% (+1.8 points, limit 1.0)".
    """
    if method.outcome == "not_compared":
        return f"{method.method} not compared: {_absence(method, run_id, base_run_id)}"

    changes = [f"{method.new} new", f"{method.resolved} resolved"]
    if method.relabelled:
        changes.append(f"{method.relabelled} relabelled")
    if method.sample_removed:
        changes.append(f"{method.sample_removed} sample removed")
    net = f"net {method.net_new:+d}, tolerance {thresholds.net_new_tolerance}"
    return (
        f"{method.method} {_OUTCOME_WORDS[method.outcome]}: {', '.join(changes)} ({net}), "
        f"{_describe_rate(method, thresholds)}"
    )


def _describe_rate(method: MethodDiff, thresholds: DiffThresholds) -> str:
    rate, base_rate = method.flagged_rate, method.base_flagged_rate
    if rate is None or base_rate is None:
        if method.method in WINDOW_METHODS:
            return "flagged rate unknown (a run has no cross-validation window count)"
        return "flagged rate unknown (a run has no enabled samples)"
    return (
        f"flagged rate {base_rate:.1%} -> {rate:.1%} "
        f"({method.rate_change_points:+.1f} points, limit {thresholds.rate_points:.1f})"
    )


def _absence(method: MethodCounts, run_id: int, base_run_id: int) -> str:
    absent_from = []
    if method.base_state == "absent":
        absent_from.append(f"base run {base_run_id}")
    if method.run_state == "absent":
        absent_from.append(f"run {run_id}")
    return f"the section is absent from {' and '.join(absent_from)}"
