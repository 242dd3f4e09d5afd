"""Laplace approximation of a posterior: its mode by damped Newton steps, its covariance.

Used to start NUTS: chains begin at draws from N(mode, Σ) and the (dense) metric is Σ, so
warm-up only has to tune the step size. For the models here (Gaussian priors, logistic,
softmax and Gaussian likelihoods) the log-density is smooth and, apart from the linear
model's noise scale, concave, and a few dozen parameters make the Hessian cheap.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

# Step lengths tried along each Newton direction (1, 1/2, …, 1/1024); 0 keeps the current
# point, so the log-density never decreases.
_STEP_LENGTHS = tuple(0.5**k for k in range(11)) + (0.0,)


class Laplace(NamedTuple):
    mode: jax.Array  # (d,)
    covariance: jax.Array  # (d, d)  inverse of the (eigen-clipped) negative Hessian
    concave: jax.Array  # () bool  the negative Hessian at the mode was positive definite
    gradient_norm: jax.Array  # () max |∇ log p| at the mode


def positive_definite_inverse(negative_hessian, floor: float = 1e-6):
    """(inverse, was_positive_definite) of a symmetric matrix with eigenvalues replaced by their
    absolute values, floored at ``floor·max``.

    Where the log-density is not concave (the linear model's weights and noise scale far from
    the mode) this is the saddle-free Newton step: it still ascends, and moves away from
    negative curvature instead of toward it.
    """
    sym = 0.5 * (negative_hessian + negative_hessian.T)
    eigenvalues, vectors = jnp.linalg.eigh(sym)
    smallest = floor * jnp.max(jnp.abs(eigenvalues))
    clipped = jnp.maximum(jnp.abs(eigenvalues), smallest)
    return (vectors / clipped) @ vectors.T, jnp.all(eigenvalues > smallest)


def laplace_approximation(logdensity, theta0, max_steps: int = 30, tolerance: float = 1e-4) -> Laplace:
    """Damped Newton ascent of ``logdensity`` from ``theta0``; the Gaussian at the mode.

    Each step tries the full Newton step and shorter ones and keeps the best, so it converges
    quadratically near the mode and cannot diverge far from it. Stops when a step moves no
    coordinate by more than ``tolerance`` (float32: the mode only seeds the sampler). The
    covariance and gradient are those of the last step's starting point, less than
    ``tolerance`` from the mode: one Hessian in the compiled code instead of two.
    """
    grad = jax.grad(logdensity)
    hessian = jax.hessian(logdensity)
    lengths = jnp.asarray(_STEP_LENGTHS, theta0.dtype)

    def newton_step(state):
        step, theta, value, _, _ = state
        gradient = grad(theta)
        covariance, concave = positive_definite_inverse(-hessian(theta))
        candidates = theta[None, :] + lengths[:, None] * (covariance @ gradient)[None, :]
        values = jax.vmap(logdensity)(candidates)
        values = jnp.where(jnp.isfinite(values), values, -jnp.inf)
        best = jnp.argmax(values)
        moved = jnp.max(jnp.abs(candidates[best] - theta))
        at_theta = Laplace(theta, covariance, concave, jnp.max(jnp.abs(gradient)))
        return step + 1, candidates[best], values[best], moved, at_theta

    def not_converged(state):
        step, _, _, moved, _ = state
        return (step < max_steps) & (moved > tolerance)

    d = theta0.shape[0]
    placeholder = Laplace(theta0, jnp.eye(d, dtype=theta0.dtype), jnp.asarray(False),
                          jnp.asarray(jnp.inf, theta0.dtype))
    start = (0, theta0, logdensity(theta0), jnp.asarray(jnp.inf, theta0.dtype), placeholder)
    _, mode, _, _, last = jax.lax.while_loop(not_converged, newton_step, start)
    return last._replace(mode=mode)
