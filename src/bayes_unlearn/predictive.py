"""Per-sample predictive means E[y | x, θ_s], in numpy: predicting needs no JAX.

The formulas are the model families' own ``predict_mean``, written for any array module;
here they run on a batch of samples with numpy (float64 arithmetic, float32 results),
in blocks of rows so that no (S, rows) temporary exceeds ~64 MB.
"""

from __future__ import annotations

import numpy as np

from .models.base import ModelFamily

BLOCK_VALUES = 1 << 23  # float64 values per temporary block


def predictive_means(family: ModelFamily, flat_samples, X) -> np.ndarray:
    """(S, N) per-sample predictive means, or (S, N, K) class probabilities for softmax."""
    theta = np.asarray(flat_samples, np.float64)
    X = np.asarray(X, np.float64)
    n_samples, n_rows = theta.shape[0], X.shape[0]
    per_row = n_samples * max(family.n_classes if family.task == "multiclass" else 1, 1)
    rows = max(1, BLOCK_VALUES // max(per_row, 1))
    first = np.asarray(family.predict_mean(theta, X[:rows], np))
    if rows >= n_rows:
        return first.astype(np.float32)
    out = np.empty((n_samples, n_rows) + first.shape[2:], np.float32)
    out[:, :rows] = first
    for begin in range(rows, n_rows, rows):
        out[:, begin:begin + rows] = family.predict_mean(theta, X[begin:begin + rows], np)
    return out


__all__ = ["predictive_means"]
