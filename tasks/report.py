"""A run's outcome, its one-line summary, and the Prefect artifact and event it publishes."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from labelnoise.diffing import DiffSummary, render_markdown
from labelnoise.exceptions import JobFailedError

# Name of the event emitted for a `regression` verdict. A Prefect automation
# that matches it can send a notification.
REGRESSION_EVENT = "labelnoise.regression.detected"


@dataclass(frozen=True)
class RunOutcome:
    """Outcome of one project run that did not fail.

    `status` is `loaded` or `unchanged`. `new_flags` counts flags new since
    the base run. `cleared_flags` counts the base run's flags that are gone,
    because they were resolved or their sample was relabelled or removed.
    """

    project_id: int
    project_name: str | None
    run_id: int
    status: str
    job_id: int | None
    job_resumed: bool
    rows: int = 0
    same_as_run_id: int | None = None
    base_run_id: int | None = None
    verdict: str | None = None
    new_flags: int = 0
    cleared_flags: int = 0

    @property
    def project_label(self) -> str:
        name = f" ({self.project_name})" if self.project_name else ""
        return f"project {self.project_id}{name}"

    def summary_line(self) -> str:
        """Format the run's one-line summary, which logs and the command line show."""
        if self.status == "unchanged":
            return (
                f"{self.project_label}: run {self.run_id} unchanged, "
                f"same results as run {self.same_as_run_id}"
            )

        if self.job_id is None:
            source = "the latest results in Studio"
        elif self.job_resumed:
            source = f"resumed job {self.job_id}"
        else:
            source = f"job {self.job_id}"
        loaded = f"{self.project_label}: run {self.run_id} loaded from {source}, {self.rows} rows"

        if self.verdict is None:
            return f"{loaded}; first loaded run, nothing to compare"
        return (
            f"{loaded}; {self.verdict} against run {self.base_run_id}: "
            f"{self.new_flags} new flags, {self.cleared_flags} cleared"
        )


@dataclass(frozen=True)
class ProjectFailure:
    """A project whose run failed, and why."""

    project_label: str
    error: str

    def summary_line(self) -> str:
        return f"{self.project_label}: failed: {self.error}"


# Number of job log lines quoted in a failure message, which the run row keeps.
JOB_LOG_LINES_IN_ERROR = 5


def describe_failure(exc: BaseException) -> str:
    """Describe why a run failed: the exception type, its message and the job's last log lines.

    labelnoise's exceptions never contain an API key, so the text is safe
    to store in the run row and to log.
    """
    description = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, JobFailedError) and exc.log_tail:
        tail = " | ".join(exc.log_tail[-JOB_LOG_LINES_IN_ERROR:])
        description += f"; last job log lines: {tail}"
    return description


def artifact_key(project_id: int) -> str:
    """Return the key of a project's report artifact, one per project to keep its history."""
    return f"labelnoise-project-{project_id}"


def render_report(outcome: RunOutcome, summary: DiffSummary | None) -> str:
    """Render the markdown of a run's report artifact: the summary line, then the diff."""
    if summary is not None:
        return f"{outcome.summary_line()}.\n\n{render_markdown(summary)}"
    title = f"# Label noise of {outcome.project_label}, run {outcome.run_id}"
    return f"{title}\n\n{outcome.summary_line()}.\n"


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(outcome: RunOutcome, summary: DiffSummary | None) -> None:
    """Publish the run's markdown artifact, and emit the regression event when there is one."""
    logger = get_run_logger()
    create_markdown_artifact(
        markdown=render_report(outcome, summary),
        key=artifact_key(outcome.project_id),
        description=outcome.summary_line(),
    )

    if summary is None or summary.verdict != "regression":
        return
    emit_event(
        event=REGRESSION_EVENT,
        resource={
            "prefect.resource.id": f"labelnoise.project.{outcome.project_id}",
            "prefect.resource.name": outcome.project_name or str(outcome.project_id),
        },
        related=[
            {
                "prefect.resource.id": f"labelnoise.run.{outcome.run_id}",
                "prefect.resource.role": "labelnoise-run",
            }
        ],
        payload={
            "project_id": outcome.project_id,
            "run_id": outcome.run_id,
            "base_run_id": summary.base_run_id,
            "diff_id": summary.diff_id,
            "new_flags": outcome.new_flags,
            "cleared_flags": outcome.cleared_flags,
            "reasons": list(summary.reasons),
        },
    )
    logger.warning(
        "Label quality of %s regressed in run %d against run %d: %d new flags, %d cleared. "
        "The %r artifact lists the reasons",
        outcome.project_label,
        outcome.run_id,
        summary.base_run_id,
        outcome.new_flags,
        outcome.cleared_flags,
        artifact_key(outcome.project_id),
    )
