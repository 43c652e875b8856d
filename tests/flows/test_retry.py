"""Task retries: which failures a task retries, and the settings that size the retries."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.states import Failed
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from emulator.server import EmulatorServer
from flows.project_run import run_project
from labelnoise.exceptions import (
    LoadError,
    StudioAuthenticationError,
    StudioRateLimitedError,
    StudioServerError,
    StudioTransportError,
)
from labelnoise.settings import Settings, get_settings
from labelnoise.warehouse import runs
from tasks.load import load_results
from tasks.retry import RETRY_DELAYS, is_transient, retry_on_transient, with_retry_settings
from tests.flows.helpers import run_ids

# Tasks of a run that wait for a job and load its results, and may be retried.
RETRIED_TASKS = {
    "read-project",
    "wait-for-job",
    "fetch-results",
    "archive-results",
    "load-results",
    "diff-run",
}


def lost_connection() -> OperationalError:
    """Return the error SQLAlchemy raises when the server closes a connection mid-query."""
    return OperationalError(
        "SELECT 1",
        {},
        psycopg.OperationalError("server closed the connection unexpectedly"),
        connection_invalidated=True,
    )


def refused_connection() -> OperationalError:
    # A connection that fails before the server responds carries no SQLSTATE.
    return OperationalError(None, None, psycopg.OperationalError("Connection refused"))


def rejected_password() -> OperationalError:
    return OperationalError(
        None, None, psycopg.errors.InvalidPassword("password authentication failed")
    )


def load_error_from(cause: BaseException) -> LoadError:
    error = LoadError("Run 5 could not be loaded")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        pytest.param(lost_connection(), True, id="database-connection-lost"),
        pytest.param(refused_connection(), True, id="database-connection-refused"),
        pytest.param(
            load_error_from(lost_connection()), True, id="load-error-from-lost-connection"
        ),
        pytest.param(rejected_password(), False, id="database-password-rejected"),
        # The Studio client already retried these requests.
        pytest.param(StudioTransportError("timed out"), False, id="studio-transport"),
        pytest.param(StudioServerError("failed", status_code=503), False, id="studio-503"),
        pytest.param(StudioRateLimitedError("failed", status_code=429), False, id="studio-429"),
        # Retrying these would fail again.
        pytest.param(StudioServerError("failed", status_code=500), False, id="studio-500"),
        pytest.param(StudioAuthenticationError("failed", status_code=401), False, id="studio-401"),
        pytest.param(LoadError("invalid payload"), False, id="load-error"),
        pytest.param(ValueError("bug"), False, id="other"),
    ],
)
def test_retry_only_lost_database_connections(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient
    assert retry_on_transient(None, None, Failed(data=error)) is transient


def test_retry_settings_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The temporary working directory contains no `.env` or `labelnoise.toml` to read.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABELNOISE_TASK_RETRIES", raising=False)
    monkeypatch.delenv("LABELNOISE_TASK_RETRY_DELAYS", raising=False)
    settings = Settings()

    assert settings.task_retries == 2
    assert settings.task_retry_delays == [30.0, 120.0]
    assert settings.task_retry_delays == RETRY_DELAYS


def test_with_retry_settings_applies_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELNOISE_TASK_RETRIES", "3")
    monkeypatch.setenv("LABELNOISE_TASK_RETRY_DELAYS", "[0, 1.5]")
    get_settings.cache_clear()
    try:
        configured = with_retry_settings(load_results)
    finally:
        get_settings.cache_clear()

    assert configured.retries == 3
    assert configured.retry_delay_seconds == [0.0, 1.5]
    assert configured.retry_condition_fn is retry_on_transient


@pytest.mark.usefixtures("flow_settings")
def test_run_tasks_use_retry_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELNOISE_TASK_RETRIES", "1")
    monkeypatch.setenv("LABELNOISE_TASK_RETRY_DELAYS", "[0.5]")
    get_settings.cache_clear()

    state = run_project(return_state=True)

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    # Prefect names a task run after its task, with a random suffix.
    policies = {
        task_run.name.rsplit("-", 1)[0]: (
            task_run.empirical_policy.retries,
            task_run.empirical_policy.retry_delay,
        )
        for task_run in task_runs
    }
    for name in RETRIED_TASKS:
        assert policies[name] == (1, [0.5]), name


@pytest.mark.usefixtures("flow_settings")
def test_http_500_fails_run_without_retry(emulator: EmulatorServer, warehouse: Engine) -> None:
    emulator.state.add_fault("server-error", endpoint="getLabelNoiseData", status=500)

    with pytest.raises(StudioServerError) as raised:
        run_project()

    assert raised.value.status_code == 500
    assert emulator.state.request_count("getLabelNoiseData") == 1
    (run_id,) = run_ids(warehouse, emulator.project_id)
    assert runs.get_run(warehouse, run_id).status == "failed"
