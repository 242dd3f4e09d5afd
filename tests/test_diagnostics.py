"""Our numpy R-hat / bulk / tail ESS are ArviZ's numbers (ArviZ stays the reference, off the fit path)."""

import arviz as az
import numpy as np
import pytest

from bayes_unlearn.diagnostics import convergence_summary


def _chains(kind: str, rng) -> np.ndarray:
    n_chains, n_draws = 4, 301  # odd length: split chains drop the middle draw, as ArviZ does
    if kind == "iid":
        return rng.normal(size=(n_chains, n_draws, 3))
    if kind == "ar1":  # strongly autocorrelated, plus a chain offset so R-hat is well above 1
        x = np.zeros((n_chains, n_draws, 3))
        for t in range(1, n_draws):
            x[:, t] = 0.95 * x[:, t - 1] + rng.normal(size=(n_chains, 3))
        return x + np.array([0.0, 0.0, 0.0, 3.0])[:, None, None]
    if kind == "ties":  # NUTS rejections repeat values: many exact ties in the ranks
        return np.round(rng.normal(size=(n_chains, n_draws, 3)), 1)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["iid", "ar1", "ties"])
def test_rhat_and_ess_match_arviz(kind):
    samples = _chains(kind, np.random.default_rng(5))
    names = ["a", "b", "c"]
    ds = az.convert_to_dataset({"theta": samples}, dims={"theta": ["param"]}, coords={"param": names})
    ours = convergence_summary(samples, names)
    assert ours["rhat_max"] == pytest.approx(float(az.rhat(ds)["theta"].max()), rel=1e-10)
    assert ours["ess_bulk_min"] == pytest.approx(float(az.ess(ds, method="bulk")["theta"].min()), rel=1e-9)
    assert ours["ess_tail_min"] == pytest.approx(float(az.ess(ds, method="tail")["theta"].min()), rel=1e-9)
    assert ours["converged"] is (kind != "ar1")


def test_one_chain_has_no_rhat_but_an_ess():
    samples = np.random.default_rng(1).normal(size=(1, 400, 2))
    summary = convergence_summary(samples, ["a", "b"])
    assert summary["rhat_max"] is None and 300 < summary["ess_bulk_min"] < 600


def test_a_fit_does_not_import_arviz():
    """ArviZ (seconds to import) is for reports and PSIS-LOO repair, not for fitting or saving."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from bayes_unlearn import BayesianLogisticRegression; "
            "rng = np.random.default_rng(0); X = rng.normal(size=(40, 2)); y = (X[:, 0] > 0).astype(int); "
            "m = BayesianLogisticRegression(chains=2, draws=100, warmup=100).fit(X, y); m.forget([1, 2]); "
            "print('arviz' in sys.modules, m.fit_info_['rhat_max'] is not None)")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_ranks_and_normal_quantiles_equal_scipy():
    from scipy.special import ndtri
    from scipy.stats import rankdata

    from bayes_unlearn.diagnostics import average_ranks, normal_quantile

    rng = np.random.default_rng(4)
    values = np.round(rng.standard_normal(3000), 1)  # many ties
    np.testing.assert_array_equal(average_ranks(values), rankdata(values, method="average"))
    p = np.concatenate([np.linspace(1e-300, 1e-10, 50), np.linspace(1e-10, 1 - 1e-10, 5000),
                        [0.075, 0.925, 0.5, 1 - 1e-16]])
    np.testing.assert_allclose(normal_quantile(p), ndtri(p), rtol=1e-13, atol=1e-300)

