"""Data-quality jobs: their lifecycle, log and the thread that runs them.

A job is created when the trigger call arrives, moves to started when its
thread picks it up (at once, unless jobs are paused), and ends finished
with `finishedSuccessful` true or false. A cancelled job ends finished and
unsuccessful; a job that hangs stays started until it is cancelled or the
emulator is reset.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from emulator.payloads import (
    DATA_QUALITY_CATEGORY,
    DATA_QUALITY_CATEGORY_KEY,
    JsonObject,
    isoformat,
)

logger = logging.getLogger(__name__)

LogLevel = Literal["error", "warn", "info", "debug"]
LOG_LEVELS: tuple[LogLevel, ...] = ("error", "warn", "info", "debug")
# Studio returns at most the last 1000 log lines of a job.
MAX_LOG_LINES = 1000


@dataclass(frozen=True)
class JobLogLine:
    created: datetime
    level: LogLevel
    text: str


@dataclass
class Job:
    """One data-quality job; guarded by the owning state's lock."""

    id: int
    project_id: int
    created: datetime
    representation: str | None
    started: datetime | None = None
    finished: datetime | None = None
    finished_successful: bool | None = None
    log: list[JobLogLine] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def is_finished(self) -> bool:
        return self.finished is not None

    def to_json(self) -> JsonObject:
        """Build Studio's `Job` object; unset optional keys are left out."""
        body: JsonObject = {
            "id": self.id,
            "category": DATA_QUALITY_CATEGORY,
            "categoryKey": DATA_QUALITY_CATEGORY_KEY,
            "key": f"data-quality-{self.project_id}",
            "created": isoformat(self.created),
            "jobNotificationUids": [],
        }
        if self.started is not None:
            body["started"] = isoformat(self.started)
        if self.finished is not None:
            body["finished"] = isoformat(self.finished)
            if self.finished_successful is not None:
                body["finishedSuccessful"] = self.finished_successful
            if self.started is not None:
                body["computeTime"] = (self.finished - self.started).total_seconds()
        if self.representation is not None:
            body["metadata"] = {"representation": self.representation}
        return body

    def log_json(self, limit: int | None, level: str | None) -> JsonObject:
        """Build `LogStdoutResponse` from the last `limit` lines at `level` or more severe."""
        lines = self.log
        if level is not None:
            allowed = set(LOG_LEVELS[: LOG_LEVELS.index(level) + 1])
            lines = [line for line in lines if line.level in allowed]
        total = len(lines)
        cap = MAX_LOG_LINES if limit is None else min(limit, MAX_LOG_LINES)
        tail = lines[-cap:] if cap > 0 else []
        return {
            "success": True,
            "stdout": [
                {"created": isoformat(line.created), "data": line.text, "logLevel": line.level}
                for line in tail
            ],
            "totalCount": total,
        }


JobWork = Callable[[Job, Callable[[str], None]], bool]


def start_job_thread(
    job: Job,
    *,
    wait_until_released: Callable[[Job], bool],
    mark_started: Callable[[Job], None],
    work: JobWork,
    finish: Callable[[Job, bool], None],
    append_log: Callable[[Job, LogLevel, str], None],
) -> threading.Thread:
    """Run `work` for `job` on a daemon thread and record how it ended.

    `wait_until_released` blocks while jobs are paused and returns False when
    the job was cancelled meanwhile. `work` returns whether the job succeeded.
    """

    def run() -> None:
        try:
            if not wait_until_released(job):
                return
            mark_started(job)
            succeeded = work(job, lambda text: append_log(job, "info", text))
        except Exception as exc:
            # Keep the thread's failure visible in the job log, as Studio does.
            logger.exception("Data-quality job %d failed with an internal error", job.id)
            append_log(job, "error", f"Internal error: {exc}")
            finish(job, False)
            return
        finish(job, succeeded)

    thread = threading.Thread(target=run, name=f"emulator-job-{job.id}", daemon=True)
    thread.start()
    return thread
