"""Read the `reporting` views into pandas frames, and grant a role read access to them.

The command line reads only these views, so what a user sees there is
what a dashboard on the same views shows. Frames use pandas' nullable
dtypes, so counts stay integers when some runs have none.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

from labelnoise.exceptions import ConfigurationError, RunNotFoundError, WarehouseError

logger = logging.getLogger(__name__)

REPORTING_SCHEMA = "reporting"


@dataclass(frozen=True)
class DiffReport:
    """A stored diff as the reporting views show it.

    `diff` is the row of `reporting.diffs`, `methods` the rows of
    `reporting.diff_methods` in report order, and `top_new` the worst new
    flags of each method from `reporting.diff_changes`.
    """

    diff: dict[str, Any]
    methods: pd.DataFrame
    top_new: pd.DataFrame


def read_frame(connection: Connection, query: str, **parameters: int | None) -> pd.DataFrame:
    """Run `query` on the reporting views and return the rows as a frame.

    Raises `WarehouseError` when the views do not exist yet.
    """
    try:
        return pd.read_sql(
            text(query), connection, params=parameters, dtype_backend="numpy_nullable"
        )
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) in ("42P01", "3F000"):  # undefined table, schema
            raise WarehouseError(
                "The warehouse has no reporting views yet; run `labelnoise db upgrade` first"
            ) from exc
        raise


def resolve_project_id(engine: Engine, project_id: int | None) -> int:
    """Return `project_id`, or the only project in the warehouse when it is None.

    Raises `ConfigurationError` for a project the warehouse does not hold, and
    when no project was given and the warehouse contains none or several.
    """
    with engine.connect() as connection:
        projects = read_frame(
            connection, "SELECT project_id FROM reporting.projects ORDER BY project_id"
        )
    known = [int(value) for value in projects["project_id"]]

    if project_id is not None:
        if project_id not in known:
            raise ConfigurationError(
                f"Project {project_id} is not in the warehouse; tracked projects: "
                f"{_list_ids(known)}"
            )
        return project_id
    if len(known) == 1:
        return known[0]
    if not known:
        raise ConfigurationError(
            "The warehouse contains no project yet; run `labelnoise run` or `labelnoise demo` first"
        )
    raise ConfigurationError(
        f"The warehouse contains {len(known)} projects ({_list_ids(known)}); "
        "pick one with --project"
    )


def read_run_summary(engine: Engine, project_id: int) -> pd.DataFrame:
    """Return `reporting.run_summary` for one project, one row per run, oldest first."""
    with engine.connect() as connection:
        return read_frame(
            connection,
            "SELECT * FROM reporting.run_summary WHERE project_id = :project_id "
            "ORDER BY started_at, run_id",
            project_id=project_id,
        )


def project_of_run(engine: Engine, run_id: int) -> int:
    """Return the project of a run. Raises `RunNotFoundError` for an unknown run."""
    with engine.connect() as connection:
        frame = read_frame(
            connection,
            "SELECT project_id FROM reporting.run_summary WHERE run_id = :run_id",
            run_id=run_id,
        )
    if frame.empty:
        raise RunNotFoundError(
            f"Run {run_id} not found in the warehouse; list the runs with `labelnoise history`"
        )
    return int(frame["project_id"].iloc[0])


def latest_loaded_run_id(engine: Engine, project_id: int) -> int:
    """Return the project's latest loaded run. Raises `RunNotFoundError` when it has none."""
    with engine.connect() as connection:
        frame = read_frame(
            connection,
            "SELECT last_loaded_run_id FROM reporting.projects WHERE project_id = :project_id",
            project_id=project_id,
        )
    if frame.empty or pd.isna(frame["last_loaded_run_id"].iloc[0]):
        raise RunNotFoundError(f"Project {project_id} has no loaded run to compare yet")
    return int(frame["last_loaded_run_id"].iloc[0])


def find_diff_id(engine: Engine, run_id: int, base_run_id: int | None = None) -> int | None:
    """Return the stored diff of `run_id` against `base_run_id`, or None when there is none.

    Without `base_run_id`, the diff against the run's previous loaded run is
    preferred, then the latest diff of the run.
    """
    query = (
        "SELECT diff_id FROM reporting.diffs WHERE run_id = :run_id "
        "AND (CAST(:base_run_id AS bigint) IS NULL OR base_run_id = :base_run_id) "
        "ORDER BY base_is_previous DESC, created_at DESC, diff_id DESC LIMIT 1"
    )
    with engine.connect() as connection:
        frame = read_frame(connection, query, run_id=run_id, base_run_id=base_run_id)
    if frame.empty:
        return None
    return int(frame["diff_id"].iloc[0])


def read_diff_report(engine: Engine, diff_id: int, *, top: int = 10) -> DiffReport:
    """Read a stored diff with its method rows and the `top` worst new flags of each method."""
    with engine.connect() as connection:
        # Read without pandas, which would turn the `reasons` array into its text form.
        diff = (
            connection.execute(
                text("SELECT * FROM reporting.diffs WHERE diff_id = :diff_id"), {"diff_id": diff_id}
            )
            .mappings()
            .one_or_none()
        )
        if diff is None:
            raise WarehouseError(f"Diff {diff_id} not found in the warehouse")
        methods = read_frame(
            connection,
            "SELECT * FROM reporting.diff_methods WHERE diff_id = :diff_id ORDER BY method_order",
            diff_id=diff_id,
        )
        top_new = read_frame(
            connection,
            "SELECT c.* FROM reporting.diff_changes AS c "
            "JOIN reporting.diff_methods AS m ON m.diff_id = c.diff_id AND m.method = c.method "
            "WHERE c.diff_id = :diff_id AND c.change = 'new' AND c.severity_rank <= :top "
            "ORDER BY m.method_order, c.severity_rank",
            diff_id=diff_id,
            top=top,
        )
    return DiffReport(diff=dict(diff), methods=methods, top_new=top_new)


def read_diff_changes(engine: Engine, diff_id: int) -> pd.DataFrame:
    """Return every row of `reporting.diff_changes` for one diff.

    Rows are in report order of the methods, then by change kind and severity rank.
    """
    with engine.connect() as connection:
        return read_frame(
            connection,
            "SELECT c.* FROM reporting.diff_changes AS c "
            "JOIN reporting.diff_methods AS m ON m.diff_id = c.diff_id AND m.method = c.method "
            "WHERE c.diff_id = :diff_id "
            "ORDER BY m.method_order, c.change, c.severity_rank",
            diff_id=diff_id,
        )


def grant_reader(engine: Engine, role: str) -> None:
    """Grant `role` read access to the `reporting` views, and to views created later.

    Views run with their owner's rights, so the role needs nothing on the
    `labelnoise` tables and gets nothing there. Default privileges cover
    views that the current user creates later (a downgrade and upgrade
    drops and recreates them). Raises `WarehouseError` when the role or the
    schema does not exist.
    """
    with engine.begin() as connection:
        if not connection.execute(
            text("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = :role)"), {"role": role}
        ).scalar():
            raise WarehouseError(
                f"Role {role!r} does not exist; create it first "
                "(for example CREATE ROLE name LOGIN PASSWORD '...') and run the command again"
            )
        if not connection.execute(
            text("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = :schema)"),
            {"schema": REPORTING_SCHEMA},
        ).scalar():
            raise WarehouseError(
                "The warehouse has no reporting views yet; run `labelnoise db upgrade` first"
            )

        quoted = connection.dialect.identifier_preparer.quote_identifier(role)
        for statement in (
            f"GRANT USAGE ON SCHEMA {REPORTING_SCHEMA} TO {quoted}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {REPORTING_SCHEMA} TO {quoted}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {REPORTING_SCHEMA} "
            f"GRANT SELECT ON TABLES TO {quoted}",
        ):
            connection.exec_driver_sql(statement)
    logger.info("Granted role %s read access to the %s views", role, REPORTING_SCHEMA)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of `frame` as dicts of plain Python values, with None for missing ones."""
    return [
        {str(column): _plain(value) for column, value in row.items()}
        for row in frame.to_dict("records")
    ]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _list_ids(ids: list[int]) -> str:
    return ", ".join(str(value) for value in ids) or "none"
