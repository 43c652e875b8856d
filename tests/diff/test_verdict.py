"""The verdict rules and the thresholds, as pure functions."""

from __future__ import annotations

import pytest

from labelnoise.diffing import DiffThresholds, MethodCounts
from labelnoise.diffing.verdict import judge, method_outcome
from labelnoise.exceptions import ConfigurationError
from labelnoise.settings import Settings


def counts(
    new: int | None = 0,
    resolved: int | None = 0,
    *,
    method: str = "neighbors",
    flagged: int | None = 10,
    base_flagged: int | None = 10,
    scored: int | None = 1000,
    base_scored: int | None = 1000,
    relabelled: int | None = 0,
    sample_removed: int | None = 0,
    run_state: str = "present",
    base_state: str = "present",
) -> MethodCounts:
    return MethodCounts(
        method=method,
        run_state=run_state,
        base_state=base_state,
        new=new,
        persisting=None if new is None else 5,
        resolved=resolved,
        sample_removed=sample_removed,
        relabelled=relabelled,
        flagged=flagged,
        base_flagged=base_flagged,
        scored=scored,
        base_scored=base_scored,
    )


@pytest.mark.parametrize(
    ("method", "thresholds", "outcome"),
    [
        pytest.param(counts(3, 1), DiffThresholds(), "regression", id="net-new-over-tolerance"),
        pytest.param(
            counts(3, 1), DiffThresholds(net_new_tolerance=2), "steady", id="net-new-at-tolerance"
        ),
        pytest.param(counts(1, 3), DiffThresholds(), "improvement", id="more-cleared-than-new"),
        pytest.param(
            counts(1, 1, relabelled=1, sample_removed=1),
            DiffThresholds(),
            "improvement",
            id="relabelled-and-removed-count-as-cleared",
        ),
        pytest.param(
            counts(0, 0, flagged=21, base_flagged=10),
            DiffThresholds(),
            "regression",
            id="rate-rise-over-limit",
        ),
        pytest.param(
            counts(0, 0, flagged=20, base_flagged=10),
            DiffThresholds(),
            "steady",
            id="rate-rise-at-limit",
        ),
        pytest.param(
            counts(0, 0, flagged=10, base_flagged=25),
            DiffThresholds(),
            "improvement",
            id="rate-fall-over-limit",
        ),
        pytest.param(
            counts(5, 0, flagged=5, base_flagged=25),
            DiffThresholds(),
            "regression",
            id="net-new-wins-over-rate-fall",
        ),
        pytest.param(
            counts(0, 0, scored=None),
            DiffThresholds(),
            "steady",
            id="unknown-rate-is-not-a-change",
        ),
        pytest.param(
            counts(None, None, flagged=None, run_state="absent"),
            DiffThresholds(),
            "not_compared",
            id="absent-section",
        ),
    ],
)
def test_method_outcome(method: MethodCounts, thresholds: DiffThresholds, outcome: str) -> None:
    assert method_outcome(method, thresholds) == outcome


def test_any_regression_makes_regression() -> None:
    verdict = judge(
        [counts(1, 3), counts(4, 0, method="cross_validation")],
        DiffThresholds(),
        run_id=8,
        base_run_id=7,
    )

    assert verdict.verdict == "regression"
    assert [method.outcome for method in verdict.methods] == ["improvement", "regression"]


def test_reasons_put_verdict_methods_first() -> None:
    verdict = judge(
        [
            counts(1, 3, flagged=8, base_flagged=10),
            counts(14, 2, method="cross_validation", flagged=49, base_flagged=31, scored=1000),
            counts(
                None,
                None,
                method="cosine_similar_but_different_label",
                flagged=None,
                base_state="absent",
            ),
        ],
        DiffThresholds(),
        run_id=8,
        base_run_id=7,
    )

    assert verdict.reasons == [
        "cross_validation regressed: 14 new, 2 resolved (net +12, tolerance 0), "
        "flagged rate 3.1% -> 4.9% (+1.8 points, limit 1.0)",
        "neighbors improved: 1 new, 3 resolved (net -2, tolerance 0), "
        "flagged rate 1.0% -> 0.8% (-0.2 points, limit 1.0)",
        "cosine_similar_but_different_label not compared: the section is absent from base run 7",
    ]


def test_reasons_name_relabelled_and_removed() -> None:
    verdict = judge(
        [counts(0, 1, relabelled=2, sample_removed=3, flagged=4, base_flagged=10)],
        DiffThresholds(),
        run_id=2,
        base_run_id=1,
    )

    assert verdict.reasons == [
        "neighbors improved: 0 new, 1 resolved, 2 relabelled, 3 sample removed "
        "(net -6, tolerance 0), flagged rate 1.0% -> 0.4% (-0.6 points, limit 1.0)"
    ]


def test_unknown_rate_is_explained() -> None:
    verdict = judge([counts(0, 0, scored=None)], DiffThresholds(), run_id=2, base_run_id=1)

    assert verdict.reasons == [
        "neighbors steady: 0 new, 0 resolved (net +0, tolerance 0), "
        "flagged rate unknown (a run has no cross-validation window count)"
    ]


def test_nothing_compared_is_steady() -> None:
    verdict = judge(
        [counts(None, None, flagged=None, run_state="absent", base_state="absent")],
        DiffThresholds(),
        run_id=2,
        base_run_id=1,
    )

    assert verdict.verdict == "steady"
    assert verdict.reasons == [
        "neighbors not compared: the section is absent from base run 1 and run 2"
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            {"net_new_tolerance": -1},
            "net_new_tolerance must be 0 or more flags, got -1",
            id="negative-tolerance",
        ),
        pytest.param(
            {"rate_points": -0.5},
            "rate_points must be a finite number of percentage points, 0 or more, got -0.5",
            id="negative-points",
        ),
        pytest.param(
            {"cv_zscore_threshold": float("nan")},
            "cv_zscore_threshold must be a finite number, got nan",
            id="nan-threshold",
        ),
    ],
)
def test_invalid_thresholds_raise(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DiffThresholds(**arguments)  # type: ignore[arg-type]

    assert str(raised.value) == message


def test_thresholds_from_settings() -> None:
    settings = Settings(
        cv_zscore_threshold=-1.5, regression_net_new_tolerance=3, regression_rate_points=0.5
    )

    assert DiffThresholds.from_settings(settings) == DiffThresholds(-1.5, 3, 0.5)
