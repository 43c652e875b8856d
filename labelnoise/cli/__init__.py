"""Entry point of the `labelnoise` command."""

from __future__ import annotations

# Importing a command module registers its commands on `app`.
from labelnoise.cli.app import app

# Command modules, one per area. Keep this block sorted.
# (end of command modules)


def main() -> None:
    app()
