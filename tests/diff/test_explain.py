"""Query plans of the reporting views at about a million fact rows.

The rows are generated with generate_series inside one transaction that is
rolled back at the end, so no other test reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

PROJECTS = 1_000
RUNS_PER_PROJECT = 10
WINDOWS_PER_RUN = 100  # 10,000 runs x 100 = 1,000,000 cross-validation rows
SAMPLES_PER_RUN = 10  # sample ids are unique per project: project * 1000 + sample
FACT_TABLES = ("cross_validation_scores", "neighbor_scores", "run_samples", "cosine_issues")

GENERATE = (
    "TRUNCATE labelnoise.projects, labelnoise.runs, labelnoise.raw_payloads CASCADE",
    f"""
    INSERT INTO labelnoise.projects (project_id, name)
    SELECT p, 'project ' || p FROM generate_series(1, {PROJECTS}) AS p
    """,
    f"""
    INSERT INTO labelnoise.runs (
        run_id, project_id, status, trigger_mode, started_at,
        neighbors_state, cross_validation_state, cosine_state
    )
    SELECT (p - 1) * {RUNS_PER_PROJECT} + r, p, 'loaded', 'never',
           timestamptz '2026-01-01' + make_interval(days => r),
           'present', 'present', 'present'
    FROM generate_series(1, {PROJECTS}) AS p, generate_series(1, {RUNS_PER_PROJECT}) AS r
    """,
    f"""
    INSERT INTO labelnoise.cross_validation_scores
    SELECT run_id, project_id * 1000 + w / 10, (w % 10) * 500, (w % 10) * 500 + 2000, w % 4,
           random(), random() * 6 - 4
    FROM labelnoise.runs, generate_series(0, {WINDOWS_PER_RUN - 1}) AS w
    """,
    """
    INSERT INTO labelnoise.neighbor_scores
    SELECT run_id, sample_id, window_start, window_end, random() * 10
    FROM labelnoise.cross_validation_scores WHERE sample_id % 10 = 0
    """,
    f"""
    INSERT INTO labelnoise.run_samples
    SELECT run_id, project_id * 1000 + s, 'sample.' || s, 'label ' || s % 4, 'training', false
    FROM labelnoise.runs, generate_series(0, {SAMPLES_PER_RUN - 1}) AS s
    """,
    """
    INSERT INTO labelnoise.cosine_issues
    SELECT run_id, 'similar_but_different_label', sample_id, 0
    FROM labelnoise.run_samples WHERE sample_id % 5 = 0
    """,
    *(f"ANALYZE labelnoise.{table}" for table in (*FACT_TABLES, "runs", "projects")),
)


@pytest.fixture(scope="module")
def million_rows(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        for statement in GENERATE:
            connection.execute(text(statement))
        yield connection
        transaction.rollback()


def plan_nodes(connection: Connection, query: str) -> list[dict[str, Any]]:
    """Return every node of the query's plan, depth first."""
    document = connection.execute(text(f"EXPLAIN (FORMAT JSON) {query}")).scalar_one()
    if isinstance(document, str):
        document = json.loads(document)
    nodes: list[dict[str, Any]] = []
    pending = [document[0]["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.get("Plans", []))
    return nodes


def scanned(nodes: list[dict[str, Any]], node_type: str) -> set[str]:
    return {node["Relation Name"] for node in nodes if node["Node Type"] == node_type}


def indexed(nodes: list[dict[str, Any]]) -> set[str]:
    """Return the tables that the plan reads through an index."""
    types = ("Index Scan", "Index Only Scan", "Bitmap Heap Scan")
    return {node["Relation Name"] for node in nodes if node["Node Type"] in types}


def test_generated_rows_reach_a_million(million_rows: Connection) -> None:
    count = million_rows.execute(
        text("SELECT count(*) FROM labelnoise.cross_validation_scores")
    ).scalar_one()

    assert count == PROJECTS * RUNS_PER_PROJECT * WINDOWS_PER_RUN == 1_000_000


def test_project_over_time_uses_indexes(million_rows: Connection) -> None:
    nodes = plan_nodes(million_rows, "SELECT * FROM reporting.run_summary WHERE project_id = 7")

    assert scanned(nodes, "Seq Scan") & {*FACT_TABLES, "runs"} == set()
    assert {"runs", "cross_validation_scores", "neighbor_scores"} <= indexed(nodes)


def test_window_across_runs_uses_indexes(million_rows: Connection) -> None:
    nodes = plan_nodes(
        million_rows,
        "SELECT * FROM reporting.window_history "
        "WHERE sample_id = 7004 AND window_start = 500 AND window_end = 2500",
    )

    assert scanned(nodes, "Seq Scan") & {*FACT_TABLES, "runs"} == set()
    assert {"cross_validation_scores", "neighbor_scores"} <= indexed(nodes)


def test_sample_across_runs_uses_indexes(million_rows: Connection) -> None:
    nodes = plan_nodes(
        million_rows, "SELECT * FROM reporting.sample_history WHERE sample_id = 7004"
    )

    assert scanned(nodes, "Seq Scan") & {*FACT_TABLES, "runs"} == set()
    assert "run_samples" in indexed(nodes)


def test_window_history_returns_each_run(million_rows: Connection) -> None:
    history = million_rows.execute(
        text(
            "SELECT run_id FROM reporting.window_history "
            "WHERE sample_id = 7004 AND window_start = 500 AND window_end = 2500 ORDER BY run_id"
        )
    ).scalars()

    assert list(history) == list(range(61, 71))
