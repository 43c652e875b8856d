"""`labelnoise db upgrade` and `labelnoise reload` against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from typer.testing import CliRunner

from labelnoise.cli import app
from labelnoise.settings import get_settings
from labelnoise.warehouse import archive, loader, runs
from tests.warehouse import payloads


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point the settings that the CLI reads at a database URL."""

    def use(url: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def test_db_upgrade_creates_tables(
    empty_database_url: Callable[[], str], use_database: Callable[[str], None]
) -> None:
    url = empty_database_url()
    use_database(url)

    result = CliRunner().invoke(app, ["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "The warehouse database is at the latest migration.\n"
    engine = create_engine(url)
    try:
        assert "runs" in inspect(engine).get_table_names(schema="labelnoise")
    finally:
        engine.dispose()


def test_db_upgrade_rejects_other_driver(use_database: Callable[[str], None]) -> None:
    use_database("mysql://user:s3cret@localhost/db")

    result = CliRunner().invoke(app, ["db", "upgrade"])

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: DATABASE_URL uses the driver 'mysql', but the warehouse needs PostgreSQL "
        "through psycopg 3; use a postgresql:// or postgresql+psycopg:// URL\n"
    )


def test_reload_prints_row_counts(
    warehouse: Engine, database_url: str, use_database: Callable[[str], None]
) -> None:
    runs.upsert_project(warehouse, project_id=payloads.PROJECT_ID, name="Gestures", owner=None)
    run_id = runs.create_run(
        warehouse, project_id=payloads.PROJECT_ID, trigger_mode="never", representation=None
    )
    body = payloads.body()
    archive.archive_payload(warehouse, run_id, body)
    loader.load_run(
        warehouse, run_id, body=body, labels=payloads.LABELS, samples=payloads.standard_samples()
    )
    with warehouse.begin() as connection:
        connection.execute(text("DELETE FROM labelnoise.cross_validation_scores"))
    use_database(database_url)

    result = CliRunner().invoke(app, ["reload", str(run_id)])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Reloaded run {run_id}: 20 rows in ")
    assert lines[1:] == [
        "  run_labels: 2",
        "  run_samples: 3",
        "  cosine_issues: 2",
        "  cosine_matches: 3",
        "  neighbor_scores: 2",
        "  neighbor_windows: 4",
        "  cross_validation_scores: 4",
    ]


def test_reload_of_missing_run_exits_1(
    warehouse: Engine, database_url: str, use_database: Callable[[str], None]
) -> None:
    use_database(database_url)

    result = CliRunner().invoke(app, ["reload", "987654"])

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Cannot load run 987654: no run has that id; "
        "list the runs in labelnoise.runs to find the right one.\n"
    )
