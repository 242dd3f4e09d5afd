"""The training rows a model still holds: raw features, target and stable string ids.

Rows keep their original order, and a forget request only ever removes some. Cutting the
pandas frames on every request would cost more than the reweighting itself (≈ 0.5 ms for
two ``iloc`` copies), so removal shrinks an index into the rows as they were when this
object was made, and the frames are cut once, on the next read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class TrainingRows:
    def __init__(self, features: pd.DataFrame, target: pd.Series, ids) -> None:
        self._all_features = features.reset_index(drop=True)
        self._all_target = target.reset_index(drop=True)
        self._all_ids = np.asarray(ids, dtype=object)
        if len(self._all_ids) != len(self._all_features) or len(self._all_target) != len(self._all_features):
            raise ValueError("features, target and ids must have the same number of rows")
        self._held = np.arange(len(self._all_ids))  # ascending indices into the _all_ arrays
        # 1 where that row is still held: a request's ids are checked in Python, one lookup
        # each (numpy calls on 10 ids cost more than the loop)
        self._is_held = bytearray(b"\x01") * len(self._all_ids)
        # id → index into _all_ids, built here so that a forget request only looks ids up
        self._index_of = {rid: j for j, rid in enumerate(self._all_ids)}
        self._frames: tuple[pd.DataFrame, pd.Series] | None = (self._all_features, self._all_target)

    def __len__(self) -> int:
        return len(self._held)

    @property
    def ids(self) -> np.ndarray:
        return self._all_ids[self._held]

    @property
    def features(self) -> pd.DataFrame:
        return self._cut_frames()[0]

    @property
    def target(self) -> pd.Series:
        return self._cut_frames()[1]

    def _cut_frames(self) -> tuple[pd.DataFrame, pd.Series]:
        if self._frames is None:
            self._frames = (self._all_features.iloc[self._held].reset_index(drop=True),
                            self._all_target.iloc[self._held].reset_index(drop=True))
        return self._frames

    def locate(self, ids: list[str]) -> tuple[np.ndarray, list[str]]:
        """(current positions of the ``ids`` still held, in request order; the ids not held)."""
        index_of, is_held = self._index_of, self._is_held
        held, not_held = [], []
        for i in ids:
            j = index_of.get(i, -1)
            if j >= 0 and is_held[j]:
                held.append(j)
            else:
                not_held.append(i)
        positions = np.array(held, dtype=np.int64)
        if len(self._held) < len(self._all_ids):  # else _held is arange(N): positions are indices
            positions = np.searchsorted(self._held, positions)
        return positions, not_held

    def remove(self, positions) -> None:
        """Drop the rows at these current positions."""
        positions = np.asarray(positions, dtype=np.int64)
        is_held = self._is_held
        for j in self._held[positions].tolist():
            is_held[j] = 0
        keep = np.ones(len(self._held), dtype=bool)
        keep[positions] = False
        self._held = self._held[keep]
        self._frames = None
