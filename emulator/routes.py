"""The Studio operations that the emulator serves, by operation id.

Operation ids and path templates are those of the `edgeimpulse-api` 1.96.3
bindings. Faults and the request log name endpoints with these ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

API_PREFIX = "/v1"


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str  # path below /v1, e.g. "/api/{projectId}"
    pattern: re.Pattern[str]


def _operation(operation_id: str, method: str, template: str) -> Operation:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Operation(operation_id, method, template, re.compile(f"^{regex}$"))


# Order matters: literal paths come before templates that would also match them.
OPERATIONS = (
    _operation("listProjects", "GET", "/api/projects"),
    _operation("getCurrentApiKeyInfo", "GET", "/api/projects/api-key-info"),
    _operation("getProjectInfo", "GET", "/api/{projectId}"),
    _operation("calculateDataQualityMetrics", "POST", "/api/{projectId}/jobs/data-quality-metrics"),
    _operation("listActiveJobs", "GET", "/api/{projectId}/jobs"),
    _operation("getJobStatus", "GET", "/api/{projectId}/jobs/{jobId}/status"),
    _operation("getJobsLogs", "GET", "/api/{projectId}/jobs/{jobId}/stdout"),
    _operation("cancelJob", "POST", "/api/{projectId}/jobs/{jobId}/cancel"),
    _operation("getLabelNoiseData", "GET", "/api/{projectId}/raw-data/data-quality/label-noise"),
    _operation(
        "hasLabelNoiseData", "GET", "/api/{projectId}/raw-data/data-quality/label-noise/exists"
    ),
    _operation("listSamples", "GET", "/api/{projectId}/raw-data"),
    _operation("countSamples", "GET", "/api/{projectId}/raw-data/count"),
    _operation("getSample", "GET", "/api/{projectId}/raw-data/{sampleId}"),
    _operation("editLabel", "POST", "/api/{projectId}/raw-data/{sampleId}/edit-label"),
)
OPERATIONS_BY_ID = {operation.operation_id: operation for operation in OPERATIONS}


@dataclass(frozen=True)
class MatchedOperation:
    operation: Operation
    project_id: int | None


def match_operation(method: str, path: str) -> MatchedOperation | None:
    """Find the Studio operation of a request path (with the /v1 prefix), if any."""
    if not path.startswith(API_PREFIX + "/"):
        return None
    relative = path[len(API_PREFIX) :].rstrip("/") or "/"
    for operation in OPERATIONS:
        if operation.method != method:
            continue
        found = operation.pattern.match(relative)
        if found is None:
            continue
        project = found.groupdict().get("projectId")
        project_id = int(project) if project is not None and project.isdigit() else None
        return MatchedOperation(operation, project_id)
    return None


def normalize_endpoint(endpoint: str) -> str:
    """Turn an operation id or "METHOD /path/template" into an operation id.

    Raises ValueError for an endpoint the emulator does not serve.
    """
    text = endpoint.strip()
    if text in OPERATIONS_BY_ID:
        return text
    method, _, template = text.partition(" ")
    template = template.strip()
    if template.startswith(API_PREFIX + "/"):
        template = template[len(API_PREFIX) :]
    for operation in OPERATIONS:
        if operation.method == method.upper() and operation.template == template:
            return operation.operation_id
    known = ", ".join(OPERATIONS_BY_ID)
    raise ValueError(
        f"Unknown endpoint {endpoint!r}; expected an operation id ({known}) "
        "or a method and path template such as 'GET /api/{projectId}'"
    )
