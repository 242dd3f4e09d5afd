"""The Laplace approximation that starts NUTS, and the warm-up metric helpers."""

import jax
import jax.numpy as jnp
import numpy as np

from bayes_unlearn.inference.laplace import laplace_approximation
from bayes_unlearn.inference.nuts import shrunk_covariance, whitened
from bayes_unlearn.models import linear_family


def test_laplace_of_a_gaussian_is_the_gaussian_itself():
    # A correlated Gaussian log-density: the mode is the mean and the covariance is exact.
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    cov = A @ A.T + 0.5 * np.eye(5)
    mean = rng.standard_normal(5) * 3
    precision = jnp.asarray(np.linalg.inv(cov), jnp.float32)
    mu = jnp.asarray(mean, jnp.float32)

    def logdensity(theta):
        r = theta - mu
        return -0.5 * r @ precision @ r

    laplace = laplace_approximation(logdensity, jnp.zeros(5, jnp.float32))
    np.testing.assert_allclose(laplace.mode, mean, atol=1e-4)
    np.testing.assert_allclose(laplace.covariance, cov, rtol=2e-3, atol=2e-3)
    assert bool(laplace.concave)


def test_laplace_climbs_out_of_the_linear_models_non_concave_start():
    # (b, w, log σ) from 0 with a strong signal: the Hessian there is indefinite, and a Newton
    # step with clipped eigenvalues got stuck. The mode must have zero gradient and, with known
    # noise fixed at the fitted σ, match least squares.
    rng = np.random.default_rng(3)
    n = 200
    X = rng.standard_normal((n, 2)).astype(np.float32)
    y = (0.3 + X @ np.array([2.0, -1.0]) + 0.1 * rng.standard_normal(n)).astype(np.float32)
    family = linear_family(2)
    mask = np.ones(n, np.float32)
    laplace = laplace_approximation(lambda t: family.log_joint(t, X, y, mask), jnp.zeros(4, jnp.float32))
    assert bool(laplace.concave)
    assert float(laplace.gradient_norm) < 1e-2 * n
    ols = np.linalg.lstsq(np.column_stack([np.ones(n), X]), y, rcond=None)[0]
    np.testing.assert_allclose(laplace.mode[:3], ols, atol=5e-3)
    assert abs(float(np.exp(laplace.mode[3])) - 0.1) < 0.02


def test_shrunk_covariance_stays_positive_definite_with_fewer_draws_than_parameters():
    draws = jnp.asarray(np.random.default_rng(1).standard_normal((3, 6)), jnp.float32)
    prior = jnp.eye(6) * 2.0
    cov = shrunk_covariance(draws, prior, pseudo_draws=20.0)
    assert np.all(np.linalg.eigvalsh(np.asarray(cov)) > 0.5)
    # with many draws the sample covariance dominates
    many = jnp.asarray(np.random.default_rng(2).standard_normal((20000, 6)), jnp.float32)
    np.testing.assert_allclose(shrunk_covariance(many, prior), np.eye(6), atol=0.05)


def test_whitened_density_is_the_density_at_L_z():
    L = jnp.asarray([[2.0, 0.0], [0.5, 0.3]])

    def logdensity(theta):
        return -jnp.sum(theta**2) + theta[0]

    z = jnp.asarray([0.4, -1.2])
    assert float(whitened(logdensity, L)(z)) == float(logdensity(L @ z))
    # the gradient in z is Lᵀ ∇θ: unit metric on z ≡ inverse mass matrix L Lᵀ on θ
    np.testing.assert_allclose(jax.grad(whitened(logdensity, L))(z), L.T @ jax.grad(logdensity)(L @ z),
                               rtol=1e-6)
