"""Measure the warehouse load against a raw COPY of the same rows.

Generates a schema-faithful `getLabelNoiseData` body with `--windows`
windows: 10 windows per sample, cross validation on every window, nearest
neighbours on 20% of windows with `numNeighbors` 10, and cosine issues on
5% of samples. Then, on one database, it runs `--repeat` rounds, each of which:

- times `loader.load_run` from body bytes to commit (decode, flatten,
  COPY, run row update, in one transaction);
- times a raw COPY of the very same rows, read back from the loaded run
  as COPY text beforehand, into the same tables under another run id;
- deletes both runs and vacuums, so the next round starts from empty tables.

Peak memory is the process's peak resident set size while the first
round archives and loads the body. On Linux the peak is reset just before
(`/proc/self/clear_refs`), so it excludes generating the body.
`load_rss_growth_mb` is that peak minus the resident size before the body
was read. `memory_target_met` compares the whole peak with the body, and
`growth_to_body` gives the load's own share.

Targets: load within 2x the raw COPY, and peak memory under 5x the body
size. The last line of output is one JSON object with every number;
`--strict` exits with status 1 when a target is missed.

    python benchmarks/load.py --windows 100000

Uses DATABASE_URL when set, otherwise an embedded PostgreSQL in a
temporary folder that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import psycopg
from sqlalchemy import Engine, text

from labelnoise.database import open_engine, start_embedded_server, upgrade_database
from labelnoise.settings import Settings
from labelnoise.warehouse import archive, loader, runs
from labelnoise.warehouse.flatten import COLUMNS, SampleSnapshot
from models.label_noise import decode_label_noise

TIME_RATIO_TARGET = 2.0
PEAK_TO_BODY_TARGET = 5.0

PROJECT_ID = 900_001
WINDOWS_PER_SAMPLE = 10
WINDOW_MS = 1000
NEIGHBOR_FRACTION = 0.20
NUM_NEIGHBORS = 10
COSINE_FRACTION = 0.05
LABELS = ["idle", "snake", "up\tdown", "wave", "Zürich"]
FIRST_SAMPLE_ID = 2**31 + 1_000_000


def generate(windows: int, seed: int) -> tuple[bytes, list[SampleSnapshot]]:
    """Build a label-noise body with `windows` windows, and the project's sample list."""
    rng = random.Random(seed)
    sample_count = max(1, windows // WINDOWS_PER_SAMPLE)
    sample_ids = [FIRST_SAMPLE_ID + 7 * index for index in range(sample_count)]
    labels_of = {sample_id: rng.randrange(len(LABELS)) for sample_id in sample_ids}
    all_windows = [
        (sample_id, start * WINDOW_MS, (start + 1) * WINDOW_MS)
        for sample_id in sample_ids
        for start in range(WINDOWS_PER_SAMPLE)
    ][:windows]

    cv_scores = [
        {
            "id": sample_id,
            "windowStart": start,
            "windowEnd": end,
            "label": labels_of[sample_id],
            "probability": rng.random(),
            "score": rng.gauss(0.0, 1.0),
        }
        for sample_id, start, end in all_windows
    ]
    flagged = rng.sample(all_windows, int(len(all_windows) * NEIGHBOR_FRACTION))
    scores_and_neighbors = [
        {
            "id": sample_id,
            "windowStart": start,
            "windowEnd": end,
            "score": float(rng.randrange(1, len(all_windows))),
            "neighborWindows": [
                {"id": other[0], "windowStart": other[1], "windowEnd": other[2]}
                for other in rng.sample(all_windows, NUM_NEIGHBORS)
            ],
        }
        for sample_id, start, end in flagged
    ]
    cosine_samples = rng.sample(sample_ids, int(sample_count * COSINE_FRACTION))
    half = len(cosine_samples) // 2
    data = {
        "cosineSimilarity": {
            "similarButDifferentLabel": [
                _cosine_issue(rng, sample_id, sample_ids, labels_of)
                for sample_id in cosine_samples[:half]
            ],
            "differentButSameLabel": [
                _cosine_issue(rng, sample_id, sample_ids, labels_of)
                for sample_id in cosine_samples[half:]
            ],
        },
        "neighbors": {"scoresAndNeighbors": scores_and_neighbors, "numNeighbors": NUM_NEIGHBORS},
        "crossValidation": {"scores": cv_scores},
    }
    body = json.dumps({"success": True, "data": data}, separators=(",", ":")).encode()
    samples = [
        SampleSnapshot(
            sample_id=sample_id,
            filename=f"recording\\{sample_id}.s3\tkey.json",
            label=LABELS[labels_of[sample_id]],
            category="training" if index % 5 else "testing",
            is_disabled=index % 50 == 0,
        )
        for index, sample_id in enumerate(sample_ids)
    ]
    return body, samples


def _cosine_issue(
    rng: random.Random, sample_id: int, sample_ids: list[int], labels_of: dict[int, int]
) -> dict[str, Any]:
    others = rng.sample(sample_ids, 3)
    return {
        "id": sample_id,
        "label": labels_of[sample_id],
        "issues": [
            {
                "id": other,
                "label": labels_of[other],
                "windows": [
                    {
                        "windowStart": start * WINDOW_MS,
                        "windowEnd": (start + 1) * WINDOW_MS,
                        "score": rng.random(),
                    }
                    for start in rng.sample(range(WINDOWS_PER_SAMPLE), 2)
                ],
            }
            for other in others
        ],
    }


def _reset_peak_rss() -> bool:
    # Linux 4.0+: writing 5 to clear_refs resets VmHWM, the peak resident size.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_mb(field: str) -> float:
    """Return `VmRSS` or `VmHWM` of this process in MiB (Linux), else the lifetime peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _new_run(engine: Engine) -> int:
    return runs.create_run(engine, project_id=PROJECT_ID, trigger_mode="never", representation=None)


def _export_rows(engine: Engine, run_id: int) -> dict[str, bytes]:
    """Read every row of `run_id` back as COPY text, with the run id column left out."""
    exported: dict[str, bytes] = {}
    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for table, columns in COLUMNS.items():
            column_list = ", ".join(columns[1:])
            buffer = io.BytesIO()
            query = (
                f"COPY (SELECT {column_list} FROM labelnoise.{table} WHERE run_id = {run_id}) "
                "TO STDOUT"
            )
            with cursor.copy(query) as copy:
                for data in copy:
                    buffer.write(data)
            exported[table] = buffer.getvalue()
    return exported


def _with_run_id(exported: dict[str, bytes], run_id: int) -> dict[str, bytes]:
    prefix = f"{run_id}\t".encode()
    return {
        table: b"".join(prefix + line for line in data.splitlines(keepends=True))
        for table, data in exported.items()
    }


def _raw_copy(engine: Engine, prepared: dict[str, bytes]) -> float:
    """COPY the prepared rows into their tables in one transaction; return the seconds."""
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        started = time.perf_counter()
        with driver.transaction(), driver.cursor() as cursor:
            for table, data in prepared.items():
                columns = ", ".join(COLUMNS[table])
                with cursor.copy(f"COPY labelnoise.{table} ({columns}) FROM STDIN") as copy:
                    copy.write(data)
        return time.perf_counter() - started


def _clear(engine: Engine, run_ids: list[int]) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM labelnoise.runs WHERE run_id = ANY(:ids)"), {"ids": run_ids}
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in COLUMNS:
            connection.execute(text(f"VACUUM ANALYZE labelnoise.{table}"))


class ServerCpu:
    """CPU seconds used by every process of the embedded server, when there is one."""

    def __init__(self, pgdata: Path | None) -> None:
        self.postmaster = None
        if pgdata is not None:
            pid = int((pgdata / "postmaster.pid").read_text().split()[0])
            self.postmaster = psutil.Process(pid)

    def seconds(self) -> float | None:
        if self.postmaster is None:
            return None
        total = 0.0
        for process in [self.postmaster, *self.postmaster.children()]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


def _database() -> Iterator[tuple[Engine, ServerCpu]]:
    if os.environ.get("DATABASE_URL"):
        engine = open_engine(Settings())
        yield engine, ServerCpu(None)
        engine.dispose()
        return
    with tempfile.TemporaryDirectory(prefix="labelnoise-bench-") as folder:
        server = start_embedded_server(Path(folder) / "data")
        engine = open_engine(Settings(database_url=server.url))
        try:
            yield engine, ServerCpu(server.pgdata)
        finally:
            engine.dispose()
            server.stop()


def _cpu_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def measure(
    engine: Engine,
    server_cpu: ServerCpu,
    body_path: Path,
    samples: list[SampleSnapshot],
    repeat: int,
) -> dict[str, Any]:
    upgrade_database(engine)
    runs.upsert_project(engine, project_id=PROJECT_ID, name="Benchmark", owner=None)

    load_seconds: list[float] = []
    raw_seconds: list[float] = []
    cpu: dict[str, list[float | None]] = {
        "load_client": [],
        "load_server": [],
        "raw_client": [],
        "raw_server": [],
    }
    result: dict[str, Any] = {}
    exported: dict[str, bytes] | None = None
    for round_number in range(repeat):
        gc.collect()
        rss_before = _rss_mb("VmRSS")
        peak_was_reset = _reset_peak_rss()
        body = body_path.read_bytes()

        run_id = _new_run(engine)
        started = time.perf_counter()
        archived = archive.archive_payload(engine, run_id, body)
        archive_seconds = time.perf_counter() - started

        client_before, server_before = time.process_time(), server_cpu.seconds()
        load = loader.load_run(engine, run_id, body=body, labels=LABELS, samples=samples)
        cpu["load_client"].append(time.process_time() - client_before)
        cpu["load_server"].append(_cpu_delta(server_before, server_cpu.seconds()))
        load_seconds.append(load.seconds)
        if round_number == 0:
            peak = _rss_mb("VmHWM") if peak_was_reset else _rss_mb("ru_maxrss")
            decode_started = time.perf_counter()
            decode_label_noise(body)
            result.update(
                rows=sum(load.rows.values()),
                rows_per_table=load.rows,
                duplicates_dropped=load.duplicates_dropped,
                body_mb=round(len(body) / 2**20, 2),
                archived_mb=round(_archived_size(engine, archived.payload_id) / 2**20, 2),
                archive_seconds=round(archive_seconds, 3),
                decode_seconds=round(time.perf_counter() - decode_started, 3),
                rss_before_load_mb=round(rss_before, 1),
                peak_rss_mb=round(peak, 1),
                load_rss_growth_mb=round(peak - rss_before, 1),
                peak_is_load_only=peak_was_reset,
            )
            exported = _export_rows(engine, run_id)
        del body

        assert exported is not None
        raw_run_id = _new_run(engine)
        prepared = _with_run_id(exported, raw_run_id)
        client_before, server_before = time.process_time(), server_cpu.seconds()
        raw_seconds.append(_raw_copy(engine, prepared))
        cpu["raw_client"].append(time.process_time() - client_before)
        cpu["raw_server"].append(_cpu_delta(server_before, server_cpu.seconds()))
        del prepared
        _clear(engine, [run_id, raw_run_id])

    load_median = statistics.median(load_seconds)
    raw_median = statistics.median(raw_seconds)
    result.update(
        load_seconds=round(load_median, 3),
        raw_copy_seconds=round(raw_median, 3),
        ratio=round(load_median / raw_median, 2),
        load_seconds_all=[round(value, 3) for value in load_seconds],
        raw_copy_seconds_all=[round(value, 3) for value in raw_seconds],
        **{f"{name}_cpu_seconds": _median_or_none(values) for name, values in cpu.items()},
        load_average=[round(value, 2) for value in os.getloadavg()],
    )
    return result


def _median_or_none(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 3) if present else None


def _archived_size(engine: Engine, payload_id: int) -> int:
    with engine.connect() as connection:
        size: int = connection.execute(
            text("SELECT octet_length(body) FROM labelnoise.raw_payloads WHERE payload_id = :p"),
            {"p": payload_id},
        ).scalar_one()
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--windows", type=int, default=100_000, help="Number of windows in the generated body."
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="Number of rounds; medians are reported."
    )
    parser.add_argument("--seed", type=int, default=4, help="Seed of the generated body.")
    parser.add_argument("--strict", action="store_true", help="Exit 1 when a target is missed.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="labelnoise-body-") as folder:
        body_path = Path(folder) / "body.json"
        body, samples = generate(args.windows, args.seed)
        body_path.write_bytes(body)
        del body
        gc.collect()

        database = _database()
        engine, server_cpu = next(database)
        try:
            result = measure(engine, server_cpu, body_path, samples, args.repeat)
        finally:
            next(database, None)

    peak_ratio = result["peak_rss_mb"] / result["body_mb"]
    result.update(
        windows=args.windows,
        repeat=args.repeat,
        peak_rss_to_body=round(peak_ratio, 2),
        growth_to_body=round(result["load_rss_growth_mb"] / result["body_mb"], 2),
        time_target_met=result["ratio"] <= TIME_RATIO_TARGET,
        memory_target_met=peak_ratio <= PEAK_TO_BODY_TARGET,
        python=platform.python_version(),
        cpus=os.cpu_count(),
    )
    print(
        f"load {result['load_seconds']:.3f} s, raw COPY {result['raw_copy_seconds']:.3f} s, "
        f"ratio {result['ratio']:.2f} (target {TIME_RATIO_TARGET}); "
        f"peak RSS {result['peak_rss_mb']:.0f} MiB for a {result['body_mb']:.1f} MiB body "
        f"({peak_ratio:.1f}x, target {PEAK_TO_BODY_TARGET}x)"
    )
    print(json.dumps(result))
    missed = not (result["time_target_met"] and result["memory_target_met"])
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
