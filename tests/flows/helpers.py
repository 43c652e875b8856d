"""Helpers shared by the flow tests: relabelling through the emulator, reading rows."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import Engine, func, select, text

from emulator.server import EmulatorServer
from labelnoise.demo import Relabel, choose_relabels, relabel_samples
from labelnoise.warehouse import runs
from models.warehouse import CrossValidationScore, Run

# Fact and snapshot tables of a run, whose row counts a loaded run records.
RUN_COUNT_COLUMNS = (
    "label_rows",
    "sample_rows",
    "cosine_issue_rows",
    "cosine_match_rows",
    "neighbor_score_rows",
    "neighbor_window_rows",
    "cross_validation_rows",
)


def relabel_training_samples(emulator: EmulatorServer, count: int) -> list[Relabel]:
    """Relabel `count` training samples through the emulator's edit-label endpoint."""
    project = emulator.state.project(emulator.project_id)
    training = [
        (sample.id, sample.filename, sample.label)
        for sample in project.samples
        if sample.category == "training"
    ]
    relabels = choose_relabels(training, count)
    relabel_samples(emulator.base_url, SecretStr(emulator.api_key), emulator.project_id, relabels)
    return relabels


def recorded_rows(engine: Engine, run_id: int) -> int:
    """Sum the row counts that the run row records for its tables."""
    record = runs.get_run(engine, run_id)
    return sum(getattr(record, column) or 0 for column in RUN_COUNT_COLUMNS)


def run_ids(engine: Engine, project_id: int) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(Run.run_id).where(Run.project_id == project_id).order_by(Run.run_id)
            ).scalars()
        )


def cross_validation_rows(engine: Engine, run_id: int) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).where(CrossValidationScore.run_id == run_id)
            ).scalar_one()
        )


def relabelled_samples_with_new_flags(engine: Engine, run_id: int) -> set[int]:
    """Samples with new flags in the run's diff whose label changed since the base run."""
    with engine.connect() as connection:
        return set(
            connection.execute(
                text(
                    "SELECT DISTINCT item.sample_id FROM labelnoise.run_diff_items AS item "
                    "JOIN labelnoise.run_diffs AS diff USING (diff_id) "
                    "WHERE diff.run_id = :run_id AND item.change = 'new' "
                    "AND item.label IS DISTINCT FROM item.base_label"
                ),
                {"run_id": run_id},
            ).scalars()
        )
