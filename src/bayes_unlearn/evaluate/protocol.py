"""Data splits of the repair experiments.

* three-way (honest): train / feedback / test. F and every choice (detector, K) come from the
  feedback rows; the test rows are only used to score the final model.
* report (leaky, for comparability only): train / test, with F found on the test rows and the
  repaired model scored on the same test rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def three_way_split(y, seed: int, feedback_share: float = 0.2, test_share: float = 0.2):
    """Stratified (train, feedback, test) row positions."""
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_share, stratify=y, random_state=seed)
    train, feedback = train_test_split(rest, test_size=feedback_share / (1 - test_share),
                                       stratify=np.asarray(y)[rest], random_state=seed + 1)
    return np.sort(train), np.sort(feedback), np.sort(test)


def report_split(y, seed: int, test_share: float = 0.2):
    """The report's 80/20 (train, test) split; its 'feedback' is the test set itself (a leak)."""
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=test_share, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)
