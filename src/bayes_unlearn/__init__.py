"""bayes-unlearn: Bayesian machine unlearning and model repair."""

from ._runtime import request_xla_flags

# Must run before JAX is imported anywhere: XLA host devices for independent parallel chains,
# while loops compiled into single kernels.
request_xla_flags()

__version__ = "0.1.0"

from .errors import BayesUnlearnError, DataError, ModelFileError, RequestError  # noqa: E402

# The estimators pull in pandas (and JAX once a model is fitted or sampled): they are loaded on
# first use, so `import bayes_unlearn.inference.nuts` or the CLI's --help stay fast.
_LAZY = {
    "BayesianLinearRegression": "estimator", "BayesianLogisticRegression": "estimator",
    "BayesianSoftmaxRegression": "estimator", "ConvergenceWarning": "estimator",
    "UnreliableForgetWarning": "estimator", "WeightedPosterior": "posterior", "load": "serialize",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'bayes_unlearn' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f".{_LAZY[name]}", __name__)
    value = getattr(module, "load_model" if name == "load" else name)
    globals()[name] = value
    return value


__all__ = [
    "BayesianLinearRegression", "BayesianLogisticRegression", "BayesianSoftmaxRegression",
    "BayesUnlearnError", "ConvergenceWarning", "DataError", "ModelFileError", "RequestError",
    "UnreliableForgetWarning", "WeightedPosterior", "load",
]
