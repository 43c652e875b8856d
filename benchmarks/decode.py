"""Measure decoding of a large label-noise response against `orjson.loads`.

Generates a schema-faithful `getLabelNoiseData` body with `--windows`
windows and times three operations on the same bytes:

- `decode_label_noise`, the typed msgspec decode the warehouse loader uses;
- the envelope check that `StudioClient.fetch_label_noise_body` runs before
  archiving (a scan for `success` that builds none of the results);
- `orjson.loads`, the baseline: a plain dict-and-list tree.

Peak memory is what each decode allocates on top of the body, measured
with `tracemalloc` in a separate pass so tracing does not slow the timings.

Targets: the typed decode takes at most 2x orjson's time, and its peak
allocation is at most 3x the body size. The last line of output is one
JSON object with every number. `--strict` exits with status 1 when a
target is missed.

    python benchmarks/decode.py --windows 100000
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from models.label_noise import decode_label_noise
from models.studio import Envelope

TIME_RATIO_TARGET = 2.0
PEAK_TO_BODY_TARGET = 3.0

LABELS = ["idle", "snake", "updown", "wave"]
WINDOW_MS = 2000
WINDOW_STEP_MS = 500


def generate_body(windows: int, *, windows_per_sample: int, seed: int, embed: bool) -> bytes:
    """Build a label-noise response body with `windows` cross-validated windows.

    Every window gets a cross-validation score. One window in ten is
    flagged by nearest neighbours, with `numNeighbors` = 5 neighbours each.
    One sample in twenty is a cosine-similarity issue of each kind, with
    three other samples of two windows each. With `embed`, flagged windows
    and cosine issues carry a full `Sample` record, as Studio may send.
    """
    rng = random.Random(seed)
    sample_count = max(1, windows // windows_per_sample)
    sample_labels = [rng.randrange(len(LABELS)) for _ in range(sample_count)]

    def window_of(index: int) -> tuple[int, int, int]:
        sample_id = index // windows_per_sample + 1
        start = (index % windows_per_sample) * WINDOW_STEP_MS
        return sample_id, start, start + WINDOW_MS

    def sample_record(sample_id: int) -> dict[str, Any]:
        label = LABELS[sample_labels[sample_id - 1]]
        return {
            "id": sample_id,
            "filename": f"{label}.{sample_id:06d}.json",
            "signatureValidate": True,
            "created": "2024-05-01T10:00:00.000Z",
            "lastModified": "2024-05-01T10:00:00.000Z",
            "category": "training",
            "coldstorageFilename": f"ei-raw/42/{sample_id:06d}.cbor",
            "label": label,
            "intervalMs": 10,
            "frequency": 100,
            "originalIntervalMs": 10,
            "originalFrequency": 100,
            "deviceType": "BENCHMARK",
            "sensors": [
                {"index": axis, "name": name, "units": "m/s2"}
                for axis, name in enumerate(("accX", "accY", "accZ"))
            ],
            "valuesCount": 100 * (WINDOW_MS + WINDOW_STEP_MS * (windows_per_sample - 1)) // 1000,
            "added": "2024-05-01T10:00:00.000Z",
            "boundingBoxes": [],
            "boundingBoxesType": "object_detection",
            "chartType": "chart",
            "isDisabled": False,
            "isProcessing": False,
            "processingError": False,
            "isCropped": False,
            "projectId": 42,
            "sha256Hash": f"{sample_id:064x}",
            "datastreams": [],
        }

    def with_sample(item: dict[str, Any], sample_id: int) -> dict[str, Any]:
        if embed:
            item["sample"] = sample_record(sample_id)
        return item

    cross_validation = []
    for index in range(windows):
        sample_id, start, end = window_of(index)
        cross_validation.append(
            {
                "id": sample_id,
                "windowStart": start,
                "windowEnd": end,
                "label": sample_labels[sample_id - 1],
                "probability": rng.random(),
                "score": rng.gauss(0.0, 1.0),
            }
        )

    neighbors = []
    for index in range(0, windows, 10):
        sample_id, start, end = window_of(index)
        neighbor_windows = []
        for _ in range(5):
            other_id, other_start, other_end = window_of(rng.randrange(windows))
            neighbor_windows.append(
                {"id": other_id, "windowStart": other_start, "windowEnd": other_end}
            )
        item = {
            "id": sample_id,
            "windowStart": start,
            "windowEnd": end,
            "score": float(rng.randrange(windows)),
            "neighborWindows": neighbor_windows,
        }
        neighbors.append(with_sample(item, sample_id))

    def cosine_issues(offset: int) -> list[dict[str, Any]]:
        issues = []
        for sample_id in range(1 + offset, sample_count + 1, 20):
            others = []
            for _ in range(3):
                other_id = rng.randrange(sample_count) + 1
                windows_inner = []
                for _ in range(2):
                    _, start, end = window_of(rng.randrange(windows_per_sample))
                    windows_inner.append(
                        {"windowStart": start, "windowEnd": end, "score": rng.random()}
                    )
                others.append(
                    {
                        "id": other_id,
                        "label": sample_labels[other_id - 1],
                        "windows": windows_inner,
                    }
                )
            item = {"id": sample_id, "label": sample_labels[sample_id - 1], "issues": others}
            issues.append(with_sample(item, sample_id))
        return issues

    response = {
        "success": True,
        "data": {
            "cosineSimilarity": {
                "similarButDifferentLabel": cosine_issues(0),
                "differentButSameLabel": cosine_issues(10),
            },
            "neighbors": {"scoresAndNeighbors": neighbors, "numNeighbors": 5},
            "crossValidation": {"scores": cross_validation},
        },
    }
    return orjson.dumps(response)


def time_best(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Return the minimum and the median wall time of `repeats` calls, in seconds."""
    durations = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - started)
        del result
    return min(durations), statistics.median(durations)


def peak_allocation(function: Callable[[], object]) -> tuple[int, int]:
    """Return the peak bytes allocated during `function()` and the bytes its result keeps."""
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = function()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak - baseline, current - baseline


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=100_000, help="Windows in the response.")
    parser.add_argument("--windows-per-sample", type=int, default=10, help="Windows per sample.")
    parser.add_argument("--repeats", type=int, default=5, help="Timed runs of each decode.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the generated values.")
    parser.add_argument(
        "--no-samples", action="store_true", help="Leave out the embedded `sample` records."
    )
    parser.add_argument("--strict", action="store_true", help="Exit 1 when a target is missed.")
    args = parser.parse_args()
    if args.windows < 1 or args.windows_per_sample < 1 or args.repeats < 1:
        parser.error("--windows, --windows-per-sample and --repeats must be at least 1")

    body = generate_body(
        args.windows,
        windows_per_sample=args.windows_per_sample,
        seed=args.seed,
        embed=not args.no_samples,
    )
    envelope_decoder = msgspec.json.Decoder(Envelope)

    def typed() -> object:
        return decode_label_noise(body, project_id=42)

    def envelope() -> object:
        return envelope_decoder.decode(body)

    def baseline() -> object:
        return orjson.loads(body)

    typed()  # warm up msgspec's decoder caches before timing

    typed_min, typed_median = time_best(typed, args.repeats)
    envelope_min, _ = time_best(envelope, args.repeats)
    orjson_min, orjson_median = time_best(baseline, args.repeats)
    typed_peak, typed_kept = peak_allocation(typed)
    orjson_peak, orjson_kept = peak_allocation(baseline)

    time_ratio = typed_min / orjson_min
    peak_to_body = typed_peak / len(body)
    result = {
        "windows": args.windows,
        "embedded_samples": not args.no_samples,
        "body_bytes": len(body),
        "typed_seconds": round(typed_min, 4),
        "typed_median_seconds": round(typed_median, 4),
        "envelope_check_seconds": round(envelope_min, 4),
        "orjson_seconds": round(orjson_min, 4),
        "orjson_median_seconds": round(orjson_median, 4),
        "time_ratio": round(time_ratio, 3),
        "typed_peak_bytes": typed_peak,
        "typed_kept_bytes": typed_kept,
        "orjson_peak_bytes": orjson_peak,
        "orjson_kept_bytes": orjson_kept,
        "typed_peak_to_body": round(peak_to_body, 3),
        "orjson_peak_to_body": round(orjson_peak / len(body), 3),
        "time_target_met": time_ratio <= TIME_RATIO_TARGET,
        "memory_target_met": peak_to_body <= PEAK_TO_BODY_TARGET,
        "python": platform.python_version(),
        "msgspec": msgspec.__version__,
        "orjson": orjson.__version__,
    }

    mib = 1024 * 1024
    print(f"body: {len(body) / mib:.1f} MiB, {args.windows} windows")
    print(
        f"typed decode: {typed_min * 1000:.1f} ms (median {typed_median * 1000:.1f}), "
        f"peak {typed_peak / mib:.1f} MiB, kept {typed_kept / mib:.1f} MiB"
    )
    print(f"envelope check: {envelope_min * 1000:.1f} ms")
    print(
        f"orjson.loads: {orjson_min * 1000:.1f} ms (median {orjson_median * 1000:.1f}), "
        f"peak {orjson_peak / mib:.1f} MiB, kept {orjson_kept / mib:.1f} MiB"
    )
    print(
        f"time ratio {time_ratio:.2f} (target <= {TIME_RATIO_TARGET}), "
        f"typed peak / body {peak_to_body:.2f} (target <= {PEAK_TO_BODY_TARGET})"
    )
    print(json.dumps(result))

    met = result["time_target_met"] and result["memory_target_met"]
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
