"""Per-row scores for many rows in bounded memory: log-likelihoods, r(z) and PSIS-LOO.

For N rows and S samples the (S, N) log-likelihood matrix can be far larger than memory
(10⁶ × 4000 float32 = 16 GB). Here rows are processed in blocks of a few MB that stay in
the CPU cache, and only per-row results are kept:

    r(z_i)        = Σ_s (w_s − w'_s) log p(z_i|θ_s)         (two weighted means, one dot)
    elpd_loo(z_i) = log Σ_s w̃_s^(−i) p(z_i|θ_s)             (PSIS-LOO, Vehtari et al.)

ArviZ's ``psislw`` smooths one row at a time (milliseconds per row); the PSIS here is the
same algorithm — tail of the M = ⌈min(S/5, 3√S)⌉ largest log-ratios r_s = b_s − log p(z|θ_s)
(b: the candidate set's log-weights), the Zhang–Stephens GPD fit with ArviZ's priors,
smoothed order statistics, truncation at the largest raw weight — for a block of rows at once:

1. one compiled function: the block's (n, S) log-ratios and its per-row sums (mean log-lik,
   r(z), log Σ_s e^{r_s}); for the logistic family in one softplus form;
2. numpy: the M + 1 largest ratios of each row by ``np.partition`` (O(S), where a top-k in
   XLA on CPU is a full sort), then sorted;
3. one compiled function: GPD fit, smoothed tail and elpd_loo from those M + 1 values. The
   body (ratios ≤ cutoff) enters only through totals: Σ_body = Σ_all − Σ_tail.

Two chunks of blocks are in flight at a time, one per core (XLA and numpy release the GIL).
Stage 1 partitions its fresh XLA output in place (no copy of the block). The few
rows the block routine cannot treat exactly like ArviZ (ties at the tail cutoff, a failed
GPD fit, float32 overflow) are recomputed one at a time by ``psis.psis_smooth`` (the
psislw algorithm, pinned to ArviZ by a test); everything else matches ArviZ to float32
precision (tests pin both).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from ._runtime import configure_jax, settle_malloc_thresholds

configure_jax()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from .models.base import ModelFamily  # noqa: E402
from .models.logistic import logistic_loglik_rows  # noqa: E402
from .psis import CUTOFF_MIN, gpd_fit_scaled, gpd_quantiles, psis_smooth, psis_tail_length  # noqa: E402
from .weights import normalize_log_weights  # noqa: E402

N_WORKERS = max(1, min(2, os.cpu_count() or 1))


# ---- stage 1: log-ratios and per-row sums ----------------------------------------------------
# XLA CPU keeps elementwise work vectorised in its loop fusions but not inside fused
# reductions: row sums are written as dot products with ones throughout.
def row_sums(a, weights):
    """a (…, K) @ weights (K, J): row sums as a dot product."""
    return a @ weights


# log1p(e)/e on [0, 1] as a degree-10 polynomial (Chebyshev interpolant, error < 1e-9): no
# division, so XLA keeps the whole softplus in one loop (it gives a division its own pass over
# the block), and a third of the cost of XLA CPU's log1p. Float32-exact, also for small e.
_LOG1P_OVER_X = np.polynomial.Chebyshev.interpolate(lambda e: np.log1p(e) / e, 10, domain=[0, 1]).convert(
    kind=np.polynomial.Polynomial).coef


def log1p_unit(e):
    """log(1 + e) for 0 ≤ e ≤ 1."""
    acc = _LOG1P_OVER_X[-1]
    for c in _LOG1P_OVER_X[-2::-1]:
        acc = acc * e + c
    return e * acc


def block_outputs(neg_loglik, log_base, weight_diff, *, shift_exp: bool = True):
    """(ratios b − log p, Σ_s log p, Σ_s (w_s − w'_s) log p, log Σ_s e^{ratio}) of a block.

    ``shift_exp`` False: Σ e^{ratio} unshifted (one pass less), for families whose ratios stay
    in float32 range; a row that overflows gets log Σ = inf and is redone on its own.
    """
    ratios = neg_loglik if log_base is None else log_base[None, :] + neg_loglik
    sums = row_sums(neg_loglik, jnp.stack([jnp.ones_like(weight_diff), weight_diff], axis=1))
    if shift_exp:
        log_sum_exp = jax.nn.logsumexp(ratios, axis=1)
    else:
        log_sum_exp = jnp.log(row_sums(jnp.exp(ratios), jnp.ones((ratios.shape[1], 1), ratios.dtype))[:, 0])
    return ratios, -sums[:, 0], -sums[:, 1], log_sum_exp


def logistic_block(theta, X, y, log_base, weight_diff):
    """Stage 1 for the logistic family: −log p = softplus(−t), t = ±(b + wᵀx) signed by the label.

    softplus(−t) = max(−t, 0) + log1p(e^{−|t|}). Σ_s e^{b_s + softplus} ≥ e^{max b} = 1 cannot
    underflow and overflows only where p < e^{−88}: no shift needed. ``log_base`` None: uniform.
    """
    signed_rows = jnp.concatenate([jnp.ones_like(y)[:, None], X], axis=1) * (2 * y - 1)[:, None]
    t = signed_rows @ theta.T
    neg_loglik = jnp.maximum(-t, 0.0) + log1p_unit(jnp.exp(-jnp.abs(t)))
    return block_outputs(neg_loglik, log_base, weight_diff, shift_exp=False)


def family_block(theta, X, y, log_base, weight_diff, *, loglik_rows):
    """Stage 1 for any family: its own vmapped per-row log-likelihood."""
    neg_loglik = -jax.vmap(loglik_rows, in_axes=(0, None, None))(theta, X, y).T  # (n, S)
    return block_outputs(neg_loglik, log_base, weight_diff)


def loglik_block(loglik_rows, log_base):
    """Stage 1 from given (n, S) log-likelihood rows: ratios and log Σ_s e^{ratio}."""
    ratios = -loglik_rows if log_base is None else log_base[None, :] - loglik_rows
    return ratios, jax.nn.logsumexp(ratios, axis=1)


def uses_logistic_form(family: ModelFamily, y) -> bool:
    """The softplus form holds for the logistic family with 0/1 labels."""
    return family.loglik_rows is logistic_loglik_rows and bool(np.all((y == 0) | (y == 1)))


# ---- stage 2: the M + 1 largest ratios of every row (numpy) ----------------------------------
def _writable(host: np.ndarray) -> np.ndarray:
    """``host`` itself, or a writable alias of it when it is a read-only view of an XLA buffer."""
    if host.flags.writeable:
        return host
    if not host.flags.c_contiguous:
        return host.copy()
    pointer = ctypes.cast(host.ctypes.data, ctypes.POINTER(np.ctypeslib.as_ctypes_type(host.dtype)))
    return np.ctypeslib.as_array(pointer, host.shape)


def top_ratios(ratios, n_top: int) -> np.ndarray:
    """The n_top largest values of every row, ascending.

    ``ratios`` is partitioned in place: it is a fresh block used only here (an XLA output
    that nothing else reads), so copying it first would be a pass over the block for nothing.
    """
    host = np.asarray(ratios)  # zero-copy on CPU; ``ratios`` stays alive while it is used
    kth = host.shape[1] - n_top
    rows = _writable(host)
    rows.partition(kth, axis=1)
    return np.sort(rows[:, kth:], axis=1)


def top_ratios_indexed(ratios, n_top: int) -> tuple[np.ndarray, np.ndarray]:
    """As ``top_ratios`` with the sample index of every value (for non-uniform weights)."""
    kth = ratios.shape[1] - n_top
    index = np.argpartition(ratios, kth, axis=1)[:, kth:]
    values = np.take_along_axis(ratios, index, axis=1)
    order = np.argsort(values, axis=1)
    return np.take_along_axis(values, order, axis=1), np.take_along_axis(index, order, axis=1)


# ---- stage 3: PSIS-LOO from the M + 1 largest ratios -----------------------------------------
def psis_loo_tail(top, top_log_base, log_sum_exp_ratio, sum_base, *, group: int = 8):
    """(elpd_loo, k̂, exact) of every row from its M + 1 largest log-ratios ``top`` (ascending).

    top[:, 0] is ArviZ's cutoff (the (M+1)-th largest), top[:, 1:] the tail; ``top_log_base``
    holds their b_s (None: all 0), ``sum_base`` = Σ_s e^{b_s}. With x = ratio − max
    (psislw's shift) and q the smoothed tail, elpd = log(Σ_body e^{x+log p} + Σ_tail e^{q+log p})
    − log(Σ_body e^x + Σ_tail e^q), where x + log p = b − max: the body enters only through
    the totals Σ e^b and Σ e^x, minus their tail parts.

    The exceedances e^x − e^{x_cut} = e^{x_cut} expm1(ratio − cutoff) are formed from
    differences of ratios (float32 e^x alone loses them when the ratios are all close), and
    the factor e^{x_cut} cancels from the fit: q = x_cut + log1p(σ Q(p) expm1(max − cutoff)).
    """
    n_tail = top.shape[1] - 1
    ones = jnp.ones((n_tail, 1), top.dtype)
    r_max = top[:, -1]
    x = top[:, 1:] - r_max[:, None]
    x_cut = top[:, 0] - r_max
    span = jnp.expm1(r_max - top[:, 0])  # largest exceedance / e^{x_cut}
    k, sigma, usable = gpd_fit_scaled(jnp.expm1(top[:, 1:] - top[:, :1]) / span[:, None], group, jnp)
    probs = (jnp.arange(n_tail, dtype=top.dtype) + 0.5) / n_tail
    quantiles = gpd_quantiles(probs, k, sigma * span, xp=jnp)
    smoothed = jnp.minimum(x_cut[:, None] + jnp.log1p(quantiles), 0.0)  # truncated at the raw max
    tail_base = 0.0 if top_log_base is None else top_log_base[:, 1:]
    tail_loglik = tail_base - top[:, 1:]
    body_base = sum_base - (n_tail if top_log_base is None else row_sums(jnp.exp(tail_base), ones)[:, 0])
    body_ratio = jnp.exp(log_sum_exp_ratio - r_max) - row_sums(jnp.exp(x), ones)[:, 0]
    # log Σ_tail e^{q + log p}: shifted by the largest term so that no float32 underflow occurs
    numer = smoothed + tail_loglik
    numer_max = jnp.max(numer, axis=1)
    tail_numer = numer_max + jnp.log(row_sums(jnp.exp(numer - numer_max[:, None]), ones)[:, 0])
    elpd = (jnp.logaddexp(jnp.log(body_base) - r_max, tail_numer)
            - jnp.log(body_ratio + row_sums(jnp.exp(smoothed), ones)[:, 0]))
    # ArviZ leaves ratios tied with the cutoff out of the tail (a shorter tail) and floors the
    # cutoff at CUTOFF_MIN: those rows, failed fits and float32 overflow are redone one by one
    exact = ((top[:, 0] < top[:, 1]) & (x_cut > CUTOFF_MIN) & jnp.isfinite(k) & (sigma > 0)
             & usable & (body_ratio > 0) & jnp.isfinite(elpd) & (n_tail > 4))
    return elpd, k, exact


_finish_fns = {group: jax.jit(partial(psis_loo_tail, group=group)) for group in (1, 8)}
RETRY_ROWS = 64  # rows per call of the one-factor GPD fit (for the rows eight overflowed)


class BlockPsis:
    """Stages 2 and 3 of block PSIS-LOO for one candidate set (S samples, log-weights)."""

    def __init__(self, n_samples: int, log_weights=None):
        self.n_tail = psis_tail_length(n_samples)
        if log_weights is None:
            self.log_base = None  # uniform: ratios are −log p
            self.sum_base = np.float32(n_samples)
        else:
            base = normalize_log_weights(log_weights)
            self.log_base = (base - base.max()).astype(np.float32)  # b_s ≤ 0, the largest 0
            self.sum_base = np.float32(np.sum(np.exp(base - base.max())))

    def top(self, ratios) -> tuple[np.ndarray, np.ndarray | None]:
        """Stage 2: the M + 1 largest ratios of every row (ascending) and their b_s."""
        if self.log_base is None:
            return top_ratios(ratios, self.n_tail + 1), None
        top, index = top_ratios_indexed(np.asarray(ratios), self.n_tail + 1)
        return top, self.log_base[index]

    def finish(self, top, top_log_base, log_sum_exp_ratio):
        """Stage 3: (elpd_loo, k̂, exact) per row (numpy arrays).

        Rows whose GPD fit could overflow with products of eight factors (heavy tails) are
        fitted again one factor at a time, in batches of ``RETRY_ROWS``.
        """
        args = (top, top_log_base, log_sum_exp_ratio)
        elpd, khat, exact = (np.array(a) for a in _finish_fns[8](*args, self.sum_base))
        retry = np.flatnonzero(~exact & (top[:, 0] < top[:, 1]))  # ties: one factor won't help
        for begin, stop in _blocks(retry.size, RETRY_ROWS):
            rows = retry[begin:stop]
            part = [None if a is None else _pad_rows(np.asarray(a)[rows], RETRY_ROWS) for a in args]
            e, k, ok = (np.asarray(a)[: rows.size] for a in _finish_fns[1](*part, self.sum_base))
            elpd[rows], khat[rows], exact[rows] = e, k, ok
        return elpd, khat, exact


def per_row_psis_loo(loglik_rows: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PSIS-LOO one row at a time by ``psis.psis_smooth`` (ArviZ's ``psislw``, pinned to it by a
    test), for the rows the block routine flagged: no xarray, no ArviZ import."""
    elpd, khat = np.empty(len(loglik_rows)), np.empty(len(loglik_rows))
    for i, loglik in enumerate(np.asarray(loglik_rows, np.float64)):
        log_weights, khat[i] = psis_smooth(base - loglik, reff=1.0)
        terms = log_weights + loglik
        top = terms.max()
        elpd[i] = top + np.log(np.sum(np.exp(terms - top)))
    return elpd, khat


# ---- drivers ----------------------------------------------------------------------------------
CHUNK_BLOCKS = 8  # stage 3 runs once per 8 blocks: XLA's fixed cost per call is then negligible


def _blocks(n: int, block: int) -> Iterator[tuple[int, int]]:
    for begin in range(0, n, block):
        yield begin, min(begin + block, n)


def _run_blocks(n_rows: int, block: int, work: Callable[[int, int], None]) -> None:
    """work(begin, stop) for every block of rows, ``N_WORKERS`` blocks at a time."""
    settle_malloc_thresholds()  # the blocks' multi-MB buffers are then reused, not re-faulted
    if N_WORKERS == 1 or n_rows <= block:
        for begin, stop in _blocks(n_rows, block):
            work(begin, stop)
        return
    with ThreadPoolExecutor(N_WORKERS) as pool:
        for future in [pool.submit(work, *b) for b in _blocks(n_rows, block)]:
            future.result()  # re-raises a worker's exception


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] == rows:
        return a
    return np.concatenate([a, np.zeros((rows - a.shape[0],) + a.shape[1:], a.dtype)])


def default_block_rows(n_samples: int, budget_bytes: int = 4 << 20) -> int:
    """Rows per block so that one (rows, S) float32 block stays near ``budget_bytes`` (in cache)."""
    return max(8, budget_bytes // (4 * max(n_samples, 1)))


def _blocked_loo(n_rows: int, block: int, psis: BlockPsis, ratio_rows, base, elpd, khat) -> None:
    """Stages 1–3 over all rows, filling ``elpd`` and ``khat``; flagged rows one at a time.

    ratio_rows(rows) → (ratios, log Σ_s e^ratio) of the rows ``rows`` (a slice or an index
    array), padded to ``block`` rows; ``base``: the normalised log-weights.
    """
    chunk = block * CHUNK_BLOCKS
    redo: list[np.ndarray] = []

    def work(begin: int, stop: int) -> None:
        tops, bases, lses = [], [], []
        for b0, b1 in _blocks(stop - begin, block):
            ratios, lse = ratio_rows(slice(begin + b0, begin + b1))
            top, top_base = psis.top(ratios)
            tops.append(top[: b1 - b0])
            bases.append(None if top_base is None else top_base[: b1 - b0])
            lses.append(np.asarray(lse)[: b1 - b0])
        top_base = None if bases[0] is None else _pad_rows(np.concatenate(bases), chunk)
        e, k, exact = psis.finish(_pad_rows(np.concatenate(tops), chunk), top_base,
                                  _pad_rows(np.concatenate(lses), chunk))
        n = stop - begin
        elpd[begin:stop], khat[begin:stop] = e[:n], k[:n]
        redo.append(begin + np.flatnonzero(~exact[:n]))

    _run_blocks(n_rows, chunk, work)
    redo_rows = np.concatenate(redo) if redo else np.zeros(0, int)
    for begin, stop in _blocks(redo_rows.size, block):
        rows = redo_rows[begin:stop]
        ratios = np.asarray(ratio_rows(rows)[0])[: rows.size]
        loglik = -ratios if psis.log_base is None else psis.log_base - ratios
        elpd[rows], khat[rows] = per_row_psis_loo(loglik, base)


def _base_log_weights(log_weights, n_samples: int) -> np.ndarray:
    return (np.full(n_samples, -np.log(n_samples)) if log_weights is None
            else normalize_log_weights(log_weights))


_loglik_ratio_fn = jax.jit(loglik_block)


def psis_loo_rows(loglik, log_weights=None, block_rows: int | None = None):
    """(elpd_loo_i, k̂_i) for the N columns of an (S, N) log-likelihood matrix.

    Same contract and results as ArviZ-based per-row PSIS-LOO (``psislw`` on −log-lik plus
    the candidate set's log-weights, r_eff = 1), vectorised over blocks of rows.
    """
    loglik = np.asarray(loglik, np.float32)
    n_samples, n_rows = loglik.shape
    psis = BlockPsis(n_samples, log_weights)
    block = max(1, min(n_rows, block_rows or default_block_rows(n_samples)))
    elpd, khat = np.empty(n_rows), np.empty(n_rows)

    def ratio_rows(rows):
        return _loglik_ratio_fn(_pad_rows(np.ascontiguousarray(loglik[:, rows].T), block), psis.log_base)

    _blocked_loo(n_rows, block, psis, ratio_rows, _base_log_weights(log_weights, n_samples), elpd, khat)
    return elpd, khat


_stage1_fns: dict = {}


def _stage1_fn(family: ModelFamily, logistic: bool):
    """The compiled stage 1 of a family (cached per family signature)."""
    from .inference.nuts import family_signature

    key = (logistic,) + family_signature(family)
    if key not in _stage1_fns:
        _stage1_fns[key] = jax.jit(logistic_block if logistic
                                   else partial(family_block, loglik_rows=family.loglik_rows))
    return _stage1_fns[key]


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
    before = _base_log_weights(log_weights_before, n_samples)
    after = before if log_weights_after is None else normalize_log_weights(log_weights_after)
    weight_diff = (np.exp(before) - np.exp(after)).astype(np.float32)
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.float32)
    n_rows = X.shape[0]
    block = max(1, min(n_rows, block_rows or default_block_rows(n_samples)))
    stage1 = _stage1_fn(family, uses_logistic_form(family, y))
    psis = BlockPsis(n_samples, log_weights_before)
    out = {name: np.empty(n_rows) for name in ("loglik_mean", "influence", "elpd_loo", "pareto_k")}

    def ratio_rows(rows):
        """Stage 1 of rows ``rows``; stores their mean log-lik and r(z) on the way."""
        n = len(y[rows])
        Xb, yb = _pad_rows(X[rows], block), _pad_rows(y[rows], block)
        ratios, ll_sum, influence, lse = stage1(theta, Xb, yb, psis.log_base, weight_diff)
        out["loglik_mean"][rows] = np.asarray(ll_sum)[:n] / n_samples
        out["influence"][rows] = np.asarray(influence)[:n]
        return ratios, lse

    if loo:
        _blocked_loo(n_rows, block, psis, ratio_rows, before, out["elpd_loo"], out["pareto_k"])
        return out
    _run_blocks(n_rows, block, lambda begin, stop: ratio_rows(slice(begin, stop)))
    return {name: out[name] for name in ("loglik_mean", "influence")}


__all__ = ["BlockPsis", "psis_loo_rows", "score_rows"]
