"""Warehouse commands: `labelnoise db upgrade` and `labelnoise reload RUN_ID`.

Their errors reach `labelnoise.cli.errors`, which prints them and exits with
status 2 for an invalid DATABASE_URL and 1 for a failure of the database.
"""

from __future__ import annotations

import typer

from labelnoise.cli.app import app, db_app
from labelnoise.database import open_engine, upgrade_database
from labelnoise.warehouse import loader


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply the warehouse migrations, creating the tables on first use.

    Uses DATABASE_URL, or the embedded PostgreSQL when it is unset.
    """
    engine = open_engine()
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()
    typer.echo("The warehouse database is at the latest migration.")


@app.command("reload")
def reload(
    run_id: int = typer.Argument(..., help="Id of the run to rebuild, from labelnoise.runs."),
) -> None:
    """Rebuild a run's rows from its archived payload, without asking Studio.

    Keeps the run's label names and sample rows, and replaces its fact rows
    in one transaction. Exits with status 1 when the run is missing or the
    load fails, and a failed load also marks the run failed.
    """
    engine = open_engine()
    try:
        upgrade_database(engine)
        result = loader.reload_run(engine, run_id)
    finally:
        engine.dispose()

    summary = f"Reloaded run {run_id}: {sum(result.rows.values())} rows in {result.seconds:.2f} s"
    if result.duplicates_dropped:
        summary += f", {result.duplicates_dropped} duplicate rows dropped"
    typer.echo(summary)
    for table, count in result.rows.items():
        typer.echo(f"  {table}: {count}")
