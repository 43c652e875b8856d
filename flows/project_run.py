"""The flow of one project run: read, trigger, wait, fetch, load, diff, report.

A run row is created before Studio is asked for anything that takes time,
and the job id is recorded the moment Studio returns it. A run that
crashes or is cancelled after that leaves its row `triggered`, and the
project's next run polls the same job instead of starting another (see
`tasks.runs.start_run`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from sqlalchemy.exc import SQLAlchemyError

from labelnoise.diffing import DiffSummary
from labelnoise.exceptions import WarehouseError
from labelnoise.projects import ProjectConfig, load_projects, select_project
from labelnoise.settings import TriggerMode, get_settings
from labelnoise.warehouse.locks import hold_run_lock
from tasks.diff import diff_run
from tasks.fetch import archive_results, fetch_results
from tasks.load import load_results
from tasks.report import RunOutcome, describe_failure, publish_report
from tasks.resources import warehouse_engine
from tasks.retry import with_retry_settings
from tasks.runs import StartedRun, mark_run_unchanged, record_failure, start_run
from tasks.trigger import read_project, trigger_job
from tasks.wait import wait_for_job


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
    anything is triggered or recorded. Then the run takes the project's run
    lock in the warehouse, waiting while another run of the project holds it.
    """
    info = with_retry_settings(read_project)(project)
    project = project.model_copy(update={"id": info.id, "name": project.name or info.name})

    settings = get_settings()
    with hold_run_lock(
        warehouse_engine(),
        project.known_id,
        timeout=settings.run_lock_timeout,
        poll_interval=settings.run_lock_poll_interval,
        logger=get_run_logger(),
    ):
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
        with_retry_settings(wait_for_job)(project, run_id, job_id)

    fetched = with_retry_settings(fetch_results)(project, run_id)
    archived = with_retry_settings(archive_results)(project, run_id, fetched.body)
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
        unchanged = replace(outcome, status="unchanged", same_as_run_id=archived.same_as_run_id)
        return unchanged, None

    loaded = with_retry_settings(load_results)(project, run_id, fetched)
    summary = with_retry_settings(diff_run)(project, run_id)
    new_flags, cleared_flags = _count_changes(summary)
    loaded_outcome = replace(
        outcome,
        rows=sum(loaded.rows.values()),
        base_run_id=summary.base_run_id if summary else None,
        verdict=summary.verdict if summary else None,
        new_flags=new_flags,
        cleared_flags=cleared_flags,
    )
    return loaded_outcome, summary


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
