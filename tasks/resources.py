"""The database engine and the Studio client that tasks open for themselves.

Tasks receive plain values (ids, a `ProjectConfig`) and open their
resources here. An engine or an HTTP client as a task parameter would be
hashed and recorded by Prefect, and an API key as a parameter would be
stored with the flow run.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from labelnoise.database import open_engine, upgrade_database
from labelnoise.projects import ProjectConfig, resolve_api_key
from labelnoise.settings import get_settings
from studio.client import StudioClient

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def warehouse_engine() -> Engine:
    """Return this process's engine on the configured warehouse, migrated to head.

    The first call per database opens the engine (starting the embedded
    PostgreSQL when `DATABASE_URL` is unset) and applies the migrations.
    Later calls, from any thread, reuse that engine.
    """
    settings = get_settings()
    if settings.database_url is not None:
        # The URL contains the password, so the cache key is its digest.
        raw_key = settings.database_url.get_secret_value()
    else:
        raw_key = f"embedded:{settings.data_dir.resolve()}"
    cache_key = hashlib.sha256(raw_key.encode()).hexdigest()

    with _engines_lock:
        engine = _engines.get(cache_key)
        if engine is None:
            engine = open_engine(settings)
            upgrade_database(engine)
            _engines[cache_key] = engine
    return engine


@contextmanager
def open_studio(project: ProjectConfig) -> Iterator[StudioClient]:
    """Open a Studio client for `project`, reading its API key from the key's source."""
    settings = get_settings()
    api_key = resolve_api_key(project.api_key_source, project.id)
    with StudioClient.open(
        api_key, project_id=project.id, base_url=settings.ei_api_endpoint, settings=settings
    ) as studio:
        yield studio
