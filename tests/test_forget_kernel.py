"""The compiled forget kernel (``_forget_kernel.c``) against the numpy functions it mirrors.

``weights.summarize_erased`` must give what ``summarize_log_weights(erased_log_weights(...))``
gives: the same normalised log-weights, Kish ESS, Pareto k̂ (ArviZ's, through the numpy path)
and spread, up to float64 rounding, whatever the weights, the rows and the tail.
"""

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_unlearn import weights
from bayes_unlearn.psis import psis_tail_length
from bayes_unlearn.weights import erased_log_weights, summarize_erased, summarize_log_weights

kernel = weights._forget_kernel


def numpy_summary(log_weights, rows, columns):
    return summarize_log_weights(erased_log_weights(log_weights, rows[columns].T))


def assert_same_summary(ours, ref):
    np.testing.assert_allclose(ours.log_weights, ref.log_weights, rtol=0, atol=1e-12)
    assert ours.ess == pytest.approx(ref.ess, rel=1e-12)
    assert ours.spread == ref.spread
    if np.isfinite(ref.pareto_k):
        assert ours.pareto_k == pytest.approx(ref.pareto_k, rel=1e-10, abs=1e-12)
    else:  # ±inf by convention, or NaN where the GPD fit fails
        assert ours.pareto_k == ref.pareto_k or (np.isnan(ours.pareto_k) and np.isnan(ref.pareto_k))


def test_the_kernel_is_built_where_ci_runs():
    """setup.py builds it optionally; on Linux with gcc (CI, the machines here) it must exist,
    or every other test in this file would only compare numpy with itself."""
    if sys.platform != "linux":
        pytest.skip("the kernel is optional off Linux")
    assert kernel is not None


@settings(max_examples=60, deadline=None)
@given(n_samples=st.integers(2, 3000), n_rows=st.integers(1, 40), n_forget=st.integers(0, 12),
       spread=st.sampled_from([0.0, 1e-3, 1.0, 30.0, 800.0]), row_scale=st.sampled_from([1e-4, 0.5, 5.0, 60.0]),
       seed=st.integers(0, 2**32 - 1))
def test_summarize_erased_is_the_numpy_path(n_samples, n_rows, n_forget, spread, row_scale, seed):
    """Random candidate sets: weights from uniform to spread over 800 nats (past float64's
    range for plain weights), rows from nearly constant to heavy, 0–12 rows forgotten."""
    rng = np.random.default_rng(seed)
    log_weights = rng.normal(0, 1, n_samples) * spread
    rows = (-row_scale * rng.exponential(1.0, (n_rows, n_samples))).astype(np.float32)
    columns = rng.choice(n_rows, min(n_forget, n_rows), replace=False)
    assert_same_summary(summarize_erased(log_weights, rows, columns), numpy_summary(log_weights, rows, columns))


@pytest.mark.parametrize("case", ["uniform", "short tail", "ties at the cutoff", "overflowing profile",
                                  "floored cutoff"])
def test_summarize_erased_edge_cases_are_the_numpy_path(case):
    rng = np.random.default_rng(3)
    n = 4000
    log_weights = np.zeros(n)
    rows = rng.normal(-1, 0.2, (3, n)).astype(np.float32)
    columns = [1]
    if case == "uniform":  # nothing to erase: k̂ is −inf by convention
        rows[:] = -0.5
    elif case == "short tail":  # S = 20: a tail of 4 values, k̂ = inf
        log_weights, rows = log_weights[:20], rows[:, :20]
    elif case == "ties at the cutoff":  # many equal values around the (M+1)-th largest
        rows = np.round(rows, 1)
    elif case == "overflowing profile":  # x_max / x_q ≈ 1e37: products of eight factors could overflow
        log_weights = np.full(n, -300.0)
        log_weights[:190] = rng.uniform(-86.0, -84.5, 190)
        log_weights[190] = 0.0
        rows[:] = -1.0
    elif case == "floored cutoff":  # most weights below e^-708: the cutoff is ArviZ's floor
        rows[1, : n - 300] = 900.0
    ref = numpy_summary(log_weights, rows, columns)
    assert_same_summary(summarize_erased(log_weights, rows, columns), ref)
    if case == "uniform":
        assert ref.pareto_k == -np.inf
    if case == "short tail":
        assert ref.pareto_k == np.inf
    if case == "overflowing profile":  # the fit took its one-logarithm-per-factor branch, and worked
        tail = np.sort(np.exp(ref.log_weights - ref.log_weights.max()))[-191:]
        tail = tail[1:] - tail[0]
        assert tail[-1] / tail[int(190 / 4 + 0.5) - 1] > 1e37 and np.isfinite(ref.pareto_k)


def test_non_finite_values_are_left_to_the_numpy_path():
    log_weights = np.zeros(100)
    rows = np.full((2, 100), -1.0, np.float32)
    rows[1, 7] = -np.inf
    if kernel is not None:
        out = np.empty(100)
        assert kernel.erase_and_summarize(rows, np.array([1], np.int64), log_weights, out, psis_tail_length(100)) is None
    with np.errstate(invalid="ignore"):
        ours, ref = summarize_erased(log_weights, rows, [1]), numpy_summary(log_weights, rows, [1])
    np.testing.assert_array_equal(ours.log_weights, ref.log_weights)


@pytest.mark.skipif(kernel is None, reason="the compiled kernel is not built here")
def test_kernel_rejects_out_of_range_columns_and_inconsistent_buffers():
    rows = np.zeros((3, 50), np.float32)
    log_weights, out = np.zeros(50), np.empty(50)
    with pytest.raises(IndexError):
        kernel.erase_and_summarize(rows, np.array([3], np.int64), log_weights, out, 10)
    with pytest.raises(ValueError):
        kernel.erase_and_summarize(rows, np.array([0], np.int64), log_weights, np.empty(49), 10)
