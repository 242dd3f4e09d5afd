"""Small data sets and fitted models shared by the core tests (store, bad input, CLI).

Every test that needs "some fitted model" uses the same data shape and sampler settings, so
NUTS is compiled once per pytest process (the compiled runner is cached per family and shape).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLER = {"chains": 2, "draws": 200, "warmup": 200, "random_state": 0}
CLI_SAMPLER = ["--chains", "2", "--draws", "200", "--warmup", "200", "--seed", "0"]
N_ROWS = 80
MARKER = 987.654321  # a raw value that must leave the model directory when its row is forgotten


@functools.cache
def small_binary_frame() -> pd.DataFrame:
    """80 rows: three numeric features, one categorical, labels "no"/"yes" from a known logistic model."""
    rng = np.random.default_rng(7)
    a, b, c = rng.normal(size=(3, N_ROWS))
    colour = rng.choice(["red", "green", "blue"], size=N_ROWS)
    eta = 0.3 + 1.5 * a - 1.0 * b + 0.8 * (colour == "red")
    label = np.where(rng.random(N_ROWS) < 1 / (1 + np.exp(-eta)), "yes", "no")
    frame = pd.DataFrame({"a": a, "b": b, "c": c, "colour": colour, "label": label})
    frame.loc[5, "c"] = MARKER
    return frame


def features_and_target(frame: pd.DataFrame):
    return frame.drop(columns="label"), frame["label"]


@functools.cache
def _fitted_binary():
    from bayes_unlearn import BayesianLogisticRegression

    X, y = features_and_target(small_binary_frame())
    return BayesianLogisticRegression(**SAMPLER).fit(X, y)


def fitted_binary_model():
    """A fresh copy of the shared fitted logistic model (tests may mutate it)."""
    import copy

    return copy.deepcopy(_fitted_binary())


def write_csv(frame: pd.DataFrame, folder: Path, name: str = "train.csv") -> Path:
    path = Path(folder) / name
    frame.to_csv(path, index=False)
    return path
