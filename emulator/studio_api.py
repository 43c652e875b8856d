"""Routes of the emulated Studio API, mounted under `/v1`.

The `edgeimpulse-api` bindings raise a distinct exception for 401, 403 and
404, and the emulator uses the statuses like this: 400 for an invalid
parameter or body, 401 for a missing or unknown `x-api-key`, 403 for a key
of another project (and for a refused trigger in `forbidden` mode), 404 for
an unknown project, job or sample. Every error body is
`{"success": false, "error": "..."}`.

Before any successful job, the label-noise endpoint responds with HTTP 200
and `success: false`, and `.../exists` with `hasFeatures: false`. Studio
does not document this case. The bindings declare only HTTP 200 for the
endpoint, so clients must already treat `success: false` as a failure,
which makes it the safer reading.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator.dataset import CATEGORIES, SampleRecord
from emulator.jobs import LOG_LEVELS, Job
from emulator.payloads import (
    JsonObject,
    payload_json,
    project_info_json,
    project_json,
)
from emulator.results import label_noise_data
from emulator.state import EmulatorState, ProjectState

REPRESENTATIONS = ("keywords", "images", "current-impulse", "current-impulse-embeddings")
FILTER_CATEGORIES = (*CATEGORIES, "all")
INCLUDE_DISABLED = ("both", "enabled", "disabled")


class StudioError(Exception):
    """An error response: HTTP status and the `error` text of the body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def studio_error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": message}, status_code=status)


def authorize(state: EmulatorState, request: Request, project_id: int) -> ProjectState:
    """Return the project if the request's API key may use it, else raise StudioError."""
    api_key = request.headers.get("x-api-key")
    if not api_key:
        raise StudioError(401, "Missing API key; send the project's API key in x-api-key")
    key_project = state.project_for_key(api_key)
    if key_project is None:
        raise StudioError(401, "Invalid API key; check the project's API key in Studio")
    project = state.projects.get(project_id)
    if project is None:
        raise StudioError(404, f"Project {project_id} not found")
    if project is not key_project:
        raise StudioError(403, f"This API key has no access to project {project_id}")
    return project


def _authenticated_project(state: EmulatorState, request: Request) -> ProjectState:
    api_key = request.headers.get("x-api-key")
    project = state.project_for_key(api_key) if api_key else None
    if project is None:
        message = "Invalid API key" if api_key else "Missing API key"
        raise StudioError(401, f"{message}; send the project's API key in x-api-key")
    return project


def _parse_int(request: Request, name: str, *, minimum: int = 0) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise StudioError(400, f"Invalid {name} {raw!r}; expected an integer") from None
    if value < minimum:
        raise StudioError(400, f"Invalid {name} {value}; expected at least {minimum}")
    return value


def _parse_bool(request: Request, name: str) -> bool:
    # The official bindings send booleans as "True"/"False", so compare without case.
    raw = request.query_params.get(name)
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise StudioError(400, f"Invalid {name} {raw!r}; expected true or false")


def _sample_filter(request: Request) -> Callable[[SampleRecord], bool]:
    """Build the sample predicate from listSamples' query filters."""
    category = request.query_params.get("category")
    if category is None:
        raise StudioError(400, "Missing category; expected one of " + ", ".join(FILTER_CATEGORIES))
    if category not in FILTER_CATEGORIES:
        raise StudioError(
            400,
            f"Invalid category {category!r}; expected one of {', '.join(FILTER_CATEGORIES)}",
        )
    labels: set[str] | None = None
    raw_labels = request.query_params.get("labels")
    if raw_labels:
        try:
            parsed = json.loads(raw_labels)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            raise StudioError(
                400, f"Invalid labels {raw_labels!r}; expected a JSON array of label names"
            )
        labels = set(parsed)
    filename = request.query_params.get("filename")
    include_disabled = request.query_params.get("includeDisabled", "both")
    if include_disabled not in INCLUDE_DISABLED:
        raise StudioError(
            400,
            f"Invalid includeDisabled {include_disabled!r}; expected one of "
            f"{', '.join(INCLUDE_DISABLED)}",
        )
    min_id = _parse_int(request, "minId")
    max_id = _parse_int(request, "maxId")

    def keep(sample: SampleRecord) -> bool:
        if category != "all" and sample.category != category:
            return False
        if labels is not None and sample.label not in labels:
            return False
        if filename and filename not in sample.filename:
            return False
        if include_disabled == "enabled" and sample.is_disabled:
            return False
        if include_disabled == "disabled" and not sample.is_disabled:
            return False
        if min_id is not None and sample.id < min_id:
            return False
        return max_id is None or sample.id < max_id

    return keep


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise StudioError(400, "Invalid request body; expected a JSON object") from None
    if not isinstance(body, dict):
        raise StudioError(400, "Invalid request body; expected a JSON object")
    return body


def build_studio_router(state: EmulatorState) -> APIRouter:
    """Create the `/v1` routes bound to `state`."""
    router = APIRouter()

    @router.get("/api/projects")
    def list_projects(request: Request) -> JsonObject:
        project = _authenticated_project(state, request)
        return {"success": True, "projects": [_project_json(project)]}

    @router.get("/api/projects/api-key-info")
    def get_current_api_key_info(request: Request) -> JsonObject:
        project = _authenticated_project(state, request)
        return {"success": True, "apiKeyId": project.id, "projectId": project.id, "role": "admin"}

    @router.get("/api/{project_id}")
    def get_project_info(project_id: int, request: Request) -> JsonObject:
        project = authorize(state, request, project_id)
        with state.lock:
            body = project_info_json(_project_json(project), project.samples, project.created)
            if _parse_bool(request, "truncateLabels"):
                # Studio's cut-off is not documented; the emulator keeps the first
                # 10 labels, and totalLabels still counts them all.
                body["dataSummary"]["labels"] = body["dataSummary"]["labels"][:10]
        return body

    @router.post("/api/{project_id}/jobs/data-quality-metrics", response_model=None)
    async def calculate_data_quality_metrics(
        project_id: int,
        request: Request,
    ) -> JsonObject | JSONResponse:
        project = authorize(state, request, project_id)
        body = await _json_body(request)
        representation = body.get("representation")
        if representation is not None and representation not in REPRESENTATIONS:
            raise StudioError(
                400,
                f"Invalid representation {representation!r}; expected one of "
                f"{', '.join(REPRESENTATIONS)}",
            )
        refusal = project.refuse_trigger
        message = "Only available for EI staff: this API key may not calculate data quality metrics"
        if refusal == "forbidden":
            return studio_error_response(403, message)
        if refusal == "success-false":
            return {"success": False, "error": message}
        job = state.start_job(project.id, representation)
        return {"success": True, "id": job.id}

    @router.get("/api/{project_id}/jobs")
    def list_active_jobs(project_id: int, request: Request) -> JsonObject:
        project = authorize(state, request, project_id)
        with state.lock:
            active = [job.to_json() for job in state.jobs(project.id) if not job.is_finished]
        return {"success": True, "jobs": active, "totalJobCount": len(active)}

    @router.get("/api/{project_id}/jobs/{job_id}/status")
    def get_job_status(project_id: int, job_id: int, request: Request) -> JsonObject:
        job = _job(state, request, project_id, job_id)
        with state.lock:
            return {"success": True, "job": job.to_json()}

    @router.get("/api/{project_id}/jobs/{job_id}/stdout")
    def get_jobs_logs(project_id: int, job_id: int, request: Request) -> JsonObject:
        job = _job(state, request, project_id, job_id)
        limit = _parse_int(request, "limit")
        level = request.query_params.get("logLevel")
        if level is not None and level not in LOG_LEVELS:
            raise StudioError(
                400, f"Invalid logLevel {level!r}; expected one of {', '.join(LOG_LEVELS)}"
            )
        with state.lock:
            return job.log_json(limit, level)

    @router.post("/api/{project_id}/jobs/{job_id}/cancel")
    def cancel_job(project_id: int, job_id: int, request: Request) -> JsonObject:
        job = _job(state, request, project_id, job_id)
        state.cancel_job(job)
        return {"success": True}

    @router.get("/api/{project_id}/raw-data/data-quality/label-noise", response_model=None)
    def get_label_noise_data(project_id: int, request: Request) -> JSONResponse:
        project = authorize(state, request, project_id)
        with state.lock:
            stored = project.latest
            if stored is None:
                return JSONResponse(
                    {
                        "success": False,
                        "error": "No label noise data for this project yet; start a data "
                        "quality metrics job and wait for it to finish",
                    }
                )
            lookup = _sample_lookup(project) if project.include_samples else None
            data = label_noise_data(stored, lookup)
        # A JSONResponse skips FastAPI's response encoding, which is slow for large results.
        return JSONResponse({"success": True, "data": data})

    @router.get("/api/{project_id}/raw-data/data-quality/label-noise/exists")
    def has_label_noise_data(project_id: int, request: Request) -> JsonObject:
        project = authorize(state, request, project_id)
        with state.lock:
            return {"success": True, "hasFeatures": project.latest is not None}

    @router.get("/api/{project_id}/raw-data")
    def list_samples(project_id: int, request: Request) -> JsonObject:
        project = authorize(state, request, project_id)
        keep = _sample_filter(request)
        limit = _parse_int(request, "limit")
        offset = _parse_int(request, "offset") or 0
        include_sensors = not _parse_bool(request, "excludeSensors")
        with state.lock:
            # Studio's default order is newest first (sortBy=id-desc).
            matching = sorted(
                (sample for sample in project.samples if keep(sample)),
                key=lambda sample: sample.id,
                reverse=True,
            )
            page = matching[offset:] if limit is None else matching[offset : offset + limit]
            samples = [project.sample_json(s, include_sensors=include_sensors) for s in page]
        return {"success": True, "samples": samples, "totalCount": len(matching)}

    @router.get("/api/{project_id}/raw-data/count")
    def count_samples(project_id: int, request: Request) -> JsonObject:
        project = authorize(state, request, project_id)
        keep = _sample_filter(request)
        with state.lock:
            count = sum(1 for sample in project.samples if keep(sample))
        return {"success": True, "count": count}

    @router.get("/api/{project_id}/raw-data/{sample_id}")
    def get_sample(project_id: int, sample_id: int, request: Request) -> JsonObject:
        project = authorize(state, request, project_id)
        limit = _parse_int(request, "limitPayloadValues")
        with state.lock:
            sample = _sample(project, sample_id)
            payload = payload_json(sample, limit)
            return {
                "success": True,
                "sample": project.sample_json(sample),
                "payload": payload,
                "totalPayloadLength": sample.values_count,
                "datastreamPayloads": [
                    {"index": 0, "payload": payload, "totalPayloadLength": sample.values_count}
                ],
            }

    @router.post("/api/{project_id}/raw-data/{sample_id}/edit-label")
    async def edit_label(project_id: int, sample_id: int, request: Request) -> JsonObject:
        project = authorize(state, request, project_id)
        body = await _json_body(request)
        label = body.get("label")
        if not isinstance(label, str) or not label.strip():
            raise StudioError(400, 'Missing label; send {"label": "<new label>"}')
        with state.lock:
            _sample(project, sample_id)
            state.edit_label(project.id, sample_id, label.strip())
        return {"success": True}

    return router


def _project_json(project: ProjectState) -> JsonObject:
    return project_json(project.id, project.spec.name, project.spec.owner, project.created)


def _job(state: EmulatorState, request: Request, project_id: int, job_id: int) -> Job:
    authorize(state, request, project_id)
    job = state.job(project_id, job_id)
    if job is None:
        raise StudioError(404, f"Job {job_id} not found in project {project_id}")
    return job


def _sample(project: ProjectState, sample_id: int) -> SampleRecord:
    sample = project.samples_by_id.get(sample_id)
    if sample is None:
        raise StudioError(404, f"Sample {sample_id} not found in project {project.id}")
    return sample


def _sample_lookup(project: ProjectState) -> Callable[[int], JsonObject | None]:
    cache: dict[int, JsonObject] = {}

    def lookup(sample_id: int) -> JsonObject | None:
        if sample_id not in cache:
            sample = project.samples_by_id.get(sample_id)
            if sample is None:
                return None
            cache[sample_id] = project.sample_json(sample)
        return cache[sample_id]

    return lookup
