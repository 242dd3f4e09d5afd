"""``posterior.nc``: the weighted posterior as an ArviZ InferenceData netCDF file, via h5netcdf.

Importing ArviZ and xarray takes seconds, more than a whole ``forget``; this module writes
and reads the same file with h5netcdf alone. Layout (what ``az.from_dict(...).to_netcdf(
engine="h5netcdf")`` writes, so ``az.from_netcdf`` opens it and older files read back)::

    posterior/theta          (chain, draw, param)  float64
    log_likelihood/y         (chain, draw, row)    float32
    sample_stats/log_weight  (chain, draw)         float64

with coordinate variables chain and draw (int64), param and row (strings) in every group
that uses them, uncompressed (ArviZ's ``compress=False``; its gzip default reads back as well).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ModelFileError

# (group, variable, dimensions after chain and draw, dtype): the one source of the layout
_LAYOUT = (
    ("posterior", "theta", ("param",), np.float64),
    ("log_likelihood", "y", ("row",), np.float32),
    ("sample_stats", "log_weight", (), np.float64),
)


@dataclass(frozen=True)
class PosteriorArrays:
    """The arrays of a ``WeightedPosterior`` (draws flattened) and the training row ids."""

    samples: np.ndarray  # (chains, draws, n_params) float64
    loglik: np.ndarray  # (chains * draws, n_rows) float32
    log_weights: np.ndarray  # (chains * draws,) float64
    param_names: tuple[str, ...]
    row_ids: tuple[str, ...]


# ---------------------------------------------------------------- writing


def write_inference_data(path, samples, loglik, log_weights, param_names, row_ids) -> None:
    """Write ``posterior.nc``; ``loglik`` is (chains * draws, n_rows), ``log_weights`` (chains * draws,)."""
    import h5netcdf

    samples = np.asarray(samples, dtype=np.float64)
    chains, draws, _ = samples.shape
    arrays = {
        "theta": samples,
        "y": np.asarray(loglik, dtype=np.float32).reshape(chains, draws, -1),
        "log_weight": np.asarray(log_weights, dtype=np.float64).reshape(chains, draws),
    }
    coords = {"chain": np.arange(chains), "draw": np.arange(draws),
              "param": [str(p) for p in param_names], "row": [str(r) for r in row_ids]}
    attrs = _group_attrs()
    with h5netcdf.File(str(path), "w") as nc:
        for group_name, var_name, extra_dims, dtype in _LAYOUT:
            group = nc.create_group(group_name)
            group.attrs.update(attrs)
            dims = ("chain", "draw", *extra_dims)
            for dim in dims:
                _write_coordinate(group, dim, coords[dim])
            _write_numeric(group, var_name, dims, arrays[var_name].astype(dtype, copy=False))


def _group_attrs() -> dict:
    # ArviZ stamps every group with created_at and, via from_dict(inference_library=...),
    # the library that made the draws; we are that library (not ArviZ, so no arviz_version).
    return {"created_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "inference_library": "bayes_unlearn",
            "inference_library_version": __version__}


def _write_coordinate(group, dim: str, values) -> None:
    import h5py

    group.dimensions[dim] = len(values)
    if isinstance(values, np.ndarray):  # chain, draw
        _write_numeric(group, dim, (dim,), values.astype(np.int64))
    else:  # param, row: variable-length UTF-8 strings, as xarray writes str
        group.create_variable(dim, (dim,), dtype=h5py.string_dtype(),
                              data=np.array(values, dtype=object))


def _write_numeric(group, name: str, dims: tuple, data: np.ndarray) -> None:
    # Uncompressed, i.e. ArviZ's to_netcdf(compress=False): its default gzip saved 12 % of the
    # file (draws barely compress) but took 0.47 s of every save and 0.07 s of every load
    # (pima, 4000 draws x 768 rows). xarray gives floats a NaN _FillValue; so do we.
    fill = np.nan if data.dtype.kind == "f" else None
    group.create_variable(name, dims, dtype=data.dtype, data=data, fillvalue=fill)


# ---------------------------------------------------------------- reading


def read_inference_data(path) -> PosteriorArrays:
    """Read ``posterior.nc`` (ours or ArviZ's); damage of any kind is a ``ModelFileError``."""
    import h5netcdf

    path = Path(path)
    try:
        with h5netcdf.File(str(path), "r") as nc:
            theta, param = _read_variable(nc, path, "posterior", "theta", ("param",))
            y, row = _read_variable(nc, path, "log_likelihood", "y", ("row",))
            log_w, _ = _read_variable(nc, path, "sample_stats", "log_weight", ())
    except ModelFileError:
        raise
    except Exception as exc:  # h5py raises a zoo of types for damaged or foreign files
        raise ModelFileError(f"{path} cannot be read as netCDF: {exc}") from None
    if not (theta.shape[:2] == y.shape[:2] == log_w.shape):
        raise ModelFileError(f"{path}: theta {theta.shape}, y {y.shape} and log_weight {log_w.shape} "
                             "disagree about the number of chains and draws")
    chains, draws = log_w.shape
    return PosteriorArrays(samples=theta.astype(np.float64, copy=False),
                           loglik=y.astype(np.float32, copy=False).reshape(chains * draws, -1),
                           log_weights=log_w.astype(np.float64, copy=False).reshape(-1),
                           param_names=param, row_ids=row)


def _read_variable(nc, path: Path, group_name: str, var_name: str, extra_dims: tuple):
    """The variable's values and its string coordinate (``()`` when it has none)."""
    if group_name not in nc.groups:
        raise ModelFileError(f"{path} has no {group_name!r} group")
    group = nc.groups[group_name]
    if var_name not in group.variables:
        raise ModelFileError(f"{path}: group {group_name!r} has no variable {var_name!r}")
    variable = group.variables[var_name]
    dims = ("chain", "draw", *extra_dims)
    if tuple(variable.dimensions) != dims:
        raise ModelFileError(f"{path}: {group_name}/{var_name} has dimensions {tuple(variable.dimensions)}, "
                             f"expected {dims}")
    values = np.asarray(variable[...])
    if values.dtype.kind not in "fiu":
        raise ModelFileError(f"{path}: {group_name}/{var_name} holds {values.dtype}, not numbers")
    if not extra_dims:
        return values, ()
    labels = _read_labels(group, path, group_name, extra_dims[0])
    if len(labels) != values.shape[-1]:
        raise ModelFileError(f"{path}: {group_name}/{extra_dims[0]} has {len(labels)} labels for "
                             f"{values.shape[-1]} values")
    return values, labels


def _read_labels(group, path: Path, group_name: str, dim: str) -> tuple[str, ...]:
    if dim not in group.variables:
        raise ModelFileError(f"{path}: group {group_name!r} has no coordinate {dim!r}")
    # h5py hands variable-length strings back as bytes; files from other writers may hold str
    return tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v)
                 for v in np.asarray(group.variables[dim][...]).reshape(-1))
