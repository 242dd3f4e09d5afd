"""One repair experiment under the honest three-way protocol, with every baseline on the same split.

    data = load_study_data("pima")
    record = run_three_way(data, "class-conditional", seed=0, config=StudyConfig())

A record holds, for the test rows: the clean model, the corrupted model, the automatic repair
(forget, and retrain on D \\ C), cleanlab's flagged rows removed, the same number of random rows
removed, and the oracle (exactly the corrupted rows removed) — each with accuracy, F1 and
log-loss — plus the detection AUROC of every detector and precision/recall of each removed set.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..data import PIMA_ZERO_MISSING, find_shared_data, read_csv
from ..errors import DataError, RequestError
from .baselines import CLEANLAB_MISSING, cleanlab_baseline, oracle_removal, random_removal
from .corruption import CORRUPTIONS
from .detection import detection_metrics, model_metrics
from .protocol import three_way_split


@dataclass(frozen=True)
class StudyData:
    name: str
    features: pd.DataFrame
    y: np.ndarray  # 0/1 labels
    target: str
    impute_zeros: tuple[str, ...]
    group_column: str  # feature defining the subgroup corruption


# name → (file, target, columns where 0 means missing, subgroup feature, log1p the features)
STUDY_DATASETS = {
    "pima": ("pima-indians-diabetes.csv", "Outcome", tuple(PIMA_ZERO_MISSING), "Age", False),
    # Word/character frequencies are heavy-tailed: log1p makes NUTS ~5× cheaper and the model better.
    "spambase": ("spambase.csv", "target", (), "56", True),
}


def load_study_data(name: str, path=None) -> StudyData:
    if name not in STUDY_DATASETS:
        raise DataError(f"unknown study data set {name!r}; choose from {', '.join(STUDY_DATASETS)}")
    file, target, zeros, group, log1p = STUDY_DATASETS[name]
    path = path or find_shared_data(file)
    if path is None:
        raise DataError(f"{file} not found: pass its path or set BAYES_UNLEARN_DATA_DIR")
    frame = read_csv(path)
    frame.columns = [str(c) for c in frame.columns]
    if target not in frame.columns:
        raise DataError(f"{path} has no {target!r} column")
    features = frame.drop(columns=[target])
    if log1p:
        features = np.log1p(features.clip(lower=0))
    return StudyData(name, features, frame[target].to_numpy().astype(int), target, zeros, group)


@dataclass(frozen=True)
class StudyConfig:
    chains: int = 4
    draws: int = 500
    warmup: int = 500
    update: str = "refit"  # posterior update behind r(z)
    folds: int = 3  # cross-fitting folds of the automatic choice
    forget_method: str | None = None  # None: the model's default forget method

    def to_dict(self) -> dict:
        return asdict(self)


def fit_model(config: StudyConfig, X, y, impute_zeros=(), seed: int = 0):
    from ..estimator import BayesianLogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BayesianLogisticRegression(chains=config.chains, draws=config.draws, warmup=config.warmup,
                                          random_state=seed, impute_zeros=list(impute_zeros)).fit(X, y)


@dataclass
class StudyRecord:
    dataset: str
    corruption: str
    seed: int
    n_train: int
    n_corrupted: int
    methods: dict = field(default_factory=dict)  # method → metrics (test + removed-set detection)
    detectors: dict = field(default_factory=dict)  # detector → AUROC on the full feedback set
    auto: dict = field(default_factory=dict)  # what the automatic repair chose and its diagnostics
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _retrain_metrics(model, ids, X_test, y_test, seed):
    from ..repair import retrain_without

    if len(ids) == 0:
        return model_metrics(model, X_test, y_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_metrics(retrain_without(model, [str(i) for i in ids], seed=seed), X_test, y_test)


def run_three_way(data: StudyData, corruption: str, seed: int, config: StudyConfig,
                  clean_cache: dict | None = None) -> StudyRecord:
    """Corrupt the training labels, repair from the feedback rows, score everything on the test rows."""
    from ..repair import detector_scores, feedback_context, repair

    start = time.perf_counter()
    rng = np.random.default_rng(10_000 + seed)
    train, feedback, test = three_way_split(data.y, seed)
    X_train = data.features.iloc[train].reset_index(drop=True)
    y_clean = data.y[train]
    y_bad, harmful = CORRUPTIONS[corruption](y_clean, X_train[data.group_column].to_numpy(), rng)
    X_fb, y_fb = data.features.iloc[feedback], data.y[feedback]
    X_test, y_test = data.features.iloc[test], data.y[test]
    record = StudyRecord(data.name, corruption, seed, len(train), int(harmful.sum()))

    key = (data.name, seed)
    if clean_cache is not None and key in clean_cache:
        record.methods["clean"] = clean_cache[key]
    else:
        record.methods["clean"] = model_metrics(fit_model(config, X_train, y_clean, data.impute_zeros, seed),
                                                X_test, y_test)
        if clean_cache is not None:
            clean_cache[key] = record.methods["clean"]
    model = fit_model(config, X_train, y_bad, data.impute_zeros, seed)
    record.methods["corrupted"] = model_metrics(model, X_test, y_test)

    # The automatic repair: detector and K chosen on the feedback rows only.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = repair(model, X_fb, y_fb, detector="auto", select="auto", update=config.update,
                            forget_method=config.forget_method, folds=config.folds, seed=seed)
    except RequestError as exc:  # e.g. no failure at all on the feedback rows
        record.notes.append(f"auto repair: {exc}")
        result = None
    causes = [] if result is None else [int(c) for c in result.causes]
    if result is not None:
        repaired = result.repaired_model or model
        record.methods["auto (forget)"] = {**model_metrics(repaired, X_test, y_test),
                                           **detection_metrics(harmful, result.all_scores, np.array(causes))}
        record.auto = {"detector": result.detector, "k": result.k, "n_failures": result.n_failures,
                       "forget": None if result.forget is None else
                       {k: result.forget[k] for k in ("method", "ess", "pareto_k", "reliable", "seconds")},
                       "choice_gain": result.choice["heldout_loglik"] - result.choice["baseline_loglik"],
                       "warnings": result.warnings}
        record.detectors[result.detector] = detection_metrics(harmful, result.all_scores)["auroc"]
        # The other detectors on the same feedback rows (for the table of AUROCs).
        ctx = feedback_context(model, X_fb, y_fb, config.update, seed)
        for det in ("influence", "feedback", "loo"):
            if det not in record.detectors:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scores = detector_scores(ctx, det).scores
                record.detectors[det] = detection_metrics(harmful, scores)["auroc"]
    record.methods["auto (retrain D\\C)"] = {
        **_retrain_metrics(model, causes, X_test, y_test, seed),
        **detection_metrics(harmful, removed=np.array(causes, dtype=int))}

    Xd = model.transform_.transform(X_train)
    cl = cleanlab_baseline(Xd, y_bad, seed)
    if cl is None:
        record.notes.append(CLEANLAB_MISSING)
    else:
        flagged = np.flatnonzero(cl["flagged"])
        record.detectors["cleanlab"] = detection_metrics(harmful, cl["scores"])["auroc"]
        record.methods["cleanlab (retrain)"] = {**_retrain_metrics(model, flagged, X_test, y_test, seed),
                                                **detection_metrics(harmful, cl["scores"], flagged)}
    rand = random_removal(len(train), len(causes), seed)
    record.methods["random (retrain)"] = {**_retrain_metrics(model, rand, X_test, y_test, seed),
                                          **detection_metrics(harmful, removed=rand)}
    oracle = oracle_removal(harmful)
    record.methods["oracle (retrain)"] = {**_retrain_metrics(model, oracle, X_test, y_test, seed),
                                          **detection_metrics(harmful, removed=oracle)}
    record.seconds = time.perf_counter() - start
    return record


def mean_sd(values) -> tuple[float | None, float | None, int]:
    vals = np.array([v for v in values if v is not None], dtype=float)
    if len(vals) == 0:
        return None, None, 0
    return float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0, len(vals)


def summarize(records: list[StudyRecord]) -> list[dict]:
    """One row per (dataset, corruption, method): mean, sd and n of each metric over seeds."""
    rows = []
    groups: dict = {}
    for r in records:
        groups.setdefault((r.dataset, r.corruption), []).append(r)
    for (dataset, corruption), recs in groups.items():
        methods = list(dict.fromkeys(m for r in recs for m in r.methods))
        for method in methods:
            row = {"dataset": dataset, "corruption": corruption, "method": method}
            for metric in ("accuracy", "f1", "log_loss", "auroc", "precision", "recall", "n_removed"):
                m, s, n = mean_sd(r.methods.get(method, {}).get(metric) for r in recs)
                row[metric] = m
                row[metric + "_sd"] = s
            row["n_seeds"] = len(recs)
            rows.append(row)
        for det in dict.fromkeys(d for r in recs for d in r.detectors):
            m, s, n = mean_sd(r.detectors.get(det) for r in recs)
            if n:
                rows.append({"dataset": dataset, "corruption": corruption, "method": f"detector:{det}",
                             "auroc": m, "auroc_sd": s, "n_seeds": n})
    return rows
