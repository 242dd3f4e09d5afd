"""posterior.nc without ArviZ: ArviZ reads what we write, we read what ArviZ wrote, damage is clean."""

import subprocess
import sys

import arviz as az
import h5py
import numpy as np
import pytest

from bayes_unlearn import ModelFileError
from bayes_unlearn.inference_data import read_inference_data, write_inference_data

CHAINS, DRAWS = 2, 7
PARAMS = ("intercept", "a", "colour[red]")
ROWS = ("0", "007", "1e3", "row 4", "é")  # text that looks like numbers, spaces, non-ASCII


@pytest.fixture
def arrays():
    rng = np.random.default_rng(3)
    samples = rng.normal(size=(CHAINS, DRAWS, len(PARAMS)))
    loglik = rng.normal(size=(CHAINS * DRAWS, len(ROWS))).astype(np.float32)
    log_weights = rng.normal(size=CHAINS * DRAWS)
    return samples, loglik, log_weights


def write_the_old_way(path, samples, loglik, log_weights, compress=True, **overrides):
    """What serialize.py wrote before it stopped importing ArviZ."""
    spec = {
        "posterior": {"theta": samples},
        "log_likelihood": {"y": loglik.reshape(CHAINS, DRAWS, -1)},
        "sample_stats": {"log_weight": log_weights.reshape(CHAINS, DRAWS)},
        "coords": {"param": list(PARAMS), "row": list(ROWS)},
        "dims": {"theta": ["param"], "y": ["row"]},
    }
    spec.update(overrides)
    az.from_dict(**spec).to_netcdf(str(path), engine="h5netcdf", compress=compress)
    return path


def assert_read_back(got, samples, loglik, log_weights):
    np.testing.assert_array_equal(got.samples, samples)
    np.testing.assert_array_equal(got.loglik, loglik)
    np.testing.assert_array_equal(got.log_weights, log_weights)
    assert (got.samples.dtype, got.loglik.dtype, got.log_weights.dtype) == (np.float64, np.float32, np.float64)
    assert got.param_names == PARAMS and got.row_ids == ROWS
    assert all(type(s) is str for s in got.param_names + got.row_ids)


def test_our_file_round_trips(tmp_path, arrays):
    path = tmp_path / "posterior.nc"
    write_inference_data(path, *arrays, PARAMS, ROWS)
    assert_read_back(read_inference_data(path), *arrays)


def test_arviz_reads_our_file(tmp_path, arrays):
    samples, loglik, log_weights = arrays
    path = tmp_path / "posterior.nc"
    write_inference_data(path, samples, loglik, log_weights, PARAMS, ROWS)
    idata = az.from_netcdf(str(path), engine="h5netcdf")
    assert set(idata.groups()) == {"posterior", "log_likelihood", "sample_stats"}
    theta, y, log_w = idata.posterior["theta"], idata.log_likelihood["y"], idata.sample_stats["log_weight"]
    assert (theta.dims, y.dims, log_w.dims) == (("chain", "draw", "param"), ("chain", "draw", "row"),
                                                ("chain", "draw"))
    np.testing.assert_array_equal(theta.values, samples)
    np.testing.assert_array_equal(y.values, loglik.reshape(CHAINS, DRAWS, -1))
    np.testing.assert_array_equal(log_w.values, log_weights.reshape(CHAINS, DRAWS))
    assert (theta.dtype, y.dtype, log_w.dtype) == (np.float64, np.float32, np.float64)
    assert list(theta["param"].values) == list(PARAMS) and list(y["row"].values) == list(ROWS)
    for group in (idata.posterior, idata.log_likelihood, idata.sample_stats):
        np.testing.assert_array_equal(group["chain"].values, np.arange(CHAINS))
        np.testing.assert_array_equal(group["draw"].values, np.arange(DRAWS))
        assert group["chain"].dtype == group["draw"].dtype == np.int64
        assert {"created_at", "inference_library"} <= set(group.attrs)


def test_same_hdf5_layout_as_arviz(tmp_path, arrays):
    """Same objects, dtypes and attribute names (dimension scales, netCDF ids) as ArviZ's own file."""
    ours = tmp_path / "ours.nc"
    write_inference_data(ours, *arrays, PARAMS, ROWS)
    theirs = write_the_old_way(tmp_path / "theirs.nc", *arrays, compress=False)
    assert hdf5_outline(ours) == hdf5_outline(theirs)


def hdf5_outline(path):
    group_attrs = {"created_at", "arviz_version", "inference_library", "inference_library_version"}
    items = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: items.append(
            (name, getattr(obj, "shape", None), str(getattr(obj, "dtype", "")),
             sorted(set(obj.attrs) - group_attrs))))
    return items


@pytest.mark.parametrize("compress", [True, False])
def test_we_read_files_arviz_wrote(tmp_path, arrays, compress):
    path = write_the_old_way(tmp_path / "posterior.nc", *arrays, compress=compress)
    assert_read_back(read_inference_data(path), *arrays)


def test_a_save_load_forget_save_cycle_imports_neither_arviz_nor_xarray(tmp_path):
    # Fit and save in one process; load, forget (reweight), predict, save and load again in
    # another, which must import none of the heavy libraries: they cost seconds per CLI command.
    folder = str(tmp_path / "m")
    fit = ("import numpy as np; from bayes_unlearn import BayesianLogisticRegression; "
           "rng = np.random.default_rng(0); X = rng.normal(size=(40, 2)); y = (X[:, 0] > 0).astype(int); "
           f"BayesianLogisticRegression(chains=2, draws=50, warmup=50).fit(X, y).save({folder!r})")
    forget = ("import sys; import numpy as np; from bayes_unlearn import load; "
              f"m = load({folder!r}); r = m.forget([1], method='reweight'); m.save({folder!r}); "
              "p = m.predict_proba(np.zeros((3, 2))); assert p.shape == (3, 2) and np.allclose(p.sum(1), 1); "
              f"assert load({folder!r}).forgotten_ids_ == ['1'] and r.method == 'reweight'; "
              "print(*(name in sys.modules for name in ('arviz', 'xarray', 'jax', 'sklearn', 'scipy')))")
    for code in (fit, forget):
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                             timeout=600)
        assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"] * 5


# ---------------------------------------------------------------- damaged files


@pytest.mark.parametrize("content", [b"", b"CDF\x01 not really netCDF", b"chain,draw\n0,0\n"])
def test_non_netcdf_bytes(tmp_path, content):
    path = tmp_path / "posterior.nc"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="cannot be read as netCDF"):
        read_inference_data(path)


def test_truncated_file(tmp_path, arrays):
    path = tmp_path / "posterior.nc"
    write_inference_data(path, *arrays, PARAMS, ROWS)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ModelFileError, match="cannot be read as netCDF"):
        read_inference_data(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="cannot be read as netCDF"):
        read_inference_data(tmp_path / "nowhere.nc")


@pytest.mark.parametrize("hdf5_path, match", [
    ("sample_stats", "has no 'sample_stats' group"),
    ("log_likelihood/y", "group 'log_likelihood' has no variable 'y'"),
    ("posterior/theta", "group 'posterior' has no variable 'theta'"),
])
def test_missing_group_or_variable(tmp_path, arrays, hdf5_path, match):
    path = tmp_path / "posterior.nc"
    write_inference_data(path, *arrays, PARAMS, ROWS)
    with h5py.File(path, "r+") as f:
        del f[hdf5_path]
    with pytest.raises(ModelFileError, match=match):
        read_inference_data(path)


def test_numbered_rows_are_read_as_text(tmp_path, arrays):
    """Without row labels ArviZ numbers the rows itself (integers); they come back as str."""
    path = write_the_old_way(tmp_path / "posterior.nc", *arrays, coords={"param": list(PARAMS)})
    assert read_inference_data(path).row_ids == tuple(str(i) for i in range(len(ROWS)))


def test_missing_label_coordinate(tmp_path, arrays):
    """A netCDF dimension may have no coordinate variable; ours must have one."""
    import h5netcdf

    path = tmp_path / "posterior.nc"
    write_inference_data(path, *arrays, PARAMS, ROWS)
    with h5netcdf.File(path, "a") as nc:
        group = nc.create_group("posterior_without_labels")
        group.dimensions.update({"chain": CHAINS, "draw": DRAWS, "param": len(PARAMS)})
        group.create_variable("theta", ("chain", "draw", "param"), data=arrays[0])
    with h5py.File(path, "r+") as f:  # put it in place of the real group
        del f["posterior"]
        f.move("posterior_without_labels", "posterior")
    with pytest.raises(ModelFileError, match="group 'posterior' has no coordinate 'param'"):
        read_inference_data(path)


def test_dangling_dimension_scale(tmp_path, arrays):
    path = tmp_path / "posterior.nc"
    write_inference_data(path, *arrays, PARAMS, ROWS)
    with h5py.File(path, "r+") as f:
        del f["posterior/param"]  # theta still points at it
    with pytest.raises(ModelFileError, match="posterior.nc cannot be read as netCDF"):
        read_inference_data(path)


@pytest.mark.parametrize("overrides, match", [
    ({"dims": {"theta": ["coefficient"], "y": ["row"]}}, r"posterior/theta has dimensions .*'coefficient'"),
    ({"dims": {"theta": ["param"]}}, r"log_likelihood/y has dimensions .*'y_dim_0'"),
])
def test_wrong_dimensions(tmp_path, arrays, overrides, match):
    overrides = {"coords": {"param": list(PARAMS), "row": list(ROWS), "coefficient": list(PARAMS)}, **overrides}
    path = write_the_old_way(tmp_path / "posterior.nc", *arrays, **overrides)
    with pytest.raises(ModelFileError, match=match):
        read_inference_data(path)


def test_groups_disagreeing_about_draws(tmp_path, arrays):
    samples, loglik, log_weights = arrays
    path = write_the_old_way(tmp_path / "posterior.nc", samples, loglik, log_weights,
                             sample_stats={"log_weight": np.zeros((CHAINS, DRAWS - 1))})
    with pytest.raises(ModelFileError, match="disagree about the number of chains and draws"):
        read_inference_data(path)


def test_text_where_numbers_belong(tmp_path, arrays):
    samples, loglik, log_weights = arrays
    path = write_the_old_way(tmp_path / "posterior.nc", samples, loglik, log_weights,
                             sample_stats={"log_weight": np.full((CHAINS, DRAWS), "x")})
    with pytest.raises(ModelFileError, match="sample_stats/log_weight holds .*not numbers"):
        read_inference_data(path)
