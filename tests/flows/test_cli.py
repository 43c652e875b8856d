"""The `labelnoise run`, `nightly`, `serve` and `demo` commands, run in-process."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import Engine
from typer.testing import CliRunner

from emulator.server import EmulatorServer
from labelnoise.cli import app
from labelnoise.settings import get_settings
from labelnoise.warehouse import runs
from tests.flows.helpers import recorded_rows, run_ids

runner = CliRunner()


def test_run_prints_summary(
    flow_settings: None, emulator: EmulatorServer, warehouse: Engine
) -> None:
    result = runner.invoke(app, ["run", "--project", str(emulator.project_id)])

    assert result.exit_code == 0, result.output
    (run_id,) = run_ids(warehouse, emulator.project_id)
    job_id = runs.get_run(warehouse, run_id).job_id
    assert result.stdout.splitlines()[-1] == (
        f"project 1 (BasicMotions): run {run_id} loaded from job {job_id}, "
        f"{recorded_rows(warehouse, run_id)} rows; first loaded run, nothing to compare"
    )


def test_run_without_key_uses_emulator(
    flow_settings: None, warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("EI_API_KEY", "EI_API_ENDPOINT", "EI_PROJECT_ID"):
        monkeypatch.delenv(variable)
    get_settings.cache_clear()

    result = runner.invoke(app, ["run"])

    assert result.exit_code == 0, result.output
    (run_id,) = run_ids(warehouse, 1)
    assert runs.get_run(warehouse, run_id).status == "loaded"
    assert result.stdout.splitlines()[-1].startswith(
        f"project 1 (BasicMotions): run {run_id} loaded from job "
    )
    # The emulator's key and URL were this command's alone.
    assert "EI_API_KEY" not in os.environ
    assert "EI_API_ENDPOINT" not in os.environ


def test_run_without_key_ignores_endpoint(
    flow_settings: None,
    warehouse: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for variable in ("EI_API_KEY", "EI_PROJECT_ID"):
        monkeypatch.delenv(variable)
    # Nothing listens on the discard port, so a request sent there would fail the run.
    monkeypatch.setenv("EI_API_ENDPOINT", "http://127.0.0.1:9/v1")
    get_settings.cache_clear()

    with caplog.at_level(logging.WARNING, logger="labelnoise.cli.runs"):
        result = runner.invoke(app, ["run"])

    assert result.exit_code == 0, result.output
    assert [r.getMessage() for r in caplog.records if r.name == "labelnoise.cli.runs"] == [
        "EI_API_ENDPOINT is set but ignored, because EI_API_KEY is unset and the run "
        "uses the bundled Studio emulator; set EI_API_KEY to use that endpoint"
    ]
    (run_id,) = run_ids(warehouse, 1)
    assert runs.get_run(warehouse, run_id).status == "loaded"


def test_nightly_failure_exits_one(
    flow_settings: None, warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELNOISE_TEST_WRONG_KEY", "ei_" + "0" * 64)
    projects = tmp_path / "projects.toml"
    projects.write_text(
        '[[projects]]\nid = 1\napi_key_source = "env:LABELNOISE_TEST_WRONG_KEY"\n',
        encoding="utf-8",
    )

    result = runner.invoke(app, ["nightly", "--projects-file", str(projects)])

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: 1 of 1 projects failed: project 1: failed: StudioAuthenticationError: "
    )
    assert run_ids(warehouse, 1) == []


def test_run_invalid_projects_file_exits_two(flow_settings: None, tmp_path: Path) -> None:
    projects = tmp_path / "projects.toml"
    projects.write_text("[[projects]]\nid = 1\n", encoding="utf-8")

    result = runner.invoke(app, ["run", "--projects-file", str(projects)])

    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: Projects file {projects}: project #1 has no api_key_source; set it to "
        "'env:VARIABLE' or 'block:SECRET_BLOCK_NAME'\n"
    )


def flow_run_count() -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return len(client.read_flow_runs())


def test_run_unknown_project_fails_before_prefect(flow_settings: None) -> None:
    runs_before = flow_run_count()

    result = runner.invoke(app, ["run", "--project", "999"])

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Project 999 is not configured: without a projects file, labelnoise tracks "
        "only the EI_API_KEY project, project 1 (EI_PROJECT_ID); leave out --project, "
        "or list project 999 in a projects file (LABELNOISE_PROJECTS_FILE)\n"
    )
    assert flow_run_count() == runs_before


def test_run_unknown_project_with_emulator(
    flow_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("EI_API_KEY", "EI_API_ENDPOINT", "EI_PROJECT_ID"):
        monkeypatch.delenv(variable)
    get_settings.cache_clear()
    runs_before = flow_run_count()

    result = runner.invoke(app, ["run", "--project", "999"])

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Project 999 is not configured: without EI_API_KEY or a projects file, "
        "labelnoise runs the bundled emulator's project 1; leave out --project, or set "
        "EI_API_KEY (and EI_PROJECT_ID) to track a Studio project\n"
    )
    assert flow_run_count() == runs_before


def test_run_unset_key_variable_fails_before_prefect(
    flow_settings: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABELNOISE_TEST_MISSING_KEY", raising=False)
    projects = tmp_path / "projects.toml"
    projects.write_text(
        '[[projects]]\nid = 123456\napi_key_source = "env:LABELNOISE_TEST_MISSING_KEY"\n',
        encoding="utf-8",
    )
    runs_before = flow_run_count()

    result = runner.invoke(app, ["run", "--projects-file", str(projects)])

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: The environment variable LABELNOISE_TEST_MISSING_KEY that should hold the "
        "API key of project 123456 is unset or empty; set it, or change api_key_source in "
        "the projects file\n"
    )
    assert flow_run_count() == runs_before


def test_serve_needs_prefect_server(prefect_harness: None) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = runner.invoke(app, ["serve"])

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Serving a schedule needs a Prefect server, but PREFECT_API_URL is not set. "
        "Start one with `prefect server start` and set "
        "PREFECT_API_URL=http://127.0.0.1:4200/api\n"
    )


def test_serve_rejects_bad_timezone(prefect_harness: None) -> None:
    result = runner.invoke(app, ["serve", "--timezone", "Mars/Olympus"])

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Invalid --cron or --timezone: ")
    assert 'Invalid timezone: "Mars/Olympus"' in result.stderr


def test_demo_shows_regression(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps output at the terminal width
    monkeypatch.setenv("LABELNOISE_DATA_DIR", str(tmp_path / "data"))
    # The demo ignores a configured warehouse and Studio key.
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    monkeypatch.setenv("EI_API_KEY", "ei_not_used")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["demo", "--relabel", "4"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert "Verdict after relabelling 4 samples: regression" in result.stdout
    assert "reporting.run_summary" in result.stdout
    assert f"Embedded PostgreSQL in {tmp_path / 'data' / 'postgres'}" in result.stdout
    assert os.environ["DATABASE_URL"] == "postgresql://nobody@127.0.0.1:9/none"
