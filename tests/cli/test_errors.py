"""How the command line reports invalid settings and an unreachable database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelnoise.cli import app
from labelnoise.settings import get_settings

# The installed `labelnoise` script of the virtualenv that runs the tests.
LABELNOISE = str(Path(sys.executable).parent / "labelnoise")
PASSWORD = "s3cret-pw"

INVALID_SETTINGS_MESSAGE = (
    "Error: Invalid settings: LABELNOISE_MAX_RETRIES: Input should be greater than or equal "
    "to 0 (got '-3'); LABELNOISE_TRIGGER_MODE: Input should be 'always', 'auto' or 'never' "
    "(got 'sometimes'). Set valid values in the environment, in .env, or in the TOML config "
    "file (LABELNOISE_CONFIG)\n"
)


@pytest.fixture
def clean_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty folder, with no labelnoise variable set, and read the settings again."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("LABELNOISE_", "EI_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening, so connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def unreachable_message(port: int) -> str:
    return (
        f"Error: Cannot use the database host=127.0.0.1 port={port} dbname=x user=ln: "
        f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
        "Connection refused. Check DATABASE_URL and that the PostgreSQL server is running\n"
    )


def run_labelnoise(
    arguments: list[str], environment: dict[str, str], folder: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LABELNOISE_", "EI_")) and name != "DATABASE_URL"
    }
    # Prefect's ephemeral server keeps its database here, and sends no usage data.
    env.update(
        PREFECT_HOME=str(folder / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        **environment,
    )
    return subprocess.run(
        [LABELNOISE, *arguments],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize(
    "arguments", [["history"], ["db", "upgrade"]], ids=["history", "db-upgrade"]
)
def test_invalid_settings_name_variables(
    clean_settings: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    monkeypatch.setenv("LABELNOISE_TRIGGER_MODE", "sometimes")
    monkeypatch.setenv("LABELNOISE_MAX_RETRIES", "-3")

    result = CliRunner().invoke(app, arguments)

    assert result.exit_code == 2
    assert result.stderr == INVALID_SETTINGS_MESSAGE
    assert result.stdout == ""


def test_invalid_settings_of_run_command(clean_settings: Path) -> None:
    result = run_labelnoise(
        ["run"],
        {"LABELNOISE_TRIGGER_MODE": "sometimes", "LABELNOISE_MAX_RETRIES": "-3"},
        clean_settings,
    )

    assert result.returncode == 2
    assert result.stderr == INVALID_SETTINGS_MESSAGE


def test_invalid_secret_setting_hides_value(clean_settings: Path) -> None:
    config = clean_settings / "labelnoise.toml"
    config.write_text(
        f'database_url = ["postgresql://ln:{PASSWORD}@127.0.0.1/x"]\nei_api_key = 123456\n'
    )

    result = CliRunner().invoke(app, ["history"])

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Invalid settings: DATABASE_URL: Input should be a valid string; "
        "EI_API_KEY: Input should be a valid string. Set valid values in the environment, "
        "in .env, or in the TOML config file (LABELNOISE_CONFIG)\n"
    )
    assert PASSWORD not in result.output
    assert "123456" not in result.output


@pytest.mark.parametrize(
    "arguments", [["history"], ["db", "upgrade"]], ids=["history", "db-upgrade"]
)
def test_unreachable_database_names_it(
    clean_settings: Path,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://ln:{PASSWORD}@127.0.0.1:{closed_port}/x")

    result = CliRunner().invoke(app, arguments)

    assert result.exit_code == 1
    assert result.stderr == unreachable_message(closed_port)
    assert PASSWORD not in result.output


def test_unreachable_database_of_run_command(clean_settings: Path, closed_port: int) -> None:
    url = f"postgresql://ln:{PASSWORD}@127.0.0.1:{closed_port}/x"

    result = run_labelnoise(["run"], {"DATABASE_URL": url}, clean_settings)

    assert result.returncode == 1
    # The database is checked before any flow starts, so Prefect logs nothing.
    assert result.stderr.splitlines()[-1] + "\n" == unreachable_message(closed_port)
    assert "Traceback" not in result.stderr
    assert "Flow run" not in result.stderr
    assert PASSWORD not in result.stderr
    assert PASSWORD not in result.stdout


def test_unreachable_database_without_traceback(clean_settings: Path, closed_port: int) -> None:
    url = f"postgresql://ln:{PASSWORD}@127.0.0.1:{closed_port}/x"

    result = run_labelnoise(["db", "upgrade"], {"DATABASE_URL": url}, clean_settings)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] + "\n" == unreachable_message(closed_port)
    assert "Traceback" not in result.stderr


def test_verbose_shows_traceback(clean_settings: Path, closed_port: int) -> None:
    url = f"postgresql://ln:{PASSWORD}@127.0.0.1:{closed_port}/x"

    result = run_labelnoise(["--verbose", "db", "upgrade"], {"DATABASE_URL": url}, clean_settings)

    assert result.returncode == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert "sqlalchemy.exc.OperationalError" in result.stderr
    assert result.stderr.splitlines()[-1] + "\n" == unreachable_message(closed_port)
    assert PASSWORD not in result.stderr
