"""Time the label-noise engine on 100,000 windows and report its peak memory.

    python benchmarks/engine_scale.py [--windows 100000] [--noise 0.1]

First it times the job of the bundled project: the engine over the 40
BasicMotions training samples, median of 3 runs (target: a few seconds).
Then the dataset is BasicMotions replicated: every replica of a recording gets
its own Gaussian jitter (5% of each axis's standard deviation), so no two
windows are identical, and a share of the replicas gets a wrong label. The
script times each engine step, then builds the label-noise `data` object
the emulator serves and measures its JSON size.

Peak memory is the process's maximum resident set size (`ru_maxrss`). It
includes the interpreter and the libraries, so the baseline before the
engine runs is printed too. A full n x n matrix of float64
similarities would need n^2 x 8 bytes (80 GB at 100,000 windows).

Target: under two minutes on 2 cores. The exit status is 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

from emulator.dataset import BUNDLED_DATASET_DIR, load_dataset
from emulator.engine.label_noise import EngineSettings, compute_label_noise
from emulator.engine.windows import EngineSample, window_bounds
from emulator.results import StoredResult, label_noise_data

TARGET_SECONDS = 120.0
JITTER = 0.05  # standard deviation of the added noise, relative to each axis


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def replicate(windows_wanted: int, noise: float, seed: int = 0) -> list[EngineSample]:
    """Build jittered replicas of the bundled recordings until there are enough windows."""
    rng = np.random.default_rng(seed)
    originals = load_dataset(BUNDLED_DATASET_DIR)
    labels = sorted({sample.label for sample in originals})
    settings = EngineSettings()
    per_sample = len(
        window_bounds(100, 100.0, settings.window_size_ms, settings.window_increase_ms)
    )
    count = -(-windows_wanted // per_sample)  # ceiling division

    samples = []
    for position in range(count):
        original = originals[position % len(originals)]
        scale = original.values.std(axis=0) * JITTER
        values = original.values + rng.normal(0.0, 1.0, original.values.shape) * scale
        label = labels.index(original.label)
        if rng.random() < noise:
            label = (label + 1 + int(rng.integers(len(labels) - 1))) % len(labels)
        samples.append(EngineSample(position + 1, label, original.interval_ms, values))
    return samples


def time_bundled_job() -> float:
    """Return the median engine time over the bundled training samples, as the job runs it."""
    training = [s for s in load_dataset(BUNDLED_DATASET_DIR) if s.category == "training"]
    labels = sorted({sample.label for sample in training})
    samples = [
        EngineSample(sample.id, labels.index(sample.label), sample.interval_ms, sample.values)
        for sample in training
    ]
    times = []
    for _ in range(3):
        started = time.perf_counter()
        compute_label_noise(samples, len(labels), EngineSettings())
        times.append(time.perf_counter() - started)
    return sorted(times)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=100_000, help="minimum number of windows")
    parser.add_argument("--noise", type=float, default=0.1, help="share of samples relabelled")
    args = parser.parse_args()

    print(f"bundled project job (40 training samples): {time_bundled_job():.2f} s")
    samples = replicate(args.windows, args.noise)
    baseline = peak_rss_mib()
    print(f"{len(samples)} samples, {os.cpu_count()} CPUs, baseline peak RSS {baseline:.0f} MiB")

    steps: list[tuple[str, float]] = []
    started = time.perf_counter()

    def record(line: str) -> None:
        steps.append((line, time.perf_counter()))

    result = compute_label_noise(samples, 4, EngineSettings(), record)
    engine_seconds = time.perf_counter() - started
    engine_peak = peak_rss_mib()
    previous = started
    for line, moment in steps:
        print(f"  {moment - previous:6.1f} s  {line}")
        previous = moment

    built = time.perf_counter()
    data = label_noise_data(StoredResult(1, ("a", "b", "c", "d"), result), None)
    body = json.dumps({"success": True, "data": data}, separators=(",", ":"))
    build_seconds = time.perf_counter() - built

    count = result.windows.count
    print(f"windows: {count}")
    print(f"engine time: {engine_seconds:.1f} s (target {TARGET_SECONDS:.0f} s)")
    print(
        f"peak RSS after the engine: {engine_peak:.0f} MiB "
        f"(a full n x n float64 matrix would be {count**2 * 8 / 2**30:.0f} GiB)"
    )
    print(
        f"response: {len(body) / 2**20:.1f} MiB of JSON built in {build_seconds:.1f} s, "
        f"peak RSS then {peak_rss_mib():.0f} MiB"
    )
    return 0 if engine_seconds < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
