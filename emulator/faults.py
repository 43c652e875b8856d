"""Fault injection rules for the emulator.

A fault is one misbehaviour that the emulator adds to matching requests
until its count runs out:

| kind | effect |
| --- | --- |
| `rate-limit` | HTTP 429 with `Retry-After` (seconds) |
| `server-error` | HTTP 500, 502 or 503 (`status`, default 503); 503 carries `Retry-After` |
| `latency` | waits `latencySeconds`, then responds normally (see `latencyPhase`) |
| `truncate` | cuts the response body after `keepFraction` of its bytes |
| `success-false` | HTTP 200 with `{"success": false, "error": message}` |
| `job-failure` | the next data-quality job finishes unsuccessfully, with `message` in its log |
| `job-hang` | the next data-quality job starts and never finishes until cancelled |

`endpoint` limits a fault to one endpoint. It is an operation id of the
Studio API (`getLabelNoiseData`) or a method and path template
(`GET /api/{projectId}/raw-data/data-quality/label-noise`, with or without
the `/v1` prefix). Without it, a request fault matches every Studio request.
Job faults always apply to the trigger call. `projectId` limits a fault to
one project, and `count` to that many occurrences (unlimited when absent).

A latency fault waits at the point that `latencyPhase` sets. With `after`,
the default, the handler runs first and the response waits, as on a slow
server: a trigger call whose client times out has still created its job.
With `before`, the request waits before its body is read and the handler
runs, as behind a slow gateway. Combined with another request fault, the
latency delays that fault's response in either phase.

A truncated body comes in two forms. With `truncateMode` `connection-close`
the response announces the full `Content-Length`, sends part of the body and
drops the connection, as a broken transfer does. With `invalid-json` the
headers match the shortened body, so the transfer succeeds but the JSON
does not parse.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from emulator.routes import normalize_endpoint

TRIGGER_OPERATION = "calculateDataQualityMetrics"


class FaultKind(StrEnum):
    RATE_LIMIT = "rate-limit"
    SERVER_ERROR = "server-error"
    LATENCY = "latency"
    TRUNCATE = "truncate"
    SUCCESS_FALSE = "success-false"
    JOB_FAILURE = "job-failure"
    JOB_HANG = "job-hang"


JOB_FAULTS = frozenset({FaultKind.JOB_FAILURE, FaultKind.JOB_HANG})
TruncateMode = Literal["connection-close", "invalid-json"]
LatencyPhase = Literal["before", "after"]


class FaultSpec(BaseModel):
    """A fault as the control API and `--fault` receive it (camelCase JSON)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    kind: FaultKind
    endpoint: str | None = None
    project_id: int | None = None
    count: int | None = Field(default=None, ge=1)
    status: Literal[429, 500, 502, 503] | None = Field(
        default=None,
        description="HTTP status: always 429 for rate-limit, 500, 502 or 503 for server-error.",
    )
    retry_after: int = Field(default=1, ge=0, description="Retry-After value in seconds.")
    latency_seconds: float = Field(default=1.0, ge=0, le=600)
    latency_phase: LatencyPhase = "after"
    keep_fraction: float = Field(default=0.5, ge=0, lt=1)
    truncate_mode: TruncateMode = "connection-close"
    message: str | None = None

    @model_validator(mode="after")
    def _check_endpoint(self) -> FaultSpec:
        if self.endpoint is not None:
            self.endpoint = normalize_endpoint(self.endpoint)
        return self

    @model_validator(mode="after")
    def _check_status(self) -> FaultSpec:
        if self.kind is FaultKind.RATE_LIMIT:
            if self.status not in (None, 429):
                raise ValueError(
                    f"A rate-limit fault always responds with HTTP 429, not {self.status}; "
                    "use a server-error fault for 500, 502 or 503"
                )
            self.status = 429
        elif self.kind is FaultKind.SERVER_ERROR:
            if self.status == 429:
                raise ValueError(
                    "A server-error fault responds with HTTP 500, 502 or 503, not 429; "
                    "use a rate-limit fault for 429"
                )
            self.status = self.status or 503
        return self


@dataclass
class Fault:
    """An active fault; `remaining` is None when the count is unlimited."""

    id: int
    spec: FaultSpec
    remaining: int | None
    triggered: int = 0

    def to_json(self) -> dict[str, object]:
        body = self.spec.model_dump(by_alias=True, mode="json")
        body.update({"id": self.id, "remaining": self.remaining, "triggered": self.triggered})
        return body


class FaultRegistry:
    """Thread-safe list of active faults, consumed as requests match them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(self._next_id, spec, spec.count)
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [fault for fault in self._faults if fault.id != fault_id]
            return len(self._faults) < before

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take_request_faults(
        self, operation: str, project_id: int | None
    ) -> tuple[Fault | None, Fault | None]:
        """Consume the first matching latency fault and the first matching response fault."""
        with self._lock:
            latency = self._take(lambda kind: kind is FaultKind.LATENCY, operation, project_id)
            response = self._take(
                lambda kind: kind not in JOB_FAULTS and kind is not FaultKind.LATENCY,
                operation,
                project_id,
            )
            return latency, response

    def take_job_fault(self, project_id: int) -> Fault | None:
        """Consume the first job fault that applies to a new job of `project_id`."""
        with self._lock:
            return self._take(lambda kind: kind in JOB_FAULTS, TRIGGER_OPERATION, project_id)

    def _take(
        self, wanted: Callable[[FaultKind], bool], operation: str, project_id: int | None
    ) -> Fault | None:
        for fault in self._faults:
            spec = fault.spec
            if not wanted(spec.kind):
                continue
            if spec.endpoint is not None and spec.endpoint != operation:
                continue
            if spec.project_id is not None and spec.project_id != project_id:
                continue
            fault.triggered += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
            return fault
        return None
