"""The label-noise engine on synthetic data with known results."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.engine.cosine import CosineSettings, find_cosine_issues
from emulator.engine.cross_validation import cross_validate, zscores_within_label
from emulator.engine.label_noise import (
    EngineInputError,
    EngineSettings,
    compute_label_noise,
)
from emulator.engine.neighbors import score_neighbors
from emulator.engine.windows import (
    FEATURES_PER_AXIS,
    EngineSample,
    build_windows,
    spectral_features,
    standardize,
    window_bounds,
)
from tests.emulator.synthetic import INTERVAL_MS, make_samples

# Sample 5 is of class 1 (position 5 with 4 labels) but labelled 3.
RELABELLED = {5: 3}
# Short noisy synthetic windows resemble each other less than real recordings
# do, so the cosine tests use a lower threshold than the default.
SYNTHETIC_COSINE = CosineSettings(similar_threshold=0.5)


def test_windows_fit_inside_sample() -> None:
    bounds = window_bounds(100, 100.0, 2000, 500)

    assert len(bounds) == 17
    assert bounds[0] == (0, 2000)
    assert bounds[-1] == (8000, 10000)


def test_window_increase_not_dividing_length() -> None:
    bounds = window_bounds(100, 100.0, 3000, 2000)

    assert bounds == [(0, 3000), (2000, 5000), (4000, 7000), (6000, 9000)]


def test_short_sample_has_no_windows() -> None:
    assert window_bounds(10, 100.0, 2000, 500) == []


def test_constant_window_has_zero_spread() -> None:
    window = np.full((1, 20, 2), 3.0)

    features = spectral_features(window, INTERVAL_MS)[0]

    assert features.shape == (2 * FEATURES_PER_AXIS,)
    assert features[:2].tolist() == [3.0, 3.0]  # means
    assert np.all(features[2:] == 0.0)  # RMS, skewness, kurtosis, band powers


def test_band_power_peaks_at_signal_frequency() -> None:
    times = np.arange(20) * INTERVAL_MS / 1000.0
    window = np.sin(2 * np.pi * 2.0 * times).reshape(1, 20, 1)  # 2 Hz

    bands = spectral_features(window, INTERVAL_MS)[0][4:]

    # Bands split 0-5 Hz into quarters, so 2 Hz falls in the second one.
    assert int(np.argmax(bands)) == 1


def test_standardize_constant_feature_is_zero() -> None:
    features = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])

    standardized = standardize(features)

    assert np.allclose(standardized[:, 0], [-1.224744871, 0.0, 1.224744871])
    assert standardized[:, 1].tolist() == [0.0, 0.0, 0.0]


def test_windows_keep_sample_order() -> None:
    samples = make_samples(per_class=2, num_labels=2)

    windows = build_windows(samples, 2000, 500)

    assert windows.count == 4 * 17
    assert windows.sample_offsets.tolist() == [0, 17, 34, 51, 68]
    assert windows.sample_ids[17:34].tolist() == [101] * 17
    assert windows.labels[17:34].tolist() == [1] * 17
    assert windows.starts_ms[:3].tolist() == [0, 500, 1000]


def test_neighbors_exclude_own_sample() -> None:
    windows = build_windows(make_samples(per_class=3, num_labels=2), 2000, 500)

    result = score_neighbors(windows, 5)

    own = windows.sample_index[result.neighbors] == windows.sample_index[:, np.newaxis]
    assert not own.any()
    assert (result.neighbors >= 0).all()


def test_neighbor_score_counts_disagreements() -> None:
    windows = build_windows(make_samples(6, 4, relabel=RELABELLED), 2000, 500)

    result = score_neighbors(windows, 10)

    expected = (windows.labels[result.neighbors] != windows.labels[:, np.newaxis]).sum(axis=1)
    assert result.scores.tolist() == expected.tolist()


def test_relabelled_windows_score_highest() -> None:
    windows = build_windows(make_samples(6, 4, relabel=RELABELLED), 2000, 500)

    result = score_neighbors(windows, 10)

    relabelled = windows.sample_index == 5
    assert result.scores[relabelled].tolist() == [10] * 17
    assert result.scores[~relabelled].max() < 10


def test_reverse_count_counts_appearances() -> None:
    windows = build_windows(make_samples(6, 4, relabel=RELABELLED), 2000, 500)

    result = score_neighbors(windows, 10)

    disagreeing = result.neighbors[
        windows.labels[result.neighbors] != windows.labels[:, np.newaxis]
    ]
    assert result.reverse_disagreements.sum() == len(disagreeing)


def test_cosine_flags_relabelled_sample() -> None:
    windows = build_windows(make_samples(6, 4, relabel=RELABELLED), 2000, 500)

    result = find_cosine_issues(windows, 4, SYNTHETIC_COSINE)

    flagged = [issue.sample for issue in result.similar_but_different_label]
    assert flagged == [5]
    involved = {other.sample % 4 for other in result.similar_but_different_label[0].issues}
    assert involved == {1}  # the samples of its true class


def test_cosine_issue_lists_are_capped() -> None:
    windows = build_windows(make_samples(6, 4, relabel=RELABELLED), 2000, 500)
    settings = CosineSettings(similar_threshold=0.5, max_issue_samples=2, max_issue_windows=3)

    issue = find_cosine_issues(windows, 4, settings).similar_but_different_label[0]

    assert len(issue.issues) == 2
    assert all(len(other.windows) == 3 for other in issue.issues)
    scores = [score for other in issue.issues for _, score in other.windows]
    assert scores[0] == max(scores)


def test_cosine_score_highest_for_relabelled() -> None:
    windows = build_windows(make_samples(6, 4, relabel=RELABELLED), 2000, 500)

    scores = find_cosine_issues(windows, 4, CosineSettings()).window_scores

    relabelled = windows.sample_index == 5
    assert scores[relabelled].min() > scores[~relabelled].max()


def test_cosine_flags_sample_unlike_its_label() -> None:
    # An odd recording (pure noise) labelled 0, among clean sines of label 0.
    samples = make_samples(6, 2)
    odd = np.random.default_rng(7).normal(0, 1, (100, 3))
    samples.append(EngineSample(999, 0, INTERVAL_MS, odd))
    windows = build_windows(samples, 2000, 500)

    result = find_cosine_issues(windows, 2, CosineSettings(dissimilar_threshold=0.5))

    assert [issue.sample for issue in result.different_but_same_label] == [12]


def test_only_sample_of_label_has_no_match() -> None:
    samples = make_samples(3, 2)
    samples.append(EngineSample(999, 2, INTERVAL_MS, samples[0].values))
    windows = build_windows(samples, 2000, 500)

    result = find_cosine_issues(windows, 3, CosineSettings())

    assert np.isneginf(result.best_same[windows.sample_index == 6]).all()


def test_cross_validation_exposes_relabelled() -> None:
    windows = build_windows(make_samples(6, 4, relabel=RELABELLED), 2000, 500)

    result = cross_validate(windows, 4, 5)

    relabelled = windows.sample_index == 5
    assert result.probability[relabelled].max() < 0.5
    assert result.probability[~relabelled].min() > 0.5
    same_label = windows.labels == 3
    assert result.zscores[same_label].argmin() in np.flatnonzero(relabelled[same_label])


def test_cross_validation_folds_group_samples() -> None:
    # Two recordings that are exact copies with different labels: a model that
    # saw one copy in training would predict its label for the other. With
    # folds grouped by sample, each copy is judged by a model that saw the
    # other copy and the rest, and gets a low probability for its own label.
    samples = make_samples(5, 2)
    samples.append(EngineSample(998, 0, INTERVAL_MS, samples[1].values))
    windows = build_windows(samples, 2000, 500)

    result = cross_validate(windows, 2, 11)

    copied = windows.sample_index == 10
    assert result.probability[copied].max() < 0.5


def test_probabilities_sum_to_one() -> None:
    windows = build_windows(make_samples(4, 3), 2000, 500)

    result = cross_validate(windows, 3, 4)

    assert np.allclose(result.probabilities.sum(axis=1), 1.0)
    assert result.folds == 4


def test_zscores_within_label() -> None:
    values = np.array([0.9, 0.7, 0.8, 0.5, 0.5])
    labels = np.array([0, 0, 0, 1, 1])

    zscores = zscores_within_label(values, labels, 2)

    assert np.allclose(zscores, [1.224744871, -1.224744871, 0.0, 0.0, 0.0])


def test_engine_is_deterministic() -> None:
    samples = make_samples(5, 4, relabel=RELABELLED)

    first = compute_label_noise(samples, 4, EngineSettings())
    second = compute_label_noise(samples, 4, EngineSettings())

    assert np.array_equal(first.neighbors.neighbors, second.neighbors.neighbors)
    assert np.array_equal(first.cosine.window_scores, second.cosine.window_scores)
    assert first.cross_validation is not None
    assert second.cross_validation is not None
    assert np.array_equal(first.cross_validation.zscores, second.cross_validation.zscores)


def test_engine_logs_each_step() -> None:
    lines: list[str] = []

    settings = EngineSettings(
        window_size_ms=2000, window_increase_ms=500, num_neighbors=10, cosine=SYNTHETIC_COSINE
    )

    compute_label_noise(make_samples(5, 4, relabel=RELABELLED), 4, settings, lines.append)

    assert lines == [
        "Windowed 20 samples into 340 windows of 2000 ms every 500 ms",
        "Cosine similarity: 1 samples similar to another label, 1 dissimilar to their own",
        "Nearest neighbours (k=10): 65 windows with a disagreeing neighbour",
        "Cross validation: 5 folds grouped by sample",
    ]


def test_single_label_skips_cross_validation() -> None:
    lines: list[str] = []

    result = compute_label_noise(make_samples(4, 1), 1, EngineSettings(), lines.append)

    assert result.cross_validation is None
    assert lines[-1] == "Cross validation skipped: it needs at least two labels and two samples"


def test_mismatched_axes_rejected() -> None:
    samples = make_samples(2, 2)
    samples.append(EngineSample(999, 0, INTERVAL_MS, np.zeros((100, 2))))

    with pytest.raises(EngineInputError, match=r"different numbers of axes \[2, 3\]"):
        compute_label_noise(samples, 2, EngineSettings())


def test_no_windows_rejected() -> None:
    with pytest.raises(EngineInputError, match="No sample is at least 20000 ms long"):
        compute_label_noise(make_samples(2, 2), 2, EngineSettings(window_size_ms=20000))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"window_size_ms": 0}, "Invalid window: size 0 ms, increase 500 ms"),
        ({"num_neighbors": 0}, "Invalid num_neighbors 0; expected at least 1"),
        ({"cross_validation_folds": 1}, "Invalid cross_validation_folds 1"),
    ],
    ids=["window", "neighbors", "folds"],
)
def test_invalid_settings_rejected(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EngineSettings(**options)
