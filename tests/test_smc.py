"""Tempered SMC against the closed-form posterior of a linear model with known noise."""

import numpy as np
import pytest

from bayes_unlearn.inference.nuts import loglik_matrix
from bayes_unlearn.inference.smc import (
    MoveSchedule,
    delta_log_likelihood,
    diagnose_smc,
    fixed_moves,
    keep_moving,
    log_ess_fraction,
    tempered_log_density,
    tempered_smc,
    truncated_weights,
)
from bayes_unlearn.models import linear_family
from bayes_unlearn.posterior import WeightedPosterior
from bayes_unlearn.unlearn import reweight_forget

SIGMA = 1.0
PRIOR_SD = np.array([5.0, 1.0, 1.0, 1.0])  # intercept, then the three weights (linear_family defaults)
N_PARTICLES = 2000


def conjugate_posterior(X, y, row_mask):
    """Gaussian posterior of (b, w) given the rows with mask 1: precision = prior + ZᵀZ/σ²."""
    Z = np.column_stack([np.ones(len(X)), X]) * row_mask[:, None]
    precision = np.diag(PRIOR_SD ** -2.0) + Z.T @ Z / SIGMA ** 2
    cov = np.linalg.inv(precision)
    return cov @ (Z.T @ (y * row_mask)) / SIGMA ** 2, cov


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(7)
    n = 200
    X = rng.normal(size=(n, 3))
    y = 0.5 + X @ np.array([1.0, -0.5, 0.3]) + SIGMA * rng.normal(size=n)
    erase = np.zeros(n, bool)
    erase[rng.choice(n, n // 2, replace=False)] = True  # a 50 % deletion
    return X, y, erase, linear_family(3, noise_scale=SIGMA)


def weighted_moments(particles, log_weights):
    w = np.exp(log_weights)
    mean = w @ particles
    centred = particles - mean
    return mean, (centred * w[:, None]).T @ centred


def assert_matches(particles, log_weights, mean, cov, mean_tol=0.1, sd_tol=0.1, corr_tol=0.1):
    """Within Monte-Carlo error of S = 2000 particles (over 8 seeds the worst errors were 0.05 sd)."""
    got_mean, got_cov = weighted_moments(particles, log_weights)
    sd = np.sqrt(np.diag(cov))
    got_sd = np.sqrt(np.diag(got_cov))
    assert np.max(np.abs(got_mean - mean) / sd) < mean_tol
    assert np.max(np.abs(got_sd / sd - 1)) < sd_tol
    corr = cov / np.outer(sd, sd)
    got_corr = got_cov / np.outer(got_sd, got_sd)
    assert np.max(np.abs(got_corr - corr)) < corr_tol


def test_tempered_density_is_base_plus_beta_times_delta(regression):
    X, y, erase, family = regression
    theta = np.array([0.3, 0.9, -0.4, 0.2])
    base = np.ones(len(y))
    delta = -erase.astype(float)
    t0 = float(tempered_log_density(family, theta, X, y, base, delta, 0.0))
    dl = float(delta_log_likelihood(family, theta, X, y, delta))
    t = float(tempered_log_density(family, theta, X, y, base, delta, 0.4))
    assert t == pytest.approx(t0 + 0.4 * dl, rel=1e-5)
    remaining = float(family.log_joint(theta, X, y, (~erase).astype(float)))
    assert float(tempered_log_density(family, theta, X, y, base, delta, 1.0)) == pytest.approx(remaining, rel=1e-5)


def test_ess_fraction_is_kish():
    log_w = np.log(np.array([1.0, 1.0, 2.0, 4.0]))
    w = np.exp(log_w)
    assert np.exp(log_ess_fraction(log_w)) == pytest.approx(w.sum() ** 2 / (w ** 2).sum() / 4, rel=1e-5)
    assert np.exp(log_ess_fraction(np.zeros(5))) == pytest.approx(1.0, rel=1e-5)


def test_smc_forgets_half_the_rows_like_the_closed_form(regression):
    X, y, erase, family = regression
    rng = np.random.default_rng(0)
    mean_all, cov_all = conjugate_posterior(X, y, np.ones(len(y)))
    mean_r, cov_r = conjugate_posterior(X, y, (~erase).astype(float))
    particles = rng.multivariate_normal(mean_all, cov_all, size=N_PARTICLES)
    uniform = np.full(N_PARTICLES, -np.log(N_PARTICLES))

    result = tempered_smc(family, X, y, np.ones(len(y)), -erase.astype(float), particles, uniform, seed=1)

    assert result.diagnostics.reliable, result.diagnostics.reason
    assert result.betas[0] == 0.0 and result.betas[-1] == 1.0 and np.all(np.diff(result.betas) > 0)
    assert result.n_stages == len(result.ess) == len(result.acceptance)
    assert np.exp(result.log_weights).sum() == pytest.approx(1.0)
    assert np.all(result.ess >= 0.45 * N_PARTICLES)  # each stage keeps its target ESS (0.5 S)
    assert np.all(result.moves >= 1) and result.moves[-1] >= MoveSchedule().final_moves
    assert np.all(result.moves <= MoveSchedule().max_moves)
    assert_matches(result.particles, result.log_weights, mean_r, cov_r)

    # Importance reweighting of the same request is flagged unreliable.
    loglik = loglik_matrix(family, particles, X, y)
    posterior = WeightedPosterior.from_samples(particles[None], loglik, family.param_names)
    _, diag = reweight_forget(posterior, np.flatnonzero(erase))
    assert not diag.reliable
    assert diag.ess < 100 or diag.pareto_k > diag.khat_threshold


def test_smc_starts_from_weighted_particles(regression):
    """Particles from a too-wide proposal, importance-weighted to p(θ|D): SMC must use the weights."""
    X, y, erase, family = regression
    rng = np.random.default_rng(3)
    mean_all, cov_all = conjugate_posterior(X, y, np.ones(len(y)))
    mean_r, cov_r = conjugate_posterior(X, y, (~erase).astype(float))
    proposal_cov = 2.0 * cov_all
    particles = rng.multivariate_normal(mean_all + 0.5 * np.sqrt(np.diag(cov_all)), proposal_cov,
                                        size=N_PARTICLES)

    def log_normal(x, m, c):
        d = x - m
        return -0.5 * np.einsum("si,ij,sj->s", d, np.linalg.inv(c), d)

    log_w = log_normal(particles, mean_all, cov_all) - log_normal(
        particles, mean_all + 0.5 * np.sqrt(np.diag(cov_all)), proposal_cov)
    log_w -= np.logaddexp.reduce(log_w)

    result = tempered_smc(family, X, y, np.ones(len(y)), -erase.astype(float), particles, log_w, seed=2)
    assert result.diagnostics.reliable, result.diagnostics.reason
    assert result.diagnostics.initial_ess < 0.9 * N_PARTICLES
    assert_matches(result.particles, result.log_weights, mean_r, cov_r)


def test_verdict_flags_each_failure():
    n = 1000
    uniform = np.full(n, -np.log(n))
    particles = np.random.default_rng(0).normal(size=(n, 2))
    ok = diagnose_smc(1.0, uniform, particles, 1000.0, np.array([0.9, 0.8]), np.array([0.1, 0.1]))
    assert ok.reliable
    assert not diagnose_smc(0.7, uniform, particles, 1000.0, np.array([0.9, 0.8]), np.array([0.1, 0.1])).reliable
    assert not diagnose_smc(1.0, uniform, particles, 1000.0, np.array([0.9, 0.05]), np.array([0.1, 0.1])).reliable
    assert not diagnose_smc(1.0, uniform, particles, 1000.0, np.array([0.9, 0.8]), np.array([0.1, 0.97])).reliable
    clones = np.repeat(particles[:100], 10, axis=0)
    assert not diagnose_smc(1.0, uniform, clones, 1000.0, np.array([0.9, 0.8]), np.array([0.1, 0.1])).reliable
    spiky = np.log(np.r_[np.full(10, 0.099), np.full(n - 10, 0.01 / (n - 10))])
    assert not diagnose_smc(1.0, spiky, particles, 1000.0, np.array([0.9, 0.8]), np.array([0.1, 0.1])).reliable


def test_fixed_moves_make_exactly_that_many_moves(regression):
    X, y, erase, family = regression
    rng = np.random.default_rng(5)
    mean_all, cov_all = conjugate_posterior(X, y, np.ones(len(y)))
    mean_r, cov_r = conjugate_posterior(X, y, (~erase).astype(float))
    particles = rng.multivariate_normal(mean_all, cov_all, size=N_PARTICLES)
    uniform = np.full(N_PARTICLES, -np.log(N_PARTICLES))
    result = tempered_smc(family, X, y, np.ones(len(y)), -erase.astype(float), particles, uniform,
                          seed=3, moves=fixed_moves(2))
    assert result.diagnostics.reliable, result.diagnostics.reason
    assert np.all(result.moves == 2)
    assert result.n_gradient_evaluations == N_PARTICLES * np.sum(1 + 2 * result.integration_steps)
    assert_matches(result.particles, result.log_weights, mean_r, cov_r)


def test_move_rule_and_schedule_checks():
    # At least min_moves; then more while the lag correlation is above target, up to max_moves.
    assert keep_moving(0, 0.0, 1, 4, 0.3) and not keep_moving(1, 0.2, 1, 4, 0.3)
    assert keep_moving(1, 0.5, 1, 4, 0.3) and not keep_moving(4, 0.9, 1, 4, 0.3)
    assert keep_moving(2, 0.0, 3, 4, 0.3)
    with pytest.raises(ValueError):
        MoveSchedule(min_moves=0)
    with pytest.raises(ValueError):
        MoveSchedule(final_moves=5, max_moves=4)


def test_truncated_weights_cap_one_particle_at_sqrt_s_times_the_mean():
    n = 100
    w = np.full(n, 0.5 / (n - 1))
    w[0] = 0.5  # one particle holds half the weight
    capped = np.asarray(truncated_weights(w))
    assert capped.sum() == pytest.approx(1.0, rel=1e-6)
    # Cap √100 × mean(w) = 10/100 before renormalising: 0.1 against 99 × 0.5/99 = 0.5.
    assert capped[0] == pytest.approx(0.1 / 0.6, rel=1e-5)
    flat = np.full(n, 1 / n)
    assert np.allclose(np.asarray(truncated_weights(flat)), flat)
