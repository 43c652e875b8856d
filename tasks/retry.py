"""The rule for retrying a failed task, and the settings that size the retries.

The Studio client already retries each request that may be retried: after
a timeout, a connection error, or HTTP 429, 502, 503 or 504. Every other
Studio error (HTTP 500, a 4xx, `success: false`) would fail again. So a
task retry covers only what nothing else retries, a lost database
connection, and only tasks that are safe to run twice use it.
"""

from __future__ import annotations

from typing import Any, ParamSpec, TypeVar

import psycopg
from prefect import Task
from sqlalchemy.exc import DBAPIError, OperationalError

from labelnoise.settings import DEFAULT_TASK_RETRY_DELAYS, get_settings

P = ParamSpec("P")
R = TypeVar("R")

# Seconds before each retry of a task called on its own. `with_retry_settings`
# replaces them with the `task_retries` and `task_retry_delays` settings.
RETRY_DELAYS = list(DEFAULT_TASK_RETRY_DELAYS)


def is_transient(exc: BaseException) -> bool:
    """Tell whether `exc`, or an exception it was raised from, is a lost database connection."""
    seen: BaseException | None = exc
    while seen is not None:
        if _is_lost_connection(seen):
            return True
        seen = seen.__cause__
    return False


def _is_lost_connection(exc: BaseException) -> bool:
    # SQLAlchemy marks an error that closed the connection mid-query. A
    # failure before the server responded (refused, reset) carries no SQLSTATE,
    # while a rejected password or a missing database carries one.
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        return getattr(exc.orig, "sqlstate", None) is None
    if isinstance(exc, psycopg.OperationalError):
        return exc.sqlstate is None
    return False


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry a failed task only after a transient error."""
    return isinstance(state.data, BaseException) and is_transient(state.data)


def with_retry_settings(task: Task[P, R]) -> Task[P, R]:
    """Return `task` with the retry count and delays of the `task_retries*` settings."""
    settings = get_settings()
    return task.with_options(
        retries=settings.task_retries, retry_delay_seconds=list(settings.task_retry_delays)
    )
