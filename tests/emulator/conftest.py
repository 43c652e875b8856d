"""Fixtures for the emulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulator.server import EmulatorServer, ProjectSpec
from tests.emulator.helpers import studio_client

OTHER_PROJECT_ID = 2
OTHER_PROJECT_KEY = "ei_" + "b" * 64
OTHER_FIRST_SAMPLE_ID = 3_000_000_000  # beyond 32 bits, as ids may be in Studio


@pytest.fixture
def studio(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """An httpx client for the pristine default project of the shared emulator."""
    with studio_client(emulator) as client:
        yield client


@pytest.fixture(scope="module")
def two_projects() -> Iterator[EmulatorServer]:
    """An emulator with the default project and a second one whose sample ids are large."""
    projects = [
        ProjectSpec(project_id=1, name="BasicMotions", api_key="ei_" + "a" * 64),
        ProjectSpec(
            project_id=OTHER_PROJECT_ID,
            name="Second",
            api_key=OTHER_PROJECT_KEY,
            first_sample_id=OTHER_FIRST_SAMPLE_ID,
            include_samples=True,
        ),
    ]
    with EmulatorServer.start(projects=projects) as server:
        yield server


@pytest.fixture
def pristine_two_projects(two_projects: EmulatorServer) -> EmulatorServer:
    two_projects.state.reset()
    return two_projects
