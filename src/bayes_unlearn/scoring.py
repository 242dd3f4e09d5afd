"""Per-row scores for many rows in bounded memory: log-likelihoods, r(z) and PSIS-LOO.

For N rows and S samples the (S, N) log-likelihood matrix can be far larger than memory
(10⁶ × 4000 float32 = 16 GB). Here rows are processed in blocks of fixed shape, one
compiled JAX function per block, and only per-row results are kept:

    r(z_i)        = Σ_s (w_s − w'_s) log p(z_i|θ_s)         (two weighted means, one matvec)
    elpd_loo(z_i) = log Σ_s w̃_s^(−i) p(z_i|θ_s)             (PSIS-LOO, Vehtari et al.)

ArviZ's ``psislw`` smooths one row at a time in a Python loop (milliseconds per row); the
PSIS here is the same algorithm — tail of the M = ⌈min(S/5, 3√S)⌉ largest ratios, the
Zhang–Stephens GPD fit with ArviZ's priors, smoothed order statistics, truncation at the
largest raw weight — written for a whole block of rows at once (float32). The few rows it
cannot treat exactly like ArviZ (ties at the tail cutoff, a failed GPD fit) are recomputed
with ``arviz.psislw``, so the results match ArviZ to float32 precision.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import numpy as np

from ._runtime import configure_jax

configure_jax()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from .models.base import ModelFamily  # noqa: E402
from .psis import CUTOFF_MIN, gpd_fit_rows, gpd_quantiles, psis_tail_length  # noqa: E402
from .weights import normalize_log_weights  # noqa: E402


def psis_select(loglik_rows, base_log_weights, n_tail: int):
    """Stage 1 of block PSIS: each row's M + 1 largest log-ratios (shifted so the max is 0)."""
    ratios = base_log_weights[None, :] - loglik_rows
    row_max = jnp.max(ratios, axis=1)
    top, top_index = jax.lax.top_k(ratios - row_max[:, None], n_tail + 1)  # descending
    return top, top_index, row_max


def psis_body_sums(loglik_rows, base_log_weights, row_max, cutoff):
    """Stage 2: log Σ over the untouched body (ratio ≤ cutoff) of w̃_s p(z|θ_s), and of w̃_s.

    A separate compiled function on purpose: fused with ``top_k`` in one program, XLA CPU
    replaces the top-k by a full sort (about 10× slower at S = 4000).
    """
    x = base_log_weights[None, :] - loglik_rows - row_max[:, None]
    body = jnp.where(x <= cutoff[:, None], x, -jnp.inf)
    lse = jax.nn.logsumexp
    return lse(body + loglik_rows, axis=1), lse(body, axis=1)


def psis_finish(top, top_index, row_max, body_terms, base_log_weights, n_tail: int):
    """Stage 3: GPD fit of the tail, smoothed tail weights, elpd_loo, k̂ and the exact flag."""
    cutoff = jnp.maximum(top[:, n_tail], CUTOFF_MIN)
    tail = top[:, n_tail - 1::-1]  # the M largest, ascending
    k, sigma = gpd_fit_rows(jnp.exp(tail) - jnp.exp(cutoff)[:, None], xp=jnp)
    probs = (jnp.arange(n_tail, dtype=top.dtype) + 0.5) / n_tail
    smoothed = jnp.minimum(jnp.log(gpd_quantiles(probs, k, sigma, xp=jnp) + jnp.exp(cutoff)[:, None]), 0.0)
    # log p(z|θ_s) of the tail samples, recovered from their ratios (a gather from (S,) only)
    tail_loglik = base_log_weights[top_index[:, n_tail - 1::-1]] - tail - row_max[:, None]
    lse = jax.nn.logsumexp
    body_ll, body_w = body_terms
    elpd = (jnp.logaddexp(body_ll, lse(smoothed + tail_loglik, axis=1))
            - jnp.logaddexp(body_w, lse(smoothed, axis=1)))
    # Ties at the cutoff: ArviZ leaves tied values out of the tail; here they stay in it with a
    # zero exceedance (a negligible difference). Rows with no usable fit go to ArviZ.
    exact = (top[:, n_tail] >= CUTOFF_MIN) & jnp.isfinite(k) & (sigma > 0)
    return elpd, k, exact


class BlockPsis:
    """PSIS-LOO of (n, S) blocks of log-likelihood rows, as three compiled stages."""

    def __init__(self, n_tail: int):
        self.n_tail = n_tail
        self._select = jax.jit(partial(psis_select, n_tail=n_tail))
        self._body = jax.jit(psis_body_sums)
        self._finish = jax.jit(partial(psis_finish, n_tail=n_tail))

    def __call__(self, loglik_rows, base_log_weights):
        """(elpd_loo, k̂, exact) per row."""
        top, top_index, row_max = self._select(loglik_rows, base_log_weights)
        cutoff = jnp.maximum(top[:, self.n_tail], CUTOFF_MIN)
        body = self._body(loglik_rows, base_log_weights, row_max, cutoff)
        return self._finish(top, top_index, row_max, body, base_log_weights)


def _arviz_rows(loglik_rows: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's per-row PSIS-LOO for the rows the block routine flagged."""
    from arviz import psislw
    from scipy.special import logsumexp

    ll = np.asarray(loglik_rows, np.float64)
    smoothed, k = psislw(base[None, :] - ll, reff=1.0)
    return logsumexp(smoothed + ll, axis=1), np.atleast_1d(np.asarray(k, np.float64))


_psis_fns: dict = {}


def _psis_fn(n_tail: int) -> BlockPsis:
    if n_tail not in _psis_fns:
        _psis_fns[n_tail] = BlockPsis(n_tail)
    return _psis_fns[n_tail]


def _blocks(n: int, block: int) -> Iterator[tuple[int, int]]:
    for begin in range(0, n, block):
        yield begin, min(begin + block, n)


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] == rows:
        return a
    return np.concatenate([a, np.zeros((rows - a.shape[0],) + a.shape[1:], a.dtype)])


def default_block_rows(n_samples: int, budget_bytes: int = 64 << 20) -> int:
    """Rows per block so that the block's (rows, S) float32 arrays stay near ``budget_bytes``."""
    return max(8, budget_bytes // (4 * 4 * max(n_samples, 1)))


def psis_loo_rows(loglik, log_weights=None, block_rows: int | None = None):
    """(elpd_loo_i, k̂_i) for the N columns of an (S, N) log-likelihood matrix.

    Same contract and results as ArviZ-based per-row PSIS-LOO (``psislw`` on −log-lik plus
    the candidate set's log-weights, r_eff = 1), vectorised over blocks of rows.
    """
    loglik = np.asarray(loglik, np.float32)
    n_samples, n_rows = loglik.shape
    base = (np.full(n_samples, -np.log(n_samples)) if log_weights is None
            else normalize_log_weights(log_weights))
    fn = _psis_fn(psis_tail_length(n_samples))
    block = min(n_rows, block_rows or default_block_rows(n_samples))
    elpd, khat = np.empty(n_rows), np.empty(n_rows)
    base32 = base.astype(np.float32)
    for begin, stop in _blocks(n_rows, block):
        rows = _pad_rows(np.ascontiguousarray(loglik[:, begin:stop].T), block)
        e, k, exact = (np.asarray(a) for a in fn(rows, base32))
        elpd[begin:stop], khat[begin:stop] = e[: stop - begin], k[: stop - begin]
        redo = np.flatnonzero(~exact[: stop - begin])
        if redo.size:
            elpd[begin + redo], khat[begin + redo] = _arviz_rows(rows[redo], base)
    return elpd, khat


def _loglik_block_fn(family: ModelFamily):
    """Jitted (θ, X block, y block, w_before − w_after) → ((n, S) log-lik, mean, r(z))."""
    from .inference.nuts import family_signature

    key = ("loglik-block",) + family_signature(family)
    if key in _psis_fns:
        return _psis_fns[key]

    def block(theta, X, y, weight_diff):
        loglik = jax.vmap(family.loglik_rows, in_axes=(0, None, None))(theta, X, y).T  # (n, S)
        return loglik, jnp.mean(loglik, axis=1), loglik @ weight_diff

    _psis_fns[key] = jax.jit(block)
    return _psis_fns[key]


def score_rows(family: ModelFamily, flat_samples, X, y, log_weights_before=None,
               log_weights_after=None, *, loo: bool = True, block_rows: int | None = None) -> dict:
    """Per-row scores of N rows under S samples without ever holding the (S, N) matrix.

    Returns float64 arrays of length N: ``loglik_mean`` (E_s log p(z_i|θ_s), unweighted),
    ``influence`` r(z_i) = E_before[log p(z_i|θ)] − E_after[log p(z_i|θ)] over the same
    samples with two weightings (e.g. a reweighting update by p(F|θ)), and with ``loo``
    ``elpd_loo`` and ``pareto_k`` (PSIS-LOO under the "before" weights).
    """
    theta = np.asarray(flat_samples, np.float32)
    n_samples = theta.shape[0]
    uniform = np.full(n_samples, -np.log(n_samples))
    before = uniform if log_weights_before is None else normalize_log_weights(log_weights_before)
    after = before if log_weights_after is None else normalize_log_weights(log_weights_after)
    weight_diff = (np.exp(before) - np.exp(after)).astype(np.float32)
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.float32)
    n_rows = X.shape[0]
    block = min(n_rows, block_rows or default_block_rows(n_samples))
    loglik_fn = _loglik_block_fn(family)
    psis = _psis_fn(psis_tail_length(n_samples))
    names = ["loglik_mean", "influence"] + (["elpd_loo", "pareto_k"] if loo else [])
    out = {name: np.empty(n_rows) for name in names}
    base32 = before.astype(np.float32)
    for begin, stop in _blocks(n_rows, block):
        n = stop - begin
        loglik, mean, influence = loglik_fn(theta, _pad_rows(X[begin:stop], block),
                                            _pad_rows(y[begin:stop], block), weight_diff)
        out["loglik_mean"][begin:stop] = np.asarray(mean)[:n]
        out["influence"][begin:stop] = np.asarray(influence)[:n]
        if loo:
            elpd, k, exact = (np.asarray(a)[:n] for a in psis(loglik, base32))
            out["elpd_loo"][begin:stop], out["pareto_k"][begin:stop] = elpd, k
            redo = np.flatnonzero(~exact)
            if redo.size:
                rows = np.asarray(loglik)[redo]
                out["elpd_loo"][begin + redo], out["pareto_k"][begin + redo] = _arviz_rows(rows, before)
    return out


__all__ = ["BlockPsis", "psis_loo_rows", "score_rows"]
