"""Estimator ↔ model directory (see ``store`` for the layout and atomicity)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .data import FeatureTransform, TargetEncoding
from .errors import ModelFileError
from .inference_data import read_inference_data, write_inference_data
from .posterior import WeightedPosterior
from .rows import TrainingRows
from .store import read_model, write_model

ID_COLUMN = "__row_id__"
TARGET_COLUMN = "__target__"
_TEXT_DTYPES = ("object", "str", "string")


def _write_posterior(model, folder: Path) -> None:
    post = model.posterior_
    write_inference_data(folder / "posterior.nc", post.samples, post.loglik, post.log_weights,
                         post.param_names, [str(r) for r in model.row_ids_])


def save_model(model, path) -> Path:
    def payload(folder: Path) -> dict:
        _write_posterior(model, folder)
        frame = model.train_features_.copy()
        frame.insert(0, ID_COLUMN, model.row_ids_)
        frame[TARGET_COLUMN] = model.train_target_.to_numpy()
        frame.to_csv(folder / "train.csv", index=False)
        return {
            "model": {
                "family": model.family_name,
                "estimator_params": {k: v for k, v in model.get_params().items()
                                     if k not in ("progress", "impute_zeros", "categorical")},
                # as the user gave them (None = detect categorical columns), so get_params() and
                # sklearn's clone() of a loaded model behave like the original estimator's
                "impute_zeros": list(model.impute_zeros or ()),
                "categorical": None if model.categorical is None else list(model.categorical),
            },
            "target_name": str(model.train_target_.name),
            "target_dtype": str(model.train_target_.dtype),
            "id_column": getattr(model, "id_column_", None),
            "feature_dtypes": [[str(c), str(t)] for c, t in model.train_features_.dtypes.items()],
            "transform": model.transform_.to_dict(),
            "target_encoding": model.target_encoding_.to_dict(),
            "capacity": int(model.capacity_),
            "forgotten_ids": list(model.forgotten_ids_),
            "samples_saw_forgotten_rows": bool(model.samples_saw_forgotten_rows_),
            "samples_independent_of_forgotten_rows": bool(model.samples_independent_of_forgotten_rows_),
            "fit": model.fit_info_,
            "ledger": model.ledger_,
        }

    return write_model(path, payload)


def load_model(path):
    """Load a model directory; any missing, altered or foreign file is a ``ModelFileError``."""
    from .estimator import ESTIMATORS
    from .models import build_family

    meta, folder = read_model(path)
    try:
        family_name = meta["model"]["family"]
        estimator_cls = ESTIMATORS[family_name]
        params = dict(meta["model"]["estimator_params"])
        transform = FeatureTransform.from_dict(meta["transform"])
        encoding = TargetEncoding.from_dict(meta["target_encoding"])
        given = meta["model"]
        model = estimator_cls(**params, impute_zeros=given.get("impute_zeros", transform.impute_zeros),
                              categorical=given.get("categorical", transform.categorical))
        arrays = read_inference_data(folder / "posterior.nc")
        samples, loglik, log_w = arrays.samples, arrays.loglik, arrays.log_weights
        param_names, row_coord = arrays.param_names, list(arrays.row_ids)
        dtypes = dict(meta["feature_dtypes"])  # [[column, dtype], …] keeps the order
        # Text columns are read as text: a category "007" must not come back as the number 7.
        text_columns = [c for c, t in dtypes.items() if t in _TEXT_DTYPES]
        if meta.get("target_dtype") in _TEXT_DTYPES:
            text_columns.append(TARGET_COLUMN)
        frame = pd.read_csv(folder / "train.csv", dtype={ID_COLUMN: str, **dict.fromkeys(text_columns, str)},
                            keep_default_na=True)
        ids = frame.pop(ID_COLUMN).astype(str).to_numpy(dtype=object)
        target = frame.pop(TARGET_COLUMN).rename(meta["target_name"])
        for col, dtype in dtypes.items():
            if dtype in _TEXT_DTYPES:
                frame[col] = frame[col].astype(str)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ModelFileError(f"{path} is corrupted or was written by another program: {exc!r}") from None
    if list(frame.columns) != list(dtypes):
        raise ModelFileError(f"{path}: train.csv columns do not match the model description")
    if row_coord != list(ids) or loglik.shape[1] != len(ids):
        raise ModelFileError(f"{path}: posterior.nc and train.csv disagree about the training rows")
    model.transform_ = transform
    model.target_encoding_ = encoding
    model.family_ = build_family(family_name, len(transform.feature_names), n_classes=max(len(encoding.classes), 2),
                                 feature_names=transform.feature_names,
                                 class_names=[str(c) for c in encoding.classes] or None,
                                 **model._hyperparameters())
    if tuple(model.family_.param_names) != param_names:
        raise ModelFileError(f"{path}: parameter names in posterior.nc do not match the model description")
    model.posterior_ = WeightedPosterior(samples, log_w, loglik, param_names)
    model.rows_ = TrainingRows(frame, target, ids)
    model.capacity_ = int(meta["capacity"])
    model.forgotten_ids_ = [str(i) for i in meta["forgotten_ids"]]
    model.samples_saw_forgotten_rows_ = bool(meta["samples_saw_forgotten_rows"])
    # absent in models saved before the flag existed: then only a model that forgot nothing is
    model.samples_independent_of_forgotten_rows_ = bool(
        meta.get("samples_independent_of_forgotten_rows", not meta["forgotten_ids"]))
    model.fit_info_ = dict(meta["fit"])
    model.ledger_ = list(meta["ledger"])
    model.id_column_ = meta.get("id_column")
    return model
