"""Bayesian linear regression, y = b + wᵀx + ε, ε ~ Normal(0, σ²).

σ is either sampled (HalfNormal prior, sampled on the log scale) or known (``noise_scale``),
in which case the posterior of (b, w) is Gaussian in closed form: the exact reference the
tests compare every unlearning method against.
"""

from __future__ import annotations

from .._lazy import LazyModule
from .base import ModelFamily, normal_logpdf

jnp = LazyModule("jax.numpy")  # imported when a log-density is first traced


def gaussian_loglik_rows(mean, y, sigma):
    return normal_logpdf(y - mean, sigma)


def linear_family(
    n_features: int,
    feature_names=None,
    prior_scale: float = 1.0,
    intercept_prior_scale: float = 5.0,
    noise_prior_scale: float = 1.0,
    noise_scale: float | None = None,
) -> ModelFamily:
    """Known noise: θ = (b, w). Unknown noise: θ = (b, w, log σ) with σ ~ HalfNormal(noise_prior_scale)."""
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(n_features)]
    known_noise = noise_scale is not None

    def weights_log_prior(theta):
        return normal_logpdf(theta[0], intercept_prior_scale) + jnp.sum(
            normal_logpdf(theta[1 : n_features + 1], prior_scale)
        )

    def sigma_of(theta):
        return noise_scale if known_noise else jnp.exp(theta[n_features + 1])

    def log_prior(theta):
        lp = weights_log_prior(theta)
        if known_noise:
            return lp
        log_sigma = theta[n_features + 1]
        # HalfNormal density of σ plus the log-Jacobian of σ = exp(log σ).
        return lp + normal_logpdf(jnp.exp(log_sigma), noise_prior_scale) + jnp.log(2.0) + log_sigma

    def predict_mean(theta, X, xp=None):
        # X @ w, as the log-likelihood has always computed it for one θ (same numbers, same fits)
        return theta[..., :1] + (X @ theta[..., 1 : n_features + 1].T).T

    def loglik_rows(theta, X, y):
        return gaussian_loglik_rows(predict_mean(theta, X), y, sigma_of(theta))

    param_names = ("intercept", *names) + (() if known_noise else ("log_sigma",))
    return ModelFamily(
        name="linear",
        task="regression",
        n_features=n_features,
        n_classes=0,
        param_names=param_names,
        log_prior=log_prior,
        loglik_rows=loglik_rows,
        predict_mean=predict_mean,
        hyperparameters={
            "prior_scale": prior_scale,
            "intercept_prior_scale": intercept_prior_scale,
            "noise_prior_scale": noise_prior_scale,
            "noise_scale": noise_scale,
        },
    )
