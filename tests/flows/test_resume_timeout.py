"""End-to-end runs after a wait that timed out: the next run polls the same job."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from emulator.server import EmulatorServer
from flows.project_run import run_project
from labelnoise.exceptions import JobFailedError, JobTimeoutError
from labelnoise.settings import get_settings
from labelnoise.warehouse import runs
from tests.flows.helpers import run_ids

pytestmark = pytest.mark.usefixtures("flow_settings")

TRIGGER_OPERATION = "calculateDataQualityMetrics"


def job_ids(emulator: EmulatorServer) -> list[int]:
    return sorted(job.id for job in emulator.state.jobs(emulator.project_id))


def set_job_deadline(monkeypatch: pytest.MonkeyPatch, seconds: float | None) -> None:
    if seconds is None:
        monkeypatch.delenv("LABELNOISE_JOB_DEADLINE", raising=False)
    else:
        monkeypatch.setenv("LABELNOISE_JOB_DEADLINE", str(seconds))
    get_settings.cache_clear()


def test_timed_out_job_resumed_by_next_run(
    emulator: EmulatorServer, warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Paused jobs stay unfinished until released, like a slow job in Studio.
    emulator.state.pause_jobs()
    set_job_deadline(monkeypatch, 1)
    with pytest.raises(JobTimeoutError) as raised:
        run_project()
    (job_id,) = job_ids(emulator)
    (timed_out_run_id,) = run_ids(warehouse, emulator.project_id)

    emulator.state.resume_jobs()
    set_job_deadline(monkeypatch, None)
    outcome = run_project()

    assert outcome.status == "loaded"
    assert outcome.job_id == job_id
    assert outcome.job_resumed is True
    assert job_ids(emulator) == [job_id]
    assert emulator.state.request_count(TRIGGER_OPERATION) == 1
    timed_out = runs.get_run(warehouse, timed_out_run_id)
    assert timed_out.status == "failed"
    assert timed_out.error == f"JobTimeoutError: {raised.value}"
    assert runs.get_run(warehouse, outcome.run_id).job_finished_at is not None


def test_hung_job_resumed_by_next_run(
    emulator: EmulatorServer, warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.state.add_fault("job-hang", count=1)
    set_job_deadline(monkeypatch, 1)
    with pytest.raises(JobTimeoutError):
        run_project()
    (job_id,) = job_ids(emulator)
    emulator.state.clear_faults()

    # The hung job never finishes, so the resuming run times out as well.
    with pytest.raises(JobTimeoutError) as raised:
        run_project()

    first_run_id, second_run_id = run_ids(warehouse, emulator.project_id)
    second = runs.get_run(warehouse, second_run_id)
    assert job_ids(emulator) == [job_id]
    assert emulator.state.request_count(TRIGGER_OPERATION) == 1
    assert second.job_id == job_id
    assert second.triggered_job is True
    assert second.error == f"JobTimeoutError: {raised.value}"
    assert runs.get_run(warehouse, first_run_id).status == "failed"


def test_cancelled_job_not_resumed_twice(
    emulator: EmulatorServer, warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.state.add_fault("job-hang", count=1)
    set_job_deadline(monkeypatch, 1)
    with pytest.raises(JobTimeoutError):
        run_project()
    (hung_job_id,) = job_ids(emulator)
    hung_job = emulator.state.job(emulator.project_id, hung_job_id)
    assert hung_job is not None
    emulator.state.cancel_job(hung_job)

    set_job_deadline(monkeypatch, None)
    with pytest.raises(JobFailedError):
        run_project()
    outcome = run_project()

    _, failed_run_id, loaded_run_id = run_ids(warehouse, emulator.project_id)
    failed = runs.get_run(warehouse, failed_run_id)
    assert failed.job_id == hung_job_id
    assert failed.job_finished_at is not None
    assert outcome.run_id == loaded_run_id
    assert outcome.status == "loaded"
    assert outcome.job_resumed is False
    assert outcome.job_id != hung_job_id
    assert emulator.state.request_count(TRIGGER_OPERATION) == 2
