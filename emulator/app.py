"""The emulator's ASGI application: Studio routes, control routes and faults."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from emulator.control import build_control_router
from emulator.middleware import FaultMiddleware
from emulator.routes import API_PREFIX
from emulator.state import EmulatorState
from emulator.studio_api import StudioError, build_studio_router, studio_error_response

CONTROL_PREFIX = "/_emulator"

logger = logging.getLogger(__name__)


def create_app(state: EmulatorState) -> ASGIApp:
    """Build the ASGI app; the fault middleware wraps everything else."""
    app = FastAPI(
        title="labelnoise Studio emulator",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(build_studio_router(state), prefix=API_PREFIX)
    app.include_router(build_control_router(state), prefix=CONTROL_PREFIX)

    @app.exception_handler(StudioError)
    async def handle_studio_error(request: Request, exc: StudioError) -> JSONResponse:
        # The path has no query string, and no message contains an API key.
        logger.info(
            "Responded %d to %s %s: %s", exc.status, request.method, request.url.path, exc.message
        )
        return studio_error_response(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def handle_validation_error(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        if not request.url.path.startswith(API_PREFIX + "/"):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return studio_error_response(400, f"Invalid request: {problems}")

    @app.exception_handler(HTTPException)
    async def handle_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if not request.url.path.startswith(API_PREFIX + "/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        if exc.status_code == 404:
            message = f"Not found: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return studio_error_response(exc.status_code, message)

    return FaultMiddleware(app, state)
