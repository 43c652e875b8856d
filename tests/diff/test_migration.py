"""Revision 0002 goes down to 0001 and up again on a real database."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from sqlalchemy import Engine, text

from labelnoise.database import alembic_config, open_engine, upgrade_database
from labelnoise.reporting import grant_reader
from labelnoise.settings import Settings

DIFF_TABLES = ["run_diff_items", "run_diff_methods", "run_diffs"]


def diff_objects(engine: Engine) -> tuple[list[str], bool, list[str]]:
    """Return the diff tables, whether `reporting` exists, and the indexes 0002 adds."""
    with engine.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'labelnoise' "
                "AND tablename LIKE 'run_diff%' ORDER BY 1"
            )
        ).scalars()
        schema = connection.execute(
            text("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'reporting')")
        ).scalar_one()
        indexes = connection.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'labelnoise' AND indexname "
                "IN ('ix_cross_validation_scores_run_id_score', 'ix_run_samples_sample_id_run_id') "
                "ORDER BY 1"
            )
        ).scalars()
        return list(tables), schema, list(indexes)


def test_downgrade_to_warehouse_and_back(empty_database_url: Callable[[], str]) -> None:
    engine = open_engine(Settings(database_url=empty_database_url()))
    try:
        upgrade_database(engine)
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001_warehouse")
        assert diff_objects(engine) == ([], False, [])

        upgrade_database(engine)
        assert diff_objects(engine) == (
            DIFF_TABLES,
            True,
            ["ix_cross_validation_scores_run_id_score", "ix_run_samples_sample_id_run_id"],
        )
    finally:
        engine.dispose()


def test_downgrade_after_grant_reader(empty_database_url: Callable[[], str]) -> None:
    engine = open_engine(Settings(database_url=empty_database_url()))
    try:
        upgrade_database(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE ROLE migration_reader NOLOGIN")
        grant_reader(engine, "migration_reader")
        config = alembic_config()

        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001_warehouse")

        assert diff_objects(engine) == ([], False, [])
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP OWNED BY migration_reader")
            connection.exec_driver_sql("DROP ROLE migration_reader")
        engine.dispose()
