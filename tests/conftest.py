"""Shared fixtures: each area keeps its own in `tests/fixtures/`."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.emulator",
]
