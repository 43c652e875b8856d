"""Cross-validation label-noise method.

A multinomial logistic regression with strong L2 regularization, on the
standardized window features, is trained with k-fold cross validation, and every window gets the
out-of-fold probability of its own label: the probability that a model
which never saw the window, nor any window of its sample, assigns to the
label it carries. Folds are grouped by sample (scikit-learn's
`GroupKFold`), because windows of one recording are near-copies and a
model that saw some of them would simply remember the label.

The score is the z-score of that probability among the windows of the same
label: `(p - mean) / std`, with the population standard deviation, and 0
when all windows of a label share one probability. Strongly negative scores
are the suspicious windows. A window whose label never occurs in a
training fold gets probability 0.

The method needs at least two labels and two samples; otherwise it is
skipped and Studio's response leaves `crossValidation` out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold

from emulator.engine.windows import FloatArray, WindowSet

# Enough iterations for lbfgs to converge on standardized features; a
# ConvergenceWarning would otherwise be raised in the job thread.
MAX_ITERATIONS = 2000
# Strong L2 regularization (scikit-learn's C) keeps the model from fitting
# the wrong labels it is meant to expose. On BasicMotions with 10% of samples
# relabelled (`benchmarks/engine_quality.py`), window precision at K was
# 0.895 at C = 1, 0.967 at C = 0.03, 0.975 at C = 0.01 and C = 0.003, and
# 0.960 at C = 0.001.
INVERSE_REGULARIZATION = 0.01
# lbfgs stops at this tolerance; 1e-3 halves the time of the default 1e-4 on
# 100,000 windows and left the benchmark's precision at K within 0.002.
TOLERANCE = 1e-3


@dataclass(frozen=True)
class CrossValidationResult:
    folds: int
    probabilities: FloatArray  # out-of-fold probability per window and label
    probability: FloatArray  # out-of-fold probability of each window's own label
    zscores: FloatArray


def can_cross_validate(windows: WindowSet) -> bool:
    """Tell whether there are at least two labels and two samples with windows."""
    return len(np.unique(windows.labels)) >= 2 and len(np.unique(windows.sample_index)) >= 2


def cross_validate(
    windows: WindowSet,
    num_labels: int,
    folds: int,
    inverse_regularization: float = INVERSE_REGULARIZATION,
    *,
    grouped: bool = True,
) -> CrossValidationResult:
    """Compute out-of-fold probabilities and their per-label z-scores.

    `grouped=False` splits windows into shuffled folds regardless of their
    sample (seeded, so still deterministic); the benchmark uses it to measure
    what grouping gains.
    """
    groups = windows.sample_index
    splits = min(folds, len(np.unique(groups)))
    probabilities = np.zeros((windows.count, num_labels))
    splitter = (
        GroupKFold(n_splits=splits).split(windows.features, groups=groups)
        if grouped
        else KFold(n_splits=splits, shuffle=True, random_state=0).split(windows.features)
    )
    for train, test in splitter:
        train_labels = windows.labels[train]
        if len(np.unique(train_labels)) < 2:
            # A one-label fold gives that label probability 1 for every window.
            probabilities[test, train_labels[0]] = 1.0
            continue
        model = LogisticRegression(C=inverse_regularization, max_iter=MAX_ITERATIONS, tol=TOLERANCE)
        model.fit(windows.features[train], train_labels)
        probabilities[np.ix_(test, model.classes_)] = model.predict_proba(windows.features[test])

    own = probabilities[np.arange(windows.count), windows.labels]
    return CrossValidationResult(
        folds=splits,
        probabilities=probabilities,
        probability=own,
        zscores=zscores_within_label(own, windows.labels.astype(np.int64), num_labels),
    )


def zscores_within_label(values: FloatArray, labels: np.ndarray, num_labels: int) -> FloatArray:
    """Standardize `values` within each label, with 0 where a label's spread is 0."""
    result = np.zeros_like(values)
    for label in range(num_labels):
        members = labels == label
        if not members.any():
            continue
        spread = values[members].std()
        if spread > 0:
            result[members] = (values[members] - values[members].mean()) / spread
    return result
