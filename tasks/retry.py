"""The rule for retrying a failed task.

The Studio client already retries each HTTP request that may be retried.
A task retry covers a step that still failed on a transient error after
those retries, and only tasks that are safe to run twice use it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import OperationalError

from labelnoise.exceptions import (
    StudioRateLimitedError,
    StudioServerError,
    StudioTransportError,
)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    StudioTransportError,
    StudioServerError,
    StudioRateLimitedError,
    OperationalError,
)
# Seconds before the first and second task retry.
RETRY_DELAYS = [30.0, 120.0]


def is_transient(exc: BaseException) -> bool:
    """Tell whether `exc`, or an exception it was raised from, is transient."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TRANSIENT_ERRORS):
            return True
        seen = seen.__cause__
    return False


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry a failed task only after a transient error."""
    return isinstance(state.data, BaseException) and is_transient(state.data)
