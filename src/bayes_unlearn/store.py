"""Model directories: open formats, checksums, atomic updates, no pickle.

Layout::

    MODEL_DIR/
      CURRENT          name of the live version, e.g. "v000003"
      v000003/
        meta.json      schema version, model description, preprocessing, ledger, checksums
        posterior.nc   ArviZ InferenceData (netCDF): samples, log-weights, per-row log-lik
        train.csv      the training rows not yet forgotten, with their ids

A write builds a complete new version next to the live one and then switches CURRENT with
an atomic rename, so an interrupted write leaves the previous version live and loadable.
Older versions are deleted after the switch: forgotten rows must leave the directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from .errors import ModelFileError

FORMAT = "bayes-unlearn-model"
SCHEMA_VERSION = 1
POINTER = "CURRENT"
META = "meta.json"
_VERSION_RE = re.compile(r"^v(\d{6})$")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_text_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def is_model_dir(path: Path) -> bool:
    return (Path(path) / POINTER).is_file()


def _live_version(path: Path) -> str:
    try:
        name = (path / POINTER).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ModelFileError(f"{path} is not a bayes-unlearn model directory (no readable {POINTER} file): {exc}") from None
    if not _VERSION_RE.match(name):
        raise ModelFileError(f"{path}/{POINTER} is corrupted (it names {name[:40]!r}, not a version)")
    return name


def write_model(path, write_payload: Callable[[Path], dict]) -> Path:
    """Atomically create or update the model directory ``path``.

    ``write_payload(folder)`` writes the data files into ``folder`` and returns the metadata
    dict; checksums of every file it wrote are added here. Returns the new version folder.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"{path} exists and is not a directory")
    if path.is_dir() and not is_model_dir(path) and any(path.iterdir()):
        raise ModelFileError(f"{path} exists, is not empty and is not a bayes-unlearn model directory; "
                             "refusing to overwrite it")
    if is_model_dir(path):
        current = int(_VERSION_RE.match(_live_version(path)).group(1))
        version = f"v{current + 1:06d}"
        staging_root = path
    else:
        version = "v000001"
        staging_root = path.parent / f".{path.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging_root, ignore_errors=True)
        staging_root.mkdir(parents=True)
    staging = staging_root / f".{version}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        meta = write_payload(staging)
        files = sorted(p.name for p in staging.iterdir() if p.is_file())
        meta = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **meta,
                "files": {name: sha256_of(staging / name) for name in files}}
        _write_text_durably(staging / META, json.dumps(meta, indent=1, sort_keys=True, default=_json_default))
        for name in files:
            _fsync_path(staging / name)
        # A write interrupted after this rename but before the CURRENT switch leaves a
        # complete but never-live folder of this name behind; it must not block the retry.
        shutil.rmtree(staging_root / version, ignore_errors=True)
        os.rename(staging, staging_root / version)
        pointer_tmp = staging_root / f".{POINTER}.tmp-{os.getpid()}"
        _write_text_durably(pointer_tmp, version + "\n")
        os.replace(pointer_tmp, staging_root / POINTER)
        _fsync_path(staging_root)
        if staging_root != path:
            if path.is_dir():  # an empty directory the user created for us
                path.rmdir()
            os.rename(staging_root, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if staging_root != path:
            shutil.rmtree(staging_root, ignore_errors=True)
        raise
    remove_stale_versions(path)
    return path / version


def remove_stale_versions(path: Path) -> None:
    """Delete every version but the live one (and leftovers of interrupted writes)."""
    live = _live_version(path)
    for child in path.iterdir():
        if child.name in (POINTER, live):
            continue
        if child.is_dir() and (_VERSION_RE.match(child.name) or child.name.startswith(".v")):
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(f".{POINTER}.tmp"):
            child.unlink(missing_ok=True)


def read_model(path) -> tuple[dict, Path]:
    """Validate the live version of a model directory and return (metadata, version folder)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(f"model directory not found: {path}")
    if not is_model_dir(path):
        raise ModelFileError(f"{path} is not a bayes-unlearn model directory (no {POINTER} file)")
    folder = path / _live_version(path)
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{folder} is incomplete: {META} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{folder / META} is corrupted: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{folder / META} is not a bayes-unlearn model description")
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ModelFileError(f"{path} has schema version {version!r}; this bayes-unlearn reads version "
                             f"{SCHEMA_VERSION} only")
    files = meta.get("files")
    if not isinstance(files, dict) or not files:
        raise ModelFileError(f"{folder / META} lists no data files")
    for name, digest in files.items():
        if "/" in name or name.startswith("."):
            raise ModelFileError(f"{folder / META} names an invalid file {name!r}")
        target = folder / name
        if not target.is_file():
            raise ModelFileError(f"{path} is incomplete: {name} is missing")
        if sha256_of(target) != digest:
            raise ModelFileError(f"{path} is corrupted: {name} does not match its checksum")
    return meta, folder


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.bool_):
        return bool(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
