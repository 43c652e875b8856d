"""render_markdown on a hand-made summary, and escaping of Studio text."""

from __future__ import annotations

from datetime import UTC, datetime

from labelnoise.diffing import DiffSummary, DiffThresholds, FlagChange, MethodDiff, render_markdown
from labelnoise.diffing.markdown import escape


def method(name: str, outcome: str, new: int | None, flagged: int | None) -> MethodDiff:
    compared = new is not None
    return MethodDiff(
        method=name,
        run_state="present" if compared else "absent",
        base_state="present",
        new=new,
        persisting=2 if compared else None,
        resolved=1 if compared else None,
        sample_removed=0 if compared else None,
        relabelled=0 if compared else None,
        flagged=flagged,
        base_flagged=3,
        scored=100 if compared else None,
        base_scored=100,
        outcome=outcome,
    )


SUMMARY = DiffSummary(
    diff_id=3,
    project_id=42,
    run_id=8,
    base_run_id=7,
    base_is_previous=True,
    verdict="regression",
    reasons=["neighbors regressed: 4 new, 1 resolved (net +3, tolerance 0), rate up"],
    methods=[
        method("neighbors", "regression", 4, 6),
        method("cross_validation", "not_compared", None, None),
    ],
    top_new=[
        FlagChange(
            method="neighbors",
            change="new",
            sample_id=12,
            window_start=0,
            window_end=2000,
            base_score=None,
            score=7.0,
            filename="walk|01_*a*",
            label="walk",
            category="training",
        )
    ],
    thresholds=DiffThresholds(),
    created_at=datetime(2026, 1, 2, tzinfo=UTC),
)


def test_render_markdown_report() -> None:
    assert render_markdown(SUMMARY) == (
        "# Label-noise diff: regression\n"
        "\n"
        "Project 42: run 8 compared with run 7 (its previous loaded run).\n"
        "\n"
        "- neighbors regressed: 4 new, 1 resolved (net +3, tolerance 0), rate up\n"
        "\n"
        "| method | outcome | new | persisting | resolved | relabelled | sample removed "
        "| flagged rate |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
        "| neighbors | regression | 4 | 2 | 1 | 0 | 0 | 3.0% -> 6.0% |\n"
        "| cross_validation | not compared | - | - | - | - | - | 3.0% -> n/a |\n"
        "\n"
        "## Worst new flags\n"
        "\n"
        "| method | sample | filename | label | window (ms) | score |\n"
        "| --- | ---: | --- | --- | --- | ---: |\n"
        "| neighbors | 12 | walk\\|01\\_\\*a\\* | walk | 0-2000 | 7 |\n"
        "\n"
        "Thresholds: cross-validation z-score at or below -2, net new tolerance 0, "
        "flagged rate rise limit 1.0 points.\n"
    )


def test_escape_flattens_lines() -> None:
    assert escape("a\nb <i>[x]</i> `c`") == "a b \\<i>\\[x\\]\\</i> \\`c\\`"
