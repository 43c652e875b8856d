"""The nightly flow: one project run per configured project, a few at a time."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.project_run import run_project
from labelnoise.exceptions import ProjectRunsFailedError
from labelnoise.projects import ProjectConfig, load_projects
from labelnoise.settings import get_settings
from tasks.report import ProjectFailure, RunOutcome, describe_failure


@flow(name="labelnoise-nightly")
def nightly(
    projects_file: str | None = None, max_concurrency: int | None = None
) -> list[RunOutcome]:
    """Run every project of the projects file, at most `max_concurrency` at once.

    `projects_file` defaults to the `projects_file` setting, and without
    one the `EI_API_KEY` project is the only project. `max_concurrency`
    defaults to the `max_concurrency` setting. A failing project never
    stops the others. Once all have run, the flow raises
    `ProjectRunsFailedError` naming each failed project and why.
    """
    logger = get_run_logger()
    projects = load_projects(Path(projects_file) if projects_file else None)
    workers = min(max_concurrency or get_settings().max_concurrency, len(projects))
    logger.info("Running %d projects, at most %d at a time", len(projects), workers)

    runner = ThreadPoolTaskRunner[RunOutcome | ProjectFailure](max_workers=workers)
    with runner:
        futures = [
            runner.submit(
                run_project_isolated, {"project": project, "projects_file": projects_file}
            )
            for project in projects
        ]
        results = [future.result() for future in futures]

    for result in results:
        logger.info("%s", result.summary_line())

    failures = [result for result in results if isinstance(result, ProjectFailure)]
    if failures:
        details = "; ".join(failure.summary_line() for failure in failures)
        raise ProjectRunsFailedError(
            f"{len(failures)} of {len(results)} projects failed: {details}"
        )
    return [result for result in results if isinstance(result, RunOutcome)]


@task(name="run-project", task_run_name="run-project-{project.id}", cache_policy=NO_CACHE)
def run_project_isolated(
    project: ProjectConfig, projects_file: str | None
) -> RunOutcome | ProjectFailure:
    """Run one project as a subflow and return its failure instead of raising it."""
    state = run_project(project_id=project.id, projects_file=projects_file, return_state=True)
    if state.is_completed():
        outcome: RunOutcome = state.result()
        return outcome

    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException):
        return ProjectFailure(project_label=project.label, error=describe_failure(error))
    return ProjectFailure(project_label=project.label, error=state.message or state.type.value)
