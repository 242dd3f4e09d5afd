"""scikit-learn's estimator conventions without importing scikit-learn.

``sklearn.base.BaseEstimator`` would do, but importing it pulls in SciPy and costs ≈ 2.4 s in
every fresh process, while loading a saved model and forgetting rows needs none of it (the
fitted transform is plain numbers). This mixin provides what scikit-learn's tools rely on —
``get_params``/``set_params`` from the ``__init__`` signature (so ``sklearn.base.clone``,
grid searches and pipelines work) and ``__sklearn_tags__`` (imported lazily, only when a
scikit-learn tool asks) — plus a repr of the non-default parameters.
"""

from __future__ import annotations

import inspect


class EstimatorConventions:
    """get_params / set_params / __sklearn_tags__ as in ``sklearn.base.BaseEstimator``."""

    # "classifier", "regressor" or None: what scikit-learn's tags report
    _estimator_type: str | None = None

    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        names = [p.name for p in signature.parameters.values() if p.name != "self"]
        varargs = [p for p in signature.parameters.values()
                   if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if varargs:  # scikit-learn forbids them too: parameters must be explicit
            raise TypeError(f"{cls.__name__}.__init__ must not take *args or **kwargs")
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict:
        params = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            params[name] = value
        return params

    def set_params(self, **params):
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters: {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags() if self._estimator_type == "classifier" else None,
            regressor_tags=RegressorTags() if self._estimator_type == "regressor" else None,
        )

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value == default if not isinstance(value, (list, tuple)) else (
                    isinstance(default, (list, tuple)) and list(value) == list(default))
            except Exception:  # arrays and other values without a plain ==
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"
