"""Bayesian logistic regression, the report's model: p(y=1|x,θ) = σ(b + wᵀx)."""

from __future__ import annotations

from .._lazy import LazyModule
from .base import ModelFamily, normal_logpdf

jnp = LazyModule("jax.numpy")  # imported when a log-density is first traced


def logistic_loglik_rows(theta, X, y):
    """log p(y_i|x_i,θ) = y log σ(η) + (1−y) log σ(−η) = −softplus((1 − 2y) η), η = b + wᵀx.

    For y ∈ {0, 1} (the binary family's encoding; padded rows are masked) this is one exp and
    one log1p per row instead of two log-sigmoids: the transcendentals, not the matvec, are
    most of a log-density gradient on Pima-sized data. The form −max(sη, 0) − log1p(e^−|η|)
    has no cancellation, so tiny log-likelihoods keep their relative precision in float32.
    """
    eta = theta[0] + X @ theta[1:]
    return -(jnp.maximum((1.0 - 2.0 * y) * eta, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(eta))))


def logistic_family(
    n_features: int,
    feature_names=None,
    prior_scale: float = 1.0,
    intercept_prior_scale: float = 5.0,
) -> ModelFamily:
    """Normal(0, prior_scale) on standardised-feature weights, wider Normal on the intercept."""
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(n_features)]

    def log_prior(theta):
        return normal_logpdf(theta[0], intercept_prior_scale) + jnp.sum(
            normal_logpdf(theta[1:], prior_scale)
        )

    def predict_mean(theta, X, xp=None):
        xp = jnp if xp is None else xp
        eta = theta[..., :1] + theta[..., 1:] @ X.T
        return xp.exp(-xp.logaddexp(0.0, -eta))  # σ(η), with no overflow for large |η|

    return ModelFamily(
        name="logistic",
        task="binary",
        n_features=n_features,
        n_classes=2,
        param_names=("intercept", *names),
        log_prior=log_prior,
        loglik_rows=logistic_loglik_rows,
        predict_mean=predict_mean,
        hyperparameters={"prior_scale": prior_scale, "intercept_prior_scale": intercept_prior_scale},
    )
