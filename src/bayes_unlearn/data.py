"""Data in: CSV/DataFrame loading, validation, and the stored preprocessing transform.

The transform is fitted with scikit-learn (SimpleImputer, StandardScaler, OneHotEncoder) on
the training rows, then exported to plain arrays (medians, means, scales, category lists)
so that a saved model can apply it without unpickling anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

BUILTIN_DATASETS = ("breast-cancer",)


def read_csv(path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as CSV: {exc}") from None
    if frame.empty:
        raise DataError(f"{path} has no data rows")
    return frame


def load_builtin(name: str) -> pd.DataFrame:
    """The embedded default: scikit-learn's Wisconsin breast-cancer data (target column ``target``)."""
    if name != "breast-cancer":
        raise DataError(f"unknown built-in data set {name!r}; available: {', '.join(BUILTIN_DATASETS)}")
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    return bunch.frame


def load_table(source) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a CSV path, or ``builtin:NAME``."""
    if isinstance(source, pd.DataFrame):
        return source
    text = str(source)
    if text.startswith("builtin:"):
        return load_builtin(text.split(":", 1)[1])
    return read_csv(text)


def row_ids_of(frame: pd.DataFrame, id_column: str | None) -> np.ndarray:
    """Stable row ids as strings: the 0-based data-row position, or a unique id column."""
    if id_column is None:
        return np.array([str(i) for i in range(len(frame))], dtype=object)
    if id_column not in frame.columns:
        raise DataError(f"id column {id_column!r} not found; columns are: {', '.join(map(str, frame.columns))}")
    ids = frame[id_column]
    if ids.isna().any():
        raise DataError(f"id column {id_column!r} has missing values")
    ids = ids.astype(str).to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated(keep=False)
    if dup.any():
        raise DataError(f"id column {id_column!r} has duplicate ids, e.g. {ids[dup.to_numpy()][0]!r}")
    return ids


def split_target(frame: pd.DataFrame, target: str, id_column: str | None = None):
    if target not in frame.columns:
        raise DataError(f"target column {target!r} not found; columns are: {', '.join(map(str, frame.columns))}")
    features = frame.drop(columns=[c for c in (target, id_column) if c is not None])
    if features.shape[1] == 0:
        raise DataError("no feature columns besides the target")
    return features, frame[target]


def standardisation(values: np.ndarray) -> tuple[list[float], list[float]]:
    """Column means and scales as scikit-learn's ``StandardScaler``: population sd, and 1 for a
    column that is constant up to rounding (its variance within sklearn's rounding bound).

    Written in numpy (the parity with scikit-learn is a test) because importing scikit-learn
    costs ≈ 2.4 s of every ``fit`` command for two column statistics.
    """
    n = values.shape[0]
    mean = values.mean(axis=0)
    var = values.var(axis=0)
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.where(constant, 1.0, np.sqrt(var))
    return [float(m) for m in mean], [float(s) for s in scale]


@dataclass
class FeatureTransform:
    """Fitted preprocessing as plain data: zero→median imputation, standardisation, one-hot.

    The same statistics as scikit-learn's SimpleImputer(median), StandardScaler and
    OneHotEncoder (tests pin them to scikit-learn's), computed in numpy.
    """

    numeric: list[str]
    categorical: list[str]
    impute_zeros: list[str]
    medians: dict[str, float]
    means: list[float]
    scales: list[float]
    categories: dict[str, list[str]] = field(default_factory=dict)

    @property
    def input_columns(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def feature_names(self) -> list[str]:
        return list(self.numeric) + [f"{c}={v}" for c in self.categorical for v in self.categories[c]]

    @classmethod
    def fit(cls, features: pd.DataFrame, impute_zeros: Sequence[str] = (),
            categorical: Sequence[str] | None = None) -> FeatureTransform:
        if categorical is None:
            categorical = [c for c in features.columns if not is_numeric_column(features[c])]
        categorical = [str(c) for c in categorical]
        numeric = [str(c) for c in features.columns if str(c) not in categorical]
        missing = [c for c in impute_zeros if c not in numeric]
        if missing:
            raise DataError(f"--impute-zeros names columns that are not numeric features: {', '.join(missing)}")
        frame = features.copy()
        frame.columns = [str(c) for c in frame.columns]
        check_finite(frame[numeric])
        medians = {}
        if impute_zeros:
            zeros = frame[list(impute_zeros)].replace(0, np.nan)
            if zeros.isna().all().any():
                bad = zeros.columns[zeros.isna().all()].tolist()
                raise DataError(f"column(s) {', '.join(bad)} are all zero: nothing to impute from")
            medians = {c: float(m) for c, m in zip(impute_zeros, np.nanmedian(zeros.to_numpy(float), axis=0))}
            frame[list(impute_zeros)] = zeros.fillna(medians)
        means, scales = standardisation(frame[numeric].to_numpy(float)) if numeric else ([], [])
        # scikit-learn's OneHotEncoder categories: the sorted distinct values, as text
        categories = {c: sorted(set(frame[c].astype(str))) for c in categorical}
        return cls(numeric, categorical, list(impute_zeros), medians, means, scales, categories)

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        frame = features.copy()
        frame.columns = [str(c) for c in frame.columns]
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise DataError(f"missing feature column(s): {', '.join(missing)}")
        extra = [c for c in frame.columns if c not in self.input_columns]
        if extra:
            raise DataError(f"unexpected column(s) not seen at fit time: {', '.join(extra)}")
        num = frame[self.numeric]
        check_finite(num)
        values = num.to_numpy(float)
        for j, c in enumerate(self.numeric):
            if c in self.medians:
                col = values[:, j]
                values[:, j] = np.where(col == 0, self.medians[c], col)
        if self.numeric:
            values = (values - np.asarray(self.means)) / np.asarray(self.scales)
        blocks = [values]
        for c in self.categorical:
            col = frame[c].astype(str).to_numpy()
            blocks.append((col[:, None] == np.asarray(self.categories[c])[None, :]).astype(float))
        return np.concatenate(blocks, axis=1) if blocks else values

    def to_dict(self) -> dict:
        return {
            "numeric": self.numeric, "categorical": self.categorical,
            "impute_zeros": self.impute_zeros, "medians": self.medians,
            "means": self.means, "scales": self.scales, "categories": self.categories,
        }

    @classmethod
    def from_dict(cls, d: dict) -> FeatureTransform:
        return cls(**{k: d[k] for k in ("numeric", "categorical", "impute_zeros", "medians",
                                        "means", "scales", "categories")})


def is_numeric_column(column: pd.Series) -> bool:
    """Numeric dtype, or text that is mostly numbers with a few bad entries (≥ 90 % parse).

    A typo or a stray "NA" in a numeric CSV column makes pandas read it as text; treating it
    as a category would silently one-hot encode every distinct number. Such a column stays
    numeric so that ``check_finite`` names the bad rows. Text where every value parses
    (codes such as "007") is kept as the user's categorical choice.
    """
    column = column.infer_objects()
    if pd.api.types.is_numeric_dtype(column):
        return True
    parsed = pd.to_numeric(column, errors="coerce")
    return bool(parsed.isna().any() and parsed.notna().mean() >= 0.9)


def check_finite(numeric: pd.DataFrame) -> None:
    """Reject NaN/inf and non-numeric values in numeric feature columns, naming the column and rows."""
    for c in numeric.columns:
        col = pd.to_numeric(numeric[c], errors="coerce")
        bad = ~np.isfinite(col.to_numpy(float))
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise DataError(f"column {c!r} has {int(bad.sum())} missing, non-numeric or infinite value(s) "
                            f"(first at data row(s) {rows})")


@dataclass
class TargetEncoding:
    """How labels map to the model's y: class list for classifiers, (mean, scale) for regression."""

    task: str
    classes: list = field(default_factory=list)
    mean: float = 0.0
    scale: float = 1.0

    @classmethod
    def fit(cls, target: pd.Series, task: str) -> TargetEncoding:
        if target.isna().any():
            raise DataError(f"target column {target.name!r} has {int(target.isna().sum())} missing value(s)")
        if task == "regression":
            y = pd.to_numeric(target, errors="coerce").to_numpy(float)
            if not np.isfinite(y).all():
                raise DataError(f"target column {target.name!r} must be numeric and finite for a linear model")
            scale = float(y.std()) or 1.0
            return cls(task, [], float(y.mean()), scale)
        classes = sorted(pd.unique(target).tolist(), key=lambda v: (str(type(v)), v))
        if task == "binary" and len(classes) != 2:
            raise DataError(f"a binary model needs exactly 2 label values in {target.name!r}, found "
                            f"{len(classes)}: {classes[:10]}")
        if task == "multiclass" and len(classes) < 2:
            raise DataError(f"target {target.name!r} has a single class {classes}")
        return cls(task, [c.item() if hasattr(c, "item") else c for c in classes])

    def encode(self, target: pd.Series) -> np.ndarray:
        if target.isna().any():
            raise DataError(f"target column {target.name!r} has missing values")
        if self.task == "regression":
            y = pd.to_numeric(target, errors="coerce").to_numpy(float)
            if not np.isfinite(y).all():
                raise DataError(f"target column {target.name!r} must be numeric and finite")
            return (y - self.mean) / self.scale
        lookup = {str(c): i for i, c in enumerate(self.classes)}
        codes = [lookup.get(str(v)) for v in target.tolist()]
        unknown = sorted({str(v) for v, c in zip(target.tolist(), codes) if c is None})
        if unknown:
            raise DataError(f"label value(s) {unknown[:5]} in {target.name!r} were not seen at fit time "
                            f"(known: {self.classes})")
        return np.asarray(codes, dtype=float)

    def to_dict(self) -> dict:
        return {"task": self.task, "classes": self.classes, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict) -> TargetEncoding:
        return cls(d["task"], list(d["classes"]), float(d["mean"]), float(d["scale"]))


# ---- the shared data sets of DESIGN.md §6 (never copied into the repository) ---------------
PIMA_ZERO_MISSING = ["Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"]
SHARED_DATA_ENV = "BAYES_UNLEARN_DATA_DIR"


def find_shared_data(name: str) -> Path | None:
    """Path of a shared data file: $BAYES_UNLEARN_DATA_DIR, else ../shared/data beside the repo or cwd."""
    import os

    candidates = []
    if os.environ.get(SHARED_DATA_ENV):
        candidates.append(Path(os.environ[SHARED_DATA_ENV]))
    repo_root = Path(__file__).resolve().parents[2]
    candidates += [repo_root.parent / "shared" / "data", Path.cwd().parent / "shared" / "data",
                   Path.cwd() / "shared" / "data"]
    for folder in candidates:
        if (folder / name).is_file():
            return folder / name
    return None
