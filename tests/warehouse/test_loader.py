"""The COPY loader against a real PostgreSQL: rows, round trips, duplicates, failures, locking."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, text

from labelnoise.exceptions import InvalidPayloadError, LoadError, RunNotFoundError
from labelnoise.warehouse import archive, loader, runs
from labelnoise.warehouse.flatten import SampleSnapshot
from tests.warehouse import payloads
from tests.warehouse.payloads import (
    BIG_ID,
    BIGGER_ID,
    LABELS,
    PROJECT_ID,
    STANDARD_ROWS,
    TRICKY_TEXT,
    cosine_issue,
    cv_score,
    neighbors_entry,
    sample,
    standard_data,
    standard_samples,
)


def _new_run(engine: Engine, project_id: int = PROJECT_ID) -> int:
    runs.upsert_project(engine, project_id=project_id, name="Gestures", owner="Ada")
    return runs.create_run(engine, project_id=project_id, trigger_mode="never", representation=None)


def _load(engine: Engine, run_id: int, data: dict[str, Any] | None = None) -> loader.LoadResult:
    body = payloads.body(data)
    archive.archive_payload(engine, run_id, body)
    return loader.load_run(engine, run_id, body=body, labels=LABELS, samples=standard_samples())


def _rows(engine: Engine, query: str, **params: object) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query), params)]


def _table_counts(engine: Engine, run_id: int) -> dict[str, int]:
    return {
        table: _rows(
            engine, f"SELECT count(*) FROM labelnoise.{table} WHERE run_id = :r", r=run_id
        )[0][0]
        for table in STANDARD_ROWS
    }


def test_load_returns_rows_per_table(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)

    result = _load(warehouse, run_id)

    assert result.run_id == run_id
    assert result.rows == STANDARD_ROWS
    assert result.duplicates_dropped == 0
    assert _table_counts(warehouse, run_id) == STANDARD_ROWS


def test_load_marks_run_loaded_with_counts(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)

    _load(warehouse, run_id)

    run = runs.get_run(warehouse, run_id)
    assert run.status == "loaded"
    assert run.error is None
    assert run.finished_at is not None
    assert run.num_neighbors == 2
    assert (run.cosine_state, run.neighbors_state, run.cross_validation_state) == (
        "present",
        "present",
        "present",
    )
    assert run.label_rows == 2
    assert run.sample_rows == 3
    assert run.cosine_issue_rows == 2
    assert run.cosine_match_rows == 3
    assert run.neighbor_score_rows == 2
    assert run.neighbor_window_rows == 4
    assert run.cross_validation_rows == 4
    assert run.duplicate_rows_dropped == 0


def test_load_writes_exact_fact_values(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)

    _load(warehouse, run_id)

    assert _rows(
        warehouse,
        "SELECT kind, sample_id, label_index FROM labelnoise.cosine_issues ORDER BY kind",
    ) == [("different_but_same_label", 2, 1), ("similar_but_different_label", 1, 0)]
    assert _rows(
        warehouse,
        "SELECT kind, sample_id, other_sample_id, window_start, window_end, other_label_index,"
        " score FROM labelnoise.cosine_matches ORDER BY kind, window_start",
    ) == [
        ("different_but_same_label", 2, 1, 2000, 3000, 0, 0.12),
        ("similar_but_different_label", 1, 2, 0, 1000, 1, 0.97),
        ("similar_but_different_label", 1, 2, 1000, 2000, 1, 0.91),
    ]
    assert _rows(
        warehouse,
        "SELECT sample_id, window_start, window_end, score FROM labelnoise.neighbor_scores"
        " ORDER BY sample_id",
    ) == [(1, 0, 1000, 2.0), (2, 1000, 2000, 1.0)]
    assert _rows(
        warehouse,
        "SELECT sample_id, rank, neighbor_sample_id, neighbor_window_start, neighbor_window_end"
        " FROM labelnoise.neighbor_windows ORDER BY sample_id, rank",
    ) == [(1, 1, 2, 0, 1000), (1, 2, 2, 1000, 2000), (2, 1, 1, 0, 1000), (2, 2, 1, 1000, 2000)]
    assert _rows(
        warehouse,
        "SELECT sample_id, window_start, window_end, label_index, probability, score"
        " FROM labelnoise.cross_validation_scores ORDER BY sample_id, window_start",
    ) == [
        (1, 0, 1000, 0, 0.9, 0.5),
        (1, 1000, 2000, 0, 0.1, -2.5),
        (2, 0, 1000, 1, 0.75, 0.1),
        (3, 0, 1000, 1, 0.6, -0.1),
    ]


def test_load_writes_labels_by_index(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)

    _load(warehouse, run_id)

    assert _rows(
        warehouse, "SELECT label_index, label_name FROM labelnoise.run_labels ORDER BY 1"
    ) == [(0, "idle"), (1, "wave")]


def test_load_adds_embedded_samples_missing_from_list(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)

    _load(warehouse, run_id)

    assert _rows(
        warehouse,
        "SELECT sample_id, filename, label, category, is_disabled FROM labelnoise.run_samples"
        " ORDER BY sample_id",
    ) == [
        (1, "one.json", "idle", "training", False),
        (2, "two.json", "wave", "testing", True),
        (3, "sample-3.json", "idle", "training", False),
    ]


def test_listed_sample_wins_over_embedded(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    data = standard_data()
    data["crossValidation"]["scores"][0]["sample"] = sample(1, filename="old.json", label="wave")

    _load(warehouse, run_id, data)

    assert _rows(
        warehouse, "SELECT filename, label FROM labelnoise.run_samples WHERE sample_id = 1"
    ) == [("one.json", "idle")]


def test_load_twice_keeps_one_copy(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)

    _load(warehouse, run_id)
    second = _load(warehouse, run_id)

    assert second.rows == STANDARD_ROWS
    assert _table_counts(warehouse, run_id) == STANDARD_ROWS


def test_load_leaves_other_runs_alone(warehouse: Engine) -> None:
    first = _new_run(warehouse)
    second = _new_run(warehouse)
    _load(warehouse, first)

    _load(warehouse, second)

    assert _table_counts(warehouse, first) == STANDARD_ROWS
    assert _table_counts(warehouse, second) == STANDARD_ROWS


def test_tricky_text_round_trips(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    data = standard_data()
    data["crossValidation"]["scores"][3]["sample"] = sample(
        3, filename=TRICKY_TEXT + ".wav", label=TRICKY_TEXT
    )
    body = payloads.body(data)
    listed = [SampleSnapshot(1, TRICKY_TEXT, TRICKY_TEXT, "training", False)]

    loader.load_run(warehouse, run_id, body=body, labels=[TRICKY_TEXT, "\\"], samples=listed)

    assert _rows(
        warehouse, "SELECT label_name FROM labelnoise.run_labels ORDER BY label_index"
    ) == [(TRICKY_TEXT,), ("\\",)]
    assert _rows(
        warehouse,
        "SELECT filename, label FROM labelnoise.run_samples ORDER BY sample_id",
    ) == [(TRICKY_TEXT, TRICKY_TEXT), (TRICKY_TEXT + ".wav", TRICKY_TEXT)]


def test_null_sample_label_round_trips(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    listed = [SampleSnapshot(1, "unlabelled.json", None, "training", False)]

    loader.load_run(warehouse, run_id, body=payloads.body(), labels=LABELS, samples=listed)

    assert _rows(warehouse, "SELECT label FROM labelnoise.run_samples WHERE sample_id = 1") == [
        (None,)
    ]


def test_ids_above_2_31_round_trip(warehouse: Engine) -> None:
    run_id = _new_run(warehouse, project_id=BIG_ID)
    data = {
        "neighbors": {
            "numNeighbors": 1,
            "scoresAndNeighbors": [
                neighbors_entry(BIG_ID, BIG_ID, BIG_ID + 1000, 3.0, [(BIGGER_ID, 0, BIG_ID)])
            ],
        },
        "crossValidation": {"scores": [cv_score(BIGGER_ID, BIG_ID, BIGGER_ID)]},
    }
    listed = [SampleSnapshot(BIGGER_ID, "big.json", "idle", "training", False)]

    loader.load_run(warehouse, run_id, body=payloads.body(data), labels=LABELS, samples=listed)

    assert _rows(warehouse, "SELECT project_id FROM labelnoise.runs") == [(BIG_ID,)]
    assert _rows(warehouse, "SELECT sample_id FROM labelnoise.run_samples") == [(BIGGER_ID,)]
    assert _rows(
        warehouse,
        "SELECT sample_id, window_start, window_end, neighbor_sample_id, neighbor_window_end"
        " FROM labelnoise.neighbor_windows",
    ) == [(BIG_ID, BIG_ID, BIG_ID + 1000, BIGGER_ID, BIG_ID)]
    assert _rows(
        warehouse,
        "SELECT sample_id, window_start, window_end FROM labelnoise.cross_validation_scores",
    ) == [(BIGGER_ID, BIG_ID, BIGGER_ID)]


@pytest.mark.parametrize(
    "value",
    [0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0, 1e-7, 123456789.123456789],
    ids=["sum", "min-subnormal", "max", "negative-zero", "small", "large"],
)
def test_float_scores_round_trip_exactly(warehouse: Engine, value: float) -> None:
    run_id = _new_run(warehouse)
    data = {"crossValidation": {"scores": [cv_score(1, 0, 1000, probability=value, score=value)]}}

    loader.load_run(warehouse, run_id, body=payloads.body(data), labels=LABELS, samples=[])

    assert _rows(
        warehouse, "SELECT probability, score FROM labelnoise.cross_validation_scores"
    ) == [(value, value)]


@pytest.mark.parametrize(
    ("data", "states", "num_neighbors"),
    [
        ({}, ("absent", "absent", "absent"), None),
        (
            {
                "cosineSimilarity": {"similarButDifferentLabel": [], "differentButSameLabel": []},
                "neighbors": {"numNeighbors": 10, "scoresAndNeighbors": []},
                "crossValidation": {"scores": []},
            },
            ("empty", "empty", "empty"),
            10,
        ),
        (standard_data(), ("present", "present", "present"), 2),
    ],
    ids=["absent", "empty", "present"],
)
def test_section_states_are_recorded(
    warehouse: Engine,
    data: dict[str, Any],
    states: tuple[str, str, str],
    num_neighbors: int | None,
) -> None:
    run_id = _new_run(warehouse)

    loader.load_run(warehouse, run_id, body=payloads.body(data), labels=LABELS, samples=[])

    run = runs.get_run(warehouse, run_id)
    assert (run.cosine_state, run.neighbors_state, run.cross_validation_state) == states
    assert run.num_neighbors == num_neighbors


def test_duplicate_window_keeps_first(warehouse: Engine, caplog: pytest.LogCaptureFixture) -> None:
    run_id = _new_run(warehouse)
    data = standard_data()
    data["crossValidation"]["scores"].append(cv_score(1, 0, 1000, probability=0.01, score=-9.0))
    data["neighbors"]["scoresAndNeighbors"].append(
        neighbors_entry(1, 0, 1000, 7.0, [(9, 0, 1000), (9, 1000, 2000), (9, 2000, 3000)])
    )
    data["cosineSimilarity"]["similarButDifferentLabel"].append(
        cosine_issue(1, 0, [(2, 1, [(5000, 6000, 0.5)])])
    )

    with caplog.at_level(logging.WARNING, logger="labelnoise.warehouse.loader"):
        result = _load(warehouse, run_id, data)

    assert result.duplicates_dropped == 3
    assert result.rows == STANDARD_ROWS
    assert runs.get_run(warehouse, run_id).duplicate_rows_dropped == 3
    assert _rows(
        warehouse,
        "SELECT probability FROM labelnoise.cross_validation_scores"
        " WHERE sample_id = 1 AND window_start = 0",
    ) == [(0.9,)]
    assert _rows(warehouse, "SELECT score FROM labelnoise.neighbor_scores WHERE sample_id = 1") == [
        (2.0,)
    ]
    assert _rows(
        warehouse,
        "SELECT count(*) FROM labelnoise.neighbor_windows WHERE neighbor_sample_id = 9",
    ) == [(0,)]
    assert _rows(warehouse, "SELECT count(*) FROM labelnoise.cosine_matches WHERE score = 0.5") == [
        (0,)
    ]
    assert [record.getMessage() for record in caplog.records] == [
        f"Run {run_id} listed 3 keys twice; kept the first of each and dropped the others: "
        "cosine_issues 1, cross_validation_scores 1, neighbor_scores 1"
    ]


def test_duplicate_listed_sample_keeps_first(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    listed = [
        SampleSnapshot(1, "first.json", "idle", "training", False),
        SampleSnapshot(1, "second.json", "wave", "testing", True),
    ]

    result = loader.load_run(warehouse, run_id, body=payloads.body({}), labels=[], samples=listed)

    assert result.duplicates_dropped == 1
    assert _rows(warehouse, "SELECT filename FROM labelnoise.run_samples") == [("first.json",)]


def test_load_logs_summary_line(warehouse: Engine, caplog: pytest.LogCaptureFixture) -> None:
    run_id = _new_run(warehouse)

    with caplog.at_level(logging.INFO, logger="labelnoise.warehouse.loader"):
        _load(warehouse, run_id)

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert re.fullmatch(
        rf"Loaded run {run_id} of project {PROJECT_ID}: 20 rows in 7 tables in \d+\.\d\d s",
        messages[0],
    )


def test_reload_rebuilds_rows_from_archive(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    _load(warehouse, run_id)
    with warehouse.begin() as connection:
        connection.execute(text("DELETE FROM labelnoise.neighbor_windows"))

    result = loader.reload_run(warehouse, run_id)

    assert result.rows == STANDARD_ROWS
    assert _table_counts(warehouse, run_id) == STANDARD_ROWS


def test_reload_keeps_labels_and_samples(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    _load(warehouse, run_id)

    loader.reload_run(warehouse, run_id)

    assert _rows(
        warehouse, "SELECT label_index, label_name FROM labelnoise.run_labels ORDER BY 1"
    ) == [(0, "idle"), (1, "wave")]
    assert _rows(
        warehouse, "SELECT sample_id, filename FROM labelnoise.run_samples ORDER BY 1"
    ) == [(1, "one.json"), (2, "two.json"), (3, "sample-3.json")]


def test_reload_without_archive_fails(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)

    with pytest.raises(LoadError) as caught:
        loader.reload_run(warehouse, run_id)

    assert str(caught.value) == (
        f"Loading run {run_id} of project {PROJECT_ID} failed, so its rows are as they were "
        f"before the load: Run {run_id} has no archived payload, so it cannot be reloaded; "
        "start a new run to fetch the results from Studio."
    )


def test_load_of_missing_run_raises_not_found(warehouse: Engine) -> None:
    with pytest.raises(RunNotFoundError) as caught:
        loader.load_run(warehouse, 424242, body=payloads.body())

    assert str(caught.value) == (
        "Cannot load run 424242: no run has that id; "
        "list the runs in labelnoise.runs to find the right one."
    )


def test_invalid_payload_fails_run_and_keeps_rows(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    _load(warehouse, run_id)
    invalid = b'{"success": true, "data": {"crossValidation": {"scores": [{"id": "seven"}]}}}'
    archived = archive.archive_payload(warehouse, run_id, invalid)

    with pytest.raises(LoadError) as caught:
        loader.load_run(warehouse, run_id, body=invalid, labels=[], samples=[])

    cause = caught.value.__cause__
    assert isinstance(cause, InvalidPayloadError)
    assert str(cause) == (
        "Invalid label-noise response: Expected `int`, got `str` - at "
        "`$.data.crossValidation.scores[0].id` (project 7001, "
        "GET /api/{projectId}/raw-data/data-quality/label-noise)"
    )
    assert str(caught.value) == (
        f"Loading run {run_id} of project {PROJECT_ID} failed, so its rows are as they were "
        f"before the load: {cause}. Fix the cause, then run `labelnoise reload {run_id}`."
    )
    run = runs.get_run(warehouse, run_id)
    assert run.status == "failed"
    assert run.error == str(cause)
    assert run.payload_id == archived.payload_id
    assert _table_counts(warehouse, run_id) == STANDARD_ROWS
    assert _rows(
        warehouse,
        "SELECT size_bytes FROM labelnoise.raw_payloads WHERE payload_id = :p",
        p=archived.payload_id,
    ) == [(len(invalid),)]


def test_failure_in_last_table_rolls_back_everything(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    _load(warehouse, run_id)
    data = standard_data()
    # bigint stops at 2**63 - 1, so the last table fails after the others were written.
    data["crossValidation"]["scores"].append(cv_score(2**63, 0, 1000))

    with pytest.raises(LoadError) as caught:
        loader.load_run(warehouse, run_id, body=payloads.body(data), labels=["x"], samples=[])

    assert str(caught.value.__cause__) == (
        "A cross_validation_scores row of sample 9223372036854775808, window 0-1000 ms, has a "
        "value outside its column type (bigint ids and times, integer labels, smallint ranks): "
        "int too large to convert"
    )
    assert _table_counts(warehouse, run_id) == STANDARD_ROWS
    assert _rows(warehouse, "SELECT label_name FROM labelnoise.run_labels ORDER BY 1") == [
        ("idle",),
        ("wave",),
    ]
    run = runs.get_run(warehouse, run_id)
    assert run.status == "failed"
    assert run.error == str(caught.value.__cause__)


def test_database_error_rolls_back_everything(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    _load(warehouse, run_id)
    data = standard_data()
    # label_index is an integer column, so PostgreSQL rejects this row during COPY.
    data["cosineSimilarity"]["differentButSameLabel"][0]["label"] = 2**40

    with pytest.raises(LoadError) as caught:
        loader.load_run(warehouse, run_id, body=payloads.body(data), labels=["x"], samples=[])

    assert 'value "1099511627776" is out of range for type integer' in str(caught.value)
    assert _table_counts(warehouse, run_id) == STANDARD_ROWS
    assert _rows(warehouse, "SELECT label_name FROM labelnoise.run_labels ORDER BY 1") == [
        ("idle",),
        ("wave",),
    ]
    run = runs.get_run(warehouse, run_id)
    assert run.status == "failed"
    assert run.error is not None
    assert 'value "1099511627776" is out of range for type integer' in run.error


def test_nul_character_in_text_fails_load(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)

    with pytest.raises(LoadError) as caught:
        loader.load_run(warehouse, run_id, body=payloads.body(), labels=["a\x00b"], samples=[])

    assert isinstance(caught.value.__cause__, ValueError)
    assert str(caught.value.__cause__) == (
        "Text value 'a\\x00b' contains a NUL character (U+0000), "
        "which PostgreSQL text columns cannot store"
    )
    assert _table_counts(warehouse, run_id) == dict.fromkeys(STANDARD_ROWS, 0)


def test_load_waits_for_project_lock(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    body = payloads.body()
    outcome: list[loader.LoadResult] = []

    with warehouse.connect() as holder, holder.begin():
        loader.lock_project(holder, PROJECT_ID)
        worker = threading.Thread(
            target=lambda: outcome.append(
                loader.load_run(warehouse, run_id, body=body, labels=LABELS, samples=[])
            )
        )
        worker.start()
        _wait_for_advisory_lock_waiter(warehouse)

        assert outcome == []
        assert runs.get_run(warehouse, run_id).status == "running"

    worker.join(timeout=30)
    assert [result.run_id for result in outcome] == [run_id]
    assert runs.get_run(warehouse, run_id).status == "loaded"


def _wait_for_advisory_lock_waiter(engine: Engine) -> None:
    # Polls PostgreSQL until the load waits on the advisory lock. The lock is
    # real, so there is no clock to inject, and polling stops as soon as it shows.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        waiting = _rows(
            engine, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )[0][0]
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the load never waited on the project lock")


def test_duplicate_cosine_window_keeps_first(warehouse: Engine) -> None:
    run_id = _new_run(warehouse)
    data = standard_data()
    issue = data["cosineSimilarity"]["similarButDifferentLabel"][0]
    issue["issues"][0]["windows"].append({"windowStart": 0, "windowEnd": 1000, "score": 0.1})

    result = _load(warehouse, run_id, data)

    assert result.duplicates_dropped == 1
    assert result.rows["cosine_matches"] == 3
    assert _rows(
        warehouse,
        "SELECT score FROM labelnoise.cosine_matches WHERE sample_id = 1 AND window_start = 0",
    ) == [(0.97,)]
