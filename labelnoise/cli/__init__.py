"""Entry point of the `labelnoise` command."""

from __future__ import annotations

# Importing a command module registers its commands on `app`.
from labelnoise.cli.app import app

# Command modules, one per area. Keep this block sorted.
# isort: split
from labelnoise.cli import (
    db,  # noqa: F401
    emulator,  # noqa: F401
    reports,  # noqa: F401
    runs,  # noqa: F401
)

# (end of command modules)


def main() -> None:
    app()
