"""Synthetic repair problem with the harmful rows known by construction (shared by the repair tests).

A well-separated logistic problem (3 features, true weights (3, −2, 0)); 40 % of the positive
training rows are relabelled negative (class-conditional corruption). Feedback and test rows
keep their true labels.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

SAMPLER = {"chains": 2, "draws": 300, "warmup": 300, "random_state": 0}
N_TRAIN, N_FEEDBACK, N_TEST = 200, 120, 1000


def _rows(n: int, rng) -> tuple[pd.DataFrame, pd.Series]:
    X = rng.normal(size=(n, 3))
    eta = 3.0 * X[:, 0] - 2.0 * X[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame(X, columns=["a", "b", "c"]), pd.Series(y, name="label")


@functools.cache
def problem():
    rng = np.random.default_rng(7)
    X_train, y_train = _rows(N_TRAIN, rng)
    X_fb, y_fb = _rows(N_FEEDBACK, rng)
    X_test, y_test = _rows(N_TEST, rng)
    positives = np.flatnonzero(y_train.to_numpy() == 1)
    flipped = rng.choice(positives, int(0.4 * len(positives)), replace=False)
    y_corrupt = y_train.copy()
    y_corrupt.iloc[flipped] = 0
    harmful = np.zeros(N_TRAIN, bool)
    harmful[flipped] = True
    return {"X_train": X_train, "y_corrupt": y_corrupt, "harmful": harmful, "X_fb": X_fb, "y_fb": y_fb,
            "X_test": X_test, "y_test": y_test}


@functools.cache
def _fitted():
    from bayes_unlearn import BayesianLogisticRegression

    p = problem()
    return BayesianLogisticRegression(**SAMPLER).fit(p["X_train"], p["y_corrupt"])


def corrupted_model():
    """A fresh copy of the model fitted on the corrupted labels (tests may mutate it)."""
    import copy

    return copy.deepcopy(_fitted())
