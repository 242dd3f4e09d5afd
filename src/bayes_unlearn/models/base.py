"""A model family: a prior and a per-row log-likelihood on a flat parameter vector.

Every sampler and every unlearning method sees a model only through these pure JAX
functions, so a new family is one small module. Parameters are a flat vector θ of
length ``n_params`` so that mass matrices, particles and stored samples are plain
(S, d) arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .._lazy import LazyModule

jnp = LazyModule("jax.numpy")  # imported when a log-density is first traced



@dataclass(frozen=True)
class ModelFamily:
    """One model family with its prior hyper-parameters baked in.

    log_prior(theta) -> scalar
    loglik_rows(theta, X, y) -> (N,) log p(z_i | θ) for every row
    predict_mean(theta, X, xp=None) -> (N,) P(y=1) / E[y], or (N, K) class probabilities; for a
        batch θ (S, d) the same with a leading S axis. Written with the array module ``xp``
        (jax.numpy by default, numpy for predictions: ``predictive.predictive_means``).
    """

    name: str
    task: str  # "binary" | "multiclass" | "regression"
    n_features: int
    n_classes: int
    param_names: tuple[str, ...]
    log_prior: Callable = field(repr=False)
    loglik_rows: Callable = field(repr=False)
    predict_mean: Callable = field(repr=False)
    hyperparameters: dict = field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def log_joint(self, theta, X, y, row_mask):
        """log p(θ) + Σ_i m_i log p(z_i|θ): fixed shapes, rows switched off by the mask."""
        return self.log_prior(theta) + jnp.sum(row_mask * self.loglik_rows(theta, X, y))

    def initial_position(self):
        return jnp.zeros(self.n_params)


def normal_logpdf(x, scale):
    return -0.5 * jnp.square(x / scale) - jnp.log(scale) - 0.5 * jnp.log(2 * jnp.pi)
