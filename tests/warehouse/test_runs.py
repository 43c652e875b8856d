"""Run lifecycle rows against a real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from labelnoise.exceptions import RunNotFoundError, WarehouseError
from labelnoise.warehouse import runs

PROJECT_ID = 4242
OTHER_PROJECT_ID = 4343


def _run(engine: Engine, project_id: int = PROJECT_ID) -> int:
    runs.upsert_project(engine, project_id=project_id, name="Keywords", owner=None)
    return runs.create_run(
        engine, project_id=project_id, trigger_mode="auto", representation="keywords"
    )


def _set_status(engine: Engine, run_id: int, status: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE labelnoise.runs SET status = :s WHERE run_id = :r"),
            {"s": status, "r": run_id},
        )


def _age(engine: Engine, run_id: int, hours: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE labelnoise.runs SET started_at = now() - make_interval(hours => :h)"
                " WHERE run_id = :r"
            ),
            {"h": hours, "r": run_id},
        )


def test_upsert_project_updates_name_and_owner(warehouse: Engine) -> None:
    runs.upsert_project(warehouse, project_id=PROJECT_ID, name="Old", owner=None)
    runs.upsert_project(warehouse, project_id=PROJECT_ID, name="New", owner="Grace")

    with warehouse.connect() as connection:
        rows = connection.execute(text("SELECT project_id, name, owner FROM labelnoise.projects"))
        assert [tuple(row) for row in rows] == [(PROJECT_ID, "New", "Grace")]


def test_create_run_starts_running(warehouse: Engine) -> None:
    run_id = _run(warehouse)

    run = runs.get_run(warehouse, run_id)
    assert run.status == "running"
    assert run.project_id == PROJECT_ID
    assert run.trigger_mode == "auto"
    assert run.representation == "keywords"
    assert run.job_id is None
    assert run.triggered_job is False
    assert run.duplicate_rows_dropped == 0


def test_create_run_of_unknown_project_fails(warehouse: Engine) -> None:
    with pytest.raises(WarehouseError) as caught:
        runs.create_run(warehouse, project_id=999, trigger_mode="never", representation=None)

    assert str(caught.value) == (
        "Cannot create a run for project 999: the project is not in labelnoise.projects. "
        "Call upsert_project first."
    )


def test_record_trigger_sets_job(warehouse: Engine) -> None:
    run_id = _run(warehouse)

    runs.record_trigger(warehouse, run_id, 2**40)

    run = runs.get_run(warehouse, run_id)
    assert run.status == "triggered"
    assert run.job_id == 2**40
    assert run.triggered_job is True
    assert run.triggered_at is not None


def test_record_trigger_of_missing_run_raises(warehouse: Engine) -> None:
    with pytest.raises(RunNotFoundError) as caught:
        runs.record_trigger(warehouse, 77, 1)

    assert str(caught.value) == (
        "No run has id 77; list the runs in labelnoise.runs to find the right one."
    )


def test_record_job_finished_sets_time(warehouse: Engine) -> None:
    run_id = _run(warehouse)

    runs.record_job_finished(warehouse, run_id)

    assert runs.get_run(warehouse, run_id).job_finished_at is not None


def test_find_resumable_run_returns_latest_waiting(warehouse: Engine) -> None:
    older = _run(warehouse)
    runs.record_trigger(warehouse, older, 11)
    newer = _run(warehouse)
    runs.record_trigger(warehouse, newer, 12)
    _age(warehouse, older, 1)

    found = runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6))

    assert found is not None
    assert (found.run_id, found.job_id, found.triggered_job) == (newer, 12, True)
    assert found.started_at == runs.get_run(warehouse, newer).started_at


@pytest.mark.parametrize("status", ["loaded", "unchanged"])
def test_find_resumable_run_skips_finished(warehouse: Engine, status: str) -> None:
    run_id = _run(warehouse)
    runs.record_trigger(warehouse, run_id, 11)
    _set_status(warehouse, run_id, status)

    assert runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6)) is None


def test_find_resumable_run_returns_timed_out_run(warehouse: Engine) -> None:
    run_id = _run(warehouse)
    runs.record_trigger(warehouse, run_id, 11)
    runs.mark_failed(warehouse, run_id, "JobTimeoutError: Job 11 did not finish within 8 s")

    found = runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6))

    assert found is not None
    assert (found.run_id, found.job_id, found.triggered_job) == (run_id, 11, True)


def test_find_resumable_run_skips_job_that_failed(warehouse: Engine) -> None:
    run_id = _run(warehouse)
    runs.record_trigger(warehouse, run_id, 11)
    runs.record_job_finished(warehouse, run_id)
    runs.mark_failed(warehouse, run_id, "JobFailedError: Job 11 finished unsuccessfully")

    assert runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6)) is None


def test_find_resumable_run_skips_job_finished_by_adopter(warehouse: Engine) -> None:
    timed_out = _run(warehouse)
    runs.record_trigger(warehouse, timed_out, 11)
    runs.mark_failed(warehouse, timed_out, "JobTimeoutError: Job 11 did not finish within 8 s")
    adopter = _run(warehouse)
    runs.record_resumed_job(warehouse, adopter, 11)
    runs.record_job_finished(warehouse, adopter)
    _set_status(warehouse, adopter, "loaded")

    assert runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6)) is None


def test_find_resumable_run_skips_job_of_superseded_run(warehouse: Engine) -> None:
    timed_out = _run(warehouse)
    runs.record_trigger(warehouse, timed_out, 11)
    runs.mark_failed(warehouse, timed_out, "JobTimeoutError: Job 11 did not finish within 8 s")
    later = _run(warehouse)
    runs.record_trigger(warehouse, later, 12)
    runs.record_job_finished(warehouse, later)
    _set_status(warehouse, later, "loaded")

    assert runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6)) is None


def test_find_resumable_run_ages_job_from_first_run(warehouse: Engine) -> None:
    first = _run(warehouse)
    runs.record_trigger(warehouse, first, 11)
    runs.mark_failed(warehouse, first, "JobTimeoutError: Job 11 did not finish within 8 s")
    _age(warehouse, first, 7)
    adopter = _run(warehouse)
    runs.record_resumed_job(warehouse, adopter, 11)

    assert runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6)) is None


def test_find_resumable_run_skips_run_without_job(warehouse: Engine) -> None:
    _run(warehouse)

    assert runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6)) is None


def test_find_resumable_run_skips_old_run(warehouse: Engine) -> None:
    run_id = _run(warehouse)
    runs.record_trigger(warehouse, run_id, 11)
    _age(warehouse, run_id, 7)

    assert runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6)) is None


def test_find_resumable_run_skips_other_project(warehouse: Engine) -> None:
    run_id = _run(warehouse, OTHER_PROJECT_ID)
    runs.record_trigger(warehouse, run_id, 11)

    assert runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6)) is None


def test_record_resumed_job_adopts_and_fails_crashed_run(warehouse: Engine) -> None:
    crashed = _run(warehouse)
    runs.record_trigger(warehouse, crashed, 31)
    resumed = _run(warehouse)

    runs.record_resumed_job(warehouse, resumed, 31)

    crashed_run = runs.get_run(warehouse, crashed)
    resumed_run = runs.get_run(warehouse, resumed)
    assert resumed_run.status == "triggered"
    assert resumed_run.job_id == 31
    assert resumed_run.triggered_job is True
    assert resumed_run.triggered_at == crashed_run.triggered_at
    assert crashed_run.status == "failed"
    assert crashed_run.error == f"Stopped before job 31 finished; run {resumed} resumed the job."
    found = runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6))
    assert found is not None
    assert found.run_id == resumed


def test_mark_failed_records_error(warehouse: Engine) -> None:
    run_id = _run(warehouse)

    runs.mark_failed(warehouse, run_id, "Job 31 failed: out of memory")

    run = runs.get_run(warehouse, run_id)
    assert run.status == "failed"
    assert run.error == "Job 31 failed: out of memory"
    assert run.finished_at is not None


def test_mark_failed_of_missing_run_logs(
    warehouse: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="labelnoise.warehouse.runs"):
        runs.mark_failed(warehouse, 555, "boom")

    assert [record.getMessage() for record in caplog.records] == [
        "Cannot mark run 555 failed: no run has that id"
    ]


def test_mark_unchanged_points_at_loaded_run(warehouse: Engine) -> None:
    loaded = _run(warehouse)
    _set_status(warehouse, loaded, "loaded")
    run_id = _run(warehouse)

    runs.mark_unchanged(warehouse, run_id, same_as_run_id=loaded)

    run = runs.get_run(warehouse, run_id)
    assert run.status == "unchanged"
    assert run.same_as_run_id == loaded
    assert run.finished_at is not None


def test_get_run_of_missing_run_raises(warehouse: Engine) -> None:
    with pytest.raises(RunNotFoundError) as caught:
        runs.get_run(warehouse, 9)

    assert str(caught.value) == (
        "No run has id 9; list the runs in labelnoise.runs to find the right one."
    )


def test_previous_loaded_run_id_skips_other_runs(warehouse: Engine) -> None:
    loaded = _run(warehouse)
    _set_status(warehouse, loaded, "loaded")
    failed = _run(warehouse)
    _set_status(warehouse, failed, "failed")
    unchanged = _run(warehouse)
    _set_status(warehouse, unchanged, "unchanged")
    other_project = _run(warehouse, OTHER_PROJECT_ID)
    _set_status(warehouse, other_project, "loaded")
    current = _run(warehouse)
    later = _run(warehouse)
    _set_status(warehouse, later, "loaded")

    assert runs.previous_loaded_run_id(warehouse, PROJECT_ID, current) == loaded


def test_previous_loaded_run_id_without_one(warehouse: Engine) -> None:
    current = _run(warehouse)

    assert runs.previous_loaded_run_id(warehouse, PROJECT_ID, current) is None


def test_record_resumed_job_keeps_timed_out_run_failed(warehouse: Engine) -> None:
    timed_out = _run(warehouse)
    runs.record_trigger(warehouse, timed_out, 31)
    runs.mark_failed(warehouse, timed_out, "JobTimeoutError: Job 31 did not finish within 8 s")
    resumed = _run(warehouse)

    runs.record_resumed_job(warehouse, resumed, 31)

    timed_out_run = runs.get_run(warehouse, timed_out)
    resumed_run = runs.get_run(warehouse, resumed)
    assert timed_out_run.status == "failed"
    assert timed_out_run.error == "JobTimeoutError: Job 31 did not finish within 8 s"
    assert resumed_run.status == "triggered"
    assert resumed_run.job_id == 31
    assert resumed_run.triggered_job is True
    assert resumed_run.triggered_at == timed_out_run.triggered_at
    found = runs.find_resumable_run(warehouse, PROJECT_ID, max_age=timedelta(hours=6))
    assert found is not None
    assert found.run_id == resumed


def test_record_resumed_job_rejects_finished_job(warehouse: Engine) -> None:
    failed = _run(warehouse)
    runs.record_trigger(warehouse, failed, 31)
    runs.record_job_finished(warehouse, failed)
    runs.mark_failed(warehouse, failed, "JobFailedError: Job 31 finished unsuccessfully")
    late = _run(warehouse)

    with pytest.raises(WarehouseError) as caught:
        runs.record_resumed_job(warehouse, late, 31)

    assert str(caught.value) == (
        f"Cannot resume job 31 in run {late}: run {failed} of project {PROJECT_ID} "
        "already saw the job finish. Start a new run, which triggers a new job."
    )
    assert runs.get_run(warehouse, late).job_id is None
