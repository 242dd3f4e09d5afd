"""Fidelity of a forgotten model against an exact refit on the remaining rows (DESIGN.md §5).

Pure metric functions on weighted sample sets and predictive means, and ``verify`` which runs
two independent cold refits: the first is the reference, the distance between the two is the
Monte-Carlo noise floor that any approximation is judged against.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..weights import normalize_log_weights

MEAN_TOLERANCE_SD = 0.15  # DESIGN.md §5 / issue 3: max |Δ mean|/sd ≤ max(0.15, 1.5 × noise floor)
NOISE_FLOOR_FACTOR = 1.5
MIN_CLASS_AGREEMENT = 0.99


# ---- metrics (pure) ------------------------------------------------------------------------


def weighted_mean_sd(flat_samples, log_weights) -> tuple[np.ndarray, np.ndarray]:
    """Weighted posterior mean and sd of (S, d) samples with (S,) log-weights."""
    w = np.exp(normalize_log_weights(log_weights))
    x = np.asarray(flat_samples, np.float64)
    mean = w @ x
    return mean, np.sqrt(w @ np.square(x - mean))


def mean_errors_sd(mean, mean_ref, sd_ref) -> np.ndarray:
    """|Δ mean| of each parameter in units of the reference posterior sd."""
    return np.abs(np.asarray(mean) - np.asarray(mean_ref)) / np.asarray(sd_ref)


def sd_ratios(sd, sd_ref) -> np.ndarray:
    return np.asarray(sd) / np.asarray(sd_ref)


def predicted_class_agreement(p, p_ref) -> float | None:
    """Share of rows with the same predicted class: P(y=1) > 0.5 for (N,), argmax for (N, K).

    None for regression-style predictions (there are no classes).
    """
    p, p_ref = np.asarray(p), np.asarray(p_ref)
    if p.ndim == 2:
        return float(np.mean(np.argmax(p, 1) == np.argmax(p_ref, 1)))
    return float(np.mean((p > 0.5) == (p_ref > 0.5)))


def max_abs_difference(p, p_ref) -> float:
    """max |Δp| over rows (and classes): the largest change of a predicted probability/mean."""
    return float(np.max(np.abs(np.asarray(p) - np.asarray(p_ref))))


def tolerance_sd(noise_floor_sd: float) -> float:
    """The fidelity target: max(0.15, 1.5 × the distance between two exact refits)."""
    return float(max(MEAN_TOLERANCE_SD, NOISE_FLOOR_FACTOR * noise_floor_sd))


def agreement_acceptable(agreement: float, floor_agreement: float, n_rows: int) -> bool:
    """At most 1 % of the rows (rounded up: one row of 80 may flip) change class, or no more
    than between two exact refits (borderline rows with p ≈ 0.5 flip between refits too)."""
    disagree = round((1 - agreement) * n_rows)
    allowed = max(math.ceil((1 - MIN_CLASS_AGREEMENT) * n_rows - 1e-9), round((1 - floor_agreement) * n_rows))
    return disagree <= allowed


def compare(flat, log_w, p, flat_ref, log_w_ref, p_ref, classification: bool) -> dict:
    """All fidelity metrics of (flat, log_w, p) against the reference set."""
    mean, sd = weighted_mean_sd(flat, log_w)
    mean_ref, sd_ref = weighted_mean_sd(flat_ref, log_w_ref)
    errors = mean_errors_sd(mean, mean_ref, sd_ref)
    ratios = sd_ratios(sd, sd_ref)
    return {
        "max_mean_err_sd": float(np.max(errors)),
        "mean_err_sd": errors,
        "sd_ratio": ratios,
        "sd_ratio_min": float(np.min(ratios)),
        "sd_ratio_max": float(np.max(ratios)),
        "pred_agreement": predicted_class_agreement(p, p_ref) if classification else None,
        "max_abs_dp": max_abs_difference(p, p_ref),
    }


# ---- verify a model ------------------------------------------------------------------------


def _evaluation_design(model, data):
    if data is None:
        return model.transform_.transform(model.train_features_)
    columns = [c for c in model.transform_.input_columns if c in data.columns]
    frame = data[columns] if len(columns) == len(model.transform_.input_columns) else data
    return model._design(frame)


def weighted_predictive_mean(model, flat, log_w, design) -> np.ndarray:
    """Σ_s w_s E[y|x, θ_s] for every row of the design matrix."""
    from ..predictive import predictive_means

    w = np.exp(normalize_log_weights(log_w))
    return np.tensordot(w, predictive_means(model.family_, flat, design), axes=1)


def verify(model, data=None, seed: int = 12345) -> dict:
    """Compare ``model`` with a cold NUTS refit on its remaining rows (same sampler settings).

    A second independent refit gives the Monte-Carlo noise floor. Predictions are compared on
    the remaining training rows, or on ``data`` (a DataFrame with the feature columns).
    """
    model._check_fitted()
    design = _evaluation_design(model, data)
    start = time.perf_counter()
    exact, _ = model._sample_candidate_set(seed)
    seconds_refit = time.perf_counter() - start
    second, _ = model._sample_candidate_set(seed + 1)
    classification = model.family_.task != "regression"

    post = model.posterior_
    p_model = weighted_predictive_mean(model, post.flat_samples, post.log_weights, design)
    p_exact = weighted_predictive_mean(model, exact.flat_samples, exact.log_weights, design)
    p_second = weighted_predictive_mean(model, second.flat_samples, second.log_weights, design)
    got = compare(post.flat_samples, post.log_weights, p_model, exact.flat_samples, exact.log_weights,
                  p_exact, classification)
    floor = compare(second.flat_samples, second.log_weights, p_second, exact.flat_samples,
                    exact.log_weights, p_exact, classification)

    seconds_forget = model.ledger_[-1]["seconds"] if model.ledger_ else None
    tol = tolerance_sd(floor["max_mean_err_sd"])
    agreement_ok = got["pred_agreement"] is None or agreement_acceptable(
        got["pred_agreement"], floor["pred_agreement"], design.shape[0])
    faithful = got["max_mean_err_sd"] <= tol and agreement_ok
    problems = []
    if got["max_mean_err_sd"] > tol:
        j = int(np.argmax(got["mean_err_sd"]))
        problems.append(f"posterior mean of {model.family_.param_names[j]} is "
                        f"{got['max_mean_err_sd']:.2f} sd from the exact refit (tolerance {tol:.2f})")
    if not agreement_ok:
        problems.append(f"predicted classes agree on only {got['pred_agreement']:.1%} of rows "
                        f"(two exact refits: {floor['pred_agreement']:.1%}; target {MIN_CLASS_AGREEMENT:.0%})")
    verdict = ("faithful: within the Monte-Carlo noise of an exact refit" if faithful
               else "NOT faithful: " + "; ".join(problems))
    return {
        **got,
        "param_names": list(model.family_.param_names),
        "noise_floor_sd": floor["max_mean_err_sd"],
        "noise_floor_sd_ratio": [floor["sd_ratio_min"], floor["sd_ratio_max"]],
        "noise_floor_agreement": floor["pred_agreement"],
        "noise_floor_dp": floor["max_abs_dp"],
        "tolerance_sd": tol,
        "seconds_refit": seconds_refit,
        "seconds_forget": seconds_forget,
        "time_ratio": (seconds_refit / seconds_forget) if seconds_forget else None,
        "n_rows": len(model.row_ids_),
        "n_eval_rows": int(design.shape[0]),
        "n_forgotten": len(model.forgotten_ids_),
        "last_method": model.ledger_[-1]["method"] if model.ledger_ else None,
        "faithful": bool(faithful),
        "verdict": verdict,
    }
