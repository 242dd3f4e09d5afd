"""Dispatch of a forget request to a method; each method returns a ``MethodOutcome``."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import RequestError
from ..posterior import WeightDiagnostics, WeightedPosterior
from .reweight import reweight_forget

METHOD_NAMES = ("reweight",)


@dataclass(frozen=True)
class MethodOutcome:
    posterior: WeightedPosterior  # the new candidate set (loglik columns of forgotten rows gone)
    diagnostics: WeightDiagnostics
    method: str
    regenerated: bool  # True when no sample was drawn with a forgotten row (SMC moves, refit)
    reason: str = ""
    details: dict = field(default_factory=dict)


def _reweight(model, columns) -> MethodOutcome:
    posterior, diag = reweight_forget(model.posterior_, columns)
    return MethodOutcome(posterior, diag, "reweight", regenerated=False)


_METHODS = {"reweight": _reweight}


def run(model, columns, method: str) -> MethodOutcome:
    if method not in _METHODS:
        raise RequestError(f"unknown forget method {method!r}; choose from {', '.join(sorted(_METHODS))}")
    return _METHODS[method](model, columns)
