"""The reporting views on two real runs: comments, and what each view returns."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, text

from labelnoise.diffing import DiffSummary, DiffThresholds, diff_runs
from models.diffs import METHODS
from tests.diff.support import StudioResults, flags, load

Results = dict[str, StudioResults]

VIEWS = (
    "diff_changes",
    "diff_methods",
    "diffs",
    "label_trends",
    "latest_regressions",
    "projects",
    "run_flags",
    "run_summary",
    "sample_history",
    "window_history",
)


@pytest.fixture
def two_runs(warehouse: Engine, studio_runs: Results) -> tuple[int, int, DiffSummary]:
    base = load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    summary = diff_runs(warehouse, run)
    assert summary is not None
    return base, run, summary


def rows(engine: Engine, query: str, **parameters: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(text(query), parameters).mappings()]


def test_reporting_has_every_view(engine: Engine) -> None:
    names = rows(
        engine,
        "SELECT table_name FROM information_schema.views "
        "WHERE table_schema = 'reporting' ORDER BY table_name",
    )

    assert tuple(row["table_name"] for row in names) == VIEWS


@pytest.mark.parametrize("view", VIEWS)
def test_view_and_columns_are_commented(engine: Engine, view: str) -> None:
    comments = rows(
        engine,
        "SELECT a.attname, col_description(c.oid, a.attnum) AS comment, "
        "obj_description(c.oid, 'pg_class') AS view_comment "
        "FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 "
        "WHERE n.nspname = 'reporting' AND c.relname = :view",
        view=view,
    )

    assert comments
    assert comments[0]["view_comment"]
    assert [row["attname"] for row in comments if not row["comment"]] == []


def test_run_summary_counts_flags(
    warehouse: Engine, studio_runs: Results, two_runs: tuple[int, int, DiffSummary]
) -> None:
    base, run, summary = two_runs

    summaries = rows(
        warehouse, "SELECT * FROM reporting.run_summary WHERE project_id = 1 ORDER BY run_id"
    )

    assert [row["run_id"] for row in summaries] == [base, run]
    for row, results in zip(
        summaries, (studio_runs["pristine"], studio_runs["relabelled"]), strict=True
    ):
        counts = Counter(key[0] for key in flags(results))
        windows = len(json.loads(results.body)["data"]["crossValidation"]["scores"])
        assert row["windows_scored"] == windows
        assert row["neighbors_flagged"] == counts["neighbors"]
        assert row["neighbors_flagged_rate"] == counts["neighbors"] / windows
        assert row["cross_validation_flagged"] == counts["cross_validation"]
        assert (
            row["cosine_similar_but_different_label_flagged"]
            == counts["cosine_similar_but_different_label"]
        )
        assert row["samples"] == len(results.samples)
    assert summaries[0]["verdict"] is None
    assert summaries[1]["verdict"] == "regression"
    assert summaries[1]["diff_id"] == summary.diff_id
    assert summaries[1]["reasons"] == "; ".join(summary.reasons)


def test_run_flags_lists_labelled_flags(
    warehouse: Engine, studio_runs: Results, two_runs: tuple[int, int, DiffSummary]
) -> None:
    _, run, _ = two_runs
    relabelled = studio_runs["relabelled"]
    samples = {sample.sample_id: sample for sample in relabelled.samples}

    listed = rows(warehouse, "SELECT * FROM reporting.run_flags WHERE run_id = :run", run=run)

    keys = {(r["method"], r["sample_id"], r["window_start"], r["window_end"]) for r in listed}
    assert keys == set(flags(relabelled))
    assert len(listed) == len(keys)
    for row in listed:
        sample = samples[row["sample_id"]]
        assert (row["filename"], row["category"]) == (sample.filename, sample.category)
        assert row["label"] == sample.label


def test_label_trends_add_up_to_run_totals(
    warehouse: Engine, studio_runs: Results, two_runs: tuple[int, int, DiffSummary]
) -> None:
    _, run, _ = two_runs
    relabelled = studio_runs["relabelled"]

    trends = rows(warehouse, "SELECT * FROM reporting.label_trends WHERE run_id = :run", run=run)

    counts = Counter(key[0] for key in flags(relabelled))
    assert sum(row["neighbors_flagged"] for row in trends) == counts["neighbors"]
    assert sum(row["cross_validation_flagged"] for row in trends) == counts["cross_validation"]
    assert sum(row["samples"] for row in trends) == len(relabelled.samples)
    by_label = {row["label"]: row for row in trends}
    running = by_label["running"]
    assert running["samples"] == Counter(s.label for s in relabelled.samples)["running"]
    assert running["neighbors_flagged_rate"] == (
        running["neighbors_flagged"] / running["windows_scored"]
    )


def test_window_history_follows_window(
    warehouse: Engine, studio_runs: Results, two_runs: tuple[int, int, DiffSummary]
) -> None:
    base, run, _ = two_runs
    before, after = flags(studio_runs["pristine"]), flags(studio_runs["relabelled"])
    key = next(k for k in after if k[0] == "neighbors" and k not in before)

    history = rows(
        warehouse,
        "SELECT * FROM reporting.window_history WHERE sample_id = :sample "
        "AND window_start = :start AND window_end = :end ORDER BY run_id",
        sample=key[1],
        start=key[2],
        end=key[3],
    )

    assert [row["run_id"] for row in history] == [base, run]
    assert [row["neighbors_flagged"] for row in history] == [False, True]
    assert history[0]["neighbors_score"] is None
    assert history[1]["neighbors_score"] == after[key]
    assert history[1]["cv_zscore_threshold"] == -2.0


def test_sample_history_shows_relabelling(
    warehouse: Engine, relabelled_ids: list[int], two_runs: tuple[int, int, DiffSummary]
) -> None:
    base, run, _ = two_runs
    sample_id = relabelled_ids[0]

    history = rows(
        warehouse,
        "SELECT * FROM reporting.sample_history WHERE sample_id = :sample ORDER BY run_id",
        sample=sample_id,
    )

    assert [(row["run_id"], row["label"]) for row in history] == [
        (base, "standing"),
        (run, "running"),
    ]
    assert history[0]["windows_scored"] == history[1]["windows_scored"]


def test_diff_views_match_summary(
    warehouse: Engine, two_runs: tuple[int, int, DiffSummary]
) -> None:
    _, run, summary = two_runs

    diff = rows(warehouse, "SELECT * FROM reporting.diffs WHERE run_id = :run", run=run)
    methods = rows(
        warehouse,
        "SELECT * FROM reporting.diff_methods WHERE diff_id = :d ORDER BY method_order",
        d=summary.diff_id,
    )
    changes = rows(
        warehouse,
        "SELECT method, change, count(*) AS n FROM reporting.diff_changes "
        "WHERE diff_id = :d GROUP BY method, change",
        d=summary.diff_id,
    )

    assert len(diff) == 1
    assert diff[0]["reasons"] == summary.reasons
    assert diff[0]["new_flags"] == sum(method.new or 0 for method in summary.methods)
    assert diff[0]["methods_not_compared"] is None
    assert [row["method"] for row in methods] == list(METHODS)
    for row, method in zip(methods, summary.methods, strict=True):
        assert row["new_flags"] == method.new
        assert row["net_new_flags"] == method.net_new
        assert row["outcome"] == method.outcome
    assert {(r["method"], r["change"]): r["n"] for r in changes} == {
        (method.method, change): getattr(method, change)
        for method in summary.methods
        for change in ("new", "persisting", "resolved", "sample_removed", "relabelled")
        if getattr(method, change)
    }


def test_diff_changes_rank_new_flags_like_summary(
    warehouse: Engine, two_runs: tuple[int, int, DiffSummary]
) -> None:
    _, _, summary = two_runs

    ranked = rows(
        warehouse,
        "SELECT method, sample_id, window_start, score FROM reporting.diff_changes "
        "WHERE diff_id = :d AND change = 'new' AND severity_rank <= 10 "
        "ORDER BY array_position(ARRAY['neighbors', 'cross_validation', "
        "'cosine_similar_but_different_label', 'cosine_different_but_same_label'], method), "
        "severity_rank",
        d=summary.diff_id,
    )

    assert [(r["method"], r["sample_id"], r["window_start"], r["score"]) for r in ranked] == [
        (flag.method, flag.sample_id, flag.window_start, flag.score) for flag in summary.top_new
    ]


def test_latest_regressions_marks_current(
    warehouse: Engine, studio_runs: Results, two_runs: tuple[int, int, DiffSummary]
) -> None:
    _, run, summary = two_runs
    regressions = rows(warehouse, "SELECT * FROM reporting.latest_regressions")
    assert [(r["diff_id"], r["is_current"]) for r in regressions] == [(summary.diff_id, True)]

    fixed = load(warehouse, studio_runs["pristine"])
    lenient = DiffThresholds(net_new_tolerance=10_000, rate_points=100.0)
    later = diff_runs(warehouse, fixed, thresholds=lenient)

    assert later is not None and later.verdict == "steady"
    regressions = rows(warehouse, "SELECT * FROM reporting.latest_regressions")
    assert [(r["run_id"], r["is_current"]) for r in regressions] == [(run, False)]


def test_projects_view_names_latest_run(
    warehouse: Engine, two_runs: tuple[int, int, DiffSummary]
) -> None:
    _, run, _ = two_runs

    projects = rows(warehouse, "SELECT * FROM reporting.projects")

    assert len(projects) == 1
    assert projects[0]["runs"] == 2
    assert projects[0]["loaded_runs"] == 2
    assert projects[0]["last_loaded_run_id"] == run
    assert projects[0]["latest_verdict"] == "regression"
