"""Serve the emulator with uvicorn on a background thread.

    with EmulatorServer.start(port=0) as server:
        server.base_url   # "http://127.0.0.1:<port>/v1"
        server.project_id, server.api_key
        server.state      # EmulatorState, for tests

Only loopback hosts are accepted, because the emulator has no real
authentication and serves generated keys.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from emulator.app import create_app
from emulator.routes import API_PREFIX
from emulator.state import EmulatorState, ProjectSpec

__all__ = ["EmulatorServer", "ProjectSpec", "check_loopback_host", "generate_api_key"]

logger = logging.getLogger(__name__)

DEFAULT_PROJECT_ID = 1
DEFAULT_PROJECT_NAME = "BasicMotions"
STARTUP_TIMEOUT_SECONDS = 30.0
SHUTDOWN_TIMEOUT_SECONDS = 2


def generate_api_key() -> str:
    """Return a random key shaped like a Studio project key (`ei_` and 64 hex digits)."""
    return "ei_" + secrets.token_hex(32)


def default_project(api_key: str | None = None) -> ProjectSpec:
    """Return the bundled BasicMotions project, with a generated key unless one is given."""
    return ProjectSpec(
        project_id=DEFAULT_PROJECT_ID,
        name=DEFAULT_PROJECT_NAME,
        api_key=api_key or generate_api_key(),
    )


def check_loopback_host(host: str) -> None:
    """Raise ValueError unless every address of `host` is a loopback address."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise ValueError(f"Cannot resolve emulator host {host!r}: {exc}") from exc
    if not all(ipaddress.ip_address(address).is_loopback for address in addresses):
        raise ValueError(f"Emulator host {host!r} is not a loopback address; use 127.0.0.1 or ::1")


@dataclass
class EmulatorServer:
    """A running emulator; create it with `EmulatorServer.start`."""

    host: str
    port: int
    state: EmulatorState
    projects: tuple[ProjectSpec, ...]

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    @property
    def control_url(self) -> str:
        return self.base_url.removesuffix(API_PREFIX) + "/_emulator"

    @property
    def project_id(self) -> int:
        return self.projects[0].project_id

    @property
    def api_key(self) -> str:
        return self.projects[0].api_key

    @classmethod
    @contextmanager
    def start(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        projects: Sequence[ProjectSpec] | None = None,
        api_key: str | None = None,
    ) -> Iterator[EmulatorServer]:
        """Serve the emulator until the `with` block ends.

        `projects` defaults to the bundled BasicMotions project; `api_key`
        sets that default project's key and is ignored when `projects` is
        given. Port 0 picks a free port.
        """
        check_loopback_host(host)
        specs = tuple(projects) if projects else (default_project(api_key),)
        state = EmulatorState(specs)
        config = uvicorn.Config(
            create_app(state),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # Stop within seconds even while a latency fault keeps a request open.
            timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_SECONDS,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="emulator-server", daemon=True)
        thread.start()
        try:
            bound_port = _wait_until_started(server, thread)
            running = cls(host=host, port=bound_port, state=state, projects=specs)
            logger.info("Studio emulator serving %d project(s) at %s", len(specs), running.base_url)
            yield running
        finally:
            server.should_exit = True
            state.close()
            thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
            logger.info("Studio emulator stopped")


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> int:
    started = threading.Event()

    def poll() -> bool:
        return server.started or not thread.is_alive()

    # uvicorn offers no startup callback, so poll its flag briefly.
    waited = 0.0
    while not poll() and waited < STARTUP_TIMEOUT_SECONDS:
        started.wait(0.01)
        waited += 0.01
    if not server.started:
        raise RuntimeError("The emulator's HTTP server did not start; check that the port is free")
    sockets = [sock for listener in server.servers for sock in listener.sockets]
    return int(sockets[0].getsockname()[1])
