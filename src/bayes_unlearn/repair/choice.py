"""Automatic choice of the detector and of K from the feedback data alone (cross-fitting).

The feedback set V is split into folds (stratified by label). For each fold, every candidate
detector scores the training rows using the *other* folds only; for every candidate K the
top-K rows are removed and the model is refitted (MAP under the model's own prior, see
``map_refit``); the fitted model then predicts the held-out fold. Each feedback row is
predicted exactly once, by a model whose choice of suspects never saw it. The pair
(detector, K) with the highest mean held-out log predictive density wins; K = 0 (repair
nothing) is always a candidate. The final test rows of an evaluation are never used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import RequestError
from .detectors import FeedbackContext, detector_scores
from .map_refit import map_estimates, plugin_loglik
from .selection import candidate_ks, ranking


@dataclass(frozen=True)
class AutoChoice:
    detector: str
    k: int | None  # None when the size comes from the r > 0 rule
    select: str
    heldout_loglik: float  # mean held-out log predictive density of the winner
    baseline_loglik: float  # the same with K = 0 (no repair)
    folds: int
    table: list[dict] = field(default_factory=list)  # one row per (detector, K) candidate
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"detector": self.detector, "k": self.k, "select": self.select,
                "heldout_loglik": self.heldout_loglik, "baseline_loglik": self.baseline_loglik,
                "folds": self.folds, "table": self.table, "notes": self.notes}


def stratified_folds(y, n_folds: int, seed: int) -> list[np.ndarray]:
    """Boolean masks of ``n_folds`` folds with each label spread evenly over them."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=int)
    offset = 0
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        fold_of[idx] = (np.arange(len(idx)) + offset) % n_folds
        offset += len(idx)
    return [fold_of == f for f in range(n_folds)]


def _removal_masks(base_mask, order, ks) -> np.ndarray:
    masks = np.repeat(base_mask[None, :], len(ks), axis=0)
    for j, k in enumerate(ks):
        masks[j, order[:k]] = 0.0
    return masks


PREFERRED_DETECTOR = "combined"  # the most robust across corruption families (see detectors.py)
SWITCH_STANDARD_ERRORS = 2.0  # another detector must beat it by this many paired standard errors


def paired_gain(a, b) -> tuple[float, float]:
    """Mean and standard error of the per-row difference a − b of held-out log-likelihoods."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0


def choose(ctx: FeedbackContext, detectors, select: str = "auto", k: int | None = None,
           folds: int = 3) -> AutoChoice:
    """Pick (detector, K) by cross-fitted held-out log-likelihood on the feedback set.

    K: the best value for each detector. Detector: the preferred one (``combined``, or the first
    listed) unless another beats it by more than SWITCH_STANDARD_ERRORS paired standard errors
    of the per-row held-out log-likelihood — comparing maxima of noisy curves otherwise picks
    a detector by luck.
    """
    model = ctx.model
    n_rows = len(model.row_ids_)
    X_d, y_d, mask_d = model.training_arrays()
    init = model.posterior_.mean()
    n_folds = int(min(max(2, folds), len(ctx.y) // 2))
    if n_folds < 2:
        raise RequestError(f"the feedback set is too small ({len(ctx.y)} rows) to choose automatically; "
                           "give --detector and --k")
    fold_masks = stratified_folds(ctx.y, n_folds, ctx.seed)
    ks = candidate_ks(n_rows) if select == "auto" else ([int(k)] if select == "top-k" else None)
    notes: list[str] = []
    # (detector, K) → per-feedback-row held-out log-likelihood, each row predicted once.
    heldout: dict[tuple[str, int | str], np.ndarray] = {}
    theta0 = map_estimates(model.family_, X_d, y_d, mask_d[None, :], init)
    baseline_rows = plugin_loglik(model.family_, theta0, ctx.X, ctx.y)[0]
    for det in detectors:
        per_k: dict = {}
        try:
            for f, held in enumerate(fold_masks):
                scores = detector_scores(ctx, det, rows=~held, seed_offset=101 * (f + 1)).scores
                order = ranking(scores)
                fold_ks = ks if ks is not None else [int((scores > 0).sum())]
                fold_ks = [min(kk, n_rows - 1) for kk in fold_ks]
                thetas = map_estimates(model.family_, X_d, y_d, _removal_masks(mask_d, order, fold_ks), init)
                ll = plugin_loglik(model.family_, thetas, ctx.X[held], ctx.y[held])
                for j, kk in enumerate(fold_ks):
                    key = kk if ks is not None else "positive"
                    per_k.setdefault(key, np.zeros(len(ctx.y)))[held] = ll[j]
        except RequestError as exc:
            notes.append(f"{det} left out of the automatic choice: {exc}")
            continue
        for key, rows in per_k.items():
            heldout[(det, key)] = rows
    if not heldout:
        raise RequestError("no detector could be evaluated on this feedback set: " + "; ".join(notes))
    totals = {dk: float(v.mean()) for dk, v in heldout.items()}
    # Each detector's best K (ties: the smaller removal).
    best_k: dict = {}
    for det in detectors:
        keys = [kk for (d, kk) in totals if d == det]
        if keys:
            best_k[det] = max(keys, key=lambda kk: (round(totals[(det, kk)], 10),
                                                    -(kk if isinstance(kk, int) else 0)))
    evaluated = [d for d in detectors if d in best_k]
    chosen = PREFERRED_DETECTOR if PREFERRED_DETECTOR in evaluated else evaluated[0]
    reference = heldout[(chosen, best_k[chosen])]
    best_other, best_z = None, SWITCH_STANDARD_ERRORS
    for det in evaluated:
        if det == chosen:
            continue
        gain, se = paired_gain(heldout[(det, best_k[det])], reference)
        z = gain / se if se > 0 else (np.inf if gain > 0 else 0.0)
        if z > best_z:
            best_other, best_z = det, z
    if best_other is not None:
        notes.append(f"{best_other} beat {chosen} on the held-out feedback rows by {best_z:.1f} standard errors")
        chosen = best_other
    table = [{"detector": d, "k": kk, "heldout_loglik": v} for (d, kk), v in sorted(
        totals.items(), key=lambda item: (evaluated.index(item[0][0]), str(item[0][1]).zfill(8)))]
    kk = best_k[chosen]
    return AutoChoice(chosen, kk if isinstance(kk, int) else None, "top-k" if isinstance(kk, int) else "positive",
                      totals[(chosen, kk)], float(baseline_rows.mean()), n_folds, table, notes)
