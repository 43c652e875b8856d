"""Control API under `/_emulator`, which Studio does not have.

It needs no API key and is meant for tests and for a person driving the
emulator by hand (for example with curl):

| method and path | effect |
| --- | --- |
| `GET /_emulator/faults` | list active faults with their remaining counts |
| `POST /_emulator/faults` | add a fault; body is a fault spec (see `emulator.faults`) |
| `DELETE /_emulator/faults` | remove every fault |
| `DELETE /_emulator/faults/{faultId}` | remove one fault |
| `PUT /_emulator/projects/{projectId}/refuse-trigger` | body `{"mode": M}`, M one of |
| | `"forbidden"`, `"success-false"` or `null` (accept the trigger) |
| `PUT /_emulator/projects/{projectId}/include-samples` | body `{"include": true}` or false |
| `POST /_emulator/jobs/pause` | hold new jobs in the created state |
| `POST /_emulator/jobs/resume` | release held jobs |
| `GET /_emulator/requests` | Studio requests so far, logged on arrival: method, operation, |
| | project and status (`null` until the response starts) |
| `POST /_emulator/reset` | pristine labels, no jobs, results or faults |

A `latency` fault delays the response after the handler has run, so a
timed-out trigger call still creates its job. A fault spec with
`"latencyPhase": "before"` delays the request before its body is read and
the handler runs. `emulator.faults` describes every field of a fault spec.

A request with an invalid body gets HTTP 422 with FastAPI's validation
details; an unknown project or fault gets 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from emulator.faults import FaultSpec
from emulator.state import EmulatorState, RefuseTrigger


class RefuseTriggerBody(BaseModel):
    mode: RefuseTrigger | None


class IncludeSamplesBody(BaseModel):
    include: bool


def build_control_router(state: EmulatorState) -> APIRouter:
    """Create the `/_emulator` routes bound to `state`."""
    router = APIRouter()

    def require_project(project_id: int) -> None:
        if project_id not in state.projects:
            raise HTTPException(404, f"No emulated project has id {project_id}")

    @router.get("/faults")
    def list_faults() -> dict[str, Any]:
        return {"faults": [fault.to_json() for fault in state.faults.list()]}

    @router.post("/faults", status_code=201)
    def add_fault(spec: FaultSpec) -> dict[str, Any]:
        return state.faults.add(spec).to_json()

    @router.delete("/faults")
    def clear_faults() -> dict[str, Any]:
        state.clear_faults()
        return {"faults": []}

    @router.delete("/faults/{fault_id}")
    def remove_fault(fault_id: int) -> dict[str, Any]:
        if not state.faults.remove(fault_id):
            raise HTTPException(404, f"No active fault has id {fault_id}")
        return {"removed": fault_id}

    @router.put("/projects/{project_id}/refuse-trigger")
    def set_refuse_trigger(project_id: int, body: RefuseTriggerBody) -> dict[str, Any]:
        require_project(project_id)
        state.set_refuse_trigger(project_id, body.mode)
        return {"projectId": project_id, "mode": body.mode}

    @router.put("/projects/{project_id}/include-samples")
    def set_include_samples(project_id: int, body: IncludeSamplesBody) -> dict[str, Any]:
        require_project(project_id)
        state.set_include_samples(project_id, body.include)
        return {"projectId": project_id, "include": body.include}

    @router.post("/jobs/pause")
    def pause_jobs() -> dict[str, Any]:
        state.pause_jobs()
        return {"paused": True}

    @router.post("/jobs/resume")
    def resume_jobs() -> dict[str, Any]:
        state.resume_jobs()
        return {"paused": False}

    @router.get("/requests")
    def list_requests() -> dict[str, Any]:
        # Copy under the lock, because the server fills in each status later.
        with state.lock:
            requests = [
                {
                    "method": record.method,
                    "operation": record.operation,
                    "projectId": record.project_id,
                    "status": record.status,
                }
                for record in state.requests
            ]
        return {"requests": requests}

    @router.post("/reset")
    def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return router
