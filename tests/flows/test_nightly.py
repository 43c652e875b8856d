"""The nightly flow over several projects of one emulator."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from emulator.server import EmulatorServer, ProjectSpec, generate_api_key
from flows.nightly import nightly
from labelnoise.exceptions import ProjectRunsFailedError
from labelnoise.settings import get_settings
from labelnoise.warehouse import runs
from tests.flows.helpers import recorded_rows, run_ids

WRONG_KEY = "ei_" + "0" * 64


@pytest.fixture(scope="module")
def two_projects() -> Iterator[EmulatorServer]:
    specs = [
        ProjectSpec(project_id=1, name="BasicMotions", api_key=generate_api_key()),
        ProjectSpec(project_id=2, name="BasicMotions copy", api_key=generate_api_key()),
    ]
    with EmulatorServer.start(host="127.0.0.1", port=0, projects=specs) as server:
        yield server


@pytest.fixture
def projects_file(
    flow_settings: None,
    two_projects: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Path:
    """A projects file of both emulator projects and one project whose key is wrong."""
    two_projects.state.reset()
    monkeypatch.setenv("EI_API_ENDPOINT", two_projects.base_url)
    monkeypatch.setenv("LABELNOISE_TEST_KEY_ONE", two_projects.projects[0].api_key)
    monkeypatch.setenv("LABELNOISE_TEST_KEY_TWO", two_projects.projects[1].api_key)
    monkeypatch.setenv("LABELNOISE_TEST_KEY_WRONG", WRONG_KEY)
    get_settings.cache_clear()

    path = tmp_path / "projects.toml"
    path.write_text(
        """
        [defaults]
        trigger_mode = "always"

        [[projects]]
        id = 1
        api_key_source = "env:LABELNOISE_TEST_KEY_ONE"

        [[projects]]
        id = 2
        name = "Copy"
        api_key_source = "env:LABELNOISE_TEST_KEY_TWO"

        [[projects]]
        id = 3
        name = "Wrong key"
        api_key_source = "env:LABELNOISE_TEST_KEY_WRONG"
        """,
        encoding="utf-8",
    )
    return path


def test_nightly_wrong_key_fails_alone(
    projects_file: Path,
    two_projects: EmulatorServer,
    warehouse: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO), pytest.raises(ProjectRunsFailedError) as raised:
        nightly(projects_file=str(projects_file), max_concurrency=2)

    (first_run,) = run_ids(warehouse, 1)
    (second_run,) = run_ids(warehouse, 2)
    assert run_ids(warehouse, 3) == []
    assert runs.get_run(warehouse, first_run).status == "loaded"
    assert runs.get_run(warehouse, second_run).status == "loaded"

    failure = (
        "project 3 (Wrong key): failed: StudioAuthenticationError: Studio rejected the API "
        "key for the project info request: Invalid API key; check the project's API key in "
        "Studio. Check EI_API_KEY and that the key belongs to this project. "
        f"(project 3, GET {two_projects.base_url}/api/3, HTTP 401)"
    )
    assert str(raised.value) == f"1 of 3 projects failed: {failure}"

    first_job = runs.get_run(warehouse, first_run).job_id
    second_job = runs.get_run(warehouse, second_run).job_id
    summary_lines = {
        f"project 1 (BasicMotions): run {first_run} loaded from job {first_job}, "
        f"{recorded_rows(warehouse, first_run)} rows; first loaded run, nothing to compare",
        f"project 2 (Copy): run {second_run} loaded from job {second_job}, "
        f"{recorded_rows(warehouse, second_run)} rows; first loaded run, nothing to compare",
        failure,
    }
    logged = {record.getMessage() for record in caplog.records}
    assert summary_lines <= logged


def test_nightly_returns_outcome_per_project(
    projects_file: Path, warehouse: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = projects_file.read_text(encoding="utf-8")
    good_projects = tmp_path / "good.toml"
    good_projects.write_text(text[: text.index("[[projects]]\n        id = 3")], encoding="utf-8")

    outcomes = nightly(projects_file=str(good_projects), max_concurrency=1)

    assert [(outcome.project_id, outcome.status) for outcome in outcomes] == [
        (1, "loaded"),
        (2, "loaded"),
    ]
    first = runs.get_run(warehouse, outcomes[0].run_id)
    second = runs.get_run(warehouse, outcomes[1].run_id)
    assert first.finished_at is not None
    # One worker: the second project starts only after the first has finished.
    assert second.started_at >= first.finished_at
