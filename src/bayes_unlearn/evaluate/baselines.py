"""Baselines of the repair benchmark, on the same splits: cleanlab, random removal, the oracle.

cleanlab (optional extra ``baselines``): ``find_label_issues`` with out-of-fold predicted
probabilities from a 5-fold cross-validated scikit-learn logistic regression (DESIGN.md §5).
Its AUROC score is the out-of-fold self-confidence 1 − p(given label).
"""

from __future__ import annotations

import numpy as np


def cleanlab_available() -> bool:
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        return False
    return True


CLEANLAB_MISSING = ("cleanlab is not installed: the cleanlab baseline is skipped "
                    "(pip install 'bayes-unlearn[baselines]')")


def out_of_fold_probabilities(X, y, seed: int = 0, folds: int = 5) -> np.ndarray:
    """(N, K) out-of-fold class probabilities of a logistic regression (standardised inputs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(clf, X, y, cv=cv, method="predict_proba")


def cleanlab_baseline(X, y, seed: int = 0) -> dict | None:
    """{"scores": 1 − p(label) out of fold, "flagged": bool mask of cleanlab's label issues}; None without cleanlab."""
    if not cleanlab_available():
        return None
    from cleanlab.filter import find_label_issues

    y = np.asarray(y).astype(int)
    proba = out_of_fold_probabilities(X, y, seed)
    # n_jobs=1: cleanlab's multiprocessing would fork a process that holds JAX's threads
    flagged = find_label_issues(labels=y, pred_probs=proba, n_jobs=1)
    return {"scores": 1.0 - proba[np.arange(len(y)), y], "flagged": np.asarray(flagged, bool)}


def random_removal(n_rows: int, k: int, seed: int = 0) -> np.ndarray:
    """k row positions drawn uniformly without replacement."""
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=int(k), replace=False))


def oracle_removal(harmful) -> np.ndarray:
    """Exactly the corrupted rows."""
    return np.flatnonzero(np.asarray(harmful, bool))
