"""The diff, history and db grant-reader commands against a real warehouse."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from labelnoise.cli import app
from labelnoise.cli import reports as _reports  # noqa: F401  (registers the commands under test)
from labelnoise.diffing import diff_runs
from labelnoise.settings import get_settings
from tests.diff.support import StudioResults, load

Results = dict[str, StudioResults]


@pytest.fixture
def cli(warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands use the test warehouse."""
    monkeypatch.setenv("DATABASE_URL", warehouse.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_diff_prints_verdict_and_reasons(
    cli: CliRunner, warehouse: Engine, studio_runs: Results
) -> None:
    base = load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    summary = diff_runs(warehouse, run)
    assert summary is not None

    result = cli.invoke(app, ["diff"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Project 1 (BasicMotions): run {run} compared with run {base} (its previous loaded run)"
    )
    assert lines[1] == "Verdict: regression"
    assert lines[2 : 2 + len(summary.reasons)] == [f"  - {r}" for r in summary.reasons]
    assert "Worst new flags" in result.stdout


def test_diff_json_matches_stored_diff(
    cli: CliRunner, warehouse: Engine, studio_runs: Results
) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    summary = diff_runs(warehouse, run)
    assert summary is not None

    result = cli.invoke(app, ["diff", "--project", "1", "--format", "json", "--top", "3"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["diff_id"] == summary.diff_id
    assert report["verdict"] == "regression"
    assert report["reasons"] == summary.reasons
    assert [m["new_flags"] for m in report["methods"]] == [m.new for m in summary.methods]
    neighbors = [flag for flag in report["top_new"] if flag["method"] == "neighbors"]
    expected = [flag for flag in summary.top_new if flag.method == "neighbors"][:3]
    assert [(f["sample_id"], f["window_start"], f["score"]) for f in neighbors] == [
        (f.sample_id, f.window_start, f.score) for f in expected
    ]


def test_diff_computes_missing_diff(
    cli: CliRunner, warehouse: Engine, studio_runs: Results
) -> None:
    first = load(warehouse, studio_runs["pristine"])
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])

    result = cli.invoke(app, ["diff", "--run", str(run), "--base", str(first), "--format", "json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["base_is_previous"] is False
    with warehouse.connect() as connection:
        pairs = connection.execute(text("SELECT run_id, base_run_id FROM labelnoise.run_diffs"))
        assert [tuple(pair) for pair in pairs] == [(run, first)]


def test_diff_of_first_run_says_so(cli: CliRunner, warehouse: Engine, studio_runs: Results) -> None:
    run = load(warehouse, studio_runs["pristine"])

    result = cli.invoke(app, ["diff"])

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Run {run} is its project's first loaded run; there is nothing to compare.\n"
    )


def test_diff_needs_project_among_several(
    cli: CliRunner, warehouse: Engine, studio_runs: Results
) -> None:
    pristine = studio_runs["pristine"]
    load(warehouse, pristine)
    load(warehouse, StudioResults(7, "Other", pristine.body, pristine.labels, pristine.samples))

    result = cli.invoke(app, ["diff"])

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: The warehouse contains 2 projects (1, 7); pick one with --project\n"
    )


def test_diff_rejects_run_of_other_project(
    cli: CliRunner, warehouse: Engine, studio_runs: Results
) -> None:
    run = load(warehouse, studio_runs["pristine"])

    result = cli.invoke(app, ["diff", "--project", "5", "--run", str(run)])

    assert result.exit_code == 2
    assert result.stderr == f"Error: Run {run} belongs to project 1, not project 5\n"


def test_diff_csv_lists_every_change(
    cli: CliRunner, warehouse: Engine, studio_runs: Results
) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    summary = diff_runs(warehouse, run)
    assert summary is not None

    result = cli.invoke(app, ["diff", "--format", "csv", "--top", "1"])

    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    with warehouse.connect() as connection:
        changes = connection.execute(
            text("SELECT * FROM reporting.diff_changes WHERE diff_id = :diff_id"),
            {"diff_id": summary.diff_id},
        )
        columns = list(changes.keys())
        row_count = len(changes.fetchall())
    assert frame.columns.tolist() == columns
    assert len(frame) == row_count
    assert set(frame["diff_id"]) == {summary.diff_id}
    new_rows = frame[frame["change"] == "new"]
    assert [int((new_rows["method"] == m.method).sum()) for m in summary.methods] == [
        m.new for m in summary.methods
    ]
    assert result.stdout.endswith("\n")


def test_history_csv_has_one_row_per_run(
    cli: CliRunner, warehouse: Engine, studio_runs: Results
) -> None:
    base = load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    diff_runs(warehouse, run)

    result = cli.invoke(app, ["history", "--format", "csv"])

    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert frame["run_id"].tolist() == [base, run]
    assert frame["verdict"].isna().tolist() == [True, False]
    assert frame["verdict"].iloc[1] == "regression"
    with warehouse.connect() as connection:
        columns = connection.execute(text("SELECT * FROM reporting.run_summary LIMIT 0")).keys()
    assert frame.columns.tolist() == list(columns)


def test_history_json_matches_run_summary(
    cli: CliRunner, warehouse: Engine, studio_runs: Results
) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    diff_runs(warehouse, run)

    result = cli.invoke(app, ["history", "--format", "json"])

    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    with warehouse.connect() as connection:
        expected = connection.execute(
            text("SELECT run_id, neighbors_flagged FROM reporting.run_summary ORDER BY run_id")
        )
        assert [(r["run_id"], r["neighbors_flagged"]) for r in records] == [
            tuple(row) for row in expected
        ]


def test_history_table_lists_runs(cli: CliRunner, warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    diff_runs(warehouse, run)

    result = cli.invoke(app, ["history", "--project", "1"])

    assert result.exit_code == 0, result.output
    assert "Runs of project 1 (BasicMotions), flagged rates" in result.stdout
    assert "regression" in result.stdout
    assert result.stdout.endswith("┘\n")


def test_grant_reader_rejects_unknown_role(cli: CliRunner) -> None:
    result = cli.invoke(app, ["db", "grant-reader", "nobody"])

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Role 'nobody' does not exist; create it first (for example CREATE ROLE name "
        "LOGIN PASSWORD '...') and run the command again\n"
    )
