"""Measure `diff_runs` on two runs of `--windows` windows each.

Generates both runs' fact rows with generate_series in SQL (10 windows per
sample, cross validation on every window, nearest neighbours on 20% of the
windows, cosine issues on 5% of the samples). The second run moves half
of the neighbour flags to other windows, relabels 2% of the samples and
deletes 1% of them, so every change kind occurs. Then, for `--repeat`
rounds, it times `diff_runs` from call to commit: the set-based SQL, the
stored rows and the summary read back. That wall time bounds the database
time from above, because the Python work around the SQL is a few queries.

Target: the median diff under 1 second. The last line of output is one
JSON object with every number; `--strict` exits with status 1 when the
target is missed.

    python benchmarks/diff.py --windows 100000

Uses DATABASE_URL when set, otherwise an embedded PostgreSQL in a
temporary folder that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, text

from labelnoise.database import open_engine, start_embedded_server, upgrade_database
from labelnoise.diffing import DiffThresholds, diff_runs
from labelnoise.settings import Settings

TARGET_SECONDS = 1.0
PROJECT_ID = 900_002
WINDOWS_PER_SAMPLE = 10

# One run's rows. `:run_id`, `:samples` and `:variant` (0 for the base run, 1 for
# the run) parametrize each statement. Variant 1 deletes the samples whose id ends
# in 07 and gets as many new samples at the end, so both runs have the same count.
GENERATE = (
    """
    INSERT INTO labelnoise.runs (
        run_id, project_id, status, trigger_mode, neighbors_state,
        cross_validation_state, cosine_state, num_neighbors
    )
    VALUES (:run_id, :project_id, 'loaded', 'never', 'present', 'present', 'present', 10)
    """,
    """
    INSERT INTO labelnoise.run_labels
    SELECT :run_id, i, 'label ' || i FROM generate_series(0, 4) AS i
    """,
    """
    INSERT INTO labelnoise.run_samples
    SELECT :run_id, s, 'sample.' || s || '.json',
           'label ' || ((s + CASE WHEN :variant = 1 AND s % 50 = 0 THEN 1 ELSE 0 END) % 5),
           'training', false
    FROM generate_series(1, :samples + :variant * :removed) AS s
    WHERE NOT (:variant = 1 AND s % 100 = 7 AND s <= :samples)
    """,
    """
    INSERT INTO labelnoise.cross_validation_scores
    SELECT :run_id, rs.sample_id, w * 1000, (w + 1) * 1000, rs.sample_id % 5, random(),
           (random() + random() + random() - 1.5) * 2
    FROM labelnoise.run_samples AS rs
    CROSS JOIN generate_series(0, 9) AS w
    WHERE rs.run_id = :run_id
    """,
    """
    INSERT INTO labelnoise.neighbor_scores
    SELECT run_id, sample_id, window_start, window_end, floor(random() * 10)
    FROM labelnoise.cross_validation_scores
    WHERE run_id = :run_id
      AND ((sample_id + window_start / 1000 + :variant * (sample_id % 2)) % 5) = 0
    """,
    """
    INSERT INTO labelnoise.cosine_issues
    SELECT :run_id, 'similar_but_different_label', sample_id, 0
    FROM labelnoise.run_samples
    WHERE run_id = :run_id AND (sample_id + :variant * (sample_id % 3)) % 20 = 0
    """,
)


def generate_runs(engine: Engine, windows: int) -> tuple[int, int]:
    """Insert a project with a base run and a run of `windows` windows each."""
    samples = max(1, windows // WINDOWS_PER_SAMPLE)
    removed = sum(1 for sample in range(1, samples + 1) if sample % 100 == 7)
    base_run_id, run_id = PROJECT_ID * 10 + 1, PROJECT_ID * 10 + 2
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM labelnoise.projects WHERE project_id = :p"), {"p": PROJECT_ID}
        )
        connection.execute(
            text("INSERT INTO labelnoise.projects (project_id, name) VALUES (:p, 'benchmark')"),
            {"p": PROJECT_ID},
        )
        for variant, run in enumerate((base_run_id, run_id)):
            for statement in GENERATE:
                connection.execute(
                    text(statement),
                    {
                        "run_id": run,
                        "project_id": PROJECT_ID,
                        "samples": samples,
                        "removed": removed,
                        "variant": variant,
                    },
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return base_run_id, run_id


def measure(engine: Engine, windows: int, repeat: int) -> dict[str, object]:
    base_run_id, run_id = generate_runs(engine, windows)
    with engine.connect() as connection:
        counts = {
            table: connection.execute(
                text(f"SELECT count(*) FROM labelnoise.{table} WHERE run_id = :r"),
                {"r": run_id},
            ).scalar_one()
            for table in ("cross_validation_scores", "neighbor_scores", "cosine_issues")
        }

    seconds = []
    summary = None
    for _ in range(repeat):
        started = time.perf_counter()
        summary = diff_runs(engine, run_id, thresholds=DiffThresholds())
        seconds.append(time.perf_counter() - started)
    assert summary is not None and summary.base_run_id == base_run_id

    items = {
        f"{method.method}_{change}": getattr(method, change)
        for method in summary.methods
        for change in ("new", "persisting", "resolved", "sample_removed", "relabelled")
    }
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM labelnoise.projects WHERE project_id = :p"), {"p": PROJECT_ID}
        )
    median = statistics.median(seconds)
    return {
        "windows_per_run": counts["cross_validation_scores"],
        "neighbor_flags_per_run": counts["neighbor_scores"],
        "cosine_flags_per_run": counts["cosine_issues"],
        "diff_items": sum(value or 0 for value in items.values()),
        "changes": items,
        "verdict": summary.verdict,
        "diff_seconds_median": round(median, 4),
        "diff_seconds_min": round(min(seconds), 4),
        "diff_seconds_max": round(max(seconds), 4),
        "repeat": repeat,
        "target_seconds": TARGET_SECONDS,
        "meets_target": median < TARGET_SECONDS,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=100_000, help="Windows per run.")
    parser.add_argument("--repeat", type=int, default=5, help="Timed diffs of the same pair.")
    parser.add_argument("--strict", action="store_true", help="Exit 1 when the target is missed.")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    if os.environ.get("DATABASE_URL"):
        engine = open_engine(Settings())
        upgrade_database(engine)
        result = measure(engine, arguments.windows, arguments.repeat)
        engine.dispose()
    else:
        with tempfile.TemporaryDirectory(prefix="labelnoise-bench-") as folder:
            server = start_embedded_server(Path(folder) / "postgres")
            try:
                engine = open_engine(Settings(database_url=server.url))
                upgrade_database(engine)
                result = measure(engine, arguments.windows, arguments.repeat)
                engine.dispose()
            finally:
                server.stop()

    print(
        f"diff of two runs of {result['windows_per_run']} windows: "
        f"median {result['diff_seconds_median']} s over {arguments.repeat} rounds "
        f"({result['diff_items']} changed or persisting flags)"
    )
    print(json.dumps(result))
    return 1 if arguments.strict and not result["meets_target"] else 0


if __name__ == "__main__":
    sys.exit(main())
