"""Pareto-smoothed importance sampling (Vehtari et al.), the algorithm of ArviZ's ``psislw``.

The GPD fit and its quantiles are written once, for any array module ``xp`` with numpy's
API: numpy for one weight vector (a forget request: ~0.1 ms for 4000 weights, where
``arviz.psislw`` spends ~2 ms in xarray bookkeeping); ``gpd_fit_scaled`` is the same fit
for float32 blocks of rows under ``jax.numpy`` (``scoring.BlockPsis``). ``psis_smooth``
reproduces ``arviz.psislw(log_ratios, reff=1)`` for one vector exactly (same tail, same fit,
same truncation); a test pins the two together. ``_forget_kernel.c`` repeats ``khat_of_shifted``
and ``gpd_fit_vector`` in C for a forget request; tests pin it to them.
"""

from __future__ import annotations

import math

import numpy as np

CUTOFF_MIN = float(np.log(np.finfo(float).tiny))  # ArviZ's floor for the tail cutoff


def psis_tail_length(n_samples: int, reff: float = 1.0) -> int:
    """M = ⌈min(S/5, 3√(S/r_eff))⌉, ArviZ's number of tail ratios fitted by the GPD."""
    return int(math.ceil(min(n_samples / 5.0, 3 * (n_samples / reff) ** 0.5)))


_GRIDS: dict[int, np.ndarray] = {}


PROFILE_GROUP = 8  # factors per logarithm in gpd_fit_vector's profile


def gpd_fit_vector(tail: np.ndarray) -> tuple[float, float]:
    """Zhang & Stephens (2009) GPD fit with ArviZ's priors, in float64: (k̂, σ).

    ``tail`` (M,): exceedances over the cutoff, ascending. The profile of each grid value b,
    (1/M) Σ_j log(1 − b x_j), is taken as the logarithm of products of ``PROFILE_GROUP`` factors:
    1/8 of the M·m logarithms, which are most of a forget request's cost. In float64 the
    product of 8 factors carries ~8 ε relative error, so the log keeps ~1e-15 absolute digits
    (2e-13 from ArviZ's log1p form on 200 random tails; a test pins 1e-10). Factors lie in
    (0, 1 + 2.8 x_max / x_q] for m = 43 (b < 1/x_max); a tail so heavy that their products could
    overflow falls back to one log each.
    """
    n_tail = tail.size
    m_est = 30 + int(n_tail**0.5)
    grid = _GRIDS.get(m_est)
    if grid is None:
        grid = _GRIDS[m_est] = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1) - 0.5))
    b = grid / (3 * tail[int(n_tail / 4 + 0.5) - 1]) + 1 / tail[-1]
    group = PROFILE_GROUP
    if group * math.log(1 - b[0] * tail[-1]) > 690:  # e^690 < float64 max
        group = 1
    width = -(-n_tail // group)
    padded = np.zeros(group * width)  # zero exceedances: factors of exactly 1
    padded[:n_tail] = tail
    factors = np.multiply.outer(padded, b)
    np.subtract(1.0, factors, out=factors)
    products = np.multiply.reduce(factors.reshape(group, -1), axis=0)
    np.log(products, out=products)
    k = products.reshape(width, -1).sum(axis=0) / n_tail
    weights = _grid_weights(b, k, n_tail, np)
    b_post = float(b @ weights)
    k_post = float(np.log1p(-b_post * tail).sum()) / n_tail
    return (n_tail * k_post + 10 * 0.5) / (n_tail + 10), -k_post / b_post


def _grid_weights(b, k, n_tail: int, xp):
    """Posterior weights of the grid values b (..., m) given their profile k (..., m), as ArviZ.

    ArviZ's 1 / Σ_j exp(ℓ_j − ℓ_i), ℓ = n (log(−b/k) − k − 1), is the softmax of ℓ: O(m)
    instead of O(m²) exponentials, and the constant −n cancels in it. ArviZ then zeroes the
    weights below 10 ε; at most m of those move the posterior mean of b by < m · 10 ε relative,
    below float64's own rounding of the fit, so they are kept (four array calls fewer).
    """
    # array methods, not xp.max/xp.sum: numpy's functions add ~2 µs each on a 43-value vector
    len_scale = n_tail * (xp.log(b / -k) - k)
    shifted = xp.exp(len_scale - len_scale.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _mean_log1p_grouped(beta, y, group: int, xp):
    """(1/M) Σ_j log1p(−β_i y_j) for every row and grid value: (n, m) from β (n, m), y (n, M).

    log1p of products of ``group`` (a power of two) factors 1 − β y_j, each product carried as
    (product − 1) so that factors close to 1 keep their digits: 1/group of the logarithms.
    Sums are dot products with ones (XLA CPU vectorises those, not its fused reductions).
    """
    n_tail = y.shape[1]
    width = -(-n_tail // group)
    y = xp.pad(y, ((0, 0), (0, group * width - n_tail)))  # zeros: factors of exactly 1
    terms = [-beta[:, :, None] * y[:, None, j * width:(j + 1) * width] for j in range(group)]
    while len(terms) > 1:  # (1 + a)(1 + b) − 1 = a + b + ab
        terms = [a + b + a * b for a, b in zip(terms[0::2], terms[1::2])]
    return (xp.log1p(terms[0]) @ xp.ones((width, 1), y.dtype))[..., 0] / n_tail


def gpd_fit_scaled(y, group: int = 8, xp=np):
    """``gpd_fit_vector`` for float32 blocks of rows, from exceedances in units of the largest one.

    ``y`` (n, M): ascending, y[:, -1] = 1. The fit is scale-equivariant; in these units
    b_i x_j = β_i y_j with β_i = 1 + g_i / (3 y_quartile) = O(1), so float32 keeps its digits
    where b_i ≈ 0, and the grid's M·m logarithms shrink ``group``-fold (products of factors).
    Returns (k̂, σ in units of the largest exceedance, usable); not usable: the products, up
    to (1 + |β|)^group, could overflow float32 (heavy tails, k̂ ≳ 1; ``group`` = 1 never does).
    """
    n_tail = y.shape[1]
    m_est = 30 + int(n_tail**0.5)
    grid = xp.asarray(1 - np.sqrt(m_est / (np.arange(1, m_est + 1) - 0.5)), y.dtype)
    rho = 1 / (3 * y[:, int(n_tail / 4 + 0.5) - 1])
    beta = 1 + grid[None, :] * rho[:, None]  # b · x_max
    k = _mean_log1p_grouped(beta, y, group, xp)
    beta_post = xp.sum(beta * _grid_weights(beta, k, n_tail, xp), axis=1)
    k_post = (xp.log1p(-beta_post[:, None] * y) @ xp.ones((n_tail, 1), y.dtype))[:, 0] / n_tail
    usable = (1 + rho * -grid[0]) ** group < 1e38
    return (n_tail * k_post + 10 * 0.5) / (n_tail + 10), -k_post / beta_post, usable


def gpd_quantiles(probs, k, sigma, xp=np):
    """Inverse GPD cdf at ``probs`` (M,) for every row's (k, σ): (n, M)."""
    k = k[:, None]
    tiny_k = xp.abs(k) < np.finfo(np.float64).eps
    safe_k = xp.where(tiny_k, 1.0, k)
    general = xp.expm1(-safe_k * xp.log1p(-probs)[None, :]) / safe_k
    return sigma[:, None] * xp.where(tiny_k, -xp.log1p(-probs)[None, :], general)


def _tail(x: np.ndarray, reff: float) -> tuple[np.ndarray, float]:
    """(indices of the tail ratios in ascending order of ratio, cutoff) of max-shifted ratios ``x``.

    The tail is every ratio above the (M+1)-th largest (or ArviZ's floor), found in O(S) by
    ``np.partition`` instead of a full sort; its order is ArviZ's sort, so tied ratios get the
    same smoothed values.
    """
    n_tail = psis_tail_length(x.size, reff)
    cutoff = max(float(np.partition(x, x.size - n_tail - 1)[x.size - n_tail - 1]), CUTOFF_MIN)
    (tail_index,) = np.nonzero(x > cutoff)
    return tail_index[np.argsort(x[tail_index])], cutoff


def khat_of_shifted(x: np.ndarray, reff: float = 1.0) -> float:
    """Pareto k̂ of max-shifted log ratios ``x`` (largest 0).

    ``_tail``'s cut without the indices (k̂ needs only the tail's values): the M + 1 largest
    by ``np.partition``, sorted, those tied with the cutoff dropped, as ArviZ does.
    """
    n_tail = psis_tail_length(x.size, reff)
    kth = x.size - n_tail - 1
    top = np.partition(x, kth)[kth:]
    top.sort()
    cutoff = max(float(top[0]), CUTOFF_MIN)
    tail = top[np.searchsorted(top, cutoff, side="right"):]
    if tail.size <= 4:
        return math.inf
    return float(gpd_fit_vector(np.exp(tail) - math.exp(cutoff))[0])


def psis_khat(log_ratios, reff: float = 1.0) -> float:
    """Pareto k̂ of one vector of log importance ratios (``psis_smooth`` without the smoothing)."""
    x = np.asarray(log_ratios, dtype=np.float64).ravel()
    return khat_of_shifted(x - x.max(), reff=reff)


def psis_smooth(log_ratios, reff: float = 1.0) -> tuple[np.ndarray, float]:
    """(PSIS-smoothed log-weights normalised to sum 1, k̂) of one vector of log importance ratios.

    Same steps as ``arviz.psislw``: the ratios above the (M+1)-th largest (or ArviZ's floor)
    form the tail; their exceedances get a GPD fit; the tail is replaced by the fitted
    distribution's order statistics, truncated at the largest raw ratio. A tail of ≤ 4 values
    has k̂ = ∞ and no smoothing; a failed fit (non-finite k̂ or σ ≤ 0) leaves the ratios unsmoothed.
    """
    x = np.array(log_ratios, dtype=np.float64).ravel()
    x -= x.max()
    tail_index, cutoff = _tail(x, reff)
    k = math.inf
    if tail_index.size > 4:
        k, sigma = gpd_fit_vector(np.exp(x[tail_index]) - math.exp(cutoff))
        # ArviZ fills the tail with NaN when σ ≤ 0; leaving it unsmoothed keeps the weights usable
        if math.isfinite(k) and sigma > 0:
            probs = np.arange(0.5, tail_index.size) / tail_index.size
            quantiles = gpd_quantiles(probs, np.array([k]), np.array([sigma]))[0]
            x[tail_index] = np.log(quantiles + math.exp(cutoff))
            np.minimum(x, 0.0, out=x)
    top = x.max()
    x -= top + math.log(np.sum(np.exp(x - top)))
    return x, k
