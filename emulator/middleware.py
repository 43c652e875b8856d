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
from emulator.routes import API_PREFIX, match_operation
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
        record: RequestRecord | None = None
        if path.startswith(API_PREFIX + "/"):
            # Logged on arrival, so that the log is complete by the time a
            # client sees the response, however late the response comes.
            record = RequestRecord(method, operation, project_id)
            self.state.record_request(record)

        latency, fault = (
            self.state.faults.take_request_faults(operation, project_id)
            if matched
            else (None, None)
        )
        delay_before, delay_after = _latency_delays(latency, operation)

        # The status is logged before an after-phase wait, so a test can see
        # it while the response is still held back.
        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if record is not None:
                    self.state.set_request_status(record, int(message["status"]))
                if delay_after:
                    await asyncio.sleep(delay_after)
            await send(message)

        if delay_before:
            await asyncio.sleep(delay_before)
            replaying_receive = await _replay_receive(receive)
            if replaying_receive is None:
                # Starlette would raise ClientDisconnect in the handler, and
                # uvicorn would log it as an error.
                logger.info(
                    "Client disconnected while an injected latency delayed %s, "
                    "so the handler did not run",
                    operation,
                )
                return
            receive = replaying_receive
        if fault is None:
            await self.app(scope, receive, recording_send)
        elif fault.spec.kind is FaultKind.TRUNCATE:
            # Returning without finishing the body makes the server close the
            # connection, which is the broken transfer we want.
            # NOTE: uvicorn 0.55 then logs the ERROR "ASGI callable returned
            # without completing response." ASGI has no message that aborts a
            # response, so that line is expected for this fault.
            with contextlib.suppress(TruncatedResponse):
                await self.app(scope, receive, _truncating_send(recording_send, fault))
        else:
            await _send_fault(recording_send, fault)


def _latency_delays(latency: Fault | None, operation: str) -> tuple[float, float]:
    """Log a latency fault and return its waits, in seconds, before the handler and the response."""
    if latency is None:
        return 0.0, 0.0
    seconds = latency.spec.latency_seconds
    phase = latency.spec.latency_phase
    logger.info(
        "Injecting fault %d (latency %.3f s, %s the handler) on %s",
        latency.id,
        seconds,
        phase,
        operation,
    )
    return (seconds, 0.0) if phase == "before" else (0.0, seconds)


async def _replay_receive(receive: Receive) -> Receive | None:
    """Read the first request message, and return a `receive` that yields it again.

    Returns None when the client has disconnected, so the handler need not run.
    """
    first = await receive()
    if first["type"] == "http.disconnect":
        return None
    replayed = False

    async def replaying_receive() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return first

    return replaying_receive


async def _send_fault(send: Send, fault: Fault) -> None:
    spec = fault.spec
    logger.info(
        "Injecting fault %d (%s) on %s", fault.id, spec.kind, spec.endpoint or "any endpoint"
    )
    headers: list[tuple[bytes, bytes]] = []
    # FaultSpec validation sets `status` of both error kinds: 429, or 500, 502 or 503.
    status: int = spec.status or 503
    if spec.kind is FaultKind.RATE_LIMIT:
        message = spec.message or "Too many requests, slow down"
        headers.append((b"retry-after", str(spec.retry_after).encode()))
    elif spec.kind is FaultKind.SERVER_ERROR:
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
