"""Markdown report of a diff, published by flows as a Prefect artifact."""

from __future__ import annotations

import re

from labelnoise.diffing.summary import DiffSummary, FlagChange, MethodDiff

# Characters that Markdown would read as table borders, emphasis, code, links or HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<|])")

_OUTCOME_TEXT = {
    "regression": "regression",
    "improvement": "improvement",
    "steady": "steady",
    "not_compared": "not compared",
}


def render_markdown(summary: DiffSummary) -> str:
    """Render the verdict, its reasons, a table of counts per method and the worst new flags."""
    base = "its previous loaded run" if summary.base_is_previous else "a chosen base run"
    lines = [
        f"# Label-noise diff: {summary.verdict}",
        "",
        f"Project {summary.project_id}: run {summary.run_id} compared with run "
        f"{summary.base_run_id} ({base}).",
        "",
        *(f"- {reason}" for reason in summary.reasons),
        "",
        "| method | outcome | new | persisting | resolved | relabelled | sample removed "
        "| flagged rate |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *(_method_row(method) for method in summary.methods),
        "",
    ]
    lines += _top_new_lines(summary.top_new)

    thresholds = summary.thresholds
    lines.append(
        f"Thresholds: cross-validation z-score at or below {thresholds.cv_zscore_threshold:g}, "
        f"net new tolerance {thresholds.net_new_tolerance}, "
        f"flagged rate rise limit {thresholds.rate_points:.1f} points."
    )
    return "\n".join(lines) + "\n"


def escape(value: str) -> str:
    """Escape text from Studio (filenames, labels) for a Markdown table cell."""
    one_line = " ".join(value.split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line)


def _method_row(method: MethodDiff) -> str:
    cells = [
        method.method,
        _OUTCOME_TEXT[method.outcome],
        *(
            _count(value)
            for value in (
                method.new,
                method.persisting,
                method.resolved,
                method.relabelled,
                method.sample_removed,
            )
        ),
        _rates(method),
    ]
    return "| " + " | ".join(cells) + " |"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _rates(method: MethodDiff) -> str:
    def percent(rate: float | None) -> str:
        return "n/a" if rate is None else f"{rate:.1%}"

    return f"{percent(method.base_flagged_rate)} -> {percent(method.flagged_rate)}"


def _top_new_lines(flags: list[FlagChange]) -> list[str]:
    if not flags:
        return ["No new flags.", ""]
    return [
        "## Worst new flags",
        "",
        "| method | sample | filename | label | window (ms) | score |",
        "| --- | ---: | --- | --- | --- | ---: |",
        *(_flag_row(flag) for flag in flags),
        "",
    ]


def _flag_row(flag: FlagChange) -> str:
    window = "whole sample"
    if flag.window_start is not None:
        window = f"{flag.window_start}-{flag.window_end}"
    score = "-" if flag.score is None else f"{flag.score:.3g}"
    cells = [
        flag.method,
        str(flag.sample_id),
        escape(flag.filename) if flag.filename is not None else "(unknown)",
        escape(flag.label) if flag.label is not None else "(none)",
        window,
        score,
    ]
    return "| " + " | ".join(cells) + " |"
