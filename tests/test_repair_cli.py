"""``bayes-unlearn repair`` through the CLI: JSON contract, --apply, exit codes of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _repair_data import corrupted_model, problem
from typer.testing import CliRunner

from bayes_unlearn.cli import app

runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("repair-cli")
    p = problem()
    corrupted_model().save(folder / "model")
    p["X_fb"].assign(label=p["y_fb"]).to_csv(folder / "feedback.csv", index=False)
    p["X_fb"].drop(columns="c").assign(label=p["y_fb"]).to_csv(folder / "no_c.csv", index=False)
    p["X_fb"].to_csv(folder / "no_target.csv", index=False)
    agreed = corrupted_model().predict(p["X_fb"])
    p["X_fb"].assign(label=agreed).to_csv(folder / "no_failures.csv", index=False)
    return folder


def test_repair_json_contract_and_apply(files, tmp_path):
    out = tmp_path / "repaired"
    result = run_cli("repair", files / "model", "--feedback", files / "feedback.csv", "--detector", "feedback",
                     "--select", "top-k", "--k", "30", "--update", "reweight", "--forget-method", "reweight",
                     "--apply", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for key in ("detector", "n_failures", "causes", "scores", "forget", "feedback_before", "feedback_after",
                "update_diagnostics", "warnings"):
        assert key in payload
    assert payload["detector"] == "feedback" and len(payload["causes"]) == 30
    assert payload["scores"] == sorted(payload["scores"], reverse=True)
    assert payload["n_failures"] == len(payload["failure_rows"]) > 0
    assert payload["forget"]["n_forgotten"] == 30 and "ess" in payload["forget"]
    assert payload["applied"] and payload["written_to"] == str(out)
    from bayes_unlearn import load

    repaired = load(out)
    assert set(payload["causes"]).isdisjoint(repaired.row_ids_)
    assert len(load(files / "model").row_ids_) == 200  # the input model directory is untouched
    harmful = problem()["harmful"]
    assert harmful[np.array(payload["causes"], dtype=int)].mean() > 0.4  # base rate 0.18


def test_repair_table_output(files):
    result = run_cli("repair", files / "model", "--feedback", files / "feedback.csv", "--detector", "influence",
                     "--select", "top-k", "--k", "5", "--update", "reweight", "--forget-method", "reweight")
    assert result.exit_code == 0, result.output
    assert "Suspected causes" in result.stdout and "Repair summary" in result.stdout
    assert "failures F" in result.stdout


@pytest.mark.parametrize("feedback,extra,code,message", [
    ("no_c.csv", [], 2, "missing feature column"),
    ("no_target.csv", [], 2, "target column 'label'"),
    ("missing.csv", [], 2, "not found"),
    ("no_failures.csv", ["--detector", "influence", "--select", "top-k", "--k", "3"], 3, "failure set F is empty"),
    ("feedback.csv", ["--select", "positive", "--detector", "loo"], 3, "always positive"),
    ("feedback.csv", ["--out", "x"], 3, "only used with --apply"),
])
def test_repair_bad_input_exit_codes(files, feedback, extra, code, message):
    result = run_cli("repair", files / "model", "--feedback", files / feedback, *extra)
    assert result.exit_code == code
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_repair_missing_model_is_exit_4(files, tmp_path):
    result = run_cli("repair", tmp_path / "nothing", "--feedback", files / "feedback.csv")
    assert result.exit_code == 4


def test_reproduce_bad_input_exit_codes(tmp_path):
    missing = run_cli("reproduce", "--data", tmp_path / "nope.csv", "--seeds", "1")
    assert missing.exit_code == 2 and "not found" in missing.stderr
    bad_update = run_cli("reproduce", "--update", "magic", "--seeds", "1")
    assert bad_update.exit_code == 3 and "unknown --update" in bad_update.stderr


def test_reproduce_table_shows_the_report_numbers_beside_each_protocol():
    from rich.console import Console

    from bayes_unlearn.cli.repair import reproduce_table
    from bayes_unlearn.evaluate.report_experiment import PROTOCOLS, REPORT_NUMBERS

    cell = {"mean": 0.5, "sd": 0.1, "n": 2}
    result = {"seeds": 2, "table": [{"quantity": "clean accuracy", "report": REPORT_NUMBERS["clean"]["accuracy"],
                                     **{p: cell for p in PROTOCOLS}}]}
    console = Console(width=200, record=True)
    console.print(reproduce_table(result, PROTOCOLS))
    text = console.export_text()
    assert "73.4" in text and "50.0 ± 10.0" in text and "leaky (report's protocol)" in text
