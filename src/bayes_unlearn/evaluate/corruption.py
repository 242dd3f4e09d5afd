"""Label-corruption generators with the corrupted rows known (for detection and repair benchmarks).

Each returns (corrupted labels, boolean mask of the rows whose label changed). Labels are
encoded integers 0..K−1; ``rng`` is a numpy Generator.
"""

from __future__ import annotations

import numpy as np


def _other_class(y, n_classes: int, rng) -> np.ndarray:
    """A uniformly drawn label different from y (binary: the flip)."""
    shift = rng.integers(1, n_classes, size=len(y))
    return (np.asarray(y) + shift) % n_classes


def random_flips(y, share: float, rng, n_classes: int = 2):
    """Relabel a random ``share`` of all rows to another class (symmetric noise)."""
    y = np.asarray(y).astype(int)
    rows = rng.choice(len(y), size=int(round(share * len(y))), replace=False)
    out = y.copy()
    out[rows] = _other_class(y[rows], n_classes, rng)
    changed = np.zeros(len(y), bool)
    changed[rows] = True
    return out, changed


def class_conditional_flips(y, share: float, rng, source: int = 1, target: int = 0):
    """Relabel a random ``share`` of the rows of class ``source`` as ``target`` (one-sided noise)."""
    y = np.asarray(y).astype(int)
    members = np.flatnonzero(y == source)
    rows = rng.choice(members, size=int(round(share * len(members))), replace=False)
    out = y.copy()
    out[rows] = target
    changed = np.zeros(len(y), bool)
    changed[rows] = True
    return out, changed


def subgroup_flips(y, group_values, share: float = 0.2, n_classes: int = 2, rng=None):
    """Flip every label inside a feature-defined group: the rows whose ``group_values`` lie in the
    top ``share`` quantile (e.g. the oldest 20 % of patients). Binary labels are flipped; other
    classes are moved to the next class."""
    y = np.asarray(y).astype(int)
    values = np.asarray(group_values, dtype=float)
    threshold = np.quantile(values, 1.0 - share)
    changed = values > threshold
    out = y.copy()
    out[changed] = (y[changed] + 1) % n_classes
    return out, changed


CORRUPTIONS = {
    "random-10": lambda y, X_group, rng: random_flips(y, 0.10, rng),
    "random-30": lambda y, X_group, rng: random_flips(y, 0.30, rng),
    "random-50": lambda y, X_group, rng: random_flips(y, 0.50, rng),
    "class-conditional": lambda y, X_group, rng: class_conditional_flips(y, 0.5, rng),
    "subgroup": lambda y, X_group, rng: subgroup_flips(y, X_group, 0.2),
}
"""Corruption families of the benchmark: name → f(labels, group feature values, rng)."""
