"""Help text of every command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from labelnoise.cli import app


@pytest.mark.parametrize(
    "command",
    [[], ["diff"], ["history"], ["db"], ["db", "upgrade"], ["emulator"], ["run"], ["demo"]],
    ids=lambda command: " ".join(command) or "labelnoise",
)
def test_help_shows_flags_without_type(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "120"})

    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    help_lines = [line.split() for line in result.output.splitlines()]
    assert ["--help", "Show", "this", "message", "and", "exit."] in help_lines


def test_help_lists_verbose_flag() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"})

    assert result.exit_code == 0, result.output
    assert (
        "  -v, --verbose         Log DEBUG lines as well, and the traceback of an error."
        in result.output.splitlines()
    )


def test_diff_help_lists_recompute_flag() -> None:
    result = CliRunner().invoke(app, ["diff", "--help"], env={"COLUMNS": "120"})

    assert result.exit_code == 0, result.output
    recompute = [line.split()[:2] for line in result.output.splitlines() if "--recompute" in line]
    assert recompute == [["--recompute", "Compute"]]
