"""Add stored run diffs and the `reporting` views that BI tools read.

Revision ID: 0002_diffs_and_reporting
Revises: 0001_warehouse
Create Date: 2026-12-04

Diffs are stored so that dashboards and later runs read them without
recomputing: `run_diffs` (verdict and thresholds), `run_diff_methods`
(counts and rates per method) and `run_diff_items` (one row per changed
flag). The `reporting` schema gives BI tools views with a comment on every
view and column, so a reader role can be granted that schema alone.

Two indexes on warehouse tables come with this revision because only the
diff and the views need them: `(run_id, score)` on cross-validation scores
counts a run's flags from the index alone, and `(sample_id, run_id)` on run
samples finds one sample's snapshots across runs.

The views apply the cross-validation threshold of the diff that involved
the run (its own diff first, then a diff that used it as the base), and
-2.0 when no diff mentions the run yet.
"""

# The view queries are f-strings of constants defined in this file; no value comes from input.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_diffs_and_reporting"
down_revision: str | Sequence[str] | None = "0001_warehouse"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_diff_tables()
    create_warehouse_indexes()
    op.execute("CREATE SCHEMA IF NOT EXISTS reporting")
    op.execute(_comment("SCHEMA reporting", REPORTING_COMMENT))
    for view in VIEWS:
        create_view(view)


def downgrade() -> None:
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW reporting.{view.name}")
    # Without CASCADE, so that objects a user added to the schema stop the downgrade.
    op.execute("DROP SCHEMA reporting")
    drop_warehouse_indexes()
    drop_diff_tables()


# --- Tables -------------------------------------------------------------------------------


def create_diff_tables() -> None:
    op.create_table(
        "run_diffs",
        sa.Column("diff_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("base_run_id", sa.BigInteger(), nullable=False),
        sa.Column("base_is_previous", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("reasons", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("cv_zscore_threshold", sa.Double(), nullable=False),
        sa.Column("net_new_tolerance", sa.Integer(), nullable=False),
        sa.Column("rate_points", sa.Double(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("run_id <> base_run_id", name=op.f("ck_run_diffs_distinct_runs")),
        sa.CheckConstraint(
            "verdict IN ('regression', 'improvement', 'steady')", name=op.f("ck_run_diffs_verdict")
        ),
        sa.ForeignKeyConstraint(
            ["base_run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_run_diffs_base_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["labelnoise.projects.project_id"],
            name=op.f("fk_run_diffs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_run_diffs_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("diff_id", name=op.f("pk_run_diffs")),
        sa.UniqueConstraint("run_id", "base_run_id", name=op.f("uq_run_diffs_run_id_base_run_id")),
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_run_diffs_base_run_id"),
        "run_diffs",
        ["base_run_id"],
        unique=False,
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_run_diffs_project_id_created_at"),
        "run_diffs",
        ["project_id", "created_at"],
        unique=False,
        schema="labelnoise",
    )

    op.create_table(
        "run_diff_methods",
        sa.Column("diff_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("compared", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("run_state", sa.Text(), nullable=False),
        sa.Column("base_state", sa.Text(), nullable=False),
        sa.Column("new_flags", sa.Integer(), nullable=True),
        sa.Column("persisting_flags", sa.Integer(), nullable=True),
        sa.Column("resolved_flags", sa.Integer(), nullable=True),
        sa.Column("sample_removed_flags", sa.Integer(), nullable=True),
        sa.Column("relabelled_flags", sa.Integer(), nullable=True),
        sa.Column("flagged", sa.Integer(), nullable=True),
        sa.Column("base_flagged", sa.Integer(), nullable=True),
        sa.Column("scored", sa.Integer(), nullable=True),
        sa.Column("base_scored", sa.Integer(), nullable=True),
        sa.Column("flagged_rate", sa.Double(), nullable=True),
        sa.Column("base_flagged_rate", sa.Double(), nullable=True),
        sa.CheckConstraint(
            "method IN ('neighbors', 'cross_validation', 'cosine_similar_but_different_label', "
            "'cosine_different_but_same_label')",
            name=op.f("ck_run_diff_methods_method"),
        ),
        sa.CheckConstraint(
            "outcome IN ('regression', 'improvement', 'steady', 'not_compared')",
            name=op.f("ck_run_diff_methods_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["diff_id"],
            ["labelnoise.run_diffs.diff_id"],
            name=op.f("fk_run_diff_methods_diff_id_run_diffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("diff_id", "method", name=op.f("pk_run_diff_methods")),
        schema="labelnoise",
    )

    op.create_table(
        "run_diff_items",
        sa.Column("item_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("diff_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("sample_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=True),
        sa.Column("window_end", sa.BigInteger(), nullable=True),
        sa.Column("base_score", sa.Double(), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("base_label", sa.Text(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "change IN ('new', 'persisting', 'resolved', 'sample_removed', 'relabelled')",
            name=op.f("ck_run_diff_items_change"),
        ),
        sa.CheckConstraint(
            "method IN ('neighbors', 'cross_validation', 'cosine_similar_but_different_label', "
            "'cosine_different_but_same_label')",
            name=op.f("ck_run_diff_items_method"),
        ),
        sa.CheckConstraint(
            "(window_start IS NULL AND window_end IS NULL) = method IN "
            "('cosine_similar_but_different_label', 'cosine_different_but_same_label')",
            name=op.f("ck_run_diff_items_window_matches_method"),
        ),
        sa.ForeignKeyConstraint(
            ["diff_id"],
            ["labelnoise.run_diffs.diff_id"],
            name=op.f("fk_run_diff_items_diff_id_run_diffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_run_diff_items")),
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_run_diff_items_diff_id_method_change"),
        "run_diff_items",
        ["diff_id", "method", "change"],
        unique=False,
        schema="labelnoise",
    )


def drop_diff_tables() -> None:
    op.drop_index(
        op.f("ix_run_diff_items_diff_id_method_change"),
        table_name="run_diff_items",
        schema="labelnoise",
    )
    op.drop_table("run_diff_items", schema="labelnoise")
    op.drop_table("run_diff_methods", schema="labelnoise")
    op.drop_index(
        op.f("ix_run_diffs_project_id_created_at"), table_name="run_diffs", schema="labelnoise"
    )
    op.drop_index(op.f("ix_run_diffs_base_run_id"), table_name="run_diffs", schema="labelnoise")
    op.drop_table("run_diffs", schema="labelnoise")


def create_warehouse_indexes() -> None:
    op.create_index(
        op.f("ix_cross_validation_scores_run_id_score"),
        "cross_validation_scores",
        ["run_id", "score"],
        unique=False,
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_run_samples_sample_id_run_id"),
        "run_samples",
        ["sample_id", "run_id"],
        unique=False,
        schema="labelnoise",
    )


def drop_warehouse_indexes() -> None:
    op.drop_index(
        op.f("ix_run_samples_sample_id_run_id"), table_name="run_samples", schema="labelnoise"
    )
    op.drop_index(
        op.f("ix_cross_validation_scores_run_id_score"),
        table_name="cross_validation_scores",
        schema="labelnoise",
    )


# --- Views --------------------------------------------------------------------------------
#
# Each view lists its columns with their comments in SELECT order. `create_view`
# comments every listed column, and the migration tests check that no column
# of a `reporting` view is left without a comment.


class View(NamedTuple):
    name: str
    comment: str
    columns: dict[str, str]
    query: str


def create_view(view: View) -> None:
    op.execute(f"CREATE VIEW reporting.{view.name} AS\n{view.query}")
    op.execute(_comment(f"VIEW reporting.{view.name}", view.comment))
    for column, comment in view.columns.items():
        op.execute(_comment(f"COLUMN reporting.{view.name}.{column}", comment))


def _comment(target: str, comment: str) -> str:
    quoted = comment.replace("'", "''")
    return f"COMMENT ON {target} IS '{quoted}'"


REPORTING_COMMENT = (
    "Read-only views of the labelnoise warehouse for BI tools and the labelnoise command line. "
    "Every view and column is commented; grant access with labelnoise db grant-reader ROLE."
)

# The cross-validation threshold that applies to run `r`: the one of the run's own
# diff (the diff against its previous run first), else of the latest diff that used
# the run as its base, else the default of -2.0.
APPLIED_THRESHOLD = """
    LEFT JOIN LATERAL (
        SELECT d.cv_zscore_threshold
        FROM labelnoise.run_diffs AS d
        WHERE d.run_id = r.run_id OR d.base_run_id = r.run_id
        ORDER BY d.run_id = r.run_id DESC, d.base_is_previous DESC,
                 d.created_at DESC, d.diff_id DESC
        LIMIT 1
    ) AS applied ON true"""
THRESHOLD = "coalesce(applied.cv_zscore_threshold, -2.0)"

# The diff shown for run `r`: against its previous run when one exists, else the latest.
OWN_DIFF = """
    LEFT JOIN LATERAL (
        SELECT d.diff_id, d.base_run_id, d.verdict, d.reasons
        FROM labelnoise.run_diffs AS d
        WHERE d.run_id = r.run_id
        ORDER BY d.base_is_previous DESC, d.created_at DESC, d.diff_id DESC
        LIMIT 1
    ) AS own_diff ON true"""

# Ordering of methods in text aggregates, the order of the columns in run_summary.
METHOD_ORDER = (
    "ARRAY['neighbors', 'cross_validation', 'cosine_similar_but_different_label', "
    "'cosine_different_but_same_label']"
)


def _present(state: str) -> str:
    """SQL condition: the run's response had the section (possibly with no entries)."""
    return f"{state} IN ('empty', 'present')"


def _rate(flagged: str, scored: str) -> str:
    return f"{flagged}::double precision / NULLIF({scored}, 0)"


RATE_NOTE = "Fraction between 0 and 1, not a percentage."

PROJECTS = View(
    name="projects",
    comment=(
        "One row per tracked Edge Impulse project, with its run counts "
        "and the verdict of its latest loaded run."
    ),
    columns={
        "project_id": "Edge Impulse project id.",
        "project_name": "Project name in Studio when the project was last tracked.",
        "owner": "Owner of the project in Studio, when known.",
        "first_seen_at": "When labelnoise first tracked the project (UTC).",
        "runs": "Number of runs of the project, in any status.",
        "loaded_runs": "Number of runs whose results are loaded.",
        "last_run_started_at": "Start of the project's latest run, in any status (UTC).",
        "last_loaded_run_id": "Latest run whose results are loaded; NULL when none is.",
        "latest_verdict": (
            "Verdict of the latest loaded run against its base run: regression, "
            "improvement or steady; NULL when that run has no diff (a first run)."
        ),
    },
    query=f"""
SELECT
    p.project_id,
    p.name AS project_name,
    p.owner,
    p.first_seen_at,
    stats.runs,
    stats.loaded_runs,
    stats.last_run_started_at,
    r.run_id AS last_loaded_run_id,
    own_diff.verdict AS latest_verdict
FROM labelnoise.projects AS p
LEFT JOIN LATERAL (
    SELECT
        count(*) AS runs,
        count(*) FILTER (WHERE x.status = 'loaded') AS loaded_runs,
        max(x.started_at) AS last_run_started_at
    FROM labelnoise.runs AS x
    WHERE x.project_id = p.project_id
) AS stats ON true
LEFT JOIN LATERAL (
    SELECT x.run_id
    FROM labelnoise.runs AS x
    WHERE x.project_id = p.project_id AND x.status = 'loaded'
    ORDER BY x.run_id DESC
    LIMIT 1
) AS r ON true
{OWN_DIFF}
""",
)

RUN_SUMMARY = View(
    name="run_summary",
    comment=(
        "One row per run of every project, for charts over time: status, flagged counts "
        "and rates per label-noise method, and the verdict of the run's diff. Counts are "
        "NULL for runs that are not loaded and for methods absent from the run's results."
    ),
    columns={
        "project_id": "Edge Impulse project id.",
        "project_name": "Project name in Studio.",
        "run_id": "Run id, increasing with each run.",
        "status": (
            "triggered, running, loaded, unchanged (same results as an earlier run) or failed."
        ),
        "started_at": "When the run started (UTC); the time axis of trend charts.",
        "finished_at": "When the run finished (UTC); NULL while it is running.",
        "triggered_job": "Whether the run asked Studio to recalculate the metrics.",
        "num_neighbors": "Number of neighbours the nearest-neighbours method used.",
        "samples": "Enabled samples of the project when the run fetched its results.",
        "windows_scored": (
            "Windows scored by cross validation, which scores every window; the "
            "denominator of the window-level flagged rates."
        ),
        "neighbors_state": "Whether the nearest-neighbours section was absent, empty or present.",
        "neighbors_flagged": "Windows flagged by nearest neighbours (listed with a score).",
        "neighbors_flagged_rate": (
            f"neighbors_flagged / windows_scored. {RATE_NOTE} NULL when cross "
            "validation is absent, because the window count is then unknown."
        ),
        "cross_validation_state": (
            "Whether the cross-validation section was absent, empty or present."
        ),
        "cv_zscore_threshold": (
            "A window is flagged by cross validation when its z-score is at or below this value."
        ),
        "cross_validation_flagged": (
            "Windows whose cross-validation z-score is at or below the threshold."
        ),
        "cross_validation_flagged_rate": f"cross_validation_flagged / windows_scored. {RATE_NOTE}",
        "cosine_state": "Whether the cosine-similarity section was absent, empty or present.",
        "cosine_similar_but_different_label_flagged": (
            "Samples with windows similar to windows of samples with another label."
        ),
        "cosine_similar_but_different_label_rate": (
            f"cosine_similar_but_different_label_flagged / samples. {RATE_NOTE}"
        ),
        "cosine_different_but_same_label_flagged": (
            "Samples with windows dissimilar to windows of samples with the same label."
        ),
        "cosine_different_but_same_label_rate": (
            f"cosine_different_but_same_label_flagged / samples. {RATE_NOTE}"
        ),
        "diff_id": "The run's diff (against its previous loaded run when there is one).",
        "base_run_id": "Run that the diff compared this run with.",
        "verdict": "regression, improvement or steady; NULL for a run without a diff.",
        "reasons": "The verdict's reasons in words and numbers, separated by semicolons.",
        "error": "Why the run failed; NULL unless status is failed.",
    },
    query=f"""
SELECT
    r.project_id,
    p.name AS project_name,
    r.run_id,
    r.status,
    r.started_at,
    r.finished_at,
    r.triggered_job,
    r.num_neighbors,
    counts.samples,
    counts.windows_scored,
    r.neighbors_state,
    counts.neighbors_flagged,
    {_rate("counts.neighbors_flagged", "counts.windows_scored")} AS neighbors_flagged_rate,
    r.cross_validation_state,
    {THRESHOLD} AS cv_zscore_threshold,
    counts.cross_validation_flagged,
    {_rate("counts.cross_validation_flagged", "counts.windows_scored")}
        AS cross_validation_flagged_rate,
    r.cosine_state,
    counts.cosine_similar_but_different_label_flagged,
    {_rate("counts.cosine_similar_but_different_label_flagged", "counts.samples")}
        AS cosine_similar_but_different_label_rate,
    counts.cosine_different_but_same_label_flagged,
    {_rate("counts.cosine_different_but_same_label_flagged", "counts.samples")}
        AS cosine_different_but_same_label_rate,
    own_diff.diff_id,
    own_diff.base_run_id,
    own_diff.verdict,
    array_to_string(own_diff.reasons, '; ') AS reasons,
    r.error
FROM labelnoise.runs AS r
JOIN labelnoise.projects AS p ON p.project_id = r.project_id
{APPLIED_THRESHOLD}
{OWN_DIFF}
LEFT JOIN LATERAL (
    SELECT
        CASE WHEN r.status = 'loaded' THEN (
            SELECT count(*) FROM labelnoise.run_samples AS s
            WHERE s.run_id = r.run_id AND NOT s.is_disabled
        ) END AS samples,
        CASE WHEN {_present("r.cross_validation_state")} THEN (
            SELECT count(*) FROM labelnoise.cross_validation_scores AS cv
            WHERE cv.run_id = r.run_id
        ) END AS windows_scored,
        CASE WHEN {_present("r.neighbors_state")} THEN (
            SELECT count(*) FROM labelnoise.neighbor_scores AS n
            WHERE n.run_id = r.run_id
        ) END AS neighbors_flagged,
        CASE WHEN {_present("r.cross_validation_state")} THEN (
            SELECT count(*) FROM labelnoise.cross_validation_scores AS cv
            WHERE cv.run_id = r.run_id AND cv.score <= {THRESHOLD}
        ) END AS cross_validation_flagged,
        CASE WHEN {_present("r.cosine_state")} THEN (
            SELECT count(*) FROM labelnoise.cosine_issues AS c
            WHERE c.run_id = r.run_id AND c.kind = 'similar_but_different_label'
        ) END AS cosine_similar_but_different_label_flagged,
        CASE WHEN {_present("r.cosine_state")} THEN (
            SELECT count(*) FROM labelnoise.cosine_issues AS c
            WHERE c.run_id = r.run_id AND c.kind = 'different_but_same_label'
        ) END AS cosine_different_but_same_label_flagged
) AS counts ON true
""",
)

RUN_FLAGS = View(
    name="run_flags",
    comment=(
        "One row per flag of a loaded run: a window flagged by nearest neighbours or by "
        "cross validation, or a sample flagged by cosine similarity (window columns NULL), "
        "with the sample's filename, label and category."
    ),
    columns={
        "project_id": "Edge Impulse project id.",
        "run_id": "Run whose results contain the flag.",
        "started_at": "When the run started (UTC).",
        "method": (
            "neighbors, cross_validation, cosine_similar_but_different_label "
            "or cosine_different_but_same_label."
        ),
        "sample_id": "Studio sample id.",
        "window_start": "Window start in milliseconds inside the sample; NULL for cosine flags.",
        "window_end": "Window end in milliseconds inside the sample; NULL for cosine flags.",
        "score": (
            "neighbors: label-noise score, from 0 to the number of windows, higher is worse. "
            "cross_validation: z-score of the probability, lower is worse. NULL for cosine flags."
        ),
        "probability": "Cross validation only: out-of-fold probability of the window's label.",
        "label_index": "Label index in the run's results; NULL for neighbours flags.",
        "label": (
            "Label name: from the results' label index where there is one, else the "
            "sample's label when the run fetched its results."
        ),
        "filename": "Sample filename in Studio.",
        "category": "Sample category: training or testing.",
        "is_disabled": (
            "Whether the sample was disabled in Studio when the run fetched its results."
        ),
    },
    query=f"""
SELECT
    r.project_id,
    f.run_id,
    r.started_at,
    f.method,
    f.sample_id,
    f.window_start,
    f.window_end,
    f.score,
    f.probability,
    f.label_index,
    coalesce(l.label_name, s.label) AS label,
    s.filename,
    s.category,
    s.is_disabled
FROM (
    SELECT
        n.run_id, 'neighbors'::text AS method, n.sample_id, n.window_start, n.window_end,
        n.score, NULL::double precision AS probability, NULL::integer AS label_index
    FROM labelnoise.neighbor_scores AS n
    UNION ALL
    SELECT
        cv.run_id, 'cross_validation', cv.sample_id, cv.window_start, cv.window_end,
        cv.score, cv.probability, cv.label_index
    FROM labelnoise.runs AS r
    {APPLIED_THRESHOLD}
    JOIN labelnoise.cross_validation_scores AS cv
        ON cv.run_id = r.run_id AND cv.score <= {THRESHOLD}
    UNION ALL
    SELECT
        c.run_id, 'cosine_' || c.kind, c.sample_id, NULL, NULL,
        NULL, NULL, c.label_index
    FROM labelnoise.cosine_issues AS c
) AS f
JOIN labelnoise.runs AS r ON r.run_id = f.run_id
LEFT JOIN labelnoise.run_labels AS l ON l.run_id = f.run_id AND l.label_index = f.label_index
LEFT JOIN labelnoise.run_samples AS s ON s.run_id = f.run_id AND s.sample_id = f.sample_id
""",
)

LABEL_TRENDS = View(
    name="label_trends",
    comment=(
        "One row per loaded run and label, for per-label trend charts: windows and samples "
        "of the label, and how many of them each method flagged."
    ),
    columns={
        "project_id": "Edge Impulse project id.",
        "run_id": "Run id.",
        "started_at": "When the run started (UTC); the time axis of trend charts.",
        "label": "Label name, resolved as in run_flags.label.",
        "samples": "Enabled samples with this label when the run fetched its results.",
        "windows_scored": "Windows of this label scored by cross validation.",
        "neighbors_flagged": "Windows of this label flagged by nearest neighbours.",
        "neighbors_flagged_rate": f"neighbors_flagged / windows_scored. {RATE_NOTE}",
        "cross_validation_flagged": "Windows of this label flagged by cross validation.",
        "cross_validation_flagged_rate": f"cross_validation_flagged / windows_scored. {RATE_NOTE}",
        "cosine_similar_but_different_label_flagged": (
            "Samples of this label flagged as similar to samples with another label."
        ),
        "cosine_different_but_same_label_flagged": (
            "Samples of this label flagged as dissimilar to samples with the same label."
        ),
    },
    query=f"""
SELECT
    r.project_id,
    r.run_id,
    r.started_at,
    per_label.label,
    per_label.samples,
    per_label.windows_scored,
    per_label.neighbors_flagged,
    {_rate("per_label.neighbors_flagged", "per_label.windows_scored")}
        AS neighbors_flagged_rate,
    per_label.cross_validation_flagged,
    {_rate("per_label.cross_validation_flagged", "per_label.windows_scored")}
        AS cross_validation_flagged_rate,
    per_label.cosine_similar_but_different_label_flagged,
    per_label.cosine_different_but_same_label_flagged
FROM labelnoise.runs AS r
CROSS JOIN LATERAL (
    SELECT
        x.label,
        count(*) FILTER (WHERE x.item = 'sample') AS samples,
        count(*) FILTER (WHERE x.item = 'window') AS windows_scored,
        count(*) FILTER (WHERE x.item = 'neighbors') AS neighbors_flagged,
        count(*) FILTER (WHERE x.item = 'cross_validation') AS cross_validation_flagged,
        count(*) FILTER (WHERE x.item = 'cosine_similar_but_different_label')
            AS cosine_similar_but_different_label_flagged,
        count(*) FILTER (WHERE x.item = 'cosine_different_but_same_label')
            AS cosine_different_but_same_label_flagged
    FROM (
        SELECT 'sample'::text AS item, s.label
        FROM labelnoise.run_samples AS s
        WHERE s.run_id = r.run_id AND NOT s.is_disabled
        UNION ALL
        SELECT 'window', coalesce(l.label_name, s.label)
        FROM labelnoise.cross_validation_scores AS cv
        LEFT JOIN labelnoise.run_labels AS l
            ON l.run_id = cv.run_id AND l.label_index = cv.label_index
        LEFT JOIN labelnoise.run_samples AS s
            ON s.run_id = cv.run_id AND s.sample_id = cv.sample_id
        WHERE cv.run_id = r.run_id
        UNION ALL
        SELECT f.method, f.label
        FROM reporting.run_flags AS f
        WHERE f.run_id = r.run_id
    ) AS x
    GROUP BY x.label
) AS per_label
WHERE r.status = 'loaded'
""",
)

WINDOW_HISTORY = View(
    name="window_history",
    comment=(
        "One row per window and loaded run that scored or flagged it: the history of one "
        "window across runs. Filter on sample_id, window_start and window_end."
    ),
    columns={
        "project_id": "Edge Impulse project id.",
        "run_id": "Run id.",
        "started_at": "When the run started (UTC).",
        "sample_id": "Studio sample id.",
        "window_start": "Window start in milliseconds inside the sample.",
        "window_end": "Window end in milliseconds inside the sample.",
        "filename": "Sample filename when the run fetched its results.",
        "sample_label": "Sample's label when the run fetched its results.",
        "label": (
            "Label the cross-validation results gave the window; NULL without cross validation."
        ),
        "category": "Sample category: training or testing.",
        "is_disabled": "Whether the sample was disabled in Studio.",
        "neighbors_score": "Nearest-neighbours score; NULL when the window was not flagged.",
        "neighbors_flagged": (
            "Whether nearest neighbours flagged the window; NULL when the run has no "
            "nearest-neighbours results."
        ),
        "cross_validation_probability": "Out-of-fold probability of the window's label.",
        "cross_validation_score": "z-score of that probability; lower is worse.",
        "cv_zscore_threshold": "Cross-validation threshold applied to this run.",
        "cross_validation_flagged": (
            "Whether cross_validation_score is at or below the threshold; NULL when the "
            "run has no cross-validation results."
        ),
    },
    query=f"""
SELECT
    r.project_id,
    w.run_id,
    r.started_at,
    w.sample_id,
    w.window_start,
    w.window_end,
    s.filename,
    s.label AS sample_label,
    l.label_name AS label,
    s.category,
    s.is_disabled,
    n.score AS neighbors_score,
    CASE WHEN {_present("r.neighbors_state")} THEN n.score IS NOT NULL END AS neighbors_flagged,
    cv.probability AS cross_validation_probability,
    cv.score AS cross_validation_score,
    {THRESHOLD} AS cv_zscore_threshold,
    CASE WHEN {_present("r.cross_validation_state")}
        THEN coalesce(cv.score <= {THRESHOLD}, false) END AS cross_validation_flagged
FROM (
    SELECT run_id, sample_id, window_start, window_end
    FROM labelnoise.cross_validation_scores
    UNION
    SELECT run_id, sample_id, window_start, window_end
    FROM labelnoise.neighbor_scores
) AS w
JOIN labelnoise.runs AS r ON r.run_id = w.run_id
{APPLIED_THRESHOLD}
LEFT JOIN labelnoise.neighbor_scores AS n
    ON n.run_id = w.run_id AND n.sample_id = w.sample_id
    AND n.window_start = w.window_start AND n.window_end = w.window_end
LEFT JOIN labelnoise.cross_validation_scores AS cv
    ON cv.run_id = w.run_id AND cv.sample_id = w.sample_id
    AND cv.window_start = w.window_start AND cv.window_end = w.window_end
LEFT JOIN labelnoise.run_labels AS l ON l.run_id = w.run_id AND l.label_index = cv.label_index
LEFT JOIN labelnoise.run_samples AS s ON s.run_id = w.run_id AND s.sample_id = w.sample_id
""",
)

SAMPLE_HISTORY = View(
    name="sample_history",
    comment=(
        "One row per sample and loaded run whose sample list contains it: the history of "
        "one sample across runs (label, filename, and how each method flagged it). "
        "Filter on sample_id."
    ),
    columns={
        "project_id": "Edge Impulse project id.",
        "run_id": "Run id.",
        "started_at": "When the run started (UTC).",
        "sample_id": "Studio sample id.",
        "filename": "Sample filename when the run fetched its results.",
        "label": "Sample's label when the run fetched its results; relabelling shows here.",
        "category": "Sample category: training or testing.",
        "is_disabled": "Whether the sample was disabled in Studio.",
        "windows_scored": "Windows of the sample scored by cross validation.",
        "neighbors_flagged_windows": "Windows of the sample flagged by nearest neighbours.",
        "cross_validation_flagged_windows": "Windows of the sample flagged by cross validation.",
        "cosine_similar_but_different_label": (
            "Whether cosine similarity flagged the sample as similar to samples with another label."
        ),
        "cosine_different_but_same_label": (
            "Whether cosine similarity flagged the sample as dissimilar to samples with "
            "the same label."
        ),
    },
    query=f"""
SELECT
    r.project_id,
    s.run_id,
    r.started_at,
    s.sample_id,
    s.filename,
    s.label,
    s.category,
    s.is_disabled,
    CASE WHEN {_present("r.cross_validation_state")} THEN (
        SELECT count(*) FROM labelnoise.cross_validation_scores AS cv
        WHERE cv.run_id = s.run_id AND cv.sample_id = s.sample_id
    ) END AS windows_scored,
    CASE WHEN {_present("r.neighbors_state")} THEN (
        SELECT count(*) FROM labelnoise.neighbor_scores AS n
        WHERE n.run_id = s.run_id AND n.sample_id = s.sample_id
    ) END AS neighbors_flagged_windows,
    CASE WHEN {_present("r.cross_validation_state")} THEN (
        SELECT count(*) FROM labelnoise.cross_validation_scores AS cv
        WHERE cv.run_id = s.run_id AND cv.sample_id = s.sample_id AND cv.score <= {THRESHOLD}
    ) END AS cross_validation_flagged_windows,
    CASE WHEN {_present("r.cosine_state")} THEN EXISTS (
        SELECT FROM labelnoise.cosine_issues AS c
        WHERE c.run_id = s.run_id AND c.kind = 'similar_but_different_label'
        AND c.sample_id = s.sample_id
    ) END AS cosine_similar_but_different_label,
    CASE WHEN {_present("r.cosine_state")} THEN EXISTS (
        SELECT FROM labelnoise.cosine_issues AS c
        WHERE c.run_id = s.run_id AND c.kind = 'different_but_same_label'
        AND c.sample_id = s.sample_id
    ) END AS cosine_different_but_same_label
FROM labelnoise.run_samples AS s
JOIN labelnoise.runs AS r ON r.run_id = s.run_id
{APPLIED_THRESHOLD}
WHERE r.status = 'loaded'
""",
)

DIFFS = View(
    name="diffs",
    comment=(
        "One row per stored diff of a run against a base run: verdict, reasons, totals "
        "over the compared methods, and the thresholds applied."
    ),
    columns={
        "diff_id": "Diff id.",
        "project_id": "Edge Impulse project id.",
        "project_name": "Project name in Studio.",
        "run_id": "The newer run of the comparison.",
        "run_started_at": "When that run started (UTC).",
        "base_run_id": "The run it was compared with.",
        "base_started_at": "When the base run started (UTC).",
        "base_is_previous": (
            "True when the base was the project's previous loaded run; false when a user "
            "chose another base."
        ),
        "verdict": "regression, improvement or steady.",
        "reasons": "The verdict's reasons, one text per element.",
        "reasons_text": "The same reasons separated by semicolons, for tools without arrays.",
        "new_flags": "New flags, summed over the compared methods.",
        "cleared_flags": (
            "Base-run flags gone from the run (resolved, relabelled or sample removed), "
            "summed over the compared methods."
        ),
        "methods_not_compared": (
            "Methods absent from either run's results, which the diff did not compare; "
            "NULL when every method was compared."
        ),
        "cv_zscore_threshold": "A window is flagged by cross validation at or below this z-score.",
        "net_new_tolerance": "New flags of a method may exceed its cleared flags by this many.",
        "rate_points": (
            "Percentage points a method's flagged rate may rise before it is a regression."
        ),
        "created_at": "When the diff was computed (UTC).",
    },
    query=f"""
SELECT
    d.diff_id,
    d.project_id,
    p.name AS project_name,
    d.run_id,
    r.started_at AS run_started_at,
    d.base_run_id,
    b.started_at AS base_started_at,
    d.base_is_previous,
    d.verdict,
    d.reasons,
    array_to_string(d.reasons, '; ') AS reasons_text,
    totals.new_flags,
    totals.cleared_flags,
    totals.methods_not_compared,
    d.cv_zscore_threshold,
    d.net_new_tolerance,
    d.rate_points,
    d.created_at
FROM labelnoise.run_diffs AS d
JOIN labelnoise.projects AS p ON p.project_id = d.project_id
JOIN labelnoise.runs AS r ON r.run_id = d.run_id
JOIN labelnoise.runs AS b ON b.run_id = d.base_run_id
LEFT JOIN LATERAL (
    SELECT
        sum(m.new_flags) AS new_flags,
        sum(m.resolved_flags + m.relabelled_flags + m.sample_removed_flags) AS cleared_flags,
        string_agg(m.method, ', ' ORDER BY array_position({METHOD_ORDER}, m.method))
            FILTER (WHERE NOT m.compared) AS methods_not_compared
    FROM labelnoise.run_diff_methods AS m
    WHERE m.diff_id = d.diff_id
) AS totals ON true
""",
)

DIFF_METHODS = View(
    name="diff_methods",
    comment=(
        "One row per diff and label-noise method: change counts, flagged counts and rates "
        "in both runs, and the method's outcome. Change counts are NULL for a method that "
        "was not compared because its section is absent from either run."
    ),
    columns={
        "diff_id": "Diff id.",
        "project_id": "Edge Impulse project id.",
        "run_id": "The newer run of the comparison.",
        "base_run_id": "The run it was compared with.",
        "method": (
            "neighbors, cross_validation, cosine_similar_but_different_label "
            "or cosine_different_but_same_label."
        ),
        "method_order": "Position of the method in reports, from 1.",
        "compared": "False when the method's section is absent from either run.",
        "outcome": "regression, improvement, steady or not_compared.",
        "run_state": "Whether the section was absent, empty or present in the run.",
        "base_state": "Whether the section was absent, empty or present in the base run.",
        "new_flags": "Flags in the run that the base run did not have.",
        "persisting_flags": "Flags in both runs.",
        "resolved_flags": "Base-run flags gone from the run while the sample kept its label.",
        "relabelled_flags": "Base-run flags gone from the run after the sample's label changed.",
        "sample_removed_flags": "Base-run flags whose sample is deleted or disabled in the run.",
        "cleared_flags": "resolved_flags + relabelled_flags + sample_removed_flags.",
        "net_new_flags": "new_flags - cleared_flags; compared with the net-new tolerance.",
        "flagged": "Flags of the method in the run; NULL when its section is absent.",
        "base_flagged": "Flags of the method in the base run; NULL when its section is absent.",
        "scored": (
            "Denominator of the run's flagged rate: windows scored by cross validation for "
            "window methods, enabled samples for cosine methods."
        ),
        "base_scored": "The same denominator in the base run.",
        "flagged_rate": f"flagged / scored. {RATE_NOTE}",
        "base_flagged_rate": f"base_flagged / base_scored. {RATE_NOTE}",
        "rate_change_points": "(flagged_rate - base_flagged_rate) in percentage points.",
    },
    query=f"""
SELECT
    m.diff_id,
    d.project_id,
    d.run_id,
    d.base_run_id,
    m.method,
    array_position({METHOD_ORDER}, m.method) AS method_order,
    m.compared,
    m.outcome,
    m.run_state,
    m.base_state,
    m.new_flags,
    m.persisting_flags,
    m.resolved_flags,
    m.relabelled_flags,
    m.sample_removed_flags,
    m.resolved_flags + m.relabelled_flags + m.sample_removed_flags AS cleared_flags,
    m.new_flags - (m.resolved_flags + m.relabelled_flags + m.sample_removed_flags)
        AS net_new_flags,
    m.flagged,
    m.base_flagged,
    m.scored,
    m.base_scored,
    m.flagged_rate,
    m.base_flagged_rate,
    (m.flagged_rate - m.base_flagged_rate) * 100 AS rate_change_points
FROM labelnoise.run_diff_methods AS m
JOIN labelnoise.run_diffs AS d ON d.diff_id = m.diff_id
""",
)

DIFF_CHANGES = View(
    name="diff_changes",
    comment=(
        "One row per flag that changed between the two runs of a diff, or persisted, "
        "with the sample's filename, label and category. Filter on diff_id and change; "
        "severity_rank orders the flags of one method and change from worst."
    ),
    columns={
        "diff_id": "Diff id.",
        "project_id": "Edge Impulse project id.",
        "run_id": "The newer run of the comparison.",
        "base_run_id": "The run it was compared with.",
        "method": (
            "neighbors, cross_validation, cosine_similar_but_different_label "
            "or cosine_different_but_same_label."
        ),
        "change": (
            "new (flagged only in the run), persisting (in both), resolved (only in the base "
            "run, sample unchanged), relabelled (only in the base run, sample label changed) "
            "or sample_removed (only in the base run, sample deleted or disabled)."
        ),
        "severity_rank": (
            "1 for the worst flag of its diff, method and change: highest neighbours score, "
            "lowest cross-validation z-score; cosine flags rank by sample id."
        ),
        "sample_id": "Studio sample id.",
        "window_start": "Window start in milliseconds inside the sample; NULL for cosine flags.",
        "window_end": "Window end in milliseconds inside the sample; NULL for cosine flags.",
        "base_score": "Score in the base run; NULL for new flags and cosine flags.",
        "score": "Score in the run; NULL for flags gone from the run and cosine flags.",
        "score_change": "score - base_score, for persisting window flags.",
        "filename": "Sample filename (from the run, or the base run for removed samples).",
        "label": "Sample's label in the run; NULL when the sample is gone.",
        "base_label": "Sample's label in the base run.",
        "category": "Sample category: training or testing.",
    },
    query="""
SELECT
    i.diff_id,
    d.project_id,
    d.run_id,
    d.base_run_id,
    i.method,
    i.change,
    row_number() OVER (
        PARTITION BY i.diff_id, i.method, i.change
        ORDER BY
            CASE i.method
                WHEN 'neighbors' THEN -coalesce(i.score, i.base_score)
                WHEN 'cross_validation' THEN coalesce(i.score, i.base_score)
            END NULLS LAST,
            i.sample_id, i.window_start, i.window_end
    ) AS severity_rank,
    i.sample_id,
    i.window_start,
    i.window_end,
    i.base_score,
    i.score,
    i.score - i.base_score AS score_change,
    coalesce(s.filename, bs.filename) AS filename,
    i.label,
    i.base_label,
    coalesce(s.category, bs.category) AS category
FROM labelnoise.run_diff_items AS i
JOIN labelnoise.run_diffs AS d ON d.diff_id = i.diff_id
LEFT JOIN labelnoise.run_samples AS s ON s.run_id = d.run_id AND s.sample_id = i.sample_id
LEFT JOIN labelnoise.run_samples AS bs
    ON bs.run_id = d.base_run_id AND bs.sample_id = i.sample_id
""",
)

LATEST_REGRESSIONS = View(
    name="latest_regressions",
    comment=(
        "One row per regression found by a diff against the previous loaded run; "
        "is_current marks the projects whose latest diff is still a regression."
    ),
    columns={
        "diff_id": "Diff id.",
        "project_id": "Edge Impulse project id.",
        "project_name": "Project name in Studio.",
        "run_id": "The run that regressed.",
        "run_started_at": "When that run started (UTC).",
        "base_run_id": "The previous loaded run it was compared with.",
        "reasons": "Why the diff is a regression, separated by semicolons.",
        "new_flags": "New flags, summed over the compared methods.",
        "cleared_flags": "Base-run flags gone from the run, summed over the compared methods.",
        "is_current": (
            "True when no later run of the project has a diff against its previous run, "
            "so the regression is the project's current state."
        ),
        "created_at": "When the diff was computed (UTC).",
    },
    query="""
SELECT
    d.diff_id,
    d.project_id,
    d.project_name,
    d.run_id,
    d.run_started_at,
    d.base_run_id,
    d.reasons_text AS reasons,
    d.new_flags,
    d.cleared_flags,
    d.diff_id = latest.diff_id AS is_current,
    d.created_at
FROM reporting.diffs AS d
LEFT JOIN LATERAL (
    SELECT x.diff_id
    FROM labelnoise.run_diffs AS x
    WHERE x.project_id = d.project_id AND x.base_is_previous
    ORDER BY x.run_id DESC, x.created_at DESC, x.diff_id DESC
    LIMIT 1
) AS latest ON true
WHERE d.verdict = 'regression' AND d.base_is_previous
""",
)

VIEWS = (
    PROJECTS,
    RUN_SUMMARY,
    RUN_FLAGS,
    LABEL_TRENDS,
    WINDOW_HISTORY,
    SAMPLE_HISTORY,
    DIFFS,
    DIFF_METHODS,
    DIFF_CHANGES,
    LATEST_REGRESSIONS,
)
