"""Model repair (Tanno et al. 2022 on an MCMC candidate set): find the training rows behind the
failures on labelled feedback data, and forget them.

    result = repair(model, feedback_X, feedback_y)            # auto detector and K
    result.causes, result.cause_scores, result.feedback_after
    apply_repair(model, result)                                # forget C in place
    retrained = retrain_without(model, result.causes)          # the exact comparison: NUTS on D \\ C

The model is never changed by ``repair``: the forget runs on a copy (``result.repaired_model``).
"""

from __future__ import annotations

import copy
import time
import warnings

import numpy as np
from scipy.special import logsumexp

from ..errors import RequestError
from .choice import choose
from .detectors import DETECTORS, FeedbackContext, detector_scores
from .failures import failure_mask, feedback_arrays, predicted_labels
from .result import RepairResult
from .selection import SELECT_RULES, select_positive, select_top_k
from .update import UPDATE_METHODS

# r > 0 selecting more than this share of the rows is the failure mode of DESIGN.md §3.
POSITIVE_RULE_WARN_SHARE = 0.3


def feedback_metrics(model, X_design, y_encoded) -> dict:
    """Accuracy, log-loss (−mean log posterior predictive) and failures of the weighted model on rows."""
    from ..inference.nuts import loglik_matrix
    from ..predictive import predictive_means

    post = model.posterior_
    w = post.weights
    mean = np.tensordot(w, predictive_means(model.family_, post.flat_samples, X_design), axes=1)
    loglik = loglik_matrix(model.family_, post.flat_samples, X_design, y_encoded)
    log_pred = logsumexp(loglik.astype(np.float64) + np.log(w)[:, None], axis=0)
    wrong = predicted_labels(mean, model.family_.task) != y_encoded
    return {"n_rows": int(len(y_encoded)), "accuracy": float(1 - wrong.mean()),
            "log_loss": float(-log_pred.mean()), "n_failures": int(wrong.sum())}


def feedback_context(model, feedback_X, feedback_y, update: str = "refit", seed: int = 0) -> FeedbackContext:
    """Validated feedback rows, the failure set F and their log-likelihoods, shared by all detectors.

    Raises DataError for feedback that does not match the model, RequestError when F is empty.
    """
    from ..inference.nuts import loglik_matrix
    from ..predictive import predictive_means

    X_v, y_v = feedback_arrays(model, feedback_X, feedback_y)
    post = model.posterior_
    mean = np.tensordot(post.weights, predictive_means(model.family_, post.flat_samples, X_v), axes=1)
    failures = failure_mask(mean, y_v, model.family_.task)
    if not failures.any():
        raise RequestError(f"the failure set F is empty: the model predicts all {len(y_v)} feedback rows "
                           "correctly, so there is nothing to repair")
    return FeedbackContext(model, X_v, y_v, failures,
                           loglik_matrix(model.family_, post.flat_samples, X_v, y_v), update, seed)


def _check_options(detector: str, select: str, k, update: str) -> None:
    if detector not in (*DETECTORS, "auto"):
        raise RequestError(f"unknown detector {detector!r}; choose from {', '.join(DETECTORS)}, auto")
    if select not in SELECT_RULES:
        raise RequestError(f"unknown select rule {select!r}; choose from {', '.join(SELECT_RULES)}")
    if update not in UPDATE_METHODS:
        raise RequestError(f"unknown update {update!r}; choose from {', '.join(UPDATE_METHODS)}")
    if select == "top-k" and k is None:
        raise RequestError("select='top-k' needs k (the number of rows to remove)")
    if select != "top-k" and k is not None:
        raise RequestError(f"k is only used with select='top-k' (got select={select!r})")
    if select == "positive" and detector in ("loo", "combined"):
        raise RequestError("the r > 0 rule needs an influence score (influence or feedback); "
                           f"{detector} scores are always positive: use select='top-k' or 'auto'")


def repair(model, feedback_X, feedback_y, *, detector: str = "auto", select: str = "auto",
           k: int | None = None, update: str = "refit", forget_method: str | None = None,
           folds: int = 3, seed: int = 0) -> RepairResult:
    """Find the training rows behind the model's failures on (feedback_X, feedback_y).

    detector: ``influence`` (the report's r(z) from the failure set F), ``feedback`` (r(z) from
      the whole feedback set), ``loo`` (PSIS-LOO self-confidence), ``combined`` (mean rank of
      feedback and loo) or ``auto`` (chosen by cross-fitting on the feedback set).
    select: ``positive`` (the report's rule r > 0), ``top-k`` (give ``k``) or ``auto`` (K chosen
      by cross-fitting; K = 0, i.e. no repair, is a possible answer).
    update: how p(θ|D, F) is obtained for r(z): ``refit`` (NUTS on D ∪ F, the report's way),
      ``reweight`` (importance weights p(F|θ)) or ``smc`` (tempered SMC).
    forget_method: passed to ``model.forget`` on the copy (None: the model's default).

    Raises DataError when the feedback columns or labels do not match the model, and
    RequestError when the model makes no failure on the feedback rows (F is empty).
    """
    start = time.perf_counter()
    model._check_fitted()
    _check_options(detector, select, k, update)
    ctx = feedback_context(model, feedback_X, feedback_y, update, seed)
    X_v, y_v, failures = ctx.X, ctx.y, ctx.failures
    notes: list[str] = []
    choice = None
    if detector == "auto" or select == "auto":
        candidates = list(DETECTORS) if detector == "auto" else [detector]
        if select == "positive":  # the r > 0 rule: feedback r(z) preferred, the report's as alternative
            candidates = [d for d in ("feedback", "influence") if d in candidates]
        choice = choose(ctx, candidates, select=select, k=k, folds=folds)
        notes += choice.notes
        detector = choice.detector
        if select == "auto":
            select, k = choice.select, choice.k
    scored = detector_scores(ctx, detector)
    causes_idx = select_positive(scored.scores) if select == "positive" else select_top_k(scored.scores, int(k))
    n_rows = len(model.row_ids_)
    if select == "positive" and len(causes_idx) >= n_rows:
        raise RequestError(f"r > 0 selected every training row ({n_rows}): nothing would remain")
    if select == "positive" and len(causes_idx) > POSITIVE_RULE_WARN_SHARE * n_rows:
        notes.append(f"the r > 0 rule selected {len(causes_idx)} of {n_rows} training rows; removing that "
                     "many can wreck the model (DESIGN.md §3). Prefer select='auto'.")
    if choice is not None and len(causes_idx) == 0:
        notes.append("no removal improved the cross-fitted feedback log-likelihood: nothing to repair")
    update_diag = {} if scored.update is None else {
        "method": scored.update.method, "n_rows_added": scored.n_update_rows,
        "seconds": scored.update.seconds, **scored.update.diagnostics}
    if scored.update is not None and not scored.update.reliable:
        notes.append(f"the posterior update ({scored.update.method}) is unreliable: "
                     f"{scored.update.diagnostics.get('reason', '')}; the scores may be noisy")
    _, khat, khat_limit = ctx.loo()
    high_k = int((khat[causes_idx] > khat_limit).sum())
    if high_k:
        notes.append(f"{high_k} suspect(s) have a PSIS-LOO Pareto k̂ above {khat_limit:.2f}: "
                     "their LOO estimate is unreliable (influential rows)")
    before = feedback_metrics(model, X_v, y_v)
    causes = [str(model.row_ids_[i]) for i in causes_idx]
    forget = after = repaired = None
    if causes:
        repaired = copy.deepcopy(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its verdict is reported below, once
            outcome = (repaired.forget(causes) if forget_method is None
                       else repaired.forget(causes, method=forget_method))
        forget = outcome.to_dict()
        if outcome.warning:
            notes.append(outcome.warning)
        after = feedback_metrics(repaired, X_v, y_v)
    for note in notes:
        warnings.warn(note, RepairWarning, stacklevel=2)
    return RepairResult(
        detector=detector, select=select, k=None if select == "positive" else int(k), update=update,
        n_feedback=len(y_v), n_failures=int(failures.sum()), failure_rows=np.flatnonzero(failures).tolist(),
        causes=causes, cause_scores=scored.scores[causes_idx].tolist(),
        cause_loo_khat=khat[causes_idx].tolist(), row_ids=[str(r) for r in model.row_ids_],
        all_scores=scored.scores, loo_khat_threshold=khat_limit, update_diagnostics=update_diag,
        choice=None if choice is None else choice.to_dict(), forget=forget, feedback_before=before,
        feedback_after=after, seconds=time.perf_counter() - start, warnings=notes, repaired_model=repaired,
    )


class RepairWarning(UserWarning):
    """A repair whose result deserves caution (unreliable update or forget, a huge r > 0 set, …)."""


def apply_repair(model, result: RepairResult, method: str | None = None):
    """Forget the result's causes from ``model`` in place; returns the ForgetResult."""
    if not result.causes:
        raise RequestError("the repair found no cause to forget")
    return model.forget(result.causes) if method is None else model.forget(result.causes, method=method)


def retrain_without(model, row_ids, seed: int | None = None):
    """A copy of ``model`` refitted by NUTS on its remaining rows minus ``row_ids`` (D \\ C).

    The exact comparison for a repair by forgetting. Same padded shapes as the original fit,
    so the compiled sampler is reused.
    """
    ids = {str(r) for r in row_ids}
    unknown = ids - {str(r) for r in model.row_ids_}
    if unknown:
        raise RequestError(f"unknown row id(s): {', '.join(sorted(unknown)[:10])}")
    if len(ids) >= len(model.row_ids_):
        raise RequestError("cannot retrain without every training row")
    clone = copy.deepcopy(model)
    positions, _ = clone.rows_.locate(sorted(ids))
    clone.rows_.remove(positions)
    clone.forgotten_ids_ = clone.forgotten_ids_ + sorted(ids)
    clone._draw_candidate_set(seed=int(model.random_state if seed is None else seed))
    clone.samples_saw_forgotten_rows_ = False
    clone.samples_independent_of_forgotten_rows_ = True  # a cold refit
    return clone
