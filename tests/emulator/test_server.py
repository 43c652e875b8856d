"""Starting the emulator: hosts, keys, project specs and the CLI command."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from emulator.server import EmulatorServer, ProjectSpec
from labelnoise.cli.app import app


def test_server_rejects_non_loopback_host() -> None:
    with (
        pytest.raises(ValueError, match=r"'192\.0\.2\.1' is not a loopback address"),
        EmulatorServer.start(host="192.0.2.1"),
    ):
        pass


def test_server_uses_given_api_key() -> None:
    with EmulatorServer.start(api_key="ei_given") as server:
        response = httpx.get(f"{server.base_url}/api/1", headers={"x-api-key": "ei_given"})

    assert server.api_key == "ei_given"
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert response.status_code == 200


def test_generated_keys_differ() -> None:
    with EmulatorServer.start() as first, EmulatorServer.start() as second:
        keys = (first.api_key, second.api_key)

    assert keys[0] != keys[1]
    assert all(key.startswith("ei_") and len(key) == 67 for key in keys)


def test_duplicate_project_ids_rejected() -> None:
    projects = [
        ProjectSpec(project_id=1, name="A", api_key="ei_a"),
        ProjectSpec(project_id=1, name="B", api_key="ei_b"),
    ]

    with (
        pytest.raises(ValueError, match="Duplicate project id 1"),
        EmulatorServer.start(projects=projects),
    ):
        pass


def test_shared_api_key_rejected() -> None:
    projects = [
        ProjectSpec(project_id=1, name="A", api_key="ei_same"),
        ProjectSpec(project_id=2, name="B", api_key="ei_same"),
    ]

    with (
        pytest.raises(ValueError, match="Projects 1 and 2 share an API key"),
        EmulatorServer.start(projects=projects),
    ):
        pass


def test_invalid_refuse_trigger_rejected() -> None:
    with pytest.raises(ValueError, match="Invalid refuse_trigger 'never'"):
        ProjectSpec(project_id=1, name="A", api_key="ei_a", refuse_trigger="never")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--host", "192.0.2.1"], "is not a loopback address"),
        (["--fault", '{"kind": "explode"}'], "Invalid fault"),
        (["--refuse-trigger", "never"], "Invalid refuse_trigger 'never'"),
    ],
    ids=["host", "fault", "refuse-trigger"],
)
def test_cli_rejects_invalid_option(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["emulator", "--port", "0", *arguments])

    assert result.exit_code == 2
    # Rich wraps the error in a box, so drop its borders and line breaks.
    assert message in " ".join(result.output.replace("│", " ").split())
