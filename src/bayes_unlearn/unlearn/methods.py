"""Dispatch of a forget request to a method; each method returns a ``MethodOutcome``.

* reweight — importance weights 1/p(D_e|θ) on the current samples (milliseconds);
* smc      — tempered SMC from the current weighted samples to p(θ|D_r);
* refit    — NUTS on D_r, warm-started from the current samples;
* auto     — reweight when ``policy.reweight_verdict`` accepts it, else smc, else refit
             (when SMC's own diagnostics fail). The outcome's ``reason`` says why, e.g.
             "reweight k̂=0.91 > 0.70 → smc".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import RequestError
from ..posterior import WeightDiagnostics, WeightedPosterior
from .policy import reweight_verdict, sample_efficiency
from .refit import refit_candidate_set
from .reweight import reweight_forget
from .smc import smc_candidate_set

METHOD_NAMES = ("auto", "reweight", "smc", "refit")
COMPACT_METHODS = ("auto", "smc", "refit")


@dataclass(frozen=True)
class MethodOutcome:
    posterior: WeightedPosterior  # the new candidate set (loglik columns of forgotten rows gone)
    diagnostics: WeightDiagnostics
    method: str
    regenerated: bool  # True when no sample was drawn with a forgotten row (SMC moves, refit)
    reason: str = ""
    details: dict = field(default_factory=dict)
    fit_info: dict | None = None  # replaces the model's fit_info_ when the samples were regenerated


def _seed(model) -> int:
    """A fresh seed per request, reproducible from the model's random_state and its ledger."""
    return int(model.random_state) * 7919 + 1 + len(model.ledger_)


def _reweight(model, columns) -> MethodOutcome:
    posterior, diag = reweight_forget(model.posterior_, columns)
    return MethodOutcome(posterior, diag, "reweight", regenerated=False)


def _smc(model, columns, why: str = "requested") -> MethodOutcome:
    posterior, diag, result = smc_candidate_set(model, columns, _seed(model))
    summary = result.summary()
    # Resampled particles moved by HMC: about as independent as their lag correlation allows.
    lag = result.diagnostics.max_lag_correlation
    efficiency = float(np.clip(1.0 - lag, 0.1, 1.0)) if np.isfinite(lag) else 1.0
    fit_info = {**model.fit_info_, "regenerated_by": "smc", "sample_efficiency": efficiency,
                "smc": {k: summary[k] for k in ("n_stages", "seconds", "n_gradient_evaluations")}}
    return MethodOutcome(posterior, diag, "smc", regenerated=True, reason=f"{why} → {diag.reason}",
                         details={"smc": summary}, fit_info=fit_info)


def _refit(model, columns, why: str = "requested", warm: bool = True) -> MethodOutcome:
    posterior, fit_info = refit_candidate_set(model, columns, _seed(model), warm=warm)
    diag = posterior.diagnostics()
    label = "warm refit" if warm else "cold refit"
    if fit_info["converged"]:
        diag = replace(diag, reason=f"{label}: chains converged")
    else:
        diag = replace(diag, reliable=False, reason=f"{label}: chains have not converged: "
                       + "; ".join(fit_info["convergence_problems"]))
    fit_info = {**fit_info, "regenerated_by": "refit", "sample_efficiency": None}
    details = {"fit": {k: fit_info[k] for k in ("seconds", "warmup", "warm_start", "rhat_max",
                                                 "ess_bulk_min", "divergences")}
               | {"thinned": fit_info.get("thinned", 1)}}
    return MethodOutcome(posterior, diag, "refit", regenerated=True, reason=f"{why} → {diag.reason}",
                         details=details, fit_info=fit_info)


def _auto(model, columns, allow_reweight: bool = True) -> MethodOutcome:
    if allow_reweight:
        reweighted = _reweight(model, columns)
        efficiency = sample_efficiency(model.fit_info_, model.posterior_.n_samples)
        ok, why = reweight_verdict(reweighted.diagnostics, model.family_.n_params, efficiency)
        if ok:
            return replace(reweighted, reason=f"{why} → reweight", method="reweight")
    else:
        why = "purge requested (samples must be regenerated)"
    smc = _smc(model, columns, why)
    if smc.diagnostics.reliable:
        return smc
    refit = _refit(model, columns, f"{why} → smc failed ({smc.diagnostics.reason})")
    return replace(refit, details={**refit.details, "smc": smc.details["smc"]})


_METHODS = {"auto": _auto, "reweight": _reweight, "smc": _smc, "refit": _refit}


def run(model, columns, method: str, purge: bool = False) -> MethodOutcome:
    if method not in _METHODS:
        raise RequestError(f"unknown forget method {method!r}; choose from {', '.join(METHOD_NAMES)}")
    if purge and method == "auto":
        return _auto(model, columns, allow_reweight=False)
    return _METHODS[method](model, columns)


def compact(model, method: str = "auto") -> MethodOutcome:
    """Regenerate the candidate set on the remaining rows (nothing new is forgotten).

    smc: resample the weighted set and move it by HMC targeting p(θ|D_r); refit: cold NUTS.
    """
    if method not in COMPACT_METHODS:
        raise RequestError(f"unknown compact method {method!r}; choose from {', '.join(COMPACT_METHODS)}")
    no_rows: list[int] = []
    if method == "refit":
        return _refit(model, no_rows, "compact", warm=False)
    smc = _smc(model, no_rows, "compact")
    if smc.diagnostics.reliable or method == "smc":
        return smc
    return _refit(model, no_rows, f"compact → smc failed ({smc.diagnostics.reason})", warm=False)
