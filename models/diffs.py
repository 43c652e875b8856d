"""Tables of stored run diffs, in the `labelnoise` schema next to the warehouse.

A diff compares a run with a base run of the same project. `run_diffs`
stores the verdict, its reasons and the thresholds applied, `run_diff_methods`
the counts and flagged rates of each method, and `run_diff_items` one row
per flag that is new, persisting or gone. Deleting either run deletes its
diffs.

The module also declares two indexes on warehouse tables that the diff and
the `reporting` views read through, so that autogenerate sees them on the
same metadata as revision 0002 creates them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.warehouse import Base, CrossValidationScore, RunSample, Timestamp

# Window-level methods flag (sample, window start, window end); cosine methods flag samples.
WINDOW_METHODS = ("neighbors", "cross_validation")
SAMPLE_METHODS = ("cosine_similar_but_different_label", "cosine_different_but_same_label")
METHODS = WINDOW_METHODS + SAMPLE_METHODS

CHANGES = ("new", "persisting", "resolved", "sample_removed", "relabelled")
VERDICTS = ("regression", "improvement", "steady")
METHOD_OUTCOMES = (*VERDICTS, "not_compared")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


def _diff_fk() -> ForeignKey:
    return ForeignKey("run_diffs.diff_id", ondelete="CASCADE")


class RunDiff(Base):
    """A comparison of a run with a base run, with its verdict and the thresholds used."""

    __tablename__ = "run_diffs"

    diff_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.project_id", ondelete="CASCADE")
    )
    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("runs.run_id", ondelete="CASCADE"))
    base_run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("runs.run_id", ondelete="CASCADE")
    )
    # True when the base was the project's previous loaded run at diff time,
    # false when a user asked for another base.
    base_is_previous: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(Text))

    cv_zscore_threshold: Mapped[float] = mapped_column(Double)
    net_new_tolerance: Mapped[int] = mapped_column(Integer)
    rate_points: Mapped[float] = mapped_column(Double)

    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
        CheckConstraint("run_id <> base_run_id", name="distinct_runs"),
        UniqueConstraint("run_id", "base_run_id"),
        Index(None, "base_run_id"),
        Index(None, "project_id", "created_at"),
    )


class RunDiffMethod(Base):
    """Counts and flagged rates of one method in a diff.

    Change counts are NULL when the method was not compared because its
    section is absent from either run. Flagged counts and rates are NULL for
    a run whose section is absent, and a rate is NULL when its denominator
    (`scored`) is unknown or zero.
    """

    __tablename__ = "run_diff_methods"

    diff_id: Mapped[int] = mapped_column(BigInteger, _diff_fk(), primary_key=True)
    method: Mapped[str] = mapped_column(Text, primary_key=True)
    compared: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(Text)
    run_state: Mapped[str] = mapped_column(Text)
    base_state: Mapped[str] = mapped_column(Text)

    new_flags: Mapped[int | None] = mapped_column(Integer)
    persisting_flags: Mapped[int | None] = mapped_column(Integer)
    resolved_flags: Mapped[int | None] = mapped_column(Integer)
    sample_removed_flags: Mapped[int | None] = mapped_column(Integer)
    relabelled_flags: Mapped[int | None] = mapped_column(Integer)

    flagged: Mapped[int | None] = mapped_column(Integer)
    base_flagged: Mapped[int | None] = mapped_column(Integer)
    scored: Mapped[int | None] = mapped_column(Integer)
    base_scored: Mapped[int | None] = mapped_column(Integer)
    flagged_rate: Mapped[float | None] = mapped_column(Double)
    base_flagged_rate: Mapped[float | None] = mapped_column(Double)

    __table_args__ = (
        CheckConstraint(_in("method", METHODS), name="method"),
        CheckConstraint(_in("outcome", METHOD_OUTCOMES), name="outcome"),
    )


class RunDiffItem(Base):
    """A flag that is new, persisting or gone between the base run and the run.

    Window methods fill `window_start` and `window_end` (milliseconds inside
    the sample); cosine methods flag whole samples and leave both NULL.
    Labels are the sample's label in each run's sample snapshot.
    """

    __tablename__ = "run_diff_items"

    item_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    diff_id: Mapped[int] = mapped_column(BigInteger, _diff_fk())
    method: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(Text)
    sample_id: Mapped[int] = mapped_column(BigInteger)
    window_start: Mapped[int | None] = mapped_column(BigInteger)
    window_end: Mapped[int | None] = mapped_column(BigInteger)
    base_score: Mapped[float | None] = mapped_column(Double)
    score: Mapped[float | None] = mapped_column(Double)
    base_label: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(_in("method", METHODS), name="method"),
        CheckConstraint(_in("change", CHANGES), name="change"),
        CheckConstraint(
            "(window_start IS NULL AND window_end IS NULL) = " + _in("method", SAMPLE_METHODS),
            name="window_matches_method",
        ),
        Index(None, "diff_id", "method", "change"),
    )


# Counting a run's cross-validation flags (`score <= threshold`) reads only this index.
Index(
    "ix_cross_validation_scores_run_id_score",
    CrossValidationScore.run_id,
    CrossValidationScore.score,
)
# The history of one sample across runs starts from its snapshots.
Index("ix_run_samples_sample_id_run_id", RunSample.sample_id, RunSample.run_id)
