"""MCMC convergence diagnostics: rank-normalised split R-hat and bulk/tail ESS (Vehtari et al. 2021).

ArviZ's algorithms (``arviz.rhat``, ``arviz.ess`` with method "bulk"/"tail"), written out in
numpy so that a fit does not import ArviZ: its import (≈ 2.3 s with matplotlib) was longer
than the warm Pima sampling itself. A test pins every number here to ArviZ's.
"""

from __future__ import annotations

import numpy as np

RHAT_LIMIT = 1.01  # Vehtari et al. (2021)
ESS_PER_CHAIN = 100  # bulk ESS below 100 per chain makes R-hat itself unreliable
MIN_DRAWS = 4


def split_chains(draws: np.ndarray) -> np.ndarray:
    """(chains, n) → (2·chains, n//2): each chain's first and last halves as separate chains."""
    half = draws.shape[1] // 2
    return np.vstack((draws[:, :half], draws[:, -half:]))


def rank_normalise(draws: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled average ranks, Blom's offset c = 3/8."""
    from scipy.special import ndtri
    from scipy.stats import rankdata  # already loaded by scikit-learn on the fit path

    ranks = rankdata(draws, method="average").reshape(draws.shape)
    return ndtri((ranks - 3 / 8) / (draws.size - 2 * 3 / 8 + 1))


def basic_rhat(draws: np.ndarray) -> float:
    """Gelman–Rubin R-hat of (chains, n) draws."""
    n = draws.shape[1]
    between = n * np.var(draws.mean(axis=1), ddof=1)
    within = np.mean(np.var(draws, axis=1, ddof=1))
    return float(np.sqrt((between / within + n - 1) / n))


def rank_rhat(draws: np.ndarray) -> float:
    """max(bulk, tail) rank-normalised split R-hat of (chains, n) draws; NaN below 2 chains."""
    if draws.shape[0] < 2 or draws.shape[1] < MIN_DRAWS:
        return float("nan")
    split = split_chains(draws)
    folded = np.abs(split - np.median(split))
    return max(basic_rhat(rank_normalise(split)), basic_rhat(rank_normalise(folded)))


def autocovariance(draws: np.ndarray) -> np.ndarray:
    """Per-chain autocovariance at every lag (biased, / n), by FFT."""
    from scipy.fft import next_fast_len

    n = draws.shape[1]
    centred = draws - draws.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=next_fast_len(2 * n), axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=next_fast_len(2 * n), axis=1)[:, :n] / n


def effective_size(draws: np.ndarray) -> float:
    """ESS of (chains, n) draws with Geyer's initial monotone sequence (ArviZ's ``_ess``)."""
    draws = np.asarray(draws, dtype=float)
    if np.ptp(draws) < np.finfo(float).resolution:
        return float(draws.size)
    n_chain, n_draw = draws.shape
    acov = autocovariance(draws)
    mean_var = np.mean(acov[:, 0]) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(draws.mean(axis=1), ddof=1)
    rho = np.zeros(n_draw)
    mean_acov = acov.mean(axis=0)
    rho_even, rho_odd = 1.0, 1.0 - (mean_var - mean_acov[1]) / var_plus
    rho[0], rho[1] = rho_even, rho_odd
    t = 1  # Geyer's initial positive sequence
    while t < n_draw - 3 and rho_even + rho_odd > 0.0:
        rho_even = 1.0 - (mean_var - mean_acov[t + 1]) / var_plus
        rho_odd = 1.0 - (mean_var - mean_acov[t + 2]) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1], rho[t + 2] = rho_even, rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    t = 1  # Geyer's initial monotone sequence
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = n_chain * n_draw
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1: max_t + 2])
    tau = max(tau, 1 / np.log10(total))
    return float("nan") if np.isnan(rho).any() else float(total / tau)


def ess_bulk(draws: np.ndarray) -> float:
    if draws.shape[1] < MIN_DRAWS:
        return float("nan")
    return effective_size(rank_normalise(split_chains(draws)))


def ess_tail(draws: np.ndarray, probs=(0.05, 0.95)) -> float:
    """min over the 5 % and 95 % quantiles of the ESS of the indicator draws ≤ quantile."""
    if draws.shape[1] < MIN_DRAWS:
        return float("nan")
    return min(effective_size(split_chains(draws <= np.quantile(draws, p))) for p in probs)


def convergence_summary(samples: np.ndarray, param_names) -> dict:
    """R-hat and ESS of (chains, draws, d) samples, with a verdict and the worst parameter."""
    samples = np.asarray(samples, dtype=float)
    per_param = [samples[:, :, j] for j in range(samples.shape[2])]
    rhat = np.array([rank_rhat(x) for x in per_param])
    bulk = np.array([ess_bulk(x) for x in per_param])
    tail = np.array([ess_tail(x) for x in per_param])
    n_chains = samples.shape[0]
    problems = []
    if n_chains > 1 and np.nanmax(rhat) > RHAT_LIMIT:
        j = int(np.nanargmax(rhat))
        problems.append(f"R-hat {rhat[j]:.3f} > {RHAT_LIMIT} for {param_names[j]}")
    if np.nanmin(bulk) < ESS_PER_CHAIN * n_chains:
        j = int(np.nanargmin(bulk))
        problems.append(f"bulk ESS {bulk[j]:.0f} < {ESS_PER_CHAIN * n_chains} for {param_names[j]}")
    return {
        "rhat_max": float(np.nanmax(rhat)) if n_chains > 1 else None,
        "ess_bulk_min": float(np.nanmin(bulk)),
        "ess_tail_min": float(np.nanmin(tail)),
        "converged": not problems,
        "convergence_problems": problems,
    }
