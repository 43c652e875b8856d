"""Measure how well the emulator's label-noise engine finds relabelled samples.

    python benchmarks/engine_quality.py [--seeds 5] [--noise 0.1] [--json FILE]

For each seed, a share of the bundled BasicMotions samples (all 80, training
and testing) gets a random wrong label, the engine runs with its default
settings, and every method ranks the windows from most to least
suspicious. The script prints, averaged over the seeds, precision at K
(K = number of relabelled windows, or samples) and ROC-AUC per method, at
window level and at sample level (a sample's score is the mean of its
windows' scores). Equal scores at the cut-off count as a random order, so
precision at K is its expected value over the tied windows.

The reference is cleanlab's `get_label_quality_scores` (self-confidence)
on the engine's own out-of-fold probabilities. Two ablations show what the
same-sample rules gain: neighbours that may come from the window's own
sample, and cross-validation folds that split samples.

Targets, at 10% noise: every method reaches window-level precision at K of
at least 0.85 and sample-level precision at K of at least 0.95, and the
best method beats cleanlab's window-level precision at K. The exit status
is 1 when a target is missed. Needs the `bench` extra (cleanlab).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from cleanlab.rank import get_label_quality_scores
from sklearn.metrics import roc_auc_score

from emulator.dataset import BUNDLED_DATASET_DIR, SampleRecord, load_dataset
from emulator.engine.cross_validation import cross_validate
from emulator.engine.label_noise import EngineSettings, compute_label_noise
from emulator.engine.neighbors import score_neighbors
from emulator.engine.windows import EngineSample, WindowSet

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

WINDOW_PRECISION_TARGET = 0.85
SAMPLE_PRECISION_TARGET = 0.95
# Methods the targets apply to, and the row the cleanlab reference is.
TARGET_METHODS = ("cosine similarity", "nearest neighbours", "cross validation (probability)")
REFERENCE = "cleanlab self-confidence"


@dataclass(frozen=True)
class Scores:
    window: FloatArray
    sample: FloatArray


def precision_at_k(scores: FloatArray, truth: BoolArray) -> float:
    """Expected precision of the top K scores, K = number of true items, ties in random order."""
    k = int(truth.sum())
    threshold = np.sort(scores)[::-1][k - 1]
    above = scores > threshold
    tied = scores == threshold
    expected_hits = truth[above].sum() + (k - above.sum()) * truth[tied].mean()
    return float(expected_hits / k)


def relabel(
    samples: list[SampleRecord], labels: list[str], share: float, seed: int
) -> tuple[list[EngineSample], BoolArray]:
    """Give `share` of the samples a random wrong label; return them and the flipped mask."""
    rng = np.random.default_rng(seed)
    flipped = np.zeros(len(samples), dtype=bool)
    flipped[rng.choice(len(samples), round(share * len(samples)), replace=False)] = True
    engine_samples = []
    for position, sample in enumerate(samples):
        label = labels.index(sample.label)
        if flipped[position]:
            label = (label + 1 + int(rng.integers(len(labels) - 1))) % len(labels)
        engine_samples.append(EngineSample(sample.id, label, sample.interval_ms, sample.values))
    return engine_samples, flipped


def per_sample(windows: WindowSet, window_scores: FloatArray) -> FloatArray:
    sums = np.bincount(windows.sample_index, weights=window_scores)
    counts = np.bincount(windows.sample_index)
    result: FloatArray = sums / counts
    return result


def method_scores(
    samples: list[EngineSample], num_labels: int, settings: EngineSettings
) -> tuple[WindowSet, dict[str, FloatArray]]:
    """Run the engine and the ablations; return each method's window scores (high = suspicious)."""
    result = compute_label_noise(samples, num_labels, settings)
    windows = result.windows
    cross_validation = result.cross_validation
    assert cross_validation is not None
    with_own_sample = score_neighbors(windows, settings.num_neighbors, exclude_own_sample=False)
    ungrouped = cross_validate(windows, num_labels, settings.cross_validation_folds, grouped=False)
    quality = get_label_quality_scores(windows.labels, cross_validation.probabilities)

    return windows, {
        "cosine similarity": result.cosine.window_scores,
        "nearest neighbours": result.neighbors.scores.astype(np.float64),
        "cross validation (probability)": -cross_validation.probability,
        "cross validation (z-score)": -cross_validation.zscores,
        REFERENCE: -np.asarray(quality, dtype=np.float64),
        "ablation: neighbours from own sample": with_own_sample.scores.astype(np.float64),
        "ablation: neighbour appearances (reverse count)": (
            result.neighbors.reverse_disagreements.astype(np.float64)
        ),
        "ablation: cross validation, folds split samples": -ungrouped.probability,
    }


def evaluate(seeds: int, noise: float) -> dict[str, dict[str, float]]:
    samples = load_dataset(BUNDLED_DATASET_DIR)
    labels = sorted({sample.label for sample in samples})
    settings = EngineSettings()
    totals: dict[str, list[list[float]]] = {}

    for seed in range(seeds):
        engine_samples, flipped = relabel(samples, labels, noise, seed)
        windows, scores = method_scores(engine_samples, len(labels), settings)
        window_truth = flipped[windows.sample_index]
        for name, window_scores in scores.items():
            sample_scores = per_sample(windows, window_scores)
            totals.setdefault(name, []).append(
                [
                    precision_at_k(window_scores, window_truth),
                    float(roc_auc_score(window_truth, window_scores)),
                    precision_at_k(sample_scores, flipped),
                    float(roc_auc_score(flipped, sample_scores)),
                ]
            )

    keys = ("window_precision_at_k", "window_roc_auc", "sample_precision_at_k", "sample_roc_auc")
    return {
        name: dict(zip(keys, np.mean(rows, axis=0).tolist(), strict=True))
        for name, rows in totals.items()
    }


def check_targets(results: dict[str, dict[str, float]]) -> list[str]:
    """Return one line per missed target."""
    missed = []
    for name in TARGET_METHODS:
        row = results[name]
        if row["window_precision_at_k"] < WINDOW_PRECISION_TARGET:
            missed.append(f"{name}: window precision at K below {WINDOW_PRECISION_TARGET}")
        if row["sample_precision_at_k"] < SAMPLE_PRECISION_TARGET:
            missed.append(f"{name}: sample precision at K below {SAMPLE_PRECISION_TARGET}")
    best = max(results[name]["window_precision_at_k"] for name in TARGET_METHODS)
    if best <= results[REFERENCE]["window_precision_at_k"]:
        missed.append("no method beats cleanlab's window precision at K")
    return missed


def print_table(results: dict[str, dict[str, float]]) -> None:
    print("| method | window P@K | window ROC-AUC | sample P@K | sample ROC-AUC |")
    print("| --- | --- | --- | --- | --- |")
    for name, row in results.items():
        print(
            f"| {name} | {row['window_precision_at_k']:.3f} | "
            f"{row['window_roc_auc']:.3f} | {row['sample_precision_at_k']:.3f} | "
            f"{row['sample_roc_auc']:.3f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of random relabellings")
    parser.add_argument("--noise", type=float, default=0.1, help="share of samples relabelled")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()

    started = time.perf_counter()
    results = evaluate(args.seeds, args.noise)
    elapsed = time.perf_counter() - started

    print(
        f"BasicMotions, 80 samples, {args.noise:.0%} relabelled, mean over {args.seeds} seeds "
        f"({elapsed:.1f} s)\n"
    )
    print_table(results)
    missed = check_targets(results)
    print()
    print("\n".join(f"MISSED: {line}" for line in missed) or "All targets met.")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
