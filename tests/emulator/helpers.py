"""Helpers for the emulator tests: binding-model checks and job runs."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic.v1 import BaseModel

from emulator.server import EmulatorServer


def unknown_keys(model: type[BaseModel], body: dict[str, Any], path: str = "") -> list[str]:
    """List the keys of `body`, nested ones included, that `model` does not declare."""
    fields = {field.alias: field for field in model.__fields__.values()}
    problems = []
    for key, value in body.items():
        field = fields.get(key)
        if field is None:
            problems.append(path + key)
            continue
        inner = field.type_
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, dict):
                suffix = f"[{index}]." if isinstance(value, list) else "."
                problems += unknown_keys(inner, item, f"{path}{key}{suffix}")
    return problems


def assert_matches_model(model: type[BaseModel], response: httpx.Response) -> Any:
    """Check a response body against an `edgeimpulse_api` model and return the parsed model.

    `from_json` is what the bindings call, but it skips validation, so the
    body is also validated with `parse_obj` (required keys and strict types)
    and searched for keys the model does not declare.
    """
    body = response.json()
    model.parse_obj(body)
    assert unknown_keys(model, body) == []
    return model.from_json(response.text)  # type: ignore[attr-defined]


def studio_client(server: EmulatorServer, api_key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"x-api-key": api_key or server.api_key},
        timeout=30.0,
    )


def run_job(
    client: httpx.Client, server: EmulatorServer, project_id: int | None = None, **body: Any
) -> dict[str, Any]:
    """Trigger a data-quality job, wait for it in-process and return its `job` object."""
    project = project_id or server.project_id
    started = client.post(f"/api/{project}/jobs/data-quality-metrics", json=body)
    assert started.status_code == 200, started.text
    job_id = started.json()["id"]
    server.state.wait_for_job(job_id)
    status = client.get(f"/api/{project}/jobs/{job_id}/status")
    job: dict[str, Any] = status.json()["job"]
    return job


def label_noise(client: httpx.Client, project_id: int) -> dict[str, Any]:
    response = client.get(f"/api/{project_id}/raw-data/data-quality/label-noise")
    assert response.status_code == 200
    body: dict[str, Any] = json.loads(response.text)
    assert body["success"] is True, body
    return body
