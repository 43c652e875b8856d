"""Compare two loaded runs in SQL and store the diff.

The flags of each method form a set keyed by Studio's natural keys
(sample id, window start and end; sample id alone for cosine methods).
One FULL JOIN per kind of key classifies every flag of either run:

- in both runs: `persisting`, with both scores;
- only in the run: `new`;
- only in the base run: `sample_removed` when the run's sample list lacks
  the sample or has it disabled, `relabelled` when the sample's label
  differs between the two sample lists, else `resolved`.

A method whose section is absent from either run is left out of the join,
so an absent section never turns into resolved flags.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, text

from labelnoise.diffing.stored import load_diff
from labelnoise.diffing.summary import DiffSummary, MethodCounts
from labelnoise.diffing.thresholds import DiffThresholds
from labelnoise.diffing.verdict import judge
from labelnoise.exceptions import DiffError, RunNotFoundError
from labelnoise.warehouse.loader import lock_project
from models.diffs import CHANGES, METHODS, WINDOW_METHODS

logger = logging.getLogger(__name__)

# Section state column of `runs` that each method reads.
STATE_COLUMNS = {
    "neighbors": "neighbors_state",
    "cross_validation": "cross_validation_state",
    "cosine_similar_but_different_label": "cosine_state",
    "cosine_different_but_same_label": "cosine_state",
}

_RUN = text(
    """
    SELECT run_id, project_id, status, neighbors_state, cross_validation_state, cosine_state
    FROM labelnoise.runs
    WHERE run_id = :run_id
    """
)

_PREVIOUS_LOADED_RUN = text(
    """
    SELECT max(run_id) FROM labelnoise.runs
    WHERE project_id = :project_id AND status = 'loaded' AND run_id < :run_id
    """
)

_DELETE_PAIR = text(
    "DELETE FROM labelnoise.run_diffs WHERE run_id = :run_id AND base_run_id = :base_run_id"
)

# The changes of both runs, for the compared methods only. ON COMMIT DROP
# keeps the scratch table inside the diff's transaction.
_CLASSIFY = text(
    """
    CREATE TEMPORARY TABLE diff_changes ON COMMIT DROP AS
    WITH window_flags AS (
        SELECT 'neighbors'::text AS method, n.run_id, n.sample_id,
               n.window_start, n.window_end, n.score
        FROM labelnoise.neighbor_scores AS n
        WHERE n.run_id IN (:run_id, :base_run_id) AND 'neighbors' = ANY(:methods)
        UNION ALL
        SELECT 'cross_validation', cv.run_id, cv.sample_id,
               cv.window_start, cv.window_end, cv.score
        FROM labelnoise.cross_validation_scores AS cv
        WHERE cv.run_id IN (:run_id, :base_run_id) AND cv.score <= :cv_zscore_threshold
          AND 'cross_validation' = ANY(:methods)
    ),
    sample_flags AS (
        SELECT 'cosine_' || c.kind AS method, c.run_id, c.sample_id
        FROM labelnoise.cosine_issues AS c
        WHERE c.run_id IN (:run_id, :base_run_id) AND 'cosine_' || c.kind = ANY(:methods)
    ),
    pairs AS (
        SELECT method, sample_id, window_start, window_end,
               base.score AS base_score, cur.score AS score,
               cur.run_id IS NOT NULL AS in_run, base.run_id IS NOT NULL AS in_base
        FROM (SELECT * FROM window_flags WHERE run_id = :run_id) AS cur
        FULL JOIN (SELECT * FROM window_flags WHERE run_id = :base_run_id) AS base
            USING (method, sample_id, window_start, window_end)
        UNION ALL
        SELECT method, sample_id, NULL::bigint, NULL::bigint,
               NULL::double precision, NULL::double precision,
               cur.run_id IS NOT NULL, base.run_id IS NOT NULL
        FROM (SELECT * FROM sample_flags WHERE run_id = :run_id) AS cur
        FULL JOIN (SELECT * FROM sample_flags WHERE run_id = :base_run_id) AS base
            USING (method, sample_id)
    ),
    snapshot AS (
        -- Without a sample list for the run, a missing sample proves nothing.
        SELECT EXISTS (
            SELECT FROM labelnoise.run_samples WHERE run_id = :run_id
        ) AS run_has_samples
    )
    SELECT
        p.method,
        CASE
            WHEN p.in_run AND p.in_base THEN 'persisting'
            WHEN p.in_run THEN 'new'
            WHEN snapshot.run_has_samples
                 AND (cur_sample.sample_id IS NULL OR cur_sample.is_disabled)
                THEN 'sample_removed'
            WHEN cur_sample.sample_id IS NOT NULL AND base_sample.sample_id IS NOT NULL
                 AND cur_sample.label IS DISTINCT FROM base_sample.label
                THEN 'relabelled'
            ELSE 'resolved'
        END AS change,
        p.sample_id,
        p.window_start,
        p.window_end,
        p.base_score,
        p.score,
        base_sample.label AS base_label,
        cur_sample.label AS label
    FROM pairs AS p
    CROSS JOIN snapshot
    LEFT JOIN labelnoise.run_samples AS cur_sample
        ON cur_sample.run_id = :run_id AND cur_sample.sample_id = p.sample_id
    LEFT JOIN labelnoise.run_samples AS base_sample
        ON base_sample.run_id = :base_run_id AND base_sample.sample_id = p.sample_id
    """
)

_CHANGE_COUNTS = text("SELECT method, change, count(*) FROM diff_changes GROUP BY method, change")

# Flags per method and the denominators of the flagged rates, for one run.
_RUN_COUNTS = text(
    """
    SELECT
        (SELECT count(*) FROM labelnoise.neighbor_scores
         WHERE run_id = :run_id) AS neighbors,
        (SELECT count(*) FROM labelnoise.cross_validation_scores
         WHERE run_id = :run_id AND score <= :cv_zscore_threshold) AS cross_validation,
        (SELECT count(*) FROM labelnoise.cosine_issues
         WHERE run_id = :run_id AND kind = 'similar_but_different_label')
            AS cosine_similar_but_different_label,
        (SELECT count(*) FROM labelnoise.cosine_issues
         WHERE run_id = :run_id AND kind = 'different_but_same_label')
            AS cosine_different_but_same_label,
        (SELECT count(*) FROM labelnoise.cross_validation_scores
         WHERE run_id = :run_id) AS windows,
        (SELECT count(*) FROM labelnoise.run_samples
         WHERE run_id = :run_id AND NOT is_disabled) AS samples
    """
)

_INSERT_DIFF = text(
    """
    INSERT INTO labelnoise.run_diffs (
        project_id, run_id, base_run_id, base_is_previous, verdict, reasons,
        cv_zscore_threshold, net_new_tolerance, rate_points
    )
    VALUES (
        :project_id, :run_id, :base_run_id, :base_is_previous, :verdict, :reasons,
        :cv_zscore_threshold, :net_new_tolerance, :rate_points
    )
    RETURNING diff_id
    """
)

_INSERT_METHOD = text(
    """
    INSERT INTO labelnoise.run_diff_methods (
        diff_id, method, compared, outcome, run_state, base_state,
        new_flags, persisting_flags, resolved_flags, sample_removed_flags, relabelled_flags,
        flagged, base_flagged, scored, base_scored, flagged_rate, base_flagged_rate
    )
    VALUES (
        :diff_id, :method, :compared, :outcome, :run_state, :base_state,
        :new, :persisting, :resolved, :sample_removed, :relabelled,
        :flagged, :base_flagged, :scored, :base_scored, :flagged_rate, :base_flagged_rate
    )
    """
)

_INSERT_ITEMS = text(
    """
    INSERT INTO labelnoise.run_diff_items (
        diff_id, method, change, sample_id, window_start, window_end,
        base_score, score, base_label, label
    )
    SELECT :diff_id, method, change, sample_id, window_start, window_end,
           base_score, score, base_label, label
    FROM diff_changes
    """
)


def diff_runs(
    engine: Engine,
    run_id: int,
    *,
    base_run_id: int | None = None,
    thresholds: DiffThresholds | None = None,
) -> DiffSummary | None:
    """Compare a loaded run with a base run, store the diff and return it as stored.

    `base_run_id` None compares with the project's previous loaded run and
    returns None when there is none (the project's first run). A stored diff
    of the same pair is replaced. Everything happens in one transaction that
    holds the project's load lock, so no load changes either run meanwhile.

    Raises `RunNotFoundError` for an unknown run id and `DiffError` when a run
    is not loaded, the runs belong to different projects, or both are one run.
    """
    thresholds = thresholds or DiffThresholds()
    started = time.perf_counter()

    with engine.begin() as connection:
        run = _fetch_run(connection, run_id)
        project_id = run["project_id"]
        lock_project(connection, project_id)
        # Read again under the lock: a load may have changed the run meanwhile.
        run = _fetch_run(connection, run_id)
        _require_loaded(run)

        previous_run_id = connection.execute(
            _PREVIOUS_LOADED_RUN, {"project_id": project_id, "run_id": run_id}
        ).scalar()
        if base_run_id is None:
            if previous_run_id is None:
                logger.info(
                    "Run %d is the first loaded run of project %d; there is nothing to diff",
                    run_id,
                    project_id,
                )
                return None
            base_run_id = previous_run_id
        base = _fetch_run(connection, base_run_id)
        _require_comparable(run, base)

        diff_id = _store_diff(
            connection,
            run,
            base,
            thresholds,
            base_is_previous=base_run_id == previous_run_id,
        )
        summary = load_diff(connection, diff_id)

    new, cleared = _totals(summary)
    logger.info(
        "Diffed run %d of project %d against run %d: %s, %d new and %d cleared flags in %.2f s",
        run_id,
        project_id,
        base_run_id,
        summary.verdict,
        new,
        cleared,
        time.perf_counter() - started,
    )
    return summary


def _store_diff(
    connection: Connection,
    run: dict[str, Any],
    base: dict[str, Any],
    thresholds: DiffThresholds,
    *,
    base_is_previous: bool,
) -> int:
    run_id, base_run_id = run["run_id"], base["run_id"]
    compared = [method for method in METHODS if _compared(method, run, base)]

    connection.execute(_DELETE_PAIR, {"run_id": run_id, "base_run_id": base_run_id})
    connection.execute(
        _CLASSIFY,
        {
            "run_id": run_id,
            "base_run_id": base_run_id,
            "methods": compared,
            "cv_zscore_threshold": thresholds.cv_zscore_threshold,
        },
    )

    counts = _method_counts(connection, run, base, compared, thresholds)
    verdict = judge(counts, thresholds, run_id=run_id, base_run_id=base_run_id)

    diff_id: int = connection.execute(
        _INSERT_DIFF,
        {
            "project_id": run["project_id"],
            "run_id": run_id,
            "base_run_id": base_run_id,
            "base_is_previous": base_is_previous,
            "verdict": verdict.verdict,
            "reasons": verdict.reasons,
            "cv_zscore_threshold": thresholds.cv_zscore_threshold,
            "net_new_tolerance": thresholds.net_new_tolerance,
            "rate_points": thresholds.rate_points,
        },
    ).scalar_one()
    connection.execute(
        _INSERT_METHOD,
        [
            {
                "diff_id": diff_id,
                "method": method.method,
                "compared": method.compared,
                "outcome": method.outcome,
                "run_state": method.run_state,
                "base_state": method.base_state,
                "new": method.new,
                "persisting": method.persisting,
                "resolved": method.resolved,
                "sample_removed": method.sample_removed,
                "relabelled": method.relabelled,
                "flagged": method.flagged,
                "base_flagged": method.base_flagged,
                "scored": method.scored,
                "base_scored": method.base_scored,
                "flagged_rate": method.flagged_rate,
                "base_flagged_rate": method.base_flagged_rate,
            }
            for method in verdict.methods
        ],
    )
    connection.execute(_INSERT_ITEMS, {"diff_id": diff_id})
    return diff_id


def _method_counts(
    connection: Connection,
    run: dict[str, Any],
    base: dict[str, Any],
    compared: Sequence[str],
    thresholds: DiffThresholds,
) -> list[MethodCounts]:
    changes: dict[tuple[str, str], int] = {
        (method, change): count for method, change, count in connection.execute(_CHANGE_COUNTS)
    }
    parameters = {"cv_zscore_threshold": thresholds.cv_zscore_threshold}
    run_counts = connection.execute(_RUN_COUNTS, {**parameters, "run_id": run["run_id"]})
    base_counts = connection.execute(_RUN_COUNTS, {**parameters, "run_id": base["run_id"]})
    run_row, base_row = dict(run_counts.mappings().one()), dict(base_counts.mappings().one())

    result = []
    for method in METHODS:
        per_change: dict[str, int | None] = dict.fromkeys(CHANGES)
        if method in compared:
            per_change = {change: changes.get((method, change), 0) for change in CHANGES}
        result.append(
            MethodCounts(
                method=method,
                run_state=run[STATE_COLUMNS[method]],
                base_state=base[STATE_COLUMNS[method]],
                new=per_change["new"],
                persisting=per_change["persisting"],
                resolved=per_change["resolved"],
                sample_removed=per_change["sample_removed"],
                relabelled=per_change["relabelled"],
                flagged=_flagged(method, run, run_row),
                base_flagged=_flagged(method, base, base_row),
                scored=_scored(method, run, run_row),
                base_scored=_scored(method, base, base_row),
            )
        )
    return result


def _flagged(method: str, run: Mapping[str, Any], counts: Mapping[str, Any]) -> int | None:
    if run[STATE_COLUMNS[method]] == "absent":
        return None
    flagged: int = counts[method]
    return flagged


def _scored(method: str, run: Mapping[str, Any], counts: Mapping[str, Any]) -> int | None:
    """Return the denominator of a method's flagged rate in one run.

    Cross validation scores every window, so its row count is the window
    total of both window methods; without it the window total is unknown.
    Cosine methods flag samples, so their denominator is the enabled samples.
    """
    if method in WINDOW_METHODS:
        if run["cross_validation_state"] == "absent":
            return None
        windows: int = counts["windows"]
        return windows
    if run["cosine_state"] == "absent":
        return None
    samples: int = counts["samples"]
    return samples


def _compared(method: str, run: dict[str, Any], base: dict[str, Any]) -> bool:
    column = STATE_COLUMNS[method]
    return bool(run[column] != "absent" and base[column] != "absent")


def _fetch_run(connection: Connection, run_id: int) -> dict[str, Any]:
    row = connection.execute(_RUN, {"run_id": run_id}).mappings().one_or_none()
    if row is None:
        raise RunNotFoundError(
            f"Run {run_id} not found in the warehouse; list the runs with `labelnoise history`"
        )
    return dict(row)


def _require_loaded(run: dict[str, Any]) -> None:
    if run["status"] != "loaded":
        raise DiffError(
            f"Run {run['run_id']} has status {run['status']!r}, but only loaded runs can be "
            "compared; load it first or pick a loaded run"
        )


def _require_comparable(run: dict[str, Any], base: dict[str, Any]) -> None:
    if base["run_id"] == run["run_id"]:
        raise DiffError(
            f"Run {run['run_id']} cannot be compared with itself; pick another base run"
        )
    if base["project_id"] != run["project_id"]:
        raise DiffError(
            f"Run {run['run_id']} belongs to project {run['project_id']} but base run "
            f"{base['run_id']} belongs to project {base['project_id']}; "
            "pick a base run of the same project"
        )
    _require_loaded(base)


def _totals(summary: DiffSummary) -> tuple[int, int]:
    new = sum(method.new or 0 for method in summary.methods)
    cleared = sum(method.cleared or 0 for method in summary.methods)
    return new, cleared
