"""The automatic forget policy, SMC/refit as forget methods, the ledger, purge and compact."""

import copy
import json
import warnings

import numpy as np
import pytest
from _core_models import (
    CLI_SAMPLER,
    features_and_target,
    fitted_binary_model,
    small_binary_frame,
    write_csv,
)

from bayes_unlearn import BayesianLogisticRegression, load
from bayes_unlearn.cli import app
from bayes_unlearn.posterior import WeightedPosterior, diagnose_weights
from bayes_unlearn.unlearn.policy import (
    AUTO_MAX_MEAN_ERROR,
    expected_max_abs_z,
    reweight_min_ess,
    reweight_verdict,
    sample_efficiency,
)
from bayes_unlearn.unlearn.refit import MIN_REFIT_DRAWS, refit_thinning, thin

# ---- the rule (pure) -----------------------------------------------------------------------


def test_reweight_min_ess_follows_the_expected_worst_mean_error():
    # d = 9: √(2 ln 18)/0.07 squared ≈ 1180 samples of ESS for a worst error of 0.07 sd.
    assert reweight_min_ess(4000, 9) == pytest.approx((expected_max_abs_z(9) / AUTO_MAX_MEAN_ERROR) ** 2)
    assert 1170 < reweight_min_ess(4000, 9) < 1190
    # Small candidate sets: keeping half the samples is enough (never below the ESS floor).
    assert reweight_min_ess(400, 9) == 200
    assert reweight_min_ess(100, 9) == 50
    assert reweight_min_ess(4000, 58) > reweight_min_ess(4000, 9)
    # Autocorrelated draws (bulk ESS = S/4) need 4× the Kish ESS, capped at half the samples.
    assert reweight_min_ess(4000, 9, efficiency=0.25) == 2000
    assert reweight_min_ess(40000, 9, efficiency=0.25) == pytest.approx(4 * reweight_min_ess(40000, 9))
    assert sample_efficiency({"ess_bulk_min": 500.0}, 2000) == 0.25
    assert sample_efficiency({"ess_bulk_min": 500.0, "sample_efficiency": 0.9}, 2000) == 0.9


def test_reweight_verdict_says_why():
    n = 2000
    flat = np.full(n, -np.log(n))
    ok, why = reweight_verdict(diagnose_weights(flat + 1e-3 * np.random.default_rng(0).normal(size=n)), 9)
    assert ok and why.startswith("reweight ESS=")
    heavy = np.random.default_rng(1).normal(size=n) * 3  # k̂ ≈ 0.97, ESS ≈ 6
    ok, why = reweight_verdict(diagnose_weights(heavy), 9)
    assert not ok and "k̂=" in why and "ESS=" in why


# ---- logistic regression on Pima: auto on a 25 % deletion vs an exact refit -----------------

PIMA_SAMPLER = {"chains": 2, "draws": 500, "warmup": 500, "random_state": 0}


@pytest.fixture(scope="module")
def pima_model(pima_frame, pima_zero_columns):
    X = pima_frame.drop(columns="Outcome")
    y = pima_frame["Outcome"]
    return BayesianLogisticRegression(**PIMA_SAMPLER, impute_zeros=pima_zero_columns).fit(X, y), X


def weighted_mean_sd(posterior):
    return posterior.mean(), posterior.sd()


def test_auto_on_a_quarter_of_pima_does_not_reweight_and_matches_a_refit(pima_model):
    fitted, X = pima_model
    model = copy.deepcopy(fitted)
    rows = np.random.default_rng(0).choice(len(X), len(X) // 4, replace=False)
    columns = np.sort(rows)  # row ids are the positions here
    result = model.forget(rows)

    assert result.method in ("smc", "refit"), result.reason
    assert result.reason.startswith("reweight ") and "→" in result.reason
    assert result.reliable and model.samples_saw_forgotten_rows_ is False
    assert model.ledger_[-1]["method"] == result.method and model.ledger_[-1]["reason"] == result.reason

    # Exact answer: a cold NUTS refit on the remaining rows (same compiled sampler, masked rows).
    exact, _ = fitted._sample_candidate_set(seed=99, exclude=columns)
    mean_e, sd_e = weighted_mean_sd(exact)
    mean_f, sd_f = weighted_mean_sd(model.posterior_)
    # Tolerance: two refits of 2×500 draws differ by up to ≈ 0.15 sd on the worst of 9 means;
    # reweighting this request is off by ≈ 0.5 sd (DESIGN.md §3).
    assert np.max(np.abs(mean_f - mean_e) / sd_e) < 0.25
    assert np.max(np.abs(sd_f / sd_e - 1)) < 0.25
    keep = np.setdiff1d(np.arange(len(X)), columns)
    from bayes_unlearn.predictive import predictive_means

    design = model.transform_.transform(X.iloc[keep])
    p_exact = exact.weights @ predictive_means(model.family_, exact.flat_samples, design)
    p_forget = model.predict_proba(X.iloc[keep])[:, 1]
    assert np.mean((p_exact > 0.5) == (p_forget > 0.5)) >= 0.98
    assert np.max(np.abs(p_exact - p_forget)) < 0.05

    # The same request by reweighting alone is flagged unreliable.
    reweighted = copy.deepcopy(fitted)
    with pytest.warns(Warning, match="UNRELIABLE"):
        unreliable = reweighted.forget(rows, method="reweight")
    assert not unreliable.reliable


# ---- ledger, budget, purge and compact (small synthetic model) -----------------------------


def test_ledger_budget_purge_and_compact():
    model = fitted_binary_model()
    first = model.forget([3])
    assert first.method == "reweight" and first.reason.endswith("→ reweight")
    info = model.info()
    assert info["samples_saw_forgotten_rows"] is True
    budget = info["reweighting_budget"]
    assert budget["ess"] == pytest.approx(first.ess) and budget["auto_min_ess"] == 200.0
    assert budget["remaining_ess"] == pytest.approx(max(0.0, first.ess - 200.0))

    # Nothing to compact on the fresh fit? There is: the reweighted samples saw row 3.
    purged = model.forget([7], purge=True)
    assert purged.method in ("smc", "refit") and "purge" in purged.reason
    assert model.samples_saw_forgotten_rows_ is False
    assert model.fit_info_["regenerated_by"] == purged.method
    assert model.posterior_.loglik.shape[1] == len(model.row_ids_) == 78

    noop = model.compact()
    assert noop.method == "none" and "nothing to compact" in noop.reason

    model.forget([11], method="reweight")
    assert model.samples_saw_forgotten_rows_ is True
    compacted = model.compact(method="smc")
    assert compacted.method == "smc" and compacted.n_forgotten == 0 and compacted.reason.startswith("compact")
    assert model.samples_saw_forgotten_rows_ is False
    assert model.info()["weights"]["ess"] > 0.9 * model.posterior_.n_samples  # a fresh budget

    ledger = model.ledger_
    assert [e["row_ids"] for e in ledger] == [["3"], ["7"], ["11"], []]
    assert [e["regenerated"] for e in ledger] == [False, True, False, True]
    for entry in ledger:
        assert {"time", "row_ids", "method", "ess", "pareto_k", "seconds", "reason", "reliable"} <= set(entry)


def test_purge_with_explicit_reweight_compacts_afterwards():
    model = fitted_binary_model()
    result = model.forget([3], method="reweight", purge=True)
    assert result.method == "reweight"
    assert model.samples_saw_forgotten_rows_ is False
    assert [e["method"] for e in model.ledger_][0] == "reweight" and model.ledger_[1]["row_ids"] == []


def run_cli(*args):
    from typer.testing import CliRunner

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    train = write_csv(small_binary_frame(), folder)
    out = folder / "model"
    result = run_cli("fit", train, "--target", "label", "--out", out, *CLI_SAMPLER, "--json")
    assert result.exit_code == 0, result.output
    return out


def test_cli_forget_purge_compact_and_info(cli_model, tmp_path):
    import shutil

    path = tmp_path / "m"
    shutil.copytree(cli_model, path)
    out = run_cli("forget", path, "--rows", "3", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["method"] == "reweight"
    info = json.loads(run_cli("info", path, "--json").stdout)
    assert info["samples_saw_forgotten_rows"] is True and "reweighting_budget" in info

    out = run_cli("compact", path, "--method", "smc", "--json")
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["method"] == "smc" and payload["samples_saw_forgotten_rows"] is False
    info = json.loads(run_cli("info", path, "--json").stdout)
    assert info["samples_saw_forgotten_rows"] is False and len(info["ledger"]) == 2

    out = run_cli("forget", path, "--rows", "8,9", "--purge", "--json")
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["method"] in ("smc", "refit") and "purge" in payload["reason"]
    model = load(path)
    assert model.samples_saw_forgotten_rows_ is False and model.forgotten_ids_ == ["3", "8", "9"]
    human = run_cli("info", path)
    assert human.exit_code == 0 and "Forget requests" in human.stdout


def test_crash_during_forget_leaves_the_previous_model_loadable(cli_model, tmp_path, monkeypatch):
    import shutil

    import bayes_unlearn.serialize as serialize
    import bayes_unlearn.unlearn.methods as methods_module

    path = tmp_path / "m"
    shutil.copytree(cli_model, path)
    before = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}

    # 1. The SMC itself fails half-way.
    def broken_smc(*args, **kwargs):
        raise RuntimeError("simulated crash inside SMC")

    monkeypatch.setattr(methods_module, "smc_candidate_set", broken_smc)
    out = run_cli("forget", path, "--rows", "3,4", "--method", "smc")
    assert out.exit_code == 1 and "simulated crash" in out.output
    monkeypatch.undo()

    # 2. The save fails after the posterior was written (train.csv write raises).
    original = serialize.save_model

    def save_then_crash(model, target):
        def crash(*args, **kwargs):
            raise OSError("simulated disk failure")

        monkeypatch.setattr(type(model.train_features_), "to_csv", crash)
        return original(model, target)

    monkeypatch.setattr(serialize, "save_model", save_then_crash)
    out = run_cli("forget", path, "--rows", "3,4", "--method", "reweight")
    assert out.exit_code != 0 and "simulated disk failure" in out.output
    monkeypatch.undo()

    after = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    assert after == before  # byte for byte the previous version, no leftovers
    model = load(path)
    assert model.forgotten_ids_ == [] and model.ledger_ == [] and len(model.row_ids_) == 80
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_cli("forget", path, "--rows", "3,4", "--json").exit_code == 0


def test_forget_rejects_unknown_method_names():
    model = fitted_binary_model()
    from bayes_unlearn.errors import RequestError

    with pytest.raises(RequestError, match="auto, reweight, smc, refit"):
        model.forget([1], method="magic")
    model.forget([1], method="reweight")
    with pytest.raises(RequestError, match="unknown compact method"):
        model.compact(method="reweight")


def test_small_features_frame_still_predicts_after_smc_and_refit():
    model = fitted_binary_model()
    X, _ = features_and_target(small_binary_frame())
    model.forget([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], method="smc")
    assert model.posterior_.samples.shape[0] == 1
    p_smc = model.predict_proba(X)[:, 1]
    model.forget([21], method="refit")
    assert model.posterior_.samples.shape[:2] == (2, 200)  # 5 × 200 draws per chain, every 5th kept
    assert model.fit_info_["thinned"] == 5 and model.ledger_[-1]["method"] == "refit"
    p_refit = model.predict_proba(X)[:, 1]
    assert np.all((p_smc >= 0) & (p_smc <= 1)) and np.max(np.abs(p_smc - p_refit)) < 0.15


@pytest.mark.parametrize("method", ["smc", "refit"])
def test_regenerating_methods_also_remove_the_rows_from_the_directory(tmp_path, method):
    from _core_models import MARKER

    model = fitted_binary_model()
    path = tmp_path / "m"
    model.save(path)

    def directory_bytes():
        return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())

    assert repr(MARKER).encode() in directory_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.forget([5], method=method)  # the row holding the marker value
    model.save(path)
    data = directory_bytes()
    assert repr(MARKER).encode() not in data and np.asarray(MARKER).tobytes() not in data
    loaded = load(path)
    assert "5" not in set(loaded.row_ids_) and loaded.posterior_.loglik.shape[1] == 79
    assert loaded.samples_saw_forgotten_rows_ is False and loaded.fit_info_["regenerated_by"] == method


def test_short_refits_run_longer_chains_and_keep_every_kth_draw():
    assert refit_thinning(400) == 3 and refit_thinning(500) == 2 and refit_thinning(MIN_REFIT_DRAWS) == 1
    chains, draws, n_rows = 2, 6, 3
    samples = np.arange(chains * draws, dtype=float).reshape(chains, draws, 1)  # value = flat index
    loglik = np.repeat(np.arange(chains * draws, dtype=np.float32)[:, None], n_rows, axis=1)
    thinned = thin(WeightedPosterior.from_samples(samples, loglik, ("a",)), 3)
    assert thinned.samples[:, :, 0].tolist() == [[0, 3], [6, 9]]
    assert thinned.loglik[:, 0].tolist() == [0, 3, 6, 9]  # each kept draw with its own log-lik row
    assert thinned.n_samples == 4 and not thinned.is_weighted
