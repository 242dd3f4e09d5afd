"""Forget by refitting NUTS on the remaining rows, warm-started from the current samples.

Initial points are drawn from the weighted candidate set and the initial inverse mass matrix is
its weighted variance, so warm-up can be short. This is the fallback when SMC's diagnostics fail.
"""

from __future__ import annotations

import numpy as np

from ..weights import systematic_resample


def warm_start(posterior, n_chains: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(chains, d) initial points drawn by weight (systematic resampling) and the weighted variances."""
    idx = systematic_resample(posterior.weights, n_chains, seed)
    variances = np.maximum(np.diag(posterior.cov()), 1e-8)
    return posterior.flat_samples[idx], variances


def warm_warmup_steps(warmup: int) -> int:
    """A quarter of the cold warm-up (at least 100 steps): the start is already in the bulk."""
    return max(100, int(warmup) // 4)


def refit_candidate_set(model, columns, seed: int, warm: bool = True):
    """NUTS on the stored rows minus ``columns``. Returns (candidate set, fit info)."""
    if not warm:
        posterior, fit_info = model._sample_candidate_set(seed, exclude=columns)
        return posterior, {**fit_info, "warm_start": False}
    init, variances = warm_start(model.posterior_, int(model.chains), seed)
    posterior, fit_info = model._sample_candidate_set(
        seed, exclude=columns, init_positions=init, inverse_mass_matrix=variances,
        warmup=warm_warmup_steps(model.warmup))
    return posterior, {**fit_info, "warm_start": True}
