"""PSIS-LOO log predictive density of every training row: a Bayesian self-confidence score.

    elpd_loo(z_i) = log Σ_s w_s^(−i) p(z_i|θ_s),   w_s^(−i) ∝ w_s / p(z_i|θ_s)

The leave-one-out ratios 1/p(z_i|θ_s) (times the candidate set's own weights) are Pareto
smoothed by ArviZ ``psislw``; its k̂ per row says how far each LOO estimate can be trusted.
A row that the rest of the data predicts badly (low elpd) is a suspected label error.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ..weights import khat_threshold, normalize_log_weights


def psis_loo_rows(loglik, log_weights=None) -> tuple[np.ndarray, np.ndarray]:
    """(elpd_loo_i, k̂_i) for the N columns of the (S, N) log-likelihood matrix."""
    from arviz import psislw  # lazy: ArviZ costs seconds at import

    loglik = np.asarray(loglik, dtype=np.float64)
    base = (np.zeros(loglik.shape[0]) if log_weights is None
            else normalize_log_weights(log_weights))
    # psislw takes log importance ratios with the sample axis LAST: (N, S).
    ratios = (base[:, None] - loglik).T.copy()
    smoothed, khat = psislw(ratios, reff=1.0)
    elpd = logsumexp(smoothed + loglik.T, axis=1)
    return elpd, np.asarray(khat, dtype=np.float64)


def loo_scores(loglik, log_weights=None) -> tuple[np.ndarray, np.ndarray, float]:
    """Suspicion score −elpd_loo_i (higher = more suspect), k̂_i and the k̂ reliability threshold."""
    elpd, khat = psis_loo_rows(loglik, log_weights)
    return -elpd, khat, khat_threshold(np.shape(loglik)[0])
