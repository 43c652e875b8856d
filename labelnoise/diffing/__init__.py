"""Diffs between runs of a project, their regression verdict and their Markdown report.

`diff_runs` compares a loaded run with a base run in SQL, stores the result
in `run_diffs`, `run_diff_methods` and `run_diff_items`, and returns it as a
`DiffSummary`. `render_markdown` turns a summary into the report that flows
publish as an artifact.
"""

from __future__ import annotations

from labelnoise.diffing.compare import diff_runs
from labelnoise.diffing.markdown import render_markdown
from labelnoise.diffing.stored import load_diff
from labelnoise.diffing.summary import DiffSummary, FlagChange, MethodCounts, MethodDiff
from labelnoise.diffing.thresholds import DiffThresholds

__all__ = [
    "DiffSummary",
    "DiffThresholds",
    "FlagChange",
    "MethodCounts",
    "MethodDiff",
    "diff_runs",
    "load_diff",
    "render_markdown",
]
