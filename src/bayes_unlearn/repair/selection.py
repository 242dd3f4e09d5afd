"""Failure causes C from scores (higher = more suspect): the report's r > 0 rule, or the top K."""

from __future__ import annotations

import numpy as np

from ..errors import RequestError

SELECT_RULES = ("positive", "top-k", "auto")
# Candidate sizes of C for the automatic choice, as shares of the training rows (0 = repair nothing).
K_GRID_FRACTIONS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def ranking(scores) -> np.ndarray:
    """Row positions by decreasing score; ties keep the original order (stable)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def select_positive(scores) -> np.ndarray:
    """The report's rule C = {z : r(z) > 0}, ranked by decreasing score."""
    order = ranking(scores)
    return order[np.asarray(scores)[order] > 0]


def select_top_k(scores, k: int) -> np.ndarray:
    n = len(scores)
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise RequestError(f"k must be a non-negative integer, got {k!r}")
    if k >= n:
        raise RequestError(f"k = {k} would remove every training row ({n}); at least one must stay")
    return ranking(scores)[:k]


def candidate_ks(n_rows: int, fractions=K_GRID_FRACTIONS) -> list[int]:
    """Distinct sizes round(f·N) for the grid of shares, each < N."""
    ks = sorted({int(round(f * n_rows)) for f in fractions})
    return [k for k in ks if k < n_rows]
