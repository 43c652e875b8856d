"""Wait for a Studio job: poll its status with backoff until it ends or a deadline passes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from labelnoise.exceptions import (
    JobFailedError,
    JobTimeoutError,
    StudioError,
    StudioRateLimitedError,
)
from models.studio import Job, JobLogItem
from studio.retry import Jitter

logger = logging.getLogger(__name__)

# A failed job's message quotes this many of its log lines, each cut to
# MAX_QUOTED_LINE_CHARS characters, so the message stays readable.
MAX_QUOTED_LINES = 3
MAX_QUOTED_LINE_CHARS = 200


@dataclass(frozen=True)
class PollSchedule:
    """Seconds between status polls: doubling from `initial` up to `maximum`.

    `retry_after_max` caps how long a 429's `Retry-After` may stretch one wait.
    """

    initial: float
    maximum: float
    retry_after_max: float
    jitter: Jitter


@dataclass(frozen=True)
class JobEndpoints:
    """The client calls that waiting needs, passed in so this module stays free of HTTP."""

    fetch_status: Callable[[int], Job]  # raises StudioRateLimitedError on the first 429
    fetch_log: Callable[[int], list[JobLogItem]]
    status_endpoint: Callable[[int], str]  # redacted URL of the status call, for errors


def wait_for_job(
    job_id: int,
    *,
    project_id: int,
    endpoints: JobEndpoints,
    schedule: PollSchedule,
    deadline_seconds: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Job:
    """Poll job `job_id` until it finishes, and return it when it succeeded.

    Raises `JobFailedError` with the job's last log lines when it finished
    with `finishedSuccessful` false or missing, and `JobTimeoutError` when it
    has not finished `deadline_seconds` after the first poll. A 429 is not a
    failure: it doubles the poll interval, and the next poll waits at least
    as long as `Retry-After` requests. Other Studio errors propagate after the
    requester's own retries.
    """
    deadline = clock() + deadline_seconds
    interval = schedule.initial
    polls = 0
    logger.info("Waiting for Studio job %d of project %d", job_id, project_id)

    while True:
        polls += 1
        try:
            job = endpoints.fetch_status(job_id)
        except StudioRateLimitedError as exc:
            interval = min(interval * 2, schedule.maximum)
            delay = schedule.jitter(interval)
            if exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, schedule.retry_after_max))
            logger.warning(
                "Studio rate-limited polling of job %d of project %d, next poll in %.1f s",
                job_id,
                project_id,
                delay,
            )
        else:
            if job.is_finished:
                return _finished_job(job, project_id, endpoints, polls)
            delay = schedule.jitter(interval)
            interval = min(interval * 2, schedule.maximum)
            logger.debug("Studio job %d of project %d is %s", job_id, project_id, job.state)

        remaining = deadline - clock()
        if remaining <= 0:
            raise JobTimeoutError(
                f"Job {job_id} did not finish within {deadline_seconds:g} s "
                f"({polls} status polls). It may still be running in Studio. Run the "
                "project again within LABELNOISE_RESUME_WINDOW seconds of the job's start "
                "to resume waiting for this job instead of starting another, with a higher "
                "LABELNOISE_JOB_DEADLINE if the job needs longer.",
                project_id=project_id,
                job_id=job_id,
                endpoint=endpoints.status_endpoint(job_id),
            )
        sleep(min(delay, remaining))


def _finished_job(job: Job, project_id: int, endpoints: JobEndpoints, polls: int) -> Job:
    """Return a successful job, or raise `JobFailedError` with its log tail."""
    if job.succeeded:
        logger.info(
            "Studio job %d of project %d succeeded after %d status polls",
            job.id,
            project_id,
            polls,
        )
        return job

    if job.finished_successful is False:
        outcome = "finished unsuccessfully (finishedSuccessful is false)"
    else:
        outcome = "finished without a finishedSuccessful value, which counts as a failure"
    try:
        log = endpoints.fetch_log(job.id)
    except StudioError as exc:
        # The failure matters more than its log, so report it without one.
        logger.warning(
            "Could not read the log of failed job %d of project %d: %s", job.id, project_id, exc
        )
        log = []

    raise JobFailedError(
        f"Job {job.id} {outcome}.{_quote_log(log)} See the job's log in Studio for details.",
        log_tail=[line.data for line in log],
        project_id=project_id,
        job_id=job.id,
        endpoint=endpoints.status_endpoint(job.id),
    )


def _quote_log(log: list[JobLogItem]) -> str:
    """Quote the log lines most likely to name the cause of a failure, for its message.

    These are the last error lines, or without any the last warnings, or
    without either the last lines of any level (Studio may leave out
    `logLevel`).
    """
    if not log:
        return " Its log is empty."
    errors = [line.data for line in log if line.log_level == "error"]
    warnings = [line.data for line in log if line.log_level == "warn"]
    if errors:
        heading, quoted = "Last errors in its log", errors
    elif warnings:
        heading, quoted = "Last warnings in its log", warnings
    else:
        heading, quoted = "Last lines of its log", [line.data for line in log]
    shown = " | ".join(repr(_shorten(text)) for text in quoted[-MAX_QUOTED_LINES:])
    return f" {heading}: {shown}."


def _shorten(text: str) -> str:
    if len(text) <= MAX_QUOTED_LINE_CHARS:
        return text
    return text[: MAX_QUOTED_LINE_CHARS - 1] + "…"
