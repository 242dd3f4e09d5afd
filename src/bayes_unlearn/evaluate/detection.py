"""Metrics of a repair: detection of the corrupted rows and held-out predictive quality."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score, log_loss, roc_auc_score


def detection_metrics(harmful, scores=None, removed=None) -> dict:
    """AUROC of ``scores`` against the truly corrupted rows; precision/recall of the ``removed`` set.

    ``harmful`` (N,) bool; ``scores`` (N,) higher = more suspect; ``removed`` positions or a mask.
    """
    harmful = np.asarray(harmful, bool)
    out: dict = {}
    if scores is not None:
        scores = np.asarray(scores, dtype=float)
        out["auroc"] = (float(roc_auc_score(harmful, scores))
                        if 0 < harmful.sum() < len(harmful) else None)
    if removed is not None:
        mask = np.zeros(len(harmful), bool)
        removed = np.asarray(removed)
        if removed.dtype == bool:
            mask = removed
        else:
            mask[removed.astype(int)] = True
        n = int(mask.sum())
        hits = int((mask & harmful).sum())
        out.update({"n_removed": n, "precision": hits / n if n else None,
                    "recall": hits / int(harmful.sum()) if harmful.any() else None})
    return out


def predictive_metrics(y_true, proba, classes=None) -> dict:
    """Accuracy, F1 (binary: of the second class; multiclass: macro) and log-loss of probabilities.

    ``proba`` (N, K) class probabilities in the order of ``classes`` (default 0..K−1); labels are
    matched to ``classes`` by their text, so 1, 1.0-as-int and "1" agree.
    """
    proba = np.clip(np.asarray(proba, dtype=float), 1e-12, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    n_classes = proba.shape[1]
    names = [str(c) for c in (range(n_classes) if classes is None else classes)]
    lookup = {name: i for i, name in enumerate(names)}
    y_idx = np.array([lookup[str(v)] for v in np.asarray(y_true).tolist()])
    pred = np.argmax(proba, axis=1)
    average = "binary" if n_classes == 2 else "macro"
    return {"accuracy": float(np.mean(pred == y_idx)),
            "f1": float(f1_score(y_idx, pred, average=average, zero_division=0,
                                 labels=np.arange(n_classes) if average == "macro" else None)),
            "log_loss": float(log_loss(y_idx, proba, labels=np.arange(n_classes)))}


def model_metrics(model, X, y) -> dict:
    """``predictive_metrics`` of a fitted classifier on rows (X, y), y in the original label values."""
    return predictive_metrics(np.asarray(y), model.predict_proba(X), classes=list(model.classes_))
