"""Model directories: exact round trip, clean failures on damage, atomic saves, no pickle."""

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from _core_models import MARKER, features_and_target, fitted_binary_model, small_binary_frame

from bayes_unlearn import ModelFileError, load
from bayes_unlearn import store as store_module
from bayes_unlearn.store import POINTER, sha256_of


@pytest.fixture
def saved(tmp_path):
    model = fitted_binary_model()
    model.forget([3, 11], method="reweight")
    path = tmp_path / "model"
    model.save(path)
    return model, path


def live_folder(path: Path) -> Path:
    return path / (path / POINTER).read_text().strip()


def rewrite_checksum(path: Path, name: str) -> None:
    """Make the damage invisible to the checksum, so the file reader itself must notice."""
    folder = live_folder(path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["files"][name] = sha256_of(folder / name)
    (folder / "meta.json").write_text(json.dumps(meta))


def test_round_trip_is_exact(saved):
    model, path = saved
    loaded = load(path)
    X, _ = features_and_target(small_binary_frame())
    np.testing.assert_array_equal(loaded.posterior_.samples, model.posterior_.samples)
    np.testing.assert_array_equal(loaded.posterior_.log_weights, model.posterior_.log_weights)
    np.testing.assert_array_equal(loaded.posterior_.loglik, model.posterior_.loglik)
    assert loaded.posterior_.loglik.dtype == np.float32
    assert loaded.posterior_.param_names == model.posterior_.param_names
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert list(loaded.row_ids_) == list(model.row_ids_)
    assert loaded.forgotten_ids_ == ["3", "11"]
    assert loaded.ledger_ == model.ledger_ and len(loaded.ledger_) == 1
    assert loaded.transform_ == model.transform_
    assert loaded.target_encoding_ == model.target_encoding_
    assert loaded.fit_info_ == model.fit_info_
    # the estimator's parameters as the user gave them (categorical=None: detected at fit time)
    params = {k: v for k, v in model.get_params().items() if k != "impute_zeros"}
    assert {k: v for k, v in loaded.get_params().items() if k != "impute_zeros"} == params
    assert list(loaded.impute_zeros) == list(model.impute_zeros) and loaded.categorical is None
    assert loaded.capacity_ == model.capacity_ == 80
    assert loaded.samples_saw_forgotten_rows_ is True
    np.testing.assert_array_equal(loaded.training_arrays()[0], model.training_arrays()[0])
    np.testing.assert_array_equal(loaded.training_arrays()[1], model.training_arrays()[1])
    assert loaded.train_target_.name == "label"


def test_round_trip_keeps_text_that_looks_like_numbers(tmp_path):
    """A category or label such as "007" must not come back as the number 7."""
    model = fitted_binary_model()
    frame = small_binary_frame()
    X, y = features_and_target(frame)
    X = X.assign(colour=X["colour"].map({"red": "007", "green": "010", "blue": "1e3"}))
    y = y.map({"no": "01", "yes": "10"})
    model.fit(X, y)
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    for ours, theirs in zip(loaded.training_arrays(), model.training_arrays()):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_load_never_unpickles(saved, monkeypatch):
    _, path = saved

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used while loading a model")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    load(path)
    names = {p.name for p in live_folder(path).iterdir()}
    assert names == {"meta.json", "posterior.nc", "train.csv"}


def test_tampered_file_fails_its_checksum(saved):
    _, path = saved
    csv = live_folder(path) / "train.csv"
    csv.write_text(csv.read_text().replace("yes", "no", 1))
    with pytest.raises(ModelFileError, match="train.csv does not match its checksum"):
        load(path)


@pytest.mark.parametrize("hide_from_checksum", [False, True])
def test_truncated_netcdf_fails_cleanly(saved, hide_from_checksum):
    _, path = saved
    nc = live_folder(path) / "posterior.nc"
    nc.write_bytes(nc.read_bytes()[: nc.stat().st_size // 2])
    if hide_from_checksum:
        rewrite_checksum(path, "posterior.nc")
    with pytest.raises(ModelFileError, match="cannot be read as netCDF" if hide_from_checksum
                       else "posterior.nc does not match its checksum"):
        load(path)


@pytest.mark.parametrize("damage, match", [
    (lambda f: f.__delitem__("log_likelihood/y"), "group 'log_likelihood' has no variable 'y'"),
    (lambda f: f.__delitem__("sample_stats"), "has no 'sample_stats' group"),
])
def test_netcdf_missing_a_variable_or_group_fails_cleanly(saved, damage, match):
    import h5py

    _, path = saved
    with h5py.File(live_folder(path) / "posterior.nc", "r+") as f:
        damage(f)
    rewrite_checksum(path, "posterior.nc")
    with pytest.raises(ModelFileError, match=match):
        load(path)


def test_netcdf_of_another_shape_fails_cleanly(saved):
    """A well-formed file from another model: fewer rows than train.csv."""
    from bayes_unlearn.inference_data import read_inference_data, write_inference_data

    _, path = saved
    nc = live_folder(path) / "posterior.nc"
    old = read_inference_data(nc)
    write_inference_data(nc, old.samples, old.loglik[:, 1:], old.log_weights, old.param_names, old.row_ids[1:])
    rewrite_checksum(path, "posterior.nc")
    with pytest.raises(ModelFileError, match="disagree about the training rows"):
        load(path)


def test_train_csv_disagreeing_with_the_posterior_fails_cleanly(saved):
    _, path = saved
    csv = live_folder(path) / "train.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:-1]) + "\n")  # drop one training row
    rewrite_checksum(path, "train.csv")
    with pytest.raises(ModelFileError, match="disagree about the training rows"):
        load(path)


def test_missing_file(saved):
    _, path = saved
    (live_folder(path) / "posterior.nc").unlink()
    with pytest.raises(ModelFileError, match="incomplete: posterior.nc is missing"):
        load(path)


def test_missing_metadata(saved):
    _, path = saved
    (live_folder(path) / "meta.json").unlink()
    with pytest.raises(ModelFileError, match="meta.json is missing"):
        load(path)


def test_garbage_metadata(saved):
    _, path = saved
    (live_folder(path) / "meta.json").write_bytes(b"\x00\xffnot json")
    with pytest.raises(ModelFileError, match="meta.json is corrupted"):
        load(path)


def test_unknown_schema_version(saved):
    _, path = saved
    meta_path = live_folder(path) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["schema_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="schema version 99"):
        load(path)


def test_garbage_current_pointer(saved):
    _, path = saved
    (path / POINTER).write_text("../../etc\n")
    with pytest.raises(ModelFileError, match="CURRENT is corrupted"):
        load(path)


def test_foreign_and_missing_directories(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(ModelFileError, match="not a bayes-unlearn model directory"):
        load(foreign)
    with pytest.raises(ModelFileError, match="model directory not found"):
        load(tmp_path / "nowhere")
    with pytest.raises(ModelFileError, match="refusing to overwrite"):
        fitted_binary_model().save(foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"]


def test_metadata_describing_another_program_fails_cleanly(saved):
    _, path = saved
    meta_path = live_folder(path) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["model"]["family"] = "random-forest"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="corrupted or was written by another program"):
        load(path)


def test_interrupted_first_save_leaves_nothing(tmp_path, monkeypatch):
    model = fitted_binary_model()

    def broken_to_csv(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pandas.DataFrame.to_csv", broken_to_csv)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fail_at", ["payload", "pointer"])
def test_interrupted_update_keeps_the_previous_version_loadable(saved, monkeypatch, fail_at):
    model, path = saved
    before = load(path)
    model.forget([20], method="reweight")
    real_replace = os.replace

    def broken(*args, **kwargs):
        raise OSError("power cut")

    if fail_at == "payload":
        monkeypatch.setattr("pandas.DataFrame.to_csv", broken)
    else:  # the new version is complete, but CURRENT is never switched to it
        monkeypatch.setattr(store_module.os, "replace",
                            lambda src, dst: broken() if Path(dst).name == POINTER else real_replace(src, dst))
    with pytest.raises(OSError, match="power cut"):
        model.save(path)
    monkeypatch.undo()
    again = load(path)
    assert again.forgotten_ids_ == before.forgotten_ids_ == ["3", "11"]
    np.testing.assert_array_equal(again.posterior_.log_weights, before.posterior_.log_weights)
    # A later save still works and leaves only the live version behind.
    model.save(path)
    assert load(path).forgotten_ids_ == ["3", "11", "20"]
    assert sorted(p.name for p in path.iterdir()) == [POINTER, (path / POINTER).read_text().strip()]


def test_forgotten_rows_raw_values_leave_the_directory(tmp_path):
    model = fitted_binary_model()
    path = tmp_path / "m"
    model.save(path)
    marker = repr(MARKER).encode()

    def directory_bytes():
        return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())

    assert marker in directory_bytes()
    model.forget([5], method="reweight")  # the row holding the marker value
    model.save(path)
    assert marker not in directory_bytes()
    assert np.asarray(MARKER).tobytes() not in directory_bytes()
    assert not any(p.name.startswith("v") and p != live_folder(path) for p in path.iterdir())
    loaded = load(path)
    assert "5" not in set(loaded.row_ids_) and loaded.forgotten_ids_ == ["5"]
    assert loaded.posterior_.loglik.shape[1] == 79


def test_save_into_an_empty_directory_and_over_a_file(tmp_path):
    model = fitted_binary_model()
    empty = tmp_path / "empty"
    empty.mkdir()
    model.save(empty)
    assert load(empty).posterior_.n_samples == model.posterior_.n_samples
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ModelFileError, match="not a directory"):
        model.save(a_file)
    shutil.rmtree(empty)
