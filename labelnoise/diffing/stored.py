"""Read a stored diff back into a `DiffSummary`."""

from __future__ import annotations

from sqlalchemy import Connection, text

from labelnoise.diffing.summary import DiffSummary, FlagChange, MethodDiff
from labelnoise.diffing.thresholds import DiffThresholds
from labelnoise.exceptions import WarehouseError
from models.diffs import METHODS

# New flags listed per method in a summary, worst first.
TOP_NEW_PER_METHOD = 10

_DIFF = text(
    """
    SELECT diff_id, project_id, run_id, base_run_id, base_is_previous, verdict, reasons,
           cv_zscore_threshold, net_new_tolerance, rate_points, created_at
    FROM labelnoise.run_diffs
    WHERE diff_id = :diff_id
    """
)

_METHODS = text(
    """
    SELECT method, run_state, base_state,
           new_flags AS new, persisting_flags AS persisting, resolved_flags AS resolved,
           sample_removed_flags AS sample_removed, relabelled_flags AS relabelled,
           flagged, base_flagged, scored, base_scored, outcome
    FROM labelnoise.run_diff_methods
    WHERE diff_id = :diff_id
    ORDER BY array_position(CAST(:methods AS text[]), method)
    """
)

# Worst first: the highest neighbours score, the lowest cross-validation
# z-score; cosine flags have no score and follow sample ids.
_TOP_NEW = text(
    """
    SELECT method, change, sample_id, window_start, window_end, base_score, score,
           filename, label, category
    FROM (
        SELECT i.*, s.filename, s.category,
               row_number() OVER (
                   PARTITION BY i.method
                   ORDER BY CASE i.method
                                WHEN 'neighbors' THEN -i.score
                                WHEN 'cross_validation' THEN i.score
                            END NULLS LAST,
                            i.sample_id, i.window_start, i.window_end
               ) AS severity_rank
        FROM labelnoise.run_diff_items AS i
        JOIN labelnoise.run_diffs AS d ON d.diff_id = i.diff_id
        LEFT JOIN labelnoise.run_samples AS s
            ON s.run_id = d.run_id AND s.sample_id = i.sample_id
        WHERE i.diff_id = :diff_id AND i.change = 'new'
    ) AS ranked
    WHERE severity_rank <= :limit
    ORDER BY array_position(CAST(:methods AS text[]), method), severity_rank
    """
)


def load_diff(connection: Connection, diff_id: int) -> DiffSummary:
    """Read the stored diff `diff_id` with its methods and its worst new flags.

    Raises `WarehouseError` when no diff has that id.
    """
    row = connection.execute(_DIFF, {"diff_id": diff_id}).mappings().one_or_none()
    if row is None:
        raise WarehouseError(f"Diff {diff_id} not found in the warehouse")

    methods = [
        MethodDiff(**method)
        for method in connection.execute(
            _METHODS, {"diff_id": diff_id, "methods": list(METHODS)}
        ).mappings()
    ]
    top_new = [
        FlagChange(**flag)
        for flag in connection.execute(
            _TOP_NEW,
            {"diff_id": diff_id, "methods": list(METHODS), "limit": TOP_NEW_PER_METHOD},
        ).mappings()
    ]
    return DiffSummary(
        diff_id=row["diff_id"],
        project_id=row["project_id"],
        run_id=row["run_id"],
        base_run_id=row["base_run_id"],
        base_is_previous=row["base_is_previous"],
        verdict=row["verdict"],
        reasons=list(row["reasons"]),
        methods=methods,
        top_new=top_new,
        thresholds=DiffThresholds(
            cv_zscore_threshold=row["cv_zscore_threshold"],
            net_new_tolerance=row["net_new_tolerance"],
            rate_points=row["rate_points"],
        ),
        created_at=row["created_at"],
    )
