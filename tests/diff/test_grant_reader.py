"""grant_reader: a role reads the reporting views and nothing of the warehouse tables."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from labelnoise.exceptions import WarehouseError
from labelnoise.reporting import grant_reader

_role_numbers = itertools.count(1)


@pytest.fixture
def role(engine: Engine) -> Iterator[str]:
    """Create a role that may not log in, and drop it with its grants afterwards."""
    name = f"bi reader {next(_role_numbers)}"  # a space needs quoting, which the grant must do
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{name}" NOLOGIN')
    yield name
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP OWNED BY "{name}"')
        connection.exec_driver_sql(f'DROP ROLE "{name}"')


def select_as(engine: Engine, role: str, query: str) -> None:
    with engine.connect() as connection, connection.begin():
        connection.exec_driver_sql(f'SET LOCAL ROLE "{role}"')
        connection.execute(text(query)).all()


def test_reader_reads_reporting_views(engine: Engine, role: str) -> None:
    grant_reader(engine, role)

    select_as(engine, role, "SELECT * FROM reporting.run_summary")
    select_as(engine, role, "SELECT * FROM reporting.diff_changes")


def test_reader_cannot_read_warehouse_tables(engine: Engine, role: str) -> None:
    grant_reader(engine, role)

    with pytest.raises(ProgrammingError) as raised:
        select_as(engine, role, "SELECT * FROM labelnoise.runs")

    assert "permission denied for schema labelnoise" in str(raised.value)


def test_reader_without_grant_is_denied(engine: Engine, role: str) -> None:
    with pytest.raises(ProgrammingError) as raised:
        select_as(engine, role, "SELECT * FROM reporting.run_summary")

    assert "permission denied for schema reporting" in str(raised.value)


def test_grant_is_idempotent(engine: Engine, role: str) -> None:
    grant_reader(engine, role)
    grant_reader(engine, role)

    select_as(engine, role, "SELECT * FROM reporting.projects")


def test_unknown_role_raises(engine: Engine) -> None:
    with pytest.raises(WarehouseError) as raised:
        grant_reader(engine, "no such role")

    assert str(raised.value) == (
        "Role 'no such role' does not exist; create it first (for example CREATE ROLE name "
        "LOGIN PASSWORD '...') and run the command again"
    )
