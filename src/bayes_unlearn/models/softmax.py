"""Multinomial (softmax) logistic regression with class 0 as the reference (its logits are 0).

θ holds K−1 blocks of (intercept, weights), one per non-reference class, so the
parameters are identified by the likelihood, not only by the prior.
"""

from __future__ import annotations

from .._lazy import LazyModule
from .base import ModelFamily, normal_logpdf

jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")  # imported when a log-density is first traced


def softmax_logits(theta, X, n_features: int, n_classes: int, xp=None):
    """(N, K) logits for θ (d,), or (S, N, K) for a batch (S, d); class 0's are 0."""
    xp = jnp if xp is None else xp
    coef = theta.reshape(theta.shape[:-1] + (n_classes - 1, n_features + 1))
    logits = coef[..., None, :, 0] + X @ xp.swapaxes(coef[..., 1:], -1, -2)  # (…, N, K−1)
    return xp.concatenate([xp.zeros(logits.shape[:-1] + (1,), logits.dtype), logits], axis=-1)


def softmax_family(
    n_features: int,
    n_classes: int,
    feature_names=None,
    class_names=None,
    prior_scale: float = 1.0,
    intercept_prior_scale: float = 5.0,
) -> ModelFamily:
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(n_features)]
    classes = list(class_names) if class_names is not None else list(range(n_classes))
    param_names = tuple(
        f"{cls}:{feat}" for cls in classes[1:] for feat in ("intercept", *names)
    )

    def log_prior(theta):
        coef = theta.reshape(n_classes - 1, n_features + 1)
        return jnp.sum(normal_logpdf(coef[:, 0], intercept_prior_scale)) + jnp.sum(
            normal_logpdf(coef[:, 1:], prior_scale)
        )

    def loglik_rows(theta, X, y):
        log_p = jax.nn.log_softmax(softmax_logits(theta, X, n_features, n_classes), axis=-1)
        return jnp.take_along_axis(log_p, y.astype(jnp.int32)[:, None], axis=1)[:, 0]

    def predict_mean(theta, X, xp=None):
        xp = jnp if xp is None else xp
        logits = softmax_logits(theta, X, n_features, n_classes, xp)
        shifted = xp.exp(logits - xp.max(logits, axis=-1, keepdims=True))
        return shifted / xp.sum(shifted, axis=-1, keepdims=True)

    return ModelFamily(
        name="softmax",
        task="multiclass",
        n_features=n_features,
        n_classes=n_classes,
        param_names=param_names,
        log_prior=log_prior,
        loglik_rows=loglik_rows,
        predict_mean=predict_mean,
        hyperparameters={"prior_scale": prior_scale, "intercept_prior_scale": intercept_prior_scale},
    )
