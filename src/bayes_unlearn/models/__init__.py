"""Model families: a prior plus a per-row log-likelihood, written in JAX."""

from .base import ModelFamily
from .linear import linear_family
from .logistic import logistic_family
from .softmax import softmax_family

MODEL_NAMES = ("logistic", "linear", "softmax")


def build_family(name: str, n_features: int, n_classes: int = 2, feature_names=None,
                 class_names=None, **hyperparameters) -> ModelFamily:
    """Rebuild a family from its stored description (name, sizes, hyper-parameters)."""
    if name == "logistic":
        return logistic_family(n_features, feature_names, **hyperparameters)
    if name == "linear":
        return linear_family(n_features, feature_names, **hyperparameters)
    if name == "softmax":
        return softmax_family(n_features, n_classes, feature_names, class_names, **hyperparameters)
    raise ValueError(f"unknown model family {name!r}; expected one of {', '.join(MODEL_NAMES)}")


__all__ = ["ModelFamily", "MODEL_NAMES", "build_family", "linear_family", "logistic_family", "softmax_family"]
