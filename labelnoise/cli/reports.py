"""Report commands: `labelnoise diff`, `labelnoise history` and `labelnoise db grant-reader`.

`diff` and `history` print what the `reporting` views hold, so the command
line shows what a dashboard shows. `diff` computes and stores a diff only
when the requested pair has none yet (or with `--recompute`). Each command
exits with status 1 when reading or writing the warehouse fails, and 2 for an
invalid choice of project or run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from labelnoise import reporting
from labelnoise.cli.app import app, db_app
from labelnoise.database import open_engine
from labelnoise.diffing import DiffThresholds, diff_runs
from labelnoise.exceptions import DiffError
from labelnoise.settings import get_settings

EXIT_BAD_CHOICE = 2


class DiffFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class HistoryFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


ProjectOption = Annotated[
    int | None,
    typer.Option(
        "--project",
        help="Edge Impulse project id. May be left out when the warehouse contains one project.",
    ),
]


@app.command("diff")
def diff(
    project: ProjectOption = None,
    run: Annotated[
        int | None,
        typer.Option("--run", help="Run to report on. Default: the project's latest loaded run."),
    ] = None,
    base: Annotated[
        int | None,
        typer.Option("--base", help="Run to compare with. Default: the previous loaded run."),
    ] = None,
    output_format: Annotated[
        DiffFormat,
        typer.Option(
            "--format",
            help="Output format. `csv` writes every change row of the diff, "
            "from `reporting.diff_changes`, and ignores --top.",
        ),
    ] = DiffFormat.TABLE,
    top: Annotated[
        int, typer.Option("--top", min=0, help="New flags listed per method, worst first.")
    ] = 10,
    recompute: Annotated[
        bool,
        typer.Option(
            "--recompute",
            help="Compute the diff again with the current thresholds, replacing the stored one.",
        ),
    ] = False,
) -> None:
    """Print a run's verdict, its counts per method and change kind, and its worst new flags."""
    with _warehouse() as engine:
        if run is not None:
            run_project = reporting.project_of_run(engine, run)
            if project is not None and project != run_project:
                _fail_choice(f"Run {run} belongs to project {run_project}, not project {project}")
        else:
            run = reporting.latest_loaded_run_id(
                engine, reporting.resolve_project_id(engine, project)
            )

        diff_id = None if recompute else reporting.find_diff_id(engine, run, base)
        if diff_id is None:
            thresholds = DiffThresholds.from_settings(get_settings())
            summary = diff_runs(engine, run, base_run_id=base, thresholds=thresholds)
            if summary is None:
                typer.echo(
                    f"Run {run} is its project's first loaded run; there is nothing to compare."
                )
                return
            diff_id = summary.diff_id
        if output_format is DiffFormat.CSV:
            changes = reporting.read_diff_changes(engine, diff_id)
        else:
            report = reporting.read_diff_report(engine, diff_id, top=top)

    if output_format is DiffFormat.CSV:
        typer.echo(changes.to_csv(index=False), nl=False)
    elif output_format is DiffFormat.JSON:
        typer.echo(json.dumps(_diff_json(report), indent=2))
    else:
        _print_diff(_console(), report)


@app.command("history")
def history(
    project: ProjectOption = None,
    output_format: Annotated[
        HistoryFormat, typer.Option("--format", help="Output format.")
    ] = HistoryFormat.TABLE,
) -> None:
    """Print one line per run of a project over time, from `reporting.run_summary`.

    `table` shows the main columns; `json` and `csv` export every column.
    """
    with _warehouse() as engine:
        frame = reporting.read_run_summary(engine, reporting.resolve_project_id(engine, project))

    if output_format is HistoryFormat.CSV:
        typer.echo(frame.to_csv(index=False), nl=False)
    elif output_format is HistoryFormat.JSON:
        typer.echo(frame.to_json(orient="records", date_format="iso", indent=2))
    else:
        _print_history(_console(), frame)


@db_app.command("grant-reader")
def grant_reader(
    role: Annotated[
        str, typer.Argument(help="Existing PostgreSQL role that may then read the reporting views.")
    ],
) -> None:
    """Grant a role read access to the `reporting` views only, for a BI tool's login.

    The role gets no access to the `labelnoise` tables. Run it again after
    a migration downgrade, which drops the views and their grants.
    """
    with _warehouse() as engine:
        reporting.grant_reader(engine, role)
    typer.echo(f"Role {role} may now read the reporting views.")


@contextmanager
def _warehouse() -> Iterator[Engine]:
    """Open the warehouse, and report an unknown run or an invalid pair of runs with status 2.

    Other errors reach `labelnoise.cli.errors`, which reports them.
    """
    try:
        engine = open_engine()
        try:
            yield engine
        finally:
            engine.dispose()
    except (DiffError, LookupError) as exc:
        # An unknown run, or two runs that cannot be compared.
        _fail_choice(str(exc))


def _fail_choice(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=EXIT_BAD_CHOICE)


# --- Output ---------------------------------------------------------------------------------

# Width of tables written to a pipe or a file, which have no width of their own.
REDIRECTED_WIDTH = 160


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console = Console(width=REDIRECTED_WIDTH)
    return console


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _text(value: object) -> str:
    return "-" if value is None else str(value)


_TOP_NEW_COLUMNS = (
    "method",
    "severity_rank",
    "sample_id",
    "filename",
    "label",
    "category",
    "window_start",
    "window_end",
    "score",
)


def _diff_json(report: reporting.DiffReport) -> dict[str, Any]:
    diff = report.diff
    return {
        **{
            key: diff[key]
            for key in (
                "diff_id",
                "project_id",
                "project_name",
                "run_id",
                "base_run_id",
                "base_is_previous",
                "verdict",
            )
        },
        "reasons": list(diff["reasons"]),
        "thresholds": {
            key: diff[key] for key in ("cv_zscore_threshold", "net_new_tolerance", "rate_points")
        },
        "methods": [
            {key: value for key, value in method.items() if key not in _DIFF_KEYS}
            for method in reporting.records(report.methods)
        ],
        "top_new": [
            {key: flag[key] for key in _TOP_NEW_COLUMNS}
            for flag in reporting.records(report.top_new)
        ],
    }


# Columns of every diff_methods row that the JSON output already carries once.
_DIFF_KEYS = {"diff_id", "project_id", "run_id", "base_run_id"}


def _print_diff(console: Console, report: reporting.DiffReport) -> None:
    diff = report.diff
    base = "its previous loaded run" if diff["base_is_previous"] else "a chosen base run"
    console.print(
        f"Project {diff['project_id']} ({diff['project_name']}): run {diff['run_id']} compared "
        f"with run {diff['base_run_id']} ({base})",
        highlight=False,
        markup=False,
    )
    console.print(f"Verdict: [bold]{diff['verdict']}[/bold]", highlight=False)
    for reason in diff["reasons"]:
        console.print(f"  - {reason}", highlight=False, markup=False)

    counts = Table(title="Flags per method and change")
    counts.add_column("method")
    counts.add_column("outcome")
    for header in ("new", "persisting", "resolved", "relabelled", "sample removed", "flagged rate"):
        counts.add_column(header, justify="right")
    for method in reporting.records(report.methods):
        counts.add_row(
            method["method"],
            method["outcome"].replace("_", " "),
            *(
                _text(method[column])
                for column in (
                    "new_flags",
                    "persisting_flags",
                    "resolved_flags",
                    "relabelled_flags",
                    "sample_removed_flags",
                )
            ),
            f"{_percent(method['base_flagged_rate'])} -> {_percent(method['flagged_rate'])}",
        )
    console.print(counts)

    flags = reporting.records(report.top_new)
    if not flags:
        console.print("No new flags.")
        return
    table = Table(title="Worst new flags")
    for header in ("method", "sample", "filename", "label", "window (ms)", "score"):
        table.add_column(header, justify="right" if header in ("sample", "score") else "left")
    for flag in flags:
        window = "whole sample"
        if flag["window_start"] is not None:
            window = f"{flag['window_start']}-{flag['window_end']}"
        score = "-" if flag["score"] is None else f"{flag['score']:.3g}"
        table.add_row(
            flag["method"],
            str(flag["sample_id"]),
            Text(_text(flag["filename"])),
            Text(_text(flag["label"])),
            window,
            score,
        )
    console.print(table)


def _started(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


# Columns of the history table, with their headers and formatters.
_HISTORY_COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("run_id", "run", str),
    ("started_at", "started (UTC)", _started),
    ("status", "status", str),
    ("windows_scored", "windows", _text),
    ("neighbors_flagged_rate", "neighbors", _percent),
    ("cross_validation_flagged_rate", "cross validation", _percent),
    ("cosine_similar_but_different_label_rate", "cosine similar", _percent),
    ("cosine_different_but_same_label_rate", "cosine different", _percent),
    ("verdict", "verdict", _text),
)


def _print_history(console: Console, frame: pd.DataFrame) -> None:
    rows = reporting.records(frame)
    if not rows:
        console.print("The project has no runs yet.")
        return
    first = rows[0]
    table = Table(
        title=f"Runs of project {first['project_id']} ({first['project_name']}), flagged rates"
    )
    for _, header, _ in _HISTORY_COLUMNS:
        table.add_column(header)
    for row in rows:
        table.add_row(*(format_(row[column]) for column, _, format_ in _HISTORY_COLUMNS))
    console.print(table)
