"""Every error labelnoise raises on purpose.

    LabelnoiseError
    ├── ConfigurationError (ValueError)         bad settings or projects file
    ├── StudioError                             a Studio call failed
    │   ├── StudioAuthenticationError (PermissionError)   HTTP 401 or 403
    │   ├── StudioNotFoundError (LookupError)             HTTP 404
    │   ├── StudioRateLimitedError                        HTTP 429 after all retries
    │   ├── StudioServerError                             HTTP 5xx after all retries
    │   ├── StudioTransportError (ConnectionError)        timeout or connection failure, retried
    │   ├── StudioApiError                                `success: false`, or another 4xx
    │   ├── InvalidPayloadError (ValueError)              a body that is not the documented shape
    │   ├── JobFailedError                                the job finished unsuccessfully
    │   └── JobTimeoutError (TimeoutError)                the job did not finish before the deadline
    ├── WarehouseError                          the database side failed
    │   ├── DatabaseStartError                  the embedded PostgreSQL did not start
    │   ├── RunNotFoundError (LookupError)      no run with that id
    │   ├── LoadError                           a run could not be loaded
    │   └── DiffError (ValueError)              two runs cannot be compared
    └── ProjectRunsFailedError                  projects of a nightly run failed

Studio errors carry the project id, job id, HTTP method, endpoint and
status code as attributes and in their message. The endpoint is a path
template, or a URL after `labelnoise.redaction.redact_url` has removed its
password and query string. API keys travel only in headers, and the Studio
client masks a key that Studio echoes in its error text.
"""

from __future__ import annotations


class LabelnoiseError(Exception):
    """Base class of the errors labelnoise raises on purpose."""


class ConfigurationError(LabelnoiseError, ValueError):
    """Settings or the projects file are invalid."""


class StudioError(LabelnoiseError):
    """A call to the Studio API failed."""

    def __init__(
        self,
        message: str,
        *,
        project_id: int | None = None,
        job_id: int | None = None,
        method: str | None = None,
        endpoint: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.reason = message
        self.project_id = project_id
        self.job_id = job_id
        self.method = method
        self.endpoint = endpoint
        self.status_code = status_code
        super().__init__(self._format())

    def _format(self) -> str:
        context = []
        if self.project_id is not None:
            context.append(f"project {self.project_id}")
        if self.job_id is not None:
            context.append(f"job {self.job_id}")
        if self.endpoint is not None:
            context.append(f"{self.method or 'GET'} {self.endpoint}")
        if self.status_code is not None:
            context.append(f"HTTP {self.status_code}")
        if not context:
            return self.reason
        return f"{self.reason} ({', '.join(context)})"


class StudioAuthenticationError(StudioError, PermissionError):
    """Studio rejected the API key (HTTP 401) or its access to the project (HTTP 403)."""


class StudioNotFoundError(StudioError, LookupError):
    """The project, job or sample does not exist (HTTP 404)."""


class StudioRateLimitedError(StudioError):
    """Studio kept responding with HTTP 429 after every retry.

    `retry_after` is the wait in seconds that the last response requested,
    or `None` when it sent no valid `Retry-After` header.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, **context: object
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, **context)  # type: ignore[arg-type]


class StudioServerError(StudioError):
    """Studio kept responding with HTTP 5xx after every retry, or sent a 5xx that is not retried."""


class StudioTransportError(StudioError, ConnectionError):
    """The request timed out or could not connect, after every retry."""


class StudioApiError(StudioError):
    """Studio responded with `success: false`, or with a 4xx status that has no class of its own."""


class InvalidPayloadError(StudioError, ValueError):
    """A response body is not JSON, or does not match the documented schema."""


class JobFailedError(StudioError):
    """The data-quality job finished without success; `log_tail` contains its last log lines."""

    def __init__(
        self, message: str, *, log_tail: list[str] | None = None, **context: object
    ) -> None:
        self.log_tail = log_tail or []
        super().__init__(message, **context)  # type: ignore[arg-type]


class JobTimeoutError(StudioError, TimeoutError):
    """The data-quality job did not finish before the deadline."""


class WarehouseError(LabelnoiseError):
    """The warehouse could not be reached, migrated or written."""


class DatabaseStartError(WarehouseError):
    """The embedded PostgreSQL server did not start."""


class RunNotFoundError(WarehouseError, LookupError):
    """No run has the requested id."""


class LoadError(WarehouseError):
    """A run's results could not be loaded; the run is marked failed and nothing was written."""


class DiffError(WarehouseError, ValueError):
    """Two runs cannot be compared: one is not loaded, the projects differ, or the ids are equal."""


class ProjectRunsFailedError(LabelnoiseError):
    """One or more projects of a nightly run failed; the message names each one and why."""
