"""Reweighting is exact in expectation: linear regression with known noise, closed-form posteriors.

With Gaussian noise of known σ and Normal priors, p(θ|D) = N(m, C) with
C⁻¹ = P₀ + AᵀA/σ², m = C Aᵀy/σ² (A = [1, X]). We draw samples from p(θ|D) (exactly with
numpy, then with NUTS), forget rows by reweighting, and compare the weighted mean and covariance
with the closed form of p(θ|D_r).

Monte-Carlo tolerance: a weighted mean over an effective sample size n_eff has standard error
sd/√n_eff; a covariance entry Σ_ij has standard error √((Σ_ii Σ_jj + Σ_ij²)/n_eff). We allow
Z = 5 standard errors (several parameters are compared; seeds are fixed). n_eff is Kish's
1/Σw² for independent samples, and bulk ESS × (Kish ESS / S) for NUTS samples.
The erased rows are chosen influential, so that the *unweighted* samples miss p(θ|D_r) by many
tolerances: the checks would fail if reweighting did nothing or the wrong thing.
"""

import numpy as np
import pytest

from bayes_unlearn.diagnostics import convergence_summary
from bayes_unlearn.inference.nuts import loglik_matrix, sample_nuts
from bayes_unlearn.models import linear_family
from bayes_unlearn.posterior import WeightedPosterior
from bayes_unlearn.weights import forget_log_weights

Z = 5.0
SIGMA = 0.5
PRIOR_SCALE, INTERCEPT_PRIOR_SCALE = 1.0, 5.0
ERASED = np.arange(4)


def gaussian_posterior(X, y):
    """Closed-form (mean, covariance) of (b, w) for the linear family with known noise."""
    A = np.column_stack([np.ones(len(y)), X])
    prior_precision = np.diag([INTERCEPT_PRIOR_SCALE**-2] + [PRIOR_SCALE**-2] * X.shape[1])
    cov = np.linalg.inv(prior_precision + A.T @ A / SIGMA**2)
    return cov @ A.T @ y / SIGMA**2, cov


@pytest.fixture(scope="module")
def problem():
    """40 rows, 2 features; the 4 erased rows have high leverage and shifted responses."""
    rng = np.random.default_rng(0)
    n, p = 40, 2
    beta = np.array([0.5, 1.0, -0.7])
    X = rng.normal(size=(n, p))
    y = beta[0] + X @ beta[1:] + SIGMA * rng.normal(size=n)
    X[ERASED] = rng.normal(1.5, 0.3, size=(len(ERASED), p))
    y[ERASED] = beta[0] + X[ERASED] @ beta[1:] + SIGMA * rng.normal(size=len(ERASED)) + 0.6
    keep = np.setdiff1d(np.arange(n), ERASED)
    family = linear_family(p, noise_scale=SIGMA, prior_scale=PRIOR_SCALE,
                           intercept_prior_scale=INTERCEPT_PRIOR_SCALE)
    return {"X": X, "y": y, "family": family, "full": gaussian_posterior(X, y),
            "remaining": gaussian_posterior(X[keep], y[keep])}


def mean_error_in_se(estimate, mean, cov, n_eff):
    return np.abs(estimate - mean) / np.sqrt(np.diag(cov) / n_eff)


def cov_error_in_se(estimate, cov, n_eff):
    var = np.diag(cov)
    return np.abs(estimate - cov) / np.sqrt((np.outer(var, var) + cov**2) / n_eff)


def test_family_loglik_is_the_gaussian_density(problem):
    from scipy.stats import norm

    theta = np.array([[0.3, 0.8, -0.5]])
    X, y = problem["X"], problem["y"]
    ours = loglik_matrix(problem["family"], theta, X, y)[0]
    np.testing.assert_allclose(ours, norm.logpdf(y, 0.3 + X @ [0.8, -0.5], SIGMA), rtol=1e-5)


def test_reweighting_exact_samples_recovers_the_closed_form_posterior_without_the_rows(problem):
    rng = np.random.default_rng(1)
    m, C = problem["full"]
    m_r, C_r = problem["remaining"]
    theta = rng.multivariate_normal(m, C, size=40_000)
    loglik = loglik_matrix(problem["family"], theta, problem["X"], problem["y"])
    prior = WeightedPosterior.from_samples(theta[None], loglik, problem["family"].param_names)

    forgotten = prior.forget_columns(ERASED)
    diag = forgotten.diagnostics()
    assert diag.reliable, diag.reason
    n_eff = diag.ess
    assert n_eff > 5000  # a mild deletion keeps most of the 40 000 samples' worth

    assert mean_error_in_se(forgotten.mean(), m_r, C_r, n_eff).max() < Z
    assert cov_error_in_se(forgotten.cov(), C_r, n_eff).max() < Z
    # Without reweighting the same samples are far from p(θ|D_r): the test can fail.
    assert mean_error_in_se(prior.mean(), m_r, C_r, n_eff).max() > 4 * Z
    assert cov_error_in_se(prior.cov(), C_r, n_eff).max() > 2 * Z

    # The formula itself: log w = −Σ_{i∈D_e} log p(z_i|θ), normalised.
    np.testing.assert_allclose(forgotten.log_weights,
                               forget_log_weights(np.zeros(len(theta)), loglik[:, ERASED]), atol=1e-9)


def test_two_requests_equal_one_request_for_their_union(problem):
    rng = np.random.default_rng(2)
    m, C = problem["full"]
    theta = rng.multivariate_normal(m, C, size=2000)
    loglik = loglik_matrix(problem["family"], theta, problem["X"], problem["y"])
    post = WeightedPosterior.from_samples(theta[None], loglik, problem["family"].param_names)
    # Columns shift after the first request: erased rows 0, 1 then (former) 2, 3 are at 0, 1.
    twice = post.forget_columns([0, 1]).forget_columns([0, 1])
    once = post.forget_columns(ERASED)
    np.testing.assert_allclose(twice.log_weights, once.log_weights, atol=1e-9)
    np.testing.assert_array_equal(twice.loglik, once.loglik)


def test_reweighting_nuts_samples_recovers_the_closed_form_posterior(problem):
    family = problem["family"]
    X, y = problem["X"], problem["y"]
    m, C = problem["full"]
    m_r, C_r = problem["remaining"]
    result = sample_nuts(family, X, y, chains=4, warmup=300, draws=500, seed=1)
    summary = convergence_summary(result.samples, family.param_names)
    assert summary["converged"], summary["convergence_problems"]
    ess_bulk = summary["ess_bulk_min"]
    flat = result.samples.reshape(-1, family.n_params)
    post = WeightedPosterior.from_samples(result.samples, loglik_matrix(family, flat, X, y),
                                          family.param_names)
    # NUTS itself samples p(θ|D).
    assert mean_error_in_se(post.mean(), m, C, ess_bulk).max() < Z

    forgotten = post.forget_columns(ERASED)
    diag = forgotten.diagnostics()
    assert diag.reliable, diag.reason
    n_eff = ess_bulk * diag.ess / post.n_samples
    assert mean_error_in_se(forgotten.mean(), m_r, C_r, n_eff).max() < Z
    # sd: relative standard error of a standard deviation is 1/√(2 n_eff).
    sd_r = np.sqrt(np.diag(C_r))
    assert (np.abs(forgotten.sd() / sd_r - 1) * np.sqrt(2 * n_eff)).max() < Z
    assert mean_error_in_se(post.mean(), m_r, C_r, n_eff).max() > Z


def test_the_sampling_metric_is_the_chains_pooled_warmup_covariance(problem):
    """From the second warm-up stage on, every chain uses the chains' mean covariance estimate.

    On this Gaussian posterior that estimate must be near the exact covariance C: 4 chains ×
    112 draws give a variance to about ±7 % (one sd); the bound is 4.5 sd.
    """
    family = problem["family"]
    _, C = problem["full"]
    result = sample_nuts(family, problem["X"], problem["y"], chains=4, warmup=300, draws=50, seed=3)
    metric = result.inverse_mass_matrix
    for chain in metric[1:]:
        np.testing.assert_array_equal(chain, metric[0])
    ratio = np.diag(metric[0]) / np.diag(C)
    assert np.all(np.abs(ratio - 1) < 0.3), ratio
