"""End-to-end runs of one project against the emulator and the test warehouse."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from prefect import flow
from prefect.events.schemas.events import Event
from sqlalchemy import Engine, text

from emulator.server import EmulatorServer
from flows.project_run import run_project
from labelnoise.exceptions import JobFailedError, StudioApiError, StudioAuthenticationError
from labelnoise.projects import load_projects
from labelnoise.settings import TriggerMode, get_settings
from labelnoise.warehouse import runs
from tasks.report import REGRESSION_EVENT, artifact_key
from tasks.runs import start_run
from tasks.trigger import read_project, trigger_job
from tests.flows.helpers import (
    cross_validation_rows,
    recorded_rows,
    relabel_training_samples,
    relabelled_samples_with_new_flags,
    run_ids,
)

pytestmark = pytest.mark.usefixtures("flow_settings")


def job_ids(emulator: EmulatorServer) -> list[int]:
    return sorted(job.id for job in emulator.state.jobs(emulator.project_id))


def read_artifact_markdown(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.UPDATED_DESC,
            limit=1,
        )
    assert isinstance(artifact.data, str)
    return artifact.data


def test_first_run_loads_without_diff(emulator: EmulatorServer, warehouse: Engine) -> None:
    outcome = run_project()

    (job_id,) = job_ids(emulator)
    (run_id,) = run_ids(warehouse, emulator.project_id)
    record = runs.get_run(warehouse, run_id)
    assert outcome.run_id == run_id
    assert outcome.status == "loaded"
    assert outcome.job_id == job_id
    assert outcome.verdict is None
    assert record.status == "loaded"
    assert record.job_id == job_id
    assert record.triggered_job is True
    assert outcome.rows == recorded_rows(warehouse, run_id)
    assert outcome.summary_line() == (
        f"project 1 (BasicMotions): run {run_id} loaded from job {job_id}, "
        f"{outcome.rows} rows; first loaded run, nothing to compare"
    )
    assert read_artifact_markdown(artifact_key(1)) == (
        f"# Label noise of project 1 (BasicMotions), run {run_id}\n\n{outcome.summary_line()}.\n"
    )


def test_relabelling_gives_regression(
    emulator: EmulatorServer,
    warehouse: Engine,
    emitted_events: Callable[[str], list[Event]],
) -> None:
    first = run_project()
    relabels = relabel_training_samples(emulator, 6)
    second = run_project()

    assert second.verdict == "regression"
    assert second.base_run_id == first.run_id
    assert relabelled_samples_with_new_flags(warehouse, second.run_id) == {
        relabel.sample_id for relabel in relabels
    }
    assert second.summary_line() == (
        f"project 1 (BasicMotions): run {second.run_id} loaded from job {second.job_id}, "
        f"{second.rows} rows; regression against run {first.run_id}: "
        f"{second.new_flags} new flags, {second.cleared_flags} cleared"
    )
    assert second.new_flags > second.cleared_flags

    markdown = read_artifact_markdown(artifact_key(1))
    assert markdown.startswith(f"{second.summary_line()}.\n\n# Label-noise diff: regression\n")

    (event,) = emitted_events(REGRESSION_EVENT)
    assert event.resource.id == "labelnoise.project.1"
    assert event.resource.name == "BasicMotions"
    assert event.payload["run_id"] == second.run_id
    assert event.payload["base_run_id"] == first.run_id
    assert event.payload["new_flags"] == second.new_flags
    related = {(resource.id, resource.role) for resource in event.related}
    assert (f"labelnoise.run.{second.run_id}", "labelnoise-run") in related


def test_steady_run_emits_no_event(
    emulator: EmulatorServer,
    warehouse: Engine,
    emitted_events: Callable[[str], list[Event]],
) -> None:
    run_project()
    second = run_project()

    assert second.verdict == "steady"
    assert second.new_flags == 0
    assert second.cleared_flags == 0
    assert emitted_events(REGRESSION_EVENT) == []


def test_fetch_only_identical_run_unchanged(emulator: EmulatorServer, warehouse: Engine) -> None:
    first = run_project()
    second = run_project(trigger_mode=TriggerMode.NEVER)

    record = runs.get_run(warehouse, second.run_id)
    assert second.status == "unchanged"
    assert second.same_as_run_id == first.run_id
    assert second.job_id is None
    assert record.status == "unchanged"
    assert record.same_as_run_id == first.run_id
    assert record.triggered_job is False
    assert cross_validation_rows(warehouse, second.run_id) == 0
    assert cross_validation_rows(warehouse, first.run_id) > 0
    assert len(job_ids(emulator)) == 1
    assert second.summary_line() == (
        f"project 1 (BasicMotions): run {second.run_id} unchanged, "
        f"same results as run {first.run_id}"
    )


def test_fetch_only_after_new_job_loads(emulator: EmulatorServer, warehouse: Engine) -> None:
    run_project()
    relabel_training_samples(emulator, 2)
    emulator.state.wait_for_job(emulator.state.start_job(emulator.project_id, None).id)

    second = run_project(trigger_mode=TriggerMode.NEVER)

    assert second.status == "loaded"
    assert second.job_id is None
    assert second.verdict == "regression"
    assert second.summary_line().startswith(
        f"project 1 (BasicMotions): run {second.run_id} loaded from the latest results in "
        f"Studio, {second.rows} rows; regression"
    )


@pytest.mark.parametrize("refusal", ["forbidden", "success-false"])
def test_rejected_trigger_auto_loads_latest(
    emulator: EmulatorServer,
    warehouse: Engine,
    caplog: pytest.LogCaptureFixture,
    refusal: str,
) -> None:
    # Studio already has results from a job that labelnoise did not start.
    emulator.state.wait_for_job(emulator.state.start_job(emulator.project_id, None).id)
    emulator.state.set_refuse_trigger(emulator.project_id, refusal)  # type: ignore[arg-type]

    with caplog.at_level(logging.WARNING):
        outcome = run_project(trigger_mode=TriggerMode.AUTO)

    record = runs.get_run(warehouse, outcome.run_id)
    assert outcome.status == "loaded"
    assert outcome.job_id is None
    assert record.status == "loaded"
    assert record.job_id is None
    assert record.triggered_job is False
    assert outcome.rows == recorded_rows(warehouse, outcome.run_id)
    assert len(job_ids(emulator)) == 1
    assert emulator.state.request_count("calculateDataQualityMetrics") == 1
    rejections = [
        record.getMessage()
        for record in caplog.records
        if "rejected the data-quality trigger" in record.getMessage()
    ]
    assert len(rejections) == 1
    assert rejections[0].startswith(
        f"Studio rejected the data-quality trigger of project 1 (BasicMotions) in run "
        f"{outcome.run_id} ("
    )


@pytest.mark.parametrize(
    ("refusal", "error_type"),
    [("forbidden", StudioAuthenticationError), ("success-false", StudioApiError)],
)
def test_rejected_trigger_always_fails_run(
    emulator: EmulatorServer,
    warehouse: Engine,
    refusal: str,
    error_type: type[Exception],
) -> None:
    emulator.state.set_refuse_trigger(emulator.project_id, refusal)  # type: ignore[arg-type]

    with pytest.raises(error_type) as raised:
        run_project(trigger_mode=TriggerMode.ALWAYS)

    (run_id,) = run_ids(warehouse, emulator.project_id)
    record = runs.get_run(warehouse, run_id)
    assert record.status == "failed"
    assert record.error == f"{error_type.__name__}: {raised.value}"
    assert job_ids(emulator) == []


def test_wrong_key_fails_before_trigger(
    emulator: EmulatorServer, warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EI_API_KEY", "ei_" + "0" * 64)
    get_settings.cache_clear()

    with pytest.raises(StudioAuthenticationError):
        run_project()

    assert run_ids(warehouse, emulator.project_id) == []
    assert emulator.state.request_count("calculateDataQualityMetrics") == 0


def test_failed_job_fails_run_with_log(emulator: EmulatorServer, warehouse: Engine) -> None:
    emulator.state.add_fault("job-failure", message="Out of memory while scoring windows")

    with pytest.raises(JobFailedError) as raised:
        run_project()

    (run_id,) = run_ids(warehouse, emulator.project_id)
    record = runs.get_run(warehouse, run_id)
    assert record.status == "failed"
    assert record.error is not None
    assert record.error.startswith(f"JobFailedError: {raised.value}; last job log lines: ")
    assert "Out of memory while scoring windows" in record.error


@flow
def interrupted_run() -> int:
    """Start a run and its job, then stop as a killed process would: no wait, no fetch."""
    (project,) = load_projects()
    info = read_project(project)
    project = project.model_copy(update={"id": info.id, "name": info.name})
    started = start_run(project, owner=info.owner, flow_run_id=None)
    job_id = trigger_job(project, started.run_id)
    assert job_id is not None
    return started.run_id


def test_interrupted_run_resumes_its_job(emulator: EmulatorServer, warehouse: Engine) -> None:
    emulator.state.pause_jobs()
    interrupted_run_id = interrupted_run()
    (job_id,) = job_ids(emulator)
    assert runs.get_run(warehouse, interrupted_run_id).status == "triggered"
    emulator.state.resume_jobs()

    outcome = run_project()

    assert job_ids(emulator) == [job_id]
    assert outcome.job_id == job_id
    assert outcome.job_resumed is True
    assert outcome.status == "loaded"
    assert runs.get_run(warehouse, outcome.run_id).triggered_job is True
    interrupted = runs.get_run(warehouse, interrupted_run_id)
    assert interrupted.status == "failed"
    assert interrupted.error == (
        f"Stopped before job {job_id} finished; run {outcome.run_id} resumed the job."
    )
    assert outcome.summary_line() == (
        f"project 1 (BasicMotions): run {outcome.run_id} loaded from resumed job {job_id}, "
        f"{outcome.rows} rows; first loaded run, nothing to compare"
    )


def test_stale_interrupted_job_not_resumed(
    emulator: EmulatorServer, warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupted_run()
    monkeypatch.setenv("LABELNOISE_RESUME_WINDOW", "0.001")
    get_settings.cache_clear()

    outcome = run_project()

    interrupted_job, new_job = job_ids(emulator)
    assert outcome.job_id == new_job
    assert outcome.job_id != interrupted_job
    assert outcome.job_resumed is False


def test_api_key_never_recorded(
    emulator: EmulatorServer, warehouse: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.client.orchestration import get_client

    emulator.state.set_refuse_trigger(emulator.project_id, "forbidden")
    with caplog.at_level(logging.DEBUG), pytest.raises(StudioAuthenticationError):
        run_project(trigger_mode=TriggerMode.ALWAYS)
    emulator.state.set_refuse_trigger(emulator.project_id, None)
    with caplog.at_level(logging.DEBUG):
        run_project()

    with warehouse.connect() as connection:
        rows = connection.execute(
            text("SELECT row_to_json(run)::text FROM labelnoise.runs AS run")
        ).scalars()
        stored = "\n".join(rows)
    with get_client(sync_client=True) as client:
        parameters = [str(run.parameters) for run in client.read_flow_runs()]

    assert emulator.api_key not in caplog.text
    assert emulator.api_key not in stored
    assert emulator.api_key not in read_artifact_markdown(artifact_key(1))
    assert all(emulator.api_key not in run_parameters for run_parameters in parameters)
