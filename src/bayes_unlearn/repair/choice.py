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


def choose(ctx: FeedbackContext, detectors, select: str = "auto", k: int | None = None,
           folds: int = 3) -> AutoChoice:
    """Pick (detector, K) by cross-fitted held-out log-likelihood on the feedback set."""
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
    totals: dict[tuple[str, int | str], float] = {}
    theta0 = map_estimates(model.family_, X_d, y_d, mask_d[None, :], init)
    baseline = float(plugin_loglik(model.family_, theta0, ctx.X, ctx.y).sum())
    for det in detectors:
        per_k: dict = {}
        try:
            for f, held in enumerate(fold_masks):
                scores = detector_scores(ctx, det, rows=~held, seed_offset=101 * (f + 1)).scores
                order = ranking(scores)
                fold_ks = ks if ks is not None else [int((scores > 0).sum())]
                fold_ks = [min(kk, n_rows - 1) for kk in fold_ks]
                thetas = map_estimates(model.family_, X_d, y_d, _removal_masks(mask_d, order, fold_ks), init)
                ll = plugin_loglik(model.family_, thetas, ctx.X[held], ctx.y[held]).sum(axis=1)
                for j, kk in enumerate(fold_ks):
                    key = kk if ks is not None else "positive"
                    per_k[key] = per_k.get(key, 0.0) + float(ll[j])
        except RequestError as exc:
            notes.append(f"{det} left out of the automatic choice: {exc}")
            continue
        for key, total in per_k.items():
            totals[(det, key)] = total / len(ctx.y)
    if not totals:
        raise RequestError("no detector could be evaluated on this feedback set: " + "; ".join(notes))
    # Highest held-out log-likelihood; ties go to the smaller removal, then to the listed order.
    order_of = {d: i for i, d in enumerate(detectors)}
    best = max(totals, key=lambda dk: (round(totals[dk], 10),
                                       -(dk[1] if isinstance(dk[1], int) else 0), -order_of[dk[0]]))
    table = [{"detector": d, "k": kk, "heldout_loglik": v} for (d, kk), v in sorted(
        totals.items(), key=lambda item: (order_of[item[0][0]], str(item[0][1]).zfill(8)))]
    det, kk = best
    return AutoChoice(det, kk if isinstance(kk, int) else None, "top-k" if isinstance(kk, int) else "positive",
                      totals[best], baseline / len(ctx.y), n_folds, table, notes)
