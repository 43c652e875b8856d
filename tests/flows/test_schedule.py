"""`prefect.yaml` and `labelnoise serve` declare the same deployments, matching the flows."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.schemas.objects import ConcurrencyLimitStrategy

from flows.nightly import nightly
from flows.project_run import run_project
from flows.schedule import (
    ADHOC_DEPLOYMENT,
    NIGHTLY_CRON,
    NIGHTLY_DEPLOYMENT,
    NIGHTLY_TIMEZONE,
    build_deployments,
)

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


@pytest.fixture(scope="module")
def declared() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    return {deployment["name"]: deployment for deployment in document["deployments"]}


def test_yaml_declares_two_deployments(declared: dict[str, dict[str, Any]]) -> None:
    assert sorted(declared) == sorted([NIGHTLY_DEPLOYMENT, ADHOC_DEPLOYMENT])
    assert declared[NIGHTLY_DEPLOYMENT]["entrypoint"] == "flows/nightly.py:nightly"
    assert declared[ADHOC_DEPLOYMENT]["entrypoint"] == "flows/project_run.py:run_project"


def test_yaml_nightly_schedule(declared: dict[str, dict[str, Any]]) -> None:
    (schedule,) = declared[NIGHTLY_DEPLOYMENT]["schedules"]

    assert schedule == {"cron": NIGHTLY_CRON, "timezone": NIGHTLY_TIMEZONE, "active": True}
    assert declared[NIGHTLY_DEPLOYMENT]["concurrency_limit"] == {
        "limit": 1,
        "collision_strategy": "CANCEL_NEW",
    }
    assert NIGHTLY_CRON == "0 2 * * *"


@pytest.mark.parametrize(
    ("name", "flow_function"),
    [(NIGHTLY_DEPLOYMENT, nightly), (ADHOC_DEPLOYMENT, run_project)],
)
def test_yaml_parameters_match_flow(
    declared: dict[str, dict[str, Any]], name: str, flow_function: Any
) -> None:
    parameters = declared[name]["parameters"]

    assert list(parameters) == list(inspect.signature(flow_function.fn).parameters)
    assert flow_function.validate_parameters(parameters) == parameters


def test_yaml_uses_process_pool_steps(declared: dict[str, dict[str, Any]]) -> None:
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))

    assert document["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $LABELNOISE_HOME }}"}}
    ]
    for deployment in declared.values():
        assert deployment["work_pool"] == {"name": "labelnoise", "work_queue_name": "default"}


def test_served_deployments_match_yaml(declared: dict[str, dict[str, Any]]) -> None:
    nightly_deployment, adhoc_deployment = build_deployments()

    assert nightly_deployment.name == NIGHTLY_DEPLOYMENT
    assert adhoc_deployment.name == ADHOC_DEPLOYMENT
    (schedule,) = nightly_deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        NIGHTLY_CRON,
        NIGHTLY_TIMEZONE,
        True,
    )
    assert nightly_deployment.concurrency_limit == 1
    assert nightly_deployment.concurrency_options is not None
    assert (
        nightly_deployment.concurrency_options.collision_strategy
        is ConcurrencyLimitStrategy.CANCEL_NEW
    )
    assert nightly_deployment.parameters == declared[NIGHTLY_DEPLOYMENT]["parameters"]
    assert adhoc_deployment.parameters == declared[ADHOC_DEPLOYMENT]["parameters"]


def test_served_deployments_take_options() -> None:
    nightly_deployment, adhoc_deployment = build_deployments(
        cron="30 3 * * 1-5",
        timezone="Europe/Amsterdam",
        projects_file="/etc/labelnoise/projects.toml",
        max_concurrency=2,
    )

    (schedule,) = nightly_deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (
        "30 3 * * 1-5",
        "Europe/Amsterdam",
    )
    assert nightly_deployment.parameters == {
        "projects_file": "/etc/labelnoise/projects.toml",
        "max_concurrency": 2,
    }
    assert adhoc_deployment.parameters["projects_file"] == "/etc/labelnoise/projects.toml"


def test_served_deployments_reject_bad_timezone() -> None:
    with pytest.raises(ValueError, match="Invalid timezone"):
        build_deployments(timezone="Mars/Olympus")
