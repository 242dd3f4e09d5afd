"""The source report's Pima experiment, reproduced under its own (leaky) protocol and an honest one.

Report (DESIGN.md §2): Pima, zeros in Glucose/BloodPressure/SkinThickness/Insulin/BMI imputed
by the median, Bayesian logistic regression, 80/20 split, 50 % of the training labels flipped;
F = the test rows the corrupted model gets wrong; p(θ|D,F) by re-running MCMC on D ∪ F;
C = {z : r(z) > 0}; C removed by retraining and by unlearning (reweighting).

* ``leaky``: exactly that. F comes from the test rows and the repaired model is scored on the
  same test rows, so the test set has informed the repair.
* ``three-way``: train/feedback/test (60/20/20). F comes from the feedback rows; the test rows
  only score. Both the report's rule (influence, r > 0) and the automatic repair are run.
"""

from __future__ import annotations

import warnings

import numpy as np

from .corruption import random_flips
from .detection import model_metrics
from .protocol import report_split, three_way_split
from .repair_study import StudyConfig, StudyData, fit_model, mean_sd

# The report's table (accuracy as a share, F1) and its detection numbers; None where it gives none.
REPORT_NUMBERS = {
    "clean": {"accuracy": 0.7338, "f1": 0.55},
    "corrupted": {"accuracy": 0.5455, "f1": 0.4262},
    "retrained without C": {"accuracy": 0.7013, "f1": 0.50},
    "unlearned C": {"accuracy": None, "f1": None},
    "share of corrupted rows in C": 0.6058,
    "|C|": None,
}
FLIP_SHARE = 0.5


def _repair_rows(model, X_fb, y_fb, X_test, y_test, corrupted_mask, seed, **options) -> dict:
    """Run one repair and score its forget and its retrain on the test rows."""
    from ..errors import RequestError
    from ..repair import repair, retrain_without

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = repair(model, X_fb, y_fb, seed=seed, **options)
    except RequestError as exc:
        return {"error": str(exc)}
    causes = np.array([int(c) for c in result.causes], dtype=int)
    hits = int(corrupted_mask[causes].sum()) if len(causes) else 0
    out = {"detector": result.detector, "n_failures": result.n_failures, "|C|": len(causes),
           "share of corrupted rows in C": hits / max(int(corrupted_mask.sum()), 1),
           "precision of C": hits / len(causes) if len(causes) else None}
    if len(causes) == 0:
        base = model_metrics(model, X_test, y_test)
        out["retrained without C"] = out["unlearned C"] = base
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["retrained without C"] = model_metrics(retrain_without(model, result.causes, seed=seed), X_test, y_test)
    out["unlearned C"] = model_metrics(result.repaired_model, X_test, y_test)
    out["forget"] = {k: result.forget[k] for k in ("method", "ess", "pareto_k", "reliable")}
    return out


def run_leaky(data: StudyData, seed: int, config: StudyConfig) -> dict:
    """The report's protocol: 80/20 split, F and the final score both on the test rows."""
    rng = np.random.default_rng(20_000 + seed)
    train, test = report_split(data.y, seed)
    X_train = data.features.iloc[train].reset_index(drop=True)
    y_bad, corrupted = random_flips(data.y[train], FLIP_SHARE, rng)
    X_test, y_test = data.features.iloc[test], data.y[test]
    clean = fit_model(config, X_train, data.y[train], data.impute_zeros, seed)
    model = fit_model(config, X_train, y_bad, data.impute_zeros, seed)
    rec = {"clean": model_metrics(clean, X_test, y_test), "corrupted": model_metrics(model, X_test, y_test)}
    rec.update(_repair_rows(model, X_test, y_test, X_test, y_test, corrupted, seed, detector="influence",
                            select="positive", update=config.update, forget_method="reweight"))
    return rec


def run_three_way_report(data: StudyData, seed: int, config: StudyConfig) -> tuple[dict, dict]:
    """The same corruption under train/feedback/test: (report's rule, automatic repair)."""
    rng = np.random.default_rng(20_000 + seed)
    train, feedback, test = three_way_split(data.y, seed)
    X_train = data.features.iloc[train].reset_index(drop=True)
    y_bad, corrupted = random_flips(data.y[train], FLIP_SHARE, rng)
    X_fb, y_fb = data.features.iloc[feedback], data.y[feedback]
    X_test, y_test = data.features.iloc[test], data.y[test]
    clean = fit_model(config, X_train, data.y[train], data.impute_zeros, seed)
    model = fit_model(config, X_train, y_bad, data.impute_zeros, seed)
    base = {"clean": model_metrics(clean, X_test, y_test), "corrupted": model_metrics(model, X_test, y_test)}
    rule = {**base, **_repair_rows(model, X_fb, y_fb, X_test, y_test, corrupted, seed, detector="influence",
                                   select="positive", update=config.update, forget_method="reweight")}
    auto = {**base, **_repair_rows(model, X_fb, y_fb, X_test, y_test, corrupted, seed, detector="auto",
                                   select="auto", update=config.update, forget_method=config.forget_method,
                                   folds=config.folds)}
    return rule, auto


PROTOCOLS = ("leaky (report's protocol)", "three-way, report's rule", "three-way, auto")
TABLE_ROWS = [("clean", "accuracy"), ("clean", "f1"), ("corrupted", "accuracy"), ("corrupted", "f1"),
              ("retrained without C", "accuracy"), ("retrained without C", "f1"),
              ("unlearned C", "accuracy"), ("unlearned C", "f1"),
              ("share of corrupted rows in C", None), ("|C|", None), ("precision of C", None),
              ("forget ESS", None)]


def _value(rec: dict, name: str, metric: str | None):
    if name == "forget ESS":  # how far the unlearned-C numbers can be trusted
        return (rec.get("forget") or {}).get("ess")
    v = rec.get(name)
    if metric is not None:
        return None if not isinstance(v, dict) else v.get(metric)
    return v


def reproduce(data: StudyData, seeds: int, config: StudyConfig, progress=None) -> dict:
    """Run both protocols for ``seeds`` seeds; returns per-seed records and the summary table."""
    records = {p: [] for p in PROTOCOLS}
    for seed in range(seeds):
        records[PROTOCOLS[0]].append(run_leaky(data, seed, config))
        rule, auto = run_three_way_report(data, seed, config)
        records[PROTOCOLS[1]].append(rule)
        records[PROTOCOLS[2]].append(auto)
        if progress is not None:
            progress(seed + 1, seeds)
    table = []
    for name, metric in TABLE_ROWS:
        report = REPORT_NUMBERS.get(name)
        report = report.get(metric) if isinstance(report, dict) else report
        row = {"quantity": name + (f" {metric}" if metric else ""), "report": report}
        for p in PROTOCOLS:
            m, s, n = mean_sd(_value(r, name, metric) for r in records[p])
            row[p] = {"mean": m, "sd": s, "n": n}
        table.append(row)
    return {"config": config.to_dict(), "seeds": seeds, "flip_share": FLIP_SHARE, "table": table,
            "records": records}
