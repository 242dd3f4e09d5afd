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


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of a flat array, ties sharing their average rank (``rankdata(method="average")``)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts_group = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], values.size)  # exclusive: the group holds ranks starts+1 … ends
    ranks = np.empty(values.size)
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    return ranks


# Wichura's AS241 (1988) rational approximations of the normal quantile, as in Python's
# ``statistics.NormalDist.inv_cdf``: relative error ~1e-16, vectorised here.
_CENTRAL = ((2.5090809287301226727e+3, 3.3430575583588128105e+4, 6.7265770927008700853e+4,
             4.5921953931549871457e+4, 1.3731693765509461125e+4, 1.9715909503065514427e+3,
             1.3314166789178437745e+2, 3.3871328727963666080e+0),
            (5.2264952788528545610e+3, 2.8729085735721942674e+4, 3.9307895800092710610e+4,
             2.1213794301586595867e+4, 5.3941960214247511077e+3, 6.8718700749205790830e+2,
             4.2313330701600911252e+1, 1.0))
_INTERMEDIATE = ((7.7454501427834140764e-4, 2.2723844989269184583e-2, 2.4178072517745061177e-1,
                  1.2704582524523683826e+0, 3.6478483247632046050e+0, 5.7694972214606914055e+0,
                  4.6303378461565452959e+0, 1.4234371107496835773e+0),
                 (1.0507500716444168432e-9, 5.4759380849953449460e-4, 1.5198666563616457197e-2,
                  1.4810397642748007459e-1, 6.8976733498510000455e-1, 1.6763848301838038494e+0,
                  2.0531916266377588219e+0, 1.0))
_TAIL = ((2.0103343992922881327e-7, 2.7115555687434875782e-5, 1.2426609473880784386e-3,
          2.6532189526576123093e-2, 2.9656057182850489123e-1, 1.7848265399172913358e+0,
          5.4637849111641143699e+0, 6.6579046435011037772e+0),
         (2.0442631033899397856e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5,
          7.8686913114561325910e-4, 1.4875361290850614853e-2, 1.3692988092273580531e-1,
          5.9983220655588793769e-1, 1.0))


def _rational(coefficients, r):
    num, den = (np.polyval(c, r) for c in coefficients)
    return num / den


def normal_quantile(p: np.ndarray) -> np.ndarray:
    """Φ⁻¹(p) for p in (0, 1) (SciPy's ``ndtri``; importing scipy.special costs ≈ 0.4 s)."""
    p = np.asarray(p, dtype=np.float64)
    q = p - 0.5
    central = np.abs(q) <= 0.425
    x = np.empty_like(p)
    r = 0.180625 - q[central] ** 2
    x[central] = q[central] * _rational(_CENTRAL, r)
    tails = ~central
    r = np.sqrt(-np.log(np.where(q[tails] <= 0, p[tails], 1.0 - p[tails])))
    value = np.where(r <= 5.0, _rational(_INTERMEDIATE, r - 1.6), _rational(_TAIL, r - 5.0))
    x[tails] = np.where(q[tails] < 0, -value, value)
    return x


def rank_normalise(draws: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled average ranks, Blom's offset c = 3/8.

    Ranks and quantiles in numpy: ``scipy.stats`` took 1.7 s to import on the fit path.
    """
    ranks = average_ranks(draws.ravel()).reshape(draws.shape)
    return normal_quantile((ranks - 3 / 8) / (draws.size - 2 * 3 / 8 + 1))


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
    """Per-chain autocovariance at every lag (biased, / n), by FFT.

    Zero-padded to a power of two ≥ 2n (any length ≥ 2n gives the linear autocovariance;
    ArviZ picks scipy.fft's ``next_fast_len``, whose import costs 0.3 s).
    """
    n = draws.shape[1]
    size = 1 << (2 * n - 1).bit_length()
    centred = draws - draws.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=1)[:, :n] / n


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
