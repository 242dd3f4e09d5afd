"""The failure set F: feedback rows with known labels that the current model gets wrong."""

from __future__ import annotations

import numpy as np

from ..errors import DataError, RequestError


def predicted_labels(mean_prediction, task: str) -> np.ndarray:
    """Encoded class predicted by the weighted posterior predictive mean (P(y=1) or class probabilities)."""
    mean_prediction = np.asarray(mean_prediction)
    if task == "binary":
        return (mean_prediction > 0.5).astype(float)
    if task == "multiclass":
        return np.argmax(mean_prediction, axis=1).astype(float)
    raise RequestError("repair needs a classifier (logistic or softmax): a failure is a misclassified "
                       "feedback row, which a regression model does not define")


def failure_mask(mean_prediction, y_encoded, task: str) -> np.ndarray:
    """True for the feedback rows whose predicted class differs from their known label."""
    return predicted_labels(mean_prediction, task) != np.asarray(y_encoded, dtype=float)


def feedback_arrays(model, feedback_X, feedback_y) -> tuple[np.ndarray, np.ndarray]:
    """Feedback rows in the model's design space: (X, encoded y). Mismatched columns or labels → DataError."""
    X = model._design(feedback_X)  # raises DataError on missing/unexpected columns or bad values
    target = feedback_y
    import pandas as pd

    if not isinstance(target, pd.Series):
        target = pd.Series(np.asarray(target), name=str(model.train_target_.name))
    if len(target) != X.shape[0]:
        raise DataError(f"feedback has {X.shape[0]} rows of features but {len(target)} labels")
    if X.shape[0] == 0:
        raise DataError("the feedback set is empty")
    y = model.target_encoding_.encode(target.reset_index(drop=True))
    return X, y
