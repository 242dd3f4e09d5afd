"""Fidelity metrics and `verify` (exact refit + noise floor)."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from _core_models import CLI_SAMPLER, fitted_binary_model, small_binary_frame, write_csv

from bayes_unlearn.cli import app
from bayes_unlearn.evaluate.fidelity import (
    agreement_acceptable,
    compare,
    predicted_class_agreement,
    tolerance_sd,
    verify,
    weighted_mean_sd,
)


def test_weighted_mean_sd_uses_the_weights():
    flat = np.array([[0.0], [2.0], [4.0]])
    log_w = np.log([0.25, 0.5, 0.25])
    mean, sd = weighted_mean_sd(flat, log_w)
    assert mean[0] == pytest.approx(2.0) and sd[0] == pytest.approx(np.sqrt(2.0))


def test_agreement_binary_and_multiclass_and_tolerance():
    assert predicted_class_agreement(np.array([0.2, 0.6, 0.9, 0.4]), np.array([0.3, 0.7, 0.4, 0.45])) == 0.75
    a = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]])
    b = np.array([[0.6, 0.3, 0.1], [0.1, 0.4, 0.5]])
    assert predicted_class_agreement(a, b) == 0.5
    assert tolerance_sd(0.05) == 0.15 and tolerance_sd(0.2) == pytest.approx(0.3)
    assert agreement_acceptable(1 - 1 / 80, 1.0, 80)  # one row of 80 may flip (1 %, rounded up)
    assert not agreement_acceptable(1 - 2 / 80, 1.0, 80)
    assert agreement_acceptable(1 - 2 / 80, 1 - 2 / 80, 80)  # as good as two exact refits
    assert not agreement_acceptable(0.985, 1.0, 1000) and agreement_acceptable(0.99, 1.0, 1000)


def test_compare_reports_shift_in_sd_units():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(4000, 2))
    shifted = ref + np.array([0.5, 0.0])
    uniform = np.full(4000, -np.log(4000))
    got = compare(shifted, uniform, np.full(3, 0.6), ref, uniform, np.array([0.6, 0.4, 0.7]), True)
    assert got["max_mean_err_sd"] == pytest.approx(0.5, rel=0.05)
    assert got["sd_ratio_min"] == pytest.approx(1.0) and got["pred_agreement"] == pytest.approx(2 / 3)
    assert got["max_abs_dp"] == pytest.approx(0.2)


def test_verify_accepts_a_small_forget_and_rejects_a_wrong_posterior():
    model = fitted_binary_model()
    model.forget([3], method="reweight")
    report = verify(model, seed=5)
    for key in ("max_mean_err_sd", "noise_floor_sd", "pred_agreement", "max_abs_dp", "seconds_refit",
                "sd_ratio_min", "sd_ratio_max", "time_ratio", "verdict", "tolerance_sd"):
        assert key in report
    assert report["n_rows"] == 79 and report["n_eval_rows"] == 79
    assert report["faithful"], report["verdict"]
    assert report["time_ratio"] > 1

    # A posterior moved by one sd in every coordinate must be caught.
    post = model.posterior_
    wrong = replace(post, samples=post.samples + post.sd())
    model.posterior_ = wrong
    bad = verify(model, seed=5)
    assert not bad["faithful"] and bad["max_mean_err_sd"] > 0.8 and bad["verdict"].startswith("NOT faithful")


def test_cli_verify_json(tmp_path):
    from typer.testing import CliRunner

    runner = CliRunner()
    train = write_csv(small_binary_frame(), tmp_path)
    out = tmp_path / "model"
    assert runner.invoke(app, ["fit", str(train), "--target", "label", "--out", str(out), *CLI_SAMPLER,
                               "--json"]).exit_code == 0
    assert runner.invoke(app, ["forget", str(out), "--rows", "4", "--json"]).exit_code == 0
    before = sorted(p.name for p in out.rglob("*"))
    result = runner.invoke(app, ["verify", str(out), "--data", str(train), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n_eval_rows"] == 80 and 0.0 <= payload["pred_agreement"] <= 1.0
    assert {"max_mean_err_sd", "noise_floor_sd", "max_abs_dp", "seconds_refit"} <= set(payload)
    assert sorted(p.name for p in out.rglob("*")) == before  # verify writes nothing
    human = runner.invoke(app, ["verify", str(out)])
    assert human.exit_code == 0 and "noise floor" in human.stdout
    shutil.rmtree(out)
    missing = runner.invoke(app, ["verify", str(out)])
    assert missing.exit_code == 4
