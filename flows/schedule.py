"""The deployments that `labelnoise serve` serves: the nightly schedule and ad-hoc runs.

`prefect.yaml` declares the same two deployments for a work pool. A test
keeps the names, schedule and parameters of both in step.
"""

from __future__ import annotations

from typing import cast

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.nightly import nightly
from flows.project_run import run_project

NIGHTLY_DEPLOYMENT = "nightly"
ADHOC_DEPLOYMENT = "adhoc"
NIGHTLY_CRON = "0 2 * * *"  # 02:00 every day
NIGHTLY_TIMEZONE = "UTC"
TAGS = ["labelnoise"]


def build_deployments(
    *,
    cron: str = NIGHTLY_CRON,
    timezone: str = NIGHTLY_TIMEZONE,
    projects_file: str | None = None,
    max_concurrency: int | None = None,
) -> list[RunnerDeployment]:
    """Build the nightly deployment (on `cron` in `timezone`) and the ad-hoc project run.

    At most one nightly run is active at a time: a scheduled run that finds
    the previous one still running is cancelled rather than queued.
    """
    # Called from synchronous code, `to_deployment` returns the deployment
    # itself. Its annotation also allows the coroutine of asynchronous callers.
    nightly_deployment = nightly.to_deployment(
        name=NIGHTLY_DEPLOYMENT,
        description="Run every configured project: trigger, load and diff label noise.",
        schedules=[Cron(cron, timezone=timezone)],
        parameters={"projects_file": projects_file, "max_concurrency": max_concurrency},
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        tags=TAGS,
    )
    adhoc_deployment = run_project.to_deployment(
        name=ADHOC_DEPLOYMENT,
        description="Run one project now. Pass project_id when there are several.",
        parameters={"project_id": None, "projects_file": projects_file, "trigger_mode": None},
        tags=TAGS,
    )
    return [cast(RunnerDeployment, nightly_deployment), cast(RunnerDeployment, adhoc_deployment)]
