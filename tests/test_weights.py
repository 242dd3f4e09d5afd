"""Pure weight functions: normalisation, Kish ESS, k̂ threshold, cumulative forgetting, PSIS, quantiles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import logsumexp

from bayes_unlearn.posterior import WeightedPosterior, diagnose_weights
from bayes_unlearn.weights import (
    effective_sample_size,
    forget_log_weights,
    khat_threshold,
    normalize_log_weights,
    pareto_smoothed,
    weighted_quantiles,
)

finite_logs = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


@given(arrays(np.float64, st.integers(1, 200), elements=finite_logs), finite_logs)
def test_normalised_weights_sum_to_one_and_ignore_a_constant_shift(log_w, shift):
    out = normalize_log_weights(log_w)
    assert logsumexp(out) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(normalize_log_weights(log_w + shift), out, atol=1e-9)
    # Ratios between samples are what the weights mean: they must survive normalisation.
    np.testing.assert_allclose(out - out[0], log_w - log_w[0], atol=1e-9)


def test_normalisation_survives_log_weights_far_beyond_float_range():
    out = normalize_log_weights([-2000.0, -2000.0 + np.log(3.0)])
    np.testing.assert_allclose(np.exp(out), [0.25, 0.75])


def test_kish_ess_known_values():
    assert effective_sample_size(np.zeros(400)) == pytest.approx(400.0)
    # One of n samples holds all the weight: ESS 1.
    assert effective_sample_size([0.0, -1e6, -1e6, -1e6]) == pytest.approx(1.0)
    # Weights (1, 1, 2)/4 → 1 / (1/16 + 1/16 + 4/16) = 16/6.
    assert effective_sample_size(np.log([1.0, 1.0, 2.0])) == pytest.approx(16 / 6)


@given(arrays(np.float64, st.integers(1, 300), elements=finite_logs))
def test_kish_ess_is_between_one_and_n(log_w):
    ess = effective_sample_size(log_w)
    assert 1.0 - 1e-9 <= ess <= len(log_w) + 1e-9


@pytest.mark.parametrize("n, expected", [(100, 0.5), (1000, 1 - 1 / 3), (10_000, 0.7), (10**6, 0.7)])
def test_khat_threshold_formula(n, expected):
    assert khat_threshold(n) == pytest.approx(expected)


@settings(max_examples=60)
@given(
    st.integers(2, 40).flatmap(lambda s: st.tuples(
        arrays(np.float64, s, elements=finite_logs),
        arrays(np.float64, (s, 6), elements=st.floats(-20, 0)),
    )),
    st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True),
)
def test_cumulative_forgetting_equals_forgetting_the_union(case, first):
    log_w, loglik = case
    second = [j for j in range(6) if j not in first][:2]
    step = forget_log_weights(forget_log_weights(log_w, loglik[:, first]), loglik[:, second])
    union = forget_log_weights(log_w, loglik[:, first + second])
    np.testing.assert_allclose(step, union, atol=1e-9)


def test_forget_subtracts_the_erased_rows_loglik():
    loglik = np.log(np.array([[0.5, 0.9], [0.25, 0.9]]))
    out = forget_log_weights(np.log([0.5, 0.5]), loglik)
    # w ∝ 1/p(D_e|θ): 1/(0.45) and 1/(0.225), i.e. 1/3 and 2/3.
    np.testing.assert_allclose(np.exp(out), [1 / 3, 2 / 3])


def test_posterior_forget_columns_drops_the_forgotten_columns_and_is_cumulative(rng):
    samples = rng.normal(size=(2, 50, 3))
    loglik = rng.normal(-1, 0.3, size=(100, 5)).astype(np.float32)
    post = WeightedPosterior.from_samples(samples, loglik, ("a", "b", "c"))
    assert not post.is_weighted
    one = post.forget_columns([1]).forget_columns([2])  # original columns 1 and 3
    both = post.forget_columns([1, 3])
    assert one.loglik.shape == (100, 3)
    np.testing.assert_array_equal(one.loglik, loglik[:, [0, 2, 4]])
    np.testing.assert_allclose(one.log_weights, both.log_weights, atol=1e-9)
    assert one.is_weighted


def test_psis_khat_of_uniform_weights_is_minus_infinity_and_reliable():
    smoothed, k = pareto_smoothed(np.zeros(1000))
    assert k == -np.inf
    np.testing.assert_allclose(np.exp(smoothed), 1e-3)
    diag = diagnose_weights(np.zeros(1000))
    assert diag.reliable and diag.to_dict()["pareto_k"] is None


@pytest.mark.parametrize("target_var", [1.25, 2.0, 4.0])
def test_psis_khat_matches_the_known_tail_of_gaussian_importance_ratios(target_var):
    """Proposal N(0,1), target N(0,v): the ratios have a Pareto tail with k = 1 − 1/v.

    Also checks the sign convention: feeding −log w would fit the (bounded) left tail instead.
    """
    x = np.random.default_rng(1).normal(size=20_000)
    log_ratio = 0.5 * x**2 * (1 - 1 / target_var)
    _, k = pareto_smoothed(log_ratio)
    assert k == pytest.approx(1 - 1 / target_var, abs=0.1)


def test_psis_flags_heavy_tailed_weights_as_unreliable():
    # log w = log of Pareto(α = 0.8) draws: infinite mean, k = 1/α = 1.25.
    rng = np.random.default_rng(2)
    log_w = -np.log(rng.random(4000)) / 0.8
    _, k = pareto_smoothed(log_w)
    assert np.isfinite(k) and k > 1.0
    diag = diagnose_weights(log_w)
    assert not diag.reliable and "Pareto k̂" in diag.reason


def test_psis_smoothing_keeps_weights_normalised_and_only_changes_the_tail():
    rng = np.random.default_rng(3)
    log_w = -np.log(rng.random(4000)) / 0.8
    smoothed, _ = pareto_smoothed(log_w)
    assert logsumexp(smoothed) == pytest.approx(0.0, abs=1e-9)
    # The bulk (all but the top ~3√S weights) keeps its ratios; only the tail is smoothed.
    bulk = np.argsort(log_w)[:3500]
    shift = smoothed[bulk] - log_w[bulk]
    np.testing.assert_allclose(shift, shift[0], atol=1e-9)
    assert not np.allclose(smoothed - log_w, shift[0])


@pytest.mark.parametrize("shape", [(501,), (400, 3), (300, 4, 2)])
def test_weighted_quantiles_with_equal_weights_match_numpy(shape, rng):
    values = rng.standard_t(3, size=shape)
    qs = [0.025, 0.1, 0.5, 0.9, 0.975]
    w = np.full(shape[0], 1.0 / shape[0])
    # Midpoint CDF (k − ½)/n is numpy's "hazen" plotting position.
    np.testing.assert_allclose(weighted_quantiles(values, w, qs),
                               np.quantile(values, qs, axis=0, method="hazen"), atol=1e-12)


def test_weighted_quantiles_follow_the_weights():
    values = np.arange(10.0)
    w = np.full(10, 1e-6)
    w[7] = 1.0
    w /= w.sum()
    lo, med, hi = weighted_quantiles(values, w, [0.05, 0.5, 0.95])
    # Midpoint interpolation: the median sits on the heavy sample, the tails stay between neighbours.
    assert med == pytest.approx(7.0, abs=1e-3) and 6.0 < lo < 7.0 < hi < 8.0
    # A weight of 3 on one sample equals three copies of it (medians of a symmetric set).
    vals = np.array([0.0, 1.0, 2.0])
    assert weighted_quantiles(vals, np.array([1, 3, 1]) / 5, [0.5])[0] == pytest.approx(1.0)


def test_bounded_weights_are_reliable_even_when_khat_is_high():
    """1/p(z|θ) for well-fit rows: a skewed tail of negligible size must not be flagged."""
    from bayes_unlearn.posterior import diagnose_weights

    rng = np.random.default_rng(3)
    eta = rng.normal(9.0, 2.5, size=1000)  # logits of rows the model fits very well
    log_w = np.log1p(np.exp(-eta))  # −log σ(η): log importance ratios, all within log 2
    diag = diagnose_weights(log_w)
    assert np.ptp(log_w) < np.log(2)
    assert diag.pareto_k > diag.khat_threshold  # k̂ alone would flag it
    assert diag.reliable, diag.reason
    # the same shape scaled up to a real spread keeps being judged by k̂ and ESS
    wide = diagnose_weights(40 * log_w)
    assert not wide.reliable


@pytest.mark.parametrize("case", ["gaussian", "pareto", "ties", "short", "tiny"])
def test_psis_smooth_reproduces_arviz_psislw(case):
    """Our single-vector PSIS (no xarray overhead) is ArviZ's algorithm: same k̂, same weights."""
    from arviz import psislw

    from bayes_unlearn.psis import psis_khat, psis_smooth

    rng = np.random.default_rng(7)
    log_r = {
        "gaussian": 0.5 * rng.normal(size=4000) ** 2 * 0.6,
        "pareto": -np.log(rng.random(3000)) / 0.8,
        "ties": np.round(rng.normal(size=2000), 1),  # many values tie at the cutoff
        "short": rng.normal(size=20),  # tail of 4: k̂ = ∞, no smoothing
        "tiny": np.where(rng.random(1000) < 0.99, -800.0, rng.normal(size=1000)),  # below ArviZ's floor
    }[case]
    ours, k = psis_smooth(log_r)
    theirs, k_ref = psislw(log_r.copy(), reff=1.0)
    assert psis_khat(log_r) == k or (np.isinf(k) and np.isinf(psis_khat(log_r)))
    assert k == pytest.approx(float(k_ref), rel=1e-10, abs=1e-12) or (np.isinf(k) and np.isinf(k_ref))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape", [-0.3, 0.0, 0.2, 0.7, 1.5, 4.0, 40.0])
def test_gpd_fit_vector_is_arvizs_gpdfit(shape):
    """The grouped-product profile is ArviZ's log1p profile, up to float64 rounding.

    Shape 40 puts x_max / x_q past 1e37, where products of eight factors could overflow (the fit
    then takes one logarithm per factor); shape −0.3 is a bounded tail (k̂ < 0).
    """
    from arviz.stats.stats import _gpdfit

    from bayes_unlearn.psis import gpd_fit_vector

    rng = np.random.default_rng(11)
    for n_tail in (5, 37, 190, 600):
        u = rng.random(n_tail)
        tail = np.sort(-np.log(u) if shape == 0 else (u ** -shape - 1) / shape)
        k, sigma = gpd_fit_vector(tail)
        k_ref, sigma_ref = _gpdfit(tail)
        assert k == pytest.approx(k_ref, rel=1e-10, abs=1e-12)
        assert sigma == pytest.approx(sigma_ref, rel=1e-10)


def test_weighted_quantiles_ignore_samples_of_zero_weight():
    """Forgetting can drive weights to exactly 0: those samples must not pull the interval."""
    values = np.array([-50.0, -40.0, 1.0, 2.0, 3.0, 60.0])
    w = np.array([0.0, 0.0, 0.25, 0.5, 0.25, 0.0])
    lo, hi = weighted_quantiles(values, w, [0.025, 0.975])
    kept_lo, kept_hi = weighted_quantiles(values[2:5], w[2:5], [0.025, 0.975])
    assert (lo, hi) == (kept_lo, kept_hi) == (1.0, 3.0)
    # one dominant sample: every quantile is that sample
    dominant = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(weighted_quantiles(values, dominant, [0.025, 0.5, 0.975]), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("heavy", [110, 120])
def test_a_failed_pareto_fit_is_reported_unreliable(heavy):
    """A few samples carry all the weight (e^700 over the rest): the tail's lower quarter
    underflows to zero exceedances, the GPD fit returns NaN, and ESS alone (110–120 ≥ 100)
    would have called the result reliable."""
    log_w = np.zeros(4000)
    log_w[:heavy] = 700.0
    with np.errstate(all="ignore"):
        diag = diagnose_weights(log_w)
    assert np.isnan(diag.pareto_k) and diag.ess >= diag.min_ess
    assert not diag.reliable and "could not be fitted" in diag.reason
    assert diag.to_dict()["pareto_k"] is None
