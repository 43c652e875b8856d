"""Create the warehouse schema and its tables.

Revision ID: 0001_warehouse
Revises:
Create Date: 2026-12-04

The first revision: schema `labelnoise` with projects, runs, the archive
of raw label-noise responses, and the per-run fact tables that the loader
fills with COPY. Every fact table references `runs` with ON DELETE CASCADE.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_warehouse"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS labelnoise")
    op.create_table(
        "projects",
        sa.Column("project_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_projects")),
        schema="labelnoise",
    )
    op.create_table(
        "raw_payloads",
        sa.Column("payload_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("compression", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("char_length(sha256) = 64", name=op.f("ck_raw_payloads_sha256_hex")),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_raw_payloads_size_not_negative")),
        sa.PrimaryKeyConstraint("payload_id", name=op.f("pk_raw_payloads")),
        sa.UniqueConstraint("sha256", name=op.f("uq_raw_payloads_sha256")),
        schema="labelnoise",
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("triggered_job", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("trigger_mode", sa.Text(), nullable=False),
        sa.Column("representation", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.Text(), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload_id", sa.BigInteger(), nullable=True),
        sa.Column("same_as_run_id", sa.BigInteger(), nullable=True),
        sa.Column("num_neighbors", sa.Integer(), nullable=True),
        sa.Column("cosine_state", sa.Text(), nullable=True),
        sa.Column("neighbors_state", sa.Text(), nullable=True),
        sa.Column("cross_validation_state", sa.Text(), nullable=True),
        sa.Column("label_rows", sa.Integer(), nullable=True),
        sa.Column("sample_rows", sa.Integer(), nullable=True),
        sa.Column("cosine_issue_rows", sa.Integer(), nullable=True),
        sa.Column("cosine_match_rows", sa.Integer(), nullable=True),
        sa.Column("neighbor_score_rows", sa.Integer(), nullable=True),
        sa.Column("neighbor_window_rows", sa.Integer(), nullable=True),
        sa.Column("cross_validation_rows", sa.Integer(), nullable=True),
        sa.Column("duplicate_rows_dropped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "cosine_state IN ('absent', 'empty', 'present')", name=op.f("ck_runs_cosine_state")
        ),
        sa.CheckConstraint(
            "cross_validation_state IN ('absent', 'empty', 'present')",
            name=op.f("ck_runs_cross_validation_state"),
        ),
        sa.CheckConstraint(
            "neighbors_state IN ('absent', 'empty', 'present')",
            name=op.f("ck_runs_neighbors_state"),
        ),
        sa.CheckConstraint(
            "status IN ('triggered', 'running', 'loaded', 'unchanged', 'failed')",
            name=op.f("ck_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["payload_id"],
            ["labelnoise.raw_payloads.payload_id"],
            name=op.f("fk_runs_payload_id_raw_payloads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["labelnoise.projects.project_id"],
            name=op.f("fk_runs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["same_as_run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_runs_same_as_run_id_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_runs_project_id_job_id"),
        "runs",
        ["project_id", "job_id"],
        unique=False,
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_runs_project_id_started_at"),
        "runs",
        ["project_id", "started_at"],
        unique=False,
        schema="labelnoise",
    )
    op.create_table(
        "cosine_issues",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("sample_id", sa.BigInteger(), nullable=False),
        sa.Column("label_index", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('similar_but_different_label', 'different_but_same_label')",
            name=op.f("ck_cosine_issues_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_cosine_issues_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "kind", "sample_id", name=op.f("pk_cosine_issues")),
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_cosine_issues_sample_id_run_id"),
        "cosine_issues",
        ["sample_id", "run_id"],
        unique=False,
        schema="labelnoise",
    )
    op.create_table(
        "cosine_matches",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("sample_id", sa.BigInteger(), nullable=False),
        sa.Column("other_sample_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("other_label_index", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_cosine_matches_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id",
            "kind",
            "sample_id",
            "other_sample_id",
            "window_start",
            "window_end",
            name=op.f("pk_cosine_matches"),
        ),
        schema="labelnoise",
    )
    op.create_table(
        "cross_validation_scores",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("sample_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("label_index", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_cross_validation_scores_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id",
            "sample_id",
            "window_start",
            "window_end",
            name=op.f("pk_cross_validation_scores"),
        ),
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_cross_validation_scores_sample_id_window_start_window_end_run_id"),
        "cross_validation_scores",
        ["sample_id", "window_start", "window_end", "run_id"],
        unique=False,
        schema="labelnoise",
    )
    op.create_table(
        "neighbor_scores",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("sample_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_neighbor_scores_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "sample_id", "window_start", "window_end", name=op.f("pk_neighbor_scores")
        ),
        schema="labelnoise",
    )
    op.create_index(
        op.f("ix_neighbor_scores_sample_id_window_start_window_end_run_id"),
        "neighbor_scores",
        ["sample_id", "window_start", "window_end", "run_id"],
        unique=False,
        schema="labelnoise",
    )
    op.create_table(
        "neighbor_windows",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("sample_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("neighbor_sample_id", sa.BigInteger(), nullable=False),
        sa.Column("neighbor_window_start", sa.BigInteger(), nullable=False),
        sa.Column("neighbor_window_end", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_neighbor_windows_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id",
            "sample_id",
            "window_start",
            "window_end",
            "rank",
            name=op.f("pk_neighbor_windows"),
        ),
        schema="labelnoise",
    )
    op.create_table(
        "run_labels",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("label_index", sa.Integer(), nullable=False),
        sa.Column("label_name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_run_labels_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "label_index", name=op.f("pk_run_labels")),
        schema="labelnoise",
    )
    op.create_table(
        "run_samples",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("sample_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("is_disabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["labelnoise.runs.run_id"],
            name=op.f("fk_run_samples_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "sample_id", name=op.f("pk_run_samples")),
        schema="labelnoise",
    )


def downgrade() -> None:
    op.drop_table("run_samples", schema="labelnoise")
    op.drop_table("run_labels", schema="labelnoise")
    op.drop_table("neighbor_windows", schema="labelnoise")
    op.drop_index(
        op.f("ix_neighbor_scores_sample_id_window_start_window_end_run_id"),
        table_name="neighbor_scores",
        schema="labelnoise",
    )
    op.drop_table("neighbor_scores", schema="labelnoise")
    op.drop_index(
        op.f("ix_cross_validation_scores_sample_id_window_start_window_end_run_id"),
        table_name="cross_validation_scores",
        schema="labelnoise",
    )
    op.drop_table("cross_validation_scores", schema="labelnoise")
    op.drop_table("cosine_matches", schema="labelnoise")
    op.drop_index(
        op.f("ix_cosine_issues_sample_id_run_id"), table_name="cosine_issues", schema="labelnoise"
    )
    op.drop_table("cosine_issues", schema="labelnoise")
    op.drop_index(op.f("ix_runs_project_id_started_at"), table_name="runs", schema="labelnoise")
    op.drop_index(op.f("ix_runs_project_id_job_id"), table_name="runs", schema="labelnoise")
    op.drop_table("runs", schema="labelnoise")
    op.drop_table("raw_payloads", schema="labelnoise")
    op.drop_table("projects", schema="labelnoise")
    # Fails, instead of dropping them, if objects of later revisions or of users remain.
    op.execute("DROP SCHEMA labelnoise")
