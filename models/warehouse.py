"""Tables of the label-noise warehouse, in the `labelnoise` schema.

Studio's natural keys (project id, sample id, window start and end in
milliseconds) are kept as they are, with the run. Sample ids are `bigint`
because Studio ids are not bounded by 2**31. Every fact table hangs off
`runs` with `ON DELETE CASCADE`, so deleting a run deletes its facts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "labelnoise"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES = ("triggered", "running", "loaded", "unchanged", "failed")
SECTION_STATES = ("absent", "empty", "present")
COSINE_KINDS = ("similar_but_different_label", "different_but_same_label")

Timestamp = DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.run_id", ondelete="CASCADE")


class Project(Base):
    """An Edge Impulse project that labelnoise tracks."""

    __tablename__ = "projects"

    project_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class RawPayload(Base):
    """A label-noise response body, compressed, stored once per distinct content."""

    __tablename__ = "raw_payloads"

    payload_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    sha256: Mapped[str] = mapped_column(Text, unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    compression: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())

    __table_args__ = (
        CheckConstraint("char_length(sha256) = 64", name="sha256_hex"),
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
    )


class Run(Base):
    """One data-quality run of a project: trigger, wait, fetch, load."""

    __tablename__ = "runs"

    run_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    project_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("projects.project_id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    triggered_job: Mapped[bool] = mapped_column(Boolean, server_default="false")
    trigger_mode: Mapped[str] = mapped_column(Text)
    representation: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(Text)

    started_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    triggered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    job_finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    fetched_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)

    payload_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("raw_payloads.payload_id", ondelete="SET NULL")
    )
    # Set on an `unchanged` run: the loaded run whose facts describe the same payload.
    same_as_run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("runs.run_id", ondelete="SET NULL")
    )
    num_neighbors: Mapped[int | None] = mapped_column(Integer)
    cosine_state: Mapped[str | None] = mapped_column(Text)
    neighbors_state: Mapped[str | None] = mapped_column(Text)
    cross_validation_state: Mapped[str | None] = mapped_column(Text)

    label_rows: Mapped[int | None] = mapped_column(Integer)
    sample_rows: Mapped[int | None] = mapped_column(Integer)
    cosine_issue_rows: Mapped[int | None] = mapped_column(Integer)
    cosine_match_rows: Mapped[int | None] = mapped_column(Integer)
    neighbor_score_rows: Mapped[int | None] = mapped_column(Integer)
    neighbor_window_rows: Mapped[int | None] = mapped_column(Integer)
    cross_validation_rows: Mapped[int | None] = mapped_column(Integer)
    duplicate_rows_dropped: Mapped[int] = mapped_column(Integer, server_default="0")

    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint(_in("cosine_state", SECTION_STATES), name="cosine_state"),
        CheckConstraint(_in("neighbors_state", SECTION_STATES), name="neighbors_state"),
        CheckConstraint(
            _in("cross_validation_state", SECTION_STATES), name="cross_validation_state"
        ),
        Index(None, "project_id", "started_at"),
        Index(None, "project_id", "job_id"),
    )


class RunLabel(Base):
    """A label index of a run's results and the name Studio gave it at fetch time."""

    __tablename__ = "run_labels"

    run_id: Mapped[int] = mapped_column(BigInteger, _run_fk(), primary_key=True)
    label_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    label_name: Mapped[str] = mapped_column(Text)


class RunSample(Base):
    """A sample of the project as it was when a run fetched its results."""

    __tablename__ = "run_samples"

    run_id: Mapped[int] = mapped_column(BigInteger, _run_fk(), primary_key=True)
    sample_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    is_disabled: Mapped[bool] = mapped_column(Boolean)


class CosineIssue(Base):
    """A sample flagged by the cosine-similarity method, per kind of issue."""

    __tablename__ = "cosine_issues"

    run_id: Mapped[int] = mapped_column(BigInteger, _run_fk(), primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    sample_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    label_index: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(_in("kind", COSINE_KINDS), name="kind"),
        Index(None, "sample_id", "run_id"),
    )


class CosineMatch(Base):
    """A window of another sample that makes a cosine issue, with its similarity."""

    __tablename__ = "cosine_matches"

    run_id: Mapped[int] = mapped_column(BigInteger, _run_fk(), primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    sample_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    other_sample_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_end: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    other_label_index: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Double)


class NeighborScore(Base):
    """A window flagged by the nearest-neighbours method, with its score."""

    __tablename__ = "neighbor_scores"

    run_id: Mapped[int] = mapped_column(BigInteger, _run_fk(), primary_key=True)
    sample_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_end: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    score: Mapped[float] = mapped_column(Double)

    __table_args__ = (Index(None, "sample_id", "window_start", "window_end", "run_id"),)


class NeighborWindow(Base):
    """A nearest neighbour of a flagged window; rank 1 is the nearest."""

    __tablename__ = "neighbor_windows"

    run_id: Mapped[int] = mapped_column(BigInteger, _run_fk(), primary_key=True)
    sample_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_end: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rank: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    neighbor_sample_id: Mapped[int] = mapped_column(BigInteger)
    neighbor_window_start: Mapped[int] = mapped_column(BigInteger)
    neighbor_window_end: Mapped[int] = mapped_column(BigInteger)


class CrossValidationScore(Base):
    """A window scored by cross validation: out-of-fold probability and its z-score."""

    __tablename__ = "cross_validation_scores"

    run_id: Mapped[int] = mapped_column(BigInteger, _run_fk(), primary_key=True)
    sample_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_end: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    label_index: Mapped[int] = mapped_column(Integer)
    probability: Mapped[float] = mapped_column(Double)
    score: Mapped[float] = mapped_column(Double)

    __table_args__ = (Index(None, "sample_id", "window_start", "window_end", "run_id"),)
