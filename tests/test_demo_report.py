"""The demo end to end (quick mode), the report it writes, and the `report` command."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bayes_unlearn.cli import app
from bayes_unlearn.weights import systematic_resample

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(data: bytes) -> None:
    """A real PNG: the signature, and matplotlib decodes it to a non-trivial image."""
    import io

    import matplotlib.image as mpimg

    assert data[:8] == PNG_MAGIC
    image = mpimg.imread(io.BytesIO(data), format="png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image[..., :3]) > 0  # not a blank canvas


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    return out, payload


def test_demo_runs_every_step(demo_run):
    out, payload = demo_run
    keys = [s["key"] for s in payload["steps"]]
    assert keys[:4] == ["fit", "forget-one", "forget-batch", "verify"]
    steps = {s["key"]: s for s in payload["steps"]}
    fit = steps["fit"]["rows"][0]
    assert fit["rows"] == 341 and fit["features"] == 30  # 60 % of the 569 breast-cancer rows
    assert fit["test accuracy"] > 0.9  # the data set is nearly separable
    n_samples = fit["samples"]
    one = steps["forget-one"]["rows"][0]
    assert one["forgotten"] == 1 and one["remaining"] == 340
    if one["method"] == "reweight":  # one row of 341 barely moves the weights
        assert one["ESS"] > 0.9 * n_samples
    batch = steps["forget-batch"]["rows"][0]
    assert batch["forgotten"] == 85 and batch["remaining"] == 255
    # 25 % of the rows: reweighting alone collapses, so the automatic policy must regenerate.
    assert batch["method"] in ("smc", "refit")
    for key in ("forget-one", "forget-batch"):  # honest by construction: unreliable ⇒ a warning
        if not steps[key]["rows"][0]["reliable"]:
            assert any("UNRELIABLE" in w for w in steps[key]["warnings"])
    assert (out / "model").is_dir()
    repair = steps["repair"]["rows"][0]
    # Class-conditional corruption is the case r(z) handles (DESIGN.md §3: AUROC ≈ 0.8 or better).
    assert repair["AUROC"] > 0.8 and repair["K"] > 0
    outcome = {r["model"]: r for r in steps["repair-outcome"]["rows"]}
    assert outcome["repaired (forget C)"]["accuracy"] > outcome["corrupted labels"]["accuracy"]


def test_demo_writes_pngs_and_a_self_contained_html(demo_run):
    out, payload = demo_run
    html_path, md_path = Path(payload["report_html"]), Path(payload["report_markdown"])
    assert html_path.parent == out and md_path.parent == out
    pngs = sorted(out.glob("*.png"))
    assert {"marginals.png", "forest.png", "weights.png", "ledger.png", "influence.png",
            "roc.png"} <= {p.name for p in pngs}
    for png in pngs:
        assert_png(png.read_bytes())
    html = html_path.read_text(encoding="utf-8")
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(sources) == len(pngs)
    for src in sources:  # every image resolves: embedded data, or a file beside the report
        if src.startswith("data:image/png;base64,"):
            assert_png(base64.b64decode(src.split(",", 1)[1]))
        else:
            assert (out / src).is_file()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md_path.read_text(encoding="utf-8"))
    assert sorted(links) == sorted(p.name for p in pngs)


def test_report_command_on_the_demo_model(demo_run, tmp_path):
    out, _ = demo_run
    target = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(out / "model"), "--out", str(target), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(payload["html"]).is_file() and Path(payload["markdown"]).is_file()
    names = {Path(f).name for f in payload["figures"]}
    assert {"marginals.png", "forest.png", "weights.png", "ledger.png"} <= names
    md = Path(payload["markdown"]).read_text(encoding="utf-8")
    assert "rows forgotten" in md and "| 255 | 86 |" in md  # 1 + 85 of 341 rows forgotten by the demo


def test_report_of_a_missing_model_is_one_line_exit_4(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_resample_indices_follow_the_weights_exactly():
    # Systematic resampling with n = S and equal weights returns every sample once.
    assert sorted(systematic_resample(np.full(5, 0.2), 5, seed=3).tolist()) == [0, 1, 2, 3, 4]
    # All the weight on one sample: every draw is that sample.
    assert systematic_resample(np.array([0.0, 1.0, 0.0]), 7).tolist() == [1] * 7
    # Weights 1/4, 3/4 with n = 8: exactly 2 and 6 copies (systematic resampling has no extra noise).
    counts = np.bincount(systematic_resample(np.array([0.25, 0.75]), 8, seed=1), minlength=2)
    assert counts.tolist() == [2, 6]


def test_an_output_path_that_is_a_file_is_a_usage_error(tmp_path):
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    for args in (["demo", "--quick", "--out", str(afile)], ["report", "whatever", "--out", str(afile)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code in (2, 4) and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(afile)])
    assert result.exit_code == 2 and "is not a directory" in result.stderr
