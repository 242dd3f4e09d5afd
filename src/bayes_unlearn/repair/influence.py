"""Influence of a training row on the failures (Tanno et al. 2022): a difference of expectations.

    r(z) = E_{p(θ|D)}[log p(z|θ)] − E_{p(θ|D,F)}[log p(z|θ)]

Both expectations are weighted averages over a candidate set (uniform for plain MCMC,
importance- or SMC-weighted otherwise). r(z) > 0: learning from F made z less likely, so z
disagrees with what F teaches — a suspected cause of the failures.
"""

from __future__ import annotations

import numpy as np

from ..weights import normalize_log_weights


def expected_loglik(loglik, log_weights) -> np.ndarray:
    """E_w[log p(z_i|θ)] for every row: (S,) weights · (S, N) log-likelihoods → (N,)."""
    w = np.exp(normalize_log_weights(log_weights))
    return w @ np.asarray(loglik, dtype=np.float64)


def influence_scores(loglik_before, log_weights_before, loglik_after, log_weights_after) -> np.ndarray:
    """r(z_i) for every row: expected log-likelihood before the update minus after it.

    ``loglik_before`` (S, N) and ``loglik_after`` (S', N) hold log p(z_i|θ) of the same N
    training rows under the candidate set before and after the update with F.
    """
    return (expected_loglik(loglik_before, log_weights_before)
            - expected_loglik(loglik_after, log_weights_after))
