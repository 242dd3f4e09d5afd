"""Posterior update with new labelled rows (the failure set F, or the whole feedback set).

    q'(θ) = p(θ | D, F) ∝ p(θ|D) · Π_{j∈F} p(z_j|θ)

Three ways (DESIGN.md §2 step 2):

* ``refit``    — NUTS on D ∪ F, the report's way (fixed shapes: D padded to the model's
  capacity, the feedback rows appended, rows switched on by masks), started from points of
  the current candidate set (full warm-up: adding F can move the posterior far);
* ``reweight`` — importance weights w_s ∝ w_s · p(F|θ_s) on the current samples (instant;
  reliable only while F moves the posterior little: see the ESS / k̂ it reports);
* ``smc``      — tempered SMC from the current weighted samples to p(θ|D,F)
  (``inference.smc.tempered_smc`` with base_mask 1 on D, 0 on F and delta +1 on F).

Each returns the new weighted candidate set, the log-likelihoods of the training rows under
it (for r(z)), and its diagnostics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import RequestError
from ..posterior import diagnose_weights

UPDATE_METHODS = ("refit", "reweight", "smc")


@dataclass(frozen=True)
class UpdatedPosterior:
    flat_samples: np.ndarray  # (S', d)
    log_weights: np.ndarray  # (S',) normalised
    loglik_train: np.ndarray  # (S', N) log p(z_i|θ) of the model's N remaining training rows
    method: str
    n_added: float  # Σ of the feedback rows' weights (|F| for a 0/1 mask)
    seconds: float
    diagnostics: dict = field(default_factory=dict)

    @property
    def reliable(self) -> bool:
        return bool(self.diagnostics.get("reliable", True))


def update_posterior(model, X_new, y_new, row_weights, method: str = "refit", seed: int = 0,
                     loglik_new=None) -> UpdatedPosterior:
    """Condition the model's candidate set on the rows of (X_new, y_new) weighted by ``row_weights``.

    ``row_weights`` (M,) is 1 for the rows to add (e.g. the failure mask) and 0 for the others,
    so every update of one model has the same array shapes. ``loglik_new`` (S, M) may pass the
    feedback log-likelihoods under the current samples when already computed.
    """
    if method not in UPDATE_METHODS:
        raise RequestError(f"unknown update method {method!r}; choose from {', '.join(UPDATE_METHODS)}")
    row_weights = np.asarray(row_weights, dtype=np.float64)
    if row_weights.sum() <= 0:
        raise RequestError("nothing to update with: no feedback row selected")
    start = time.perf_counter()
    if method == "reweight":
        return _reweight(model, X_new, y_new, row_weights, loglik_new, start)
    if method == "refit":
        return _refit(model, X_new, y_new, row_weights, seed, start)
    return _smc(model, X_new, y_new, row_weights, seed, start)


def _training_block(model):
    X_d, y_d, mask_d = model.training_arrays()
    return X_d, y_d, mask_d, len(model.row_ids_)


def _reweight(model, X_new, y_new, row_weights, loglik_new, start) -> UpdatedPosterior:
    from ..inference.nuts import loglik_matrix
    from ..weights import normalize_log_weights

    post = model.posterior_
    if loglik_new is None:
        loglik_new = loglik_matrix(model.family_, post.flat_samples, X_new, y_new)
    log_w = normalize_log_weights(post.log_weights + np.asarray(loglik_new, np.float64) @ row_weights)
    diag = diagnose_weights(log_w).to_dict()
    return UpdatedPosterior(post.flat_samples, log_w, post.loglik, "reweight", float(row_weights.sum()),
                            time.perf_counter() - start, diag)


def _refit(model, X_new, y_new, row_weights, seed, start) -> UpdatedPosterior:
    from ..diagnostics import convergence_summary
    from ..inference.nuts import loglik_matrix, sample_nuts
    from ..unlearn.refit import warm_start

    X_d, y_d, mask_d, n_rows = _training_block(model)
    X = np.vstack([X_d, X_new])
    y = np.concatenate([y_d, y_new])
    mask = np.concatenate([mask_d, row_weights])
    init, covariance = warm_start(model.posterior_, int(model.chains), seed)
    result = sample_nuts(model.family_, X, y, mask, chains=int(model.chains), warmup=int(model.warmup),
                         draws=int(model.draws), seed=seed, init_positions=init, inverse_mass_matrix=covariance)
    flat = result.samples.reshape(-1, model.family_.n_params)
    loglik = loglik_matrix(model.family_, flat, X_d[:n_rows], y_d[:n_rows])
    summary = convergence_summary(result.samples, model.family_.param_names)
    diag = {**summary, "divergences": int(result.divergent.sum()), "reliable": summary["converged"],
            "reason": "; ".join(summary["convergence_problems"]) or "chains converged"}
    log_w = np.full(flat.shape[0], -np.log(flat.shape[0]))
    return UpdatedPosterior(flat, log_w, loglik, "refit", float(row_weights.sum()),
                            time.perf_counter() - start, diag)


def _smc(model, X_new, y_new, row_weights, seed, start) -> UpdatedPosterior:
    try:
        from ..inference.smc import tempered_smc
    except ImportError:  # pragma: no cover - depends on the SMC module being installed
        raise RequestError("update='smc' needs bayes_unlearn.inference.smc, which is not available; "
                           "use update='refit' or 'reweight'") from None
    from ..inference.nuts import loglik_matrix

    post = model.posterior_
    X_d, y_d, mask_d, n_rows = _training_block(model)
    X = np.vstack([X_d, X_new])
    y = np.concatenate([y_d, y_new])
    base_mask = np.concatenate([mask_d, np.zeros(len(row_weights))])
    delta = np.concatenate([np.zeros(len(mask_d)), row_weights])
    result = tempered_smc(model.family_, X, y, base_mask, delta, post.flat_samples, post.log_weights,
                          seed=seed)
    particles = np.asarray(result.particles, np.float64)
    loglik = loglik_matrix(model.family_, particles, X_d[:n_rows], y_d[:n_rows])
    diag = {**result.diagnostics.to_dict(), "n_stages": result.n_stages,
            "ess": float(result.diagnostics.final_ess)}
    return UpdatedPosterior(particles, np.asarray(result.log_weights, np.float64), loglik, "smc",
                            float(row_weights.sum()), time.perf_counter() - start, diag)
