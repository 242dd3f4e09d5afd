"""Bad input through the Python API and the CLI: specific errors, one stderr line, no traceback.

Also the CLI's ``--json`` contract: stdout holds exactly one JSON object with the documented keys.
"""

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from _core_models import (
    CLI_SAMPLER,
    SAMPLER,
    features_and_target,
    fitted_binary_model,
    small_binary_frame,
    write_csv,
)
from typer.testing import CliRunner

from bayes_unlearn import (
    BayesianLogisticRegression,
    DataError,
    RequestError,
    UnreliableForgetWarning,
)
from bayes_unlearn.cli import app

runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def assert_clean_failure(result, exit_code: int, match: str):
    """Non-zero exit, exactly one stderr line naming the problem, nothing on stdout, no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and match in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


# ---- API ------------------------------------------------------------------------------------

@pytest.fixture
def X_y():
    return features_and_target(small_binary_frame())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "abc"])
def test_api_fit_rejects_non_finite_features(X_y, bad):
    X, y = X_y
    X = X.astype({"b": object})
    X.loc[7, "b"] = bad
    with pytest.raises(DataError, match=r"column 'b' has 1 missing, non-numeric or infinite.*\[7\]"):
        BayesianLogisticRegression(**SAMPLER).fit(X, y)


def test_api_fit_rejects_non_binary_and_missing_labels(X_y):
    X, y = X_y
    with pytest.raises(DataError, match="exactly 2 label values"):
        BayesianLogisticRegression(**SAMPLER).fit(X, y.where(y.index % 3 != 0, "maybe"))
    with pytest.raises(DataError, match="exactly 2 label values"):
        BayesianLogisticRegression(**SAMPLER).fit(X, np.full(len(y), "yes"))
    with pytest.raises(DataError, match="missing value"):
        BayesianLogisticRegression(**SAMPLER).fit(X, y.where(y.index != 4))


def test_api_fit_rejects_bad_ids_shapes_and_settings(X_y):
    X, y = X_y
    with pytest.raises(DataError, match="not unique"):
        BayesianLogisticRegression(**SAMPLER).fit(X, y, row_ids=[1] * len(y))
    with pytest.raises(DataError, match="rows but y has"):
        BayesianLogisticRegression(**SAMPLER).fit(X, y[:-1])
    with pytest.raises(DataError, match="chains must be a positive integer"):
        BayesianLogisticRegression(chains=0).fit(X, y)
    with pytest.raises(DataError, match="prior_scale must be a positive number"):
        BayesianLogisticRegression(prior_scale=-1.0).fit(X, y)
    with pytest.raises(RequestError, match="not fitted"):
        BayesianLogisticRegression().predict(X)


def test_api_predict_rejects_wrong_columns_and_non_finite_values(X_y):
    model = fitted_binary_model()
    X, _ = X_y
    with pytest.raises(DataError, match="missing feature column.*'?b"):
        model.predict(X.drop(columns="b"))
    with pytest.raises(DataError, match="unexpected column.*extra"):
        model.predict(X.assign(extra=1.0))
    with pytest.raises(DataError, match="column 'a'"):
        model.predict(X.assign(a=np.where(X.index == 2, np.nan, X["a"])))
    with pytest.raises(DataError, match="interval"):
        model.predict_summary(X, interval=1.5)


def test_api_forget_rejects_unknown_duplicate_and_every_row():
    model = fitted_binary_model()
    weights = model.posterior_.log_weights.copy()
    with pytest.raises(RequestError, match="unknown row id.*999"):
        model.forget([1, 999])
    with pytest.raises(RequestError, match="duplicate row id.*4"):
        model.forget([4, 4])
    with pytest.raises(RequestError, match="no row ids"):
        model.forget([])
    with pytest.raises(RequestError, match="every remaining training row"):
        model.forget(list(range(80)))
    with pytest.raises(RequestError, match="unknown forget method"):
        model.forget([1], method="magic")
    # Rejected requests change nothing.
    np.testing.assert_array_equal(model.posterior_.log_weights, weights)
    assert model.forgotten_ids_ == [] and model.ledger_ == []


def test_api_forget_of_already_forgotten_rows_is_a_no_op_that_says_so():
    model = fitted_binary_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableForgetWarning)
        model.forget([1, 2], method="reweight")
    weights = model.posterior_.log_weights.copy()
    result = model.forget([2, 1])
    assert result.n_forgotten == 0 and result.method == "none"
    assert result.already_forgotten == ["2", "1"] and "already forgotten" in result.reason
    np.testing.assert_array_equal(model.posterior_.log_weights, weights)
    mixed = model.forget([1, 6], method="reweight")
    assert mixed.n_forgotten == 1 and mixed.row_ids == ["6"] and mixed.already_forgotten == ["1"]
    assert model.forgotten_ids_ == ["1", "2", "6"] and len(model.ledger_) == 2


# ---- CLI ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_data")
    frame = small_binary_frame()
    return {"folder": folder, "train": write_csv(frame, folder),
            "with_ids": write_csv(frame.assign(pid=[f"p{i:03d}" for i in range(len(frame))]), folder,
                                  "with_ids.csv")}


@pytest.fixture(scope="module")
def cli_model(cli_data):
    out = cli_data["folder"] / "model"
    result = run_cli("fit", cli_data["train"], "--target", "label", *CLI_SAMPLER, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    return out, result


@pytest.fixture
def model_copy(cli_model, tmp_path):
    path = tmp_path / "model"
    shutil.copytree(cli_model[0], path)
    return path


def test_cli_fit_json_is_one_object_with_the_documented_keys(cli_model):
    _, result = cli_model
    assert result.stdout.count("\n") == 1
    payload = json.loads(result.stdout)
    for key in ("seconds", "rhat_max", "ess_bulk_min"):
        assert isinstance(payload[key], float), key
    assert payload["n_rows"] == 80 and payload["model"] == "logistic"
    assert isinstance(payload["warnings"], list)


@pytest.mark.parametrize("bad_value, match", [
    ("nan", "column 'b' has 1 missing"), ("inf", "column 'b' has 1 missing"),
    ("", "column 'b' has 1 missing"), ("oops", "column 'b' has 1 missing"),
])
def test_cli_fit_rejects_non_finite_values(cli_data, tmp_path, bad_value, match):
    frame = small_binary_frame().astype({"b": object})
    frame.loc[3, "b"] = bad_value
    data = write_csv(frame, tmp_path)
    out = tmp_path / "model"
    assert_clean_failure(run_cli("fit", data, "--target", "label", "--out", out), 2, match)
    assert not out.exists()


@pytest.mark.parametrize("content, match", [("", "cannot read"), ("a,b,label\n", "no data rows")])
def test_cli_fit_rejects_empty_csv(tmp_path, content, match):
    data = tmp_path / "empty.csv"
    data.write_text(content)
    out = tmp_path / "model"
    assert_clean_failure(run_cli("fit", data, "--target", "label", "--out", out), 2, match)
    assert not out.exists()


def test_cli_fit_rejects_bad_targets_models_and_paths(cli_data, tmp_path):
    out = tmp_path / "model"
    train = cli_data["train"]
    assert_clean_failure(run_cli("fit", train, "--target", "Outcome", "--out", out), 2,
                         "target column 'Outcome' not found")
    assert_clean_failure(run_cli("fit", train, "--target", "a", "--out", out), 2, "exactly 2 label values")
    assert_clean_failure(run_cli("fit", train, "--target", "label", "--model", "forest", "--out", out), 2,
                         "unknown --model")
    assert_clean_failure(run_cli("fit", tmp_path / "nope.csv", "--target", "label", "--out", out), 2,
                         "data file not found")
    assert_clean_failure(run_cli("fit", train, "--target", "label", "--id-column", "nope", "--out", out),
                         2, "id column 'nope' not found")
    assert_clean_failure(run_cli("fit", train, "--target", "label", "--impute-zeros", "colour",
                                 "--out", out), 2, "not numeric features")
    assert not out.exists()


def test_cli_fit_refuses_to_replace_an_existing_model(cli_data, model_copy):
    assert_clean_failure(run_cli("fit", cli_data["train"], "--target", "label", "--out", model_copy), 3,
                         "--overwrite")


def test_cli_forget_rejects_unknown_duplicate_and_every_row(model_copy, tmp_path):
    before = sorted(p.name for p in model_copy.rglob("*"))
    assert_clean_failure(run_cli("forget", model_copy, "--rows", "1,999"), 3, "unknown row id(s): 999")
    assert_clean_failure(run_cli("forget", model_copy, "--rows", "4,4"), 3, "duplicate row id(s)")
    assert_clean_failure(run_cli("forget", model_copy, "--rows", ","), 3, "no row ids")
    assert_clean_failure(run_cli("forget", model_copy), 3, "exactly one of --rows and --rows-file")
    every = tmp_path / "all.txt"
    every.write_text("\n".join(str(i) for i in range(80)) + "\n")
    assert_clean_failure(run_cli("forget", model_copy, "--rows-file", every), 3, "every remaining")
    assert_clean_failure(run_cli("forget", model_copy, "--rows-file", tmp_path / "x.txt"), 2,
                         "rows file not found")
    assert_clean_failure(run_cli("forget", tmp_path / "nowhere", "--rows", "1"), 4, "not found")
    assert sorted(p.name for p in model_copy.rglob("*")) == before  # nothing was written


def test_cli_forget_json_and_already_forgotten_no_op(model_copy):
    result = run_cli("forget", model_copy, "--rows", "3,17", "--method", "reweight", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    payload = json.loads(result.stdout)
    assert payload["method"] == "reweight" and payload["n_forgotten"] == 2
    assert isinstance(payload["ess"], float) and isinstance(payload["reliable"], bool)
    assert isinstance(payload["seconds"], float)
    assert payload["pareto_k"] is None or isinstance(payload["pareto_k"], float)

    version = (model_copy / "CURRENT").read_text()
    again = run_cli("forget", model_copy, "--rows", "17", "--json")
    assert again.exit_code == 0, again.output
    repeat = json.loads(again.stdout)
    assert repeat["n_forgotten"] == 0 and repeat["already_forgotten"] == ["17"]
    assert "already forgotten" in repeat["reason"]
    assert (model_copy / "CURRENT").read_text() == version  # a no-op writes nothing
    human = run_cli("forget", model_copy, "--rows", "17")
    assert human.exit_code == 0 and "already forgotten" in human.stdout


def test_cli_predict_json_and_bad_columns(cli_data, model_copy, tmp_path):
    result = run_cli("predict", model_copy, cli_data["train"], "--json")  # the target column is ignored
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    payload = json.loads(result.stdout)
    p, lo, hi = (np.asarray(payload[k]) for k in ("probabilities", "lower", "upper"))
    assert p.shape == lo.shape == hi.shape == (80,)
    assert np.all((lo <= p) & (p <= hi) & (lo >= 0) & (hi <= 1))
    assert payload["interval"] == 0.95 and set(payload["predicted"]) <= {"yes", "no"}

    frame = small_binary_frame()
    wrong = write_csv(frame.rename(columns={"b": "B"}), tmp_path, "wrong.csv")
    assert_clean_failure(run_cli("predict", model_copy, wrong), 2, "missing feature column(s): b")
    nan = write_csv(frame.assign(a=np.where(frame.index == 9, np.nan, frame["a"])), tmp_path, "nan.csv")
    assert_clean_failure(run_cli("predict", model_copy, nan), 2, "column 'a'")
    out = tmp_path / "pred.csv"
    written = run_cli("predict", model_copy, cli_data["train"], "--out", out)
    assert written.exit_code == 0 and out.read_text().startswith("probability,lower,upper,predicted")


def test_cli_predict_ignores_the_id_column_used_at_fit(cli_data, tmp_path):
    out = tmp_path / "model"
    fit = run_cli("fit", cli_data["with_ids"], "--target", "label", "--id-column", "pid", *CLI_SAMPLER,
                  "--out", out, "--json")
    assert fit.exit_code == 0, fit.output
    forget = run_cli("forget", out, "--rows", "p003,p017", "--json")
    assert json.loads(forget.stdout)["row_ids"] == ["p003", "p017"]
    assert_clean_failure(run_cli("forget", out, "--rows", "3"), 3, "unknown row id(s): 3")
    result = run_cli("predict", out, cli_data["with_ids"], "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["probabilities"]) == 80


def test_cli_info_json(model_copy):
    assert run_cli("forget", model_copy, "--rows", "5", "--method", "reweight").exit_code == 0
    result = run_cli("info", model_copy, "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    payload = json.loads(result.stdout)
    assert payload["model"] == "logistic" and payload["n_rows"] == 79 and payload["n_forgotten"] == 1
    assert {"ess", "pareto_k", "reliable", "khat_threshold"} <= set(payload["weights"])
    assert {"rhat_max", "ess_bulk_min", "seconds"} <= set(payload["fit"])
    assert len(payload["ledger"]) == 1 and payload["ledger"][0]["row_ids"] == ["5"]
    assert payload["samples_saw_forgotten_rows"] is True


def test_cli_errors_on_damaged_model_directories(model_copy, tmp_path):
    (model_copy / "CURRENT").write_text("garbage")
    assert_clean_failure(run_cli("info", model_copy), 4, "CURRENT is corrupted")
    assert_clean_failure(run_cli("predict", model_copy, tmp_path / "x.csv"), 4, "CURRENT is corrupted")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    assert_clean_failure(run_cli("info", foreign, "--json"), 4, "not a bayes-unlearn model directory")


def test_real_process_error_has_no_traceback(tmp_path):
    """The installed entry point, in a real process: exit code 4, one stderr line."""
    exe = Path(sys.executable).with_name("bayes-unlearn")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bayes_unlearn.cli"]
    proc = subprocess.run([*cmd, "info", str(tmp_path / "nowhere"), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 4
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"error: model directory not found: {tmp_path / 'nowhere'}"]
