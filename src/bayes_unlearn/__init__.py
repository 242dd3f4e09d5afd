"""bayes-unlearn: Bayesian machine unlearning and model repair."""

from ._runtime import request_host_devices

# Must run before JAX is imported anywhere: one XLA device per core for parallel chains.
request_host_devices()

__version__ = "0.1.0"

from .errors import BayesUnlearnError, DataError, ModelFileError, RequestError  # noqa: E402
from .estimator import (  # noqa: E402
    BayesianLinearRegression,
    BayesianLogisticRegression,
    BayesianSoftmaxRegression,
    ConvergenceWarning,
    UnreliableForgetWarning,
)
from .posterior import WeightedPosterior  # noqa: E402
from .serialize import load_model as load  # noqa: E402

__all__ = [
    "BayesianLinearRegression", "BayesianLogisticRegression", "BayesianSoftmaxRegression",
    "BayesUnlearnError", "ConvergenceWarning", "DataError", "ModelFileError", "RequestError",
    "UnreliableForgetWarning", "WeightedPosterior", "load",
]
