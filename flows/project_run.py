"""The flow of one project run: read, trigger, wait, fetch, load, diff, report.

A run row is created before Studio is asked for anything that takes time,
and the job id is recorded the moment Studio returns it. A run that
crashes or is cancelled after that leaves its row `triggered`, and the
project's next run polls the same job instead of starting another (see
`tasks.runs.start_run`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import flow_run
from sqlalchemy.exc import SQLAlchemyError

from labelnoise.diffing import DiffSummary
from labelnoise.exceptions import WarehouseError
from labelnoise.projects import ProjectConfig, load_projects, select_project
from labelnoise.settings import TriggerMode, get_settings
from tasks.diff import diff_run
from tasks.fetch import archive_results, fetch_results
from tasks.load import load_results
from tasks.report import RunOutcome, describe_failure, publish_report
from tasks.runs import StartedRun, mark_run_unchanged, record_failure, start_run
from tasks.trigger import read_project, trigger_job
from tasks.wait import wait_for_job

# Runs of one project take a slot of this global concurrency limit (limit 1),
# so two runs of the same project never overlap.
PROJECT_LIMIT_NAME = "labelnoise-project-{project_id}"


def _flow_run_name() -> str:
    project_id = flow_run.get_parameters().get("project_id")
    return f"project-{project_id}" if project_id is not None else "project-of-api-key"


@flow(name="labelnoise-project-run", flow_run_name=_flow_run_name)
def run_project(
    project_id: int | None = None,
    projects_file: str | None = None,
    trigger_mode: TriggerMode | None = None,
) -> RunOutcome:
    """Run one project: trigger its data-quality job, load the results and diff them.

    `project_id` picks a project of the projects file (`projects_file`, or
    the `projects_file` setting). It may be left out when there is only one
    project, such as the `EI_API_KEY` project without a file.
    `trigger_mode` overrides the project's trigger mode for this run.
    """
    projects = load_projects(Path(projects_file) if projects_file else None)
    project = select_project(projects, project_id)
    if trigger_mode is not None:
        project = project.model_copy(update={"trigger_mode": trigger_mode})
    return track_project(project)


def track_project(project: ProjectConfig) -> RunOutcome:
    """Run the steps of one project run inside a flow run.

    The project is read from Studio first, so a wrong API key fails before
    anything is triggered or recorded.
    """
    info = read_project(project)
    project = project.model_copy(update={"id": info.id, "name": project.name or info.name})

    with project_slot(project.known_id):
        started = start_run(project, owner=info.owner, flow_run_id=flow_run.get_id())
        try:
            outcome, summary = _collect_results(project, started)
        except Exception as exc:
            # Broad on purpose, because whatever stopped the run is recorded
            # on its row and raised again. A cancellation or crash is not an
            # `Exception`, so it leaves the row resumable.
            _record_failure(project, started.run_id, exc)
            raise

    publish_report(outcome, summary)
    get_run_logger().info("%s", outcome.summary_line())
    return outcome


def _collect_results(
    project: ProjectConfig, started: StartedRun
) -> tuple[RunOutcome, DiffSummary | None]:
    run_id = started.run_id
    job_id = started.job_id
    if job_id is None and project.trigger_mode is not TriggerMode.NEVER:
        job_id = trigger_job(project, run_id)
    if job_id is not None:
        wait_for_job(project, run_id, job_id)

    fetched = fetch_results(project, run_id)
    archived = archive_results(project, run_id, fetched.body)
    outcome = RunOutcome(
        project_id=project.known_id,
        project_name=project.name,
        run_id=run_id,
        status="loaded",
        job_id=job_id,
        job_resumed=started.job_id is not None,
    )

    # Only a run that started no job can be unchanged, because a run that
    # waited for a job loads that job's results even when their bytes repeat.
    if job_id is None and archived.same_as_run_id is not None:
        mark_run_unchanged(project, run_id, archived.same_as_run_id)
        unchanged = RunOutcome(
            **{**outcome.__dict__, "status": "unchanged", "same_as_run_id": archived.same_as_run_id}
        )
        return unchanged, None

    loaded = load_results(project, run_id, fetched)
    summary = diff_run(project, run_id)
    new_flags, cleared_flags = _count_changes(summary)
    return (
        RunOutcome(
            **{
                **outcome.__dict__,
                "rows": sum(loaded.rows.values()),
                "base_run_id": summary.base_run_id if summary else None,
                "verdict": summary.verdict if summary else None,
                "new_flags": new_flags,
                "cleared_flags": cleared_flags,
            }
        ),
        summary,
    )


def _count_changes(summary: DiffSummary | None) -> tuple[int, int]:
    """Count new flags, and base flags that are gone, over the compared methods."""
    if summary is None:
        return 0, 0
    new_flags = 0
    cleared_flags = 0
    for method in summary.methods:
        new_flags += method.new or 0
        cleared_flags += method.cleared or 0
    return new_flags, cleared_flags


def _record_failure(project: ProjectConfig, run_id: int, exc: Exception) -> None:
    try:
        record_failure(project, run_id, describe_failure(exc))
    except (SQLAlchemyError, WarehouseError) as record_error:
        # Only logged, so that the original error is the one raised.
        get_run_logger().error(
            "Could not mark run %d of %s failed: %s", run_id, project.label, record_error
        )


@contextmanager
def project_slot(project_id: int) -> Iterator[None]:
    """Hold the project's concurrency slot, creating its limit of one on first use.

    A second run of the same project waits for the slot, at most the
    `job_deadline` setting, and then fails with a `TimeoutError`.
    """
    name = PROJECT_LIMIT_NAME.format(project_id=project_id)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # Another run of the project may create it first.
            with suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )

    # A failed lease renewal (a short Prefect API outage) lets the run go on:
    # stopping a run that waits for its job would waste that job.
    with concurrency(
        name,
        occupy=1,
        timeout_seconds=get_settings().job_deadline,
        strict=True,
        raise_on_lease_renewal_failure=False,
    ):
        yield
