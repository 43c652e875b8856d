"""Alembic environment of the warehouse.

The URL comes from labelnoise settings (`DATABASE_URL`, or the embedded
PostgreSQL when it is unset); `labelnoise.database.upgrade_database` passes
an open connection in `config.attributes["connection"]` instead. Metadata
comes from the models, so autogenerate compares every table on `Base`.
Each migration runs in its own transaction.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

# Importing a models module registers its tables on the shared `Base`.
import models.diffs
import models.warehouse
from labelnoise.database import normalize_url, open_engine
from labelnoise.settings import get_settings

# Autogenerate looks only at these schemas; alembic_version stays in `public`.
MANAGED_SCHEMAS = ("labelnoise", "reporting")

config = context.config
target_metadata = models.warehouse.Base.metadata

if config.config_file_name is not None and config.file_config.has_section("loggers"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "schema":
        return name in MANAGED_SCHEMAS
    return True


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Views are created with raw SQL in migrations; a table object that maps a
    # view (marked with info={"is_view": True}) must not be created or dropped.
    return not (type_ == "table" and obj.info.get("is_view", False))


def configure_options() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "include_schemas": True,
        "include_name": include_name,
        "include_object": include_object,
        "compare_type": True,
        "compare_server_default": True,
        "transaction_per_migration": True,
    }


def run_migrations_offline() -> None:
    settings = get_settings()
    if settings.database_url is None:
        raise SystemExit("Offline (--sql) migrations need DATABASE_URL to pick the SQL dialect.")
    url = normalize_url(settings.database_url.get_secret_value())
    context.configure(url=url, literal_binds=True, **configure_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_on(connection: Connection) -> None:
    context.configure(connection=connection, **configure_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations_on(connection)
        return

    engine = open_engine()
    try:
        with engine.connect() as new_connection:
            run_migrations_on(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
