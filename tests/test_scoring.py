"""The block scorer (bayes_unlearn.scoring) against ArviZ's per-row PSIS-LOO and float64 sums."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_unlearn.inference.nuts import loglik_matrix
from bayes_unlearn.models import linear_family, logistic_family
from bayes_unlearn.psis import gpd_fit_scaled, gpd_fit_vector
from bayes_unlearn.repair.influence import influence_scores
from bayes_unlearn.repair.loo import psis_loo_rows as arviz_loo
from bayes_unlearn.scoring import log1p_unit, psis_loo_rows, score_rows


def _logistic(n_rows, n_samples, spread, seed=0, d=3):
    """Posterior-like samples around θ*, rows, labels and the exact float64 (S, N) log-likelihoods."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=d + 1) + spread * rng.standard_normal((n_samples, d + 1))
    X = 2 * rng.standard_normal((n_rows, d))
    y = (rng.random(n_rows) < 0.5).astype(float)
    signed = np.concatenate([np.ones((n_rows, 1)), X], axis=1) * (2 * y - 1)[:, None]
    return theta, X, y, -np.logaddexp(0.0, -(signed @ theta.T)).T


@pytest.mark.parametrize("weighted", [False, True])
def test_block_psis_loo_matches_arviz(weighted):
    theta, X, y, _ = _logistic(40, 1000, 0.3)
    ll = loglik_matrix(logistic_family(3), theta, X, y)
    log_w = np.random.default_rng(1).normal(0, 0.5, len(theta)) if weighted else None
    elpd, k = psis_loo_rows(ll, log_w, block_rows=4)  # 40 rows: 2 chunks on 2 threads, padded blocks
    elpd_ref, k_ref = arviz_loo(ll, log_w)
    np.testing.assert_allclose(elpd, elpd_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(k, k_ref, atol=1e-4)
    assert np.ptp(k_ref) > 0.1  # the rows differ: the comparison is not vacuous


def test_score_rows_gives_the_exact_influence_and_means():
    theta, X, y, _ = _logistic(30, 800, 0.3, seed=2)
    ll = loglik_matrix(logistic_family(3), theta, X, y)
    after = ll[:, :5].sum(axis=1)  # reweighting by p(F|θ), F = the first five rows
    scores = score_rows(logistic_family(3), theta, X, y, None, after, block_rows=8)
    expected = influence_scores(ll, np.zeros(len(theta)), ll, after)
    np.testing.assert_allclose(scores["influence"], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(scores["loglik_mean"], ll.mean(axis=0), rtol=1e-5, atol=1e-6)
    # tilting by p(F|θ) can only raise E[log p(F|θ)]: Σ_{i∈F} r(z_i) = −Cov(f, e^f)/E[e^f] < 0
    assert scores["influence"][:5].sum() < 0
    elpd_ref, k_ref = arviz_loo(ll)
    np.testing.assert_allclose(scores["elpd_loo"], elpd_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores["pareto_k"], k_ref, atol=1e-4)


@pytest.mark.parametrize("spread", [0.02, 0.3, 1.0])
def test_score_rows_matches_arviz_from_light_to_heavy_tails(spread):
    """0.02: ratios within ~1e-3 of each other (float32 e^x alone would lose the exceedances);
    1.0: k̂ above 1 on many rows (products of eight GPD factors overflow: one-factor refit)."""
    theta, X, y, ll = _logistic(300, 2000, spread, seed=3)
    scores = score_rows(logistic_family(3), theta, X, y)
    elpd_ref, k_ref = arviz_loo(ll)
    np.testing.assert_allclose(scores["elpd_loo"], elpd_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores["pareto_k"], k_ref, atol=1e-4)
    np.testing.assert_allclose(scores["loglik_mean"], ll.mean(axis=0), rtol=1e-5, atol=1e-6)
    if spread == 1.0:
        assert np.mean(k_ref > 1) > 0.1


def test_weighted_candidate_set_and_a_family_without_a_fast_form():
    """Linear regression goes through the family's own log-likelihood; non-uniform weights
    through the indexed selection (each tail ratio keeps its sample's weight)."""
    rng = np.random.default_rng(4)
    theta = np.array([0.5, 1.0, -1.0]) + 0.2 * rng.standard_normal((1500, 3))
    X = rng.standard_normal((60, 2))
    y = 0.5 + X @ np.array([1.0, -1.0]) + 0.5 * rng.standard_normal(60)
    family = linear_family(2, noise_scale=0.5)
    log_w = rng.normal(0, 0.3, len(theta))
    ll = loglik_matrix(family, theta, X, y)
    scores = score_rows(family, theta, X, y, log_w, None, block_rows=16)
    elpd_ref, k_ref = arviz_loo(ll, log_w)
    np.testing.assert_allclose(scores["elpd_loo"], elpd_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores["pareto_k"], k_ref, atol=1e-4)
    np.testing.assert_allclose(scores["influence"], 0.0, atol=1e-7)  # before = after
    np.testing.assert_allclose(scores["loglik_mean"], ll.mean(axis=0), rtol=1e-5)


def test_rows_with_ties_or_overflow_are_redone_like_arviz():
    """Duplicated samples tie at the cutoff (ArviZ shortens the tail); a row with p < e^−89
    under some samples overflows float32 sums of 1/p. Both are redone one row at a time."""
    theta, X, y, _ = _logistic(20, 500, 0.3, seed=5)
    theta = np.concatenate([theta, theta[:100]])  # 100 exact duplicates
    X[3] = [80.0, -80.0, 80.0]  # far outside: log p ≈ −100 under many samples
    y[3] = 1.0 - float(theta[:, 1:].mean(axis=0) @ X[3] > 0)
    ll = loglik_matrix(logistic_family(3), theta, X, y)
    assert ll[:, 3].min() < -89
    scores = score_rows(logistic_family(3), theta, X, y)
    elpd_ref, k_ref = arviz_loo(ll)
    np.testing.assert_allclose(scores["elpd_loo"], elpd_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores["pareto_k"], k_ref, atol=1e-4)


@pytest.mark.parametrize("shape", [-0.3, 0.0, 0.5, 1.5])
@pytest.mark.parametrize("group", [1, 8])
def test_gpd_fit_scaled_is_gpd_fit_vector(shape, group):
    import jax.numpy as jnp

    rng = np.random.default_rng(6)
    u = rng.random((50, 190))
    tail = -np.log(u) if shape == 0 else (u ** -shape - 1) / shape  # GPD(shape, 1) draws
    tail = np.sort(tail, axis=1)
    k_ref, sigma_ref = (np.array(v) for v in zip(*(gpd_fit_vector(row) for row in tail)))
    k64, sigma64, _ = gpd_fit_scaled(tail / tail[:, -1:], group)  # numpy, float64
    np.testing.assert_allclose(k64, k_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma64 * tail[:, -1], sigma_ref, rtol=1e-12)
    scaled = jnp.asarray(tail / tail[:, -1:], jnp.float32)
    k, sigma, usable = (np.asarray(a) for a in gpd_fit_scaled(scaled, group, jnp))
    assert usable.all() == (group == 1 or shape < 1)  # heavy tails: eight-factor products overflow
    np.testing.assert_allclose(k[usable], k_ref[usable], atol=2e-5)
    np.testing.assert_allclose((sigma * tail[:, -1])[usable], sigma_ref[usable], rtol=1e-4)


def test_log1p_unit_is_float32_exact():
    e = np.concatenate([np.linspace(0, 1, 10001), 10.0 ** -np.linspace(1, 30, 300)]).astype(np.float32)
    np.testing.assert_allclose(np.asarray(log1p_unit(e)), np.log1p(e.astype(np.float64)), rtol=3e-7, atol=0)


def test_without_loo_only_the_sums_are_returned():
    theta, X, y, ll = _logistic(10, 300, 0.3, seed=7)
    scores = score_rows(logistic_family(3), theta, X, y, loo=False)
    assert sorted(scores) == ["influence", "loglik_mean"]
    np.testing.assert_allclose(scores["loglik_mean"], ll.mean(axis=0), rtol=1e-5)
