"""ASGI middleware that logs Studio requests and injects configured faults.

Faults act before authentication, as a gateway's would, so a 429 or a 503
reaches a client whatever key it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.faults import Fault, FaultKind
from emulator.routes import match_operation
from emulator.state import EmulatorState, RequestRecord

logger = logging.getLogger(__name__)


class FaultMiddleware:
    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        method: str = scope["method"]
        path: str = scope["path"]
        matched = match_operation(method, path)
        operation = matched.operation.operation_id if matched else path
        project_id = matched.project_id if matched else None
        status_seen: list[int] = []

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
            await send(message)

        try:
            latency, fault = (
                self.state.faults.take_request_faults(operation, project_id)
                if matched
                else (None, None)
            )
            if latency is not None:
                logger.info(
                    "Injecting fault %d (latency %.3f s) on %s",
                    latency.id,
                    latency.spec.latency_seconds,
                    operation,
                )
                await asyncio.sleep(latency.spec.latency_seconds)
            if fault is None:
                await self.app(scope, receive, recording_send)
            elif fault.spec.kind is FaultKind.TRUNCATE:
                # Returning without finishing the body makes the server close
                # the connection, which is the broken transfer we want.
                with contextlib.suppress(TruncatedResponse):
                    await self.app(scope, receive, _truncating_send(recording_send, fault))
            else:
                await _send_fault(recording_send, fault)
        finally:
            if path.startswith("/v1/"):
                status = status_seen[0] if status_seen else 0
                self.state.record_request(RequestRecord(method, operation, project_id, status))


async def _send_fault(send: Send, fault: Fault) -> None:
    spec = fault.spec
    logger.info(
        "Injecting fault %d (%s) on %s", fault.id, spec.kind, spec.endpoint or "any endpoint"
    )
    headers: list[tuple[bytes, bytes]] = []
    if spec.kind is FaultKind.RATE_LIMIT:
        status = 429
        message = spec.message or "Too many requests, slow down"
        headers.append((b"retry-after", str(spec.retry_after).encode()))
    elif spec.kind is FaultKind.SERVER_ERROR:
        status = spec.status
        message = (
            spec.message
            or {
                500: "Internal server error",
                502: "Bad gateway",
                503: "Service unavailable",
            }[status]
        )
        if status == 503:
            headers.append((b"retry-after", str(spec.retry_after).encode()))
    else:
        status = 200
        message = spec.message or "Request failed (injected success-false fault)"
    body = json.dumps({"success": False, "error": message}).encode()
    headers += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _truncating_send(send: Send, fault: Fault) -> Send:
    """Wrap `send` so that only `keepFraction` of the body goes out."""
    logger.info(
        "Injecting fault %d (truncate) on %s", fault.id, fault.spec.endpoint or "any endpoint"
    )
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def truncating_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return

        body = b"".join(chunks)
        kept = body[: int(len(body) * fault.spec.keep_fraction)]
        headers = [(key, value) for key, value in start["headers"] if key != b"content-length"]
        if fault.spec.truncate_mode == "invalid-json":
            headers.append((b"content-length", str(len(kept)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": kept})
            return
        # Announce the full length, then stop early: the server closes the
        # connection because the response is incomplete.
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": kept, "more_body": True})
        raise TruncatedResponse(len(kept), len(body))

    return truncating_send


class TruncatedResponse(Exception):
    """Raised inside the server to abort a response after part of its body."""

    def __init__(self, sent: int, total: int) -> None:
        super().__init__(f"Truncated response after {sent} of {total} bytes (injected fault)")
