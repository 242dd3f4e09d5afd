"""Logistic regression on Pima: forgetting 1 % of the rows agrees with an exact refit on D_r.

Monte-Carlo tolerance: both the reweighted estimate and the refit are Monte-Carlo estimates; the
standard error of their difference, in posterior-sd units, is √(1/n_forget + 1/n_refit) with
n_forget = bulk ESS of the fit × Kish ESS / S and n_refit = bulk ESS of the refit. We allow Z = 4
of those (≈ 0.13 sd with 4 × 500 draws). Predicted probabilities: |Δp_i| ≤ Z · sd(p_i) · the same
factor, sd(p_i) the refit's posterior sd of p(y=1|x_i, θ).
"""

import copy
import warnings

import numpy as np
import pytest

from bayes_unlearn import BayesianLogisticRegression, UnreliableForgetWarning
from bayes_unlearn.diagnostics import convergence_summary
from bayes_unlearn.inference.nuts import sample_nuts
from bayes_unlearn.predictive import predictive_means

Z = 4.0
CHAINS, DRAWS = 4, 500


@pytest.fixture(scope="module")
def pima_fit(pima_frame, pima_zero_columns):
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(pima_frame, test_size=0.2, random_state=0,
                                   stratify=pima_frame["Outcome"])
    X, y = train.drop(columns="Outcome"), train["Outcome"]
    model = BayesianLogisticRegression(chains=CHAINS, draws=DRAWS, warmup=DRAWS, random_state=0,
                                       impute_zeros=pima_zero_columns).fit(X, y)
    assert len(model.row_ids_) == 614
    return model, test.drop(columns="Outcome")


def exact_refit(model, seed):
    """NUTS on the model's remaining rows (padded arrays + mask: no recompilation).

    Twice the fit's draws: the reference must be converged by R-hat ≤ 1.01, which 4 × 500
    draws missed on about one seed in twenty (1.0100); the same compiled stage serves both.
    """
    X, y, mask = model.training_arrays()
    assert mask.sum() == len(model.row_ids_) and len(mask) == model.capacity_
    return sample_nuts(model.family_, X, y, mask, chains=CHAINS, warmup=DRAWS, draws=2 * DRAWS, seed=seed)


def test_forgetting_one_percent_matches_an_exact_refit(pima_fit):
    fitted, X_test = pima_fit
    model = copy.deepcopy(fitted)
    rows = np.random.default_rng(0).choice(model.row_ids_, size=6, replace=False).tolist()
    result = model.forget(rows, method="reweight")
    assert result.method == "reweight" and result.n_forgotten == 6 and result.reliable
    assert result.n_remaining == 608 and model.posterior_.loglik.shape[1] == 608

    refit = exact_refit(model, seed=11)
    refit_summary = convergence_summary(refit.samples, model.family_.param_names)
    assert refit_summary["converged"], refit_summary["convergence_problems"]
    flat = refit.samples.reshape(-1, model.family_.n_params)
    refit_mean, refit_sd = flat.mean(axis=0), flat.std(axis=0)
    n_forget = fitted.fit_info_["ess_bulk_min"] * result.ess / model.posterior_.n_samples
    se = np.sqrt(1 / n_forget + 1 / refit_summary["ess_bulk_min"])

    after = np.abs(model.posterior_.mean() - refit_mean) / refit_sd
    before = np.abs(fitted.posterior_.mean() - refit_mean) / refit_sd
    assert after.max() < Z * se, (after.max(), Z * se)
    assert after.max() < 0.5 * before.max()  # the forget moved the posterior towards the refit
    np.testing.assert_allclose(model.posterior_.sd(), refit_sd, rtol=Z * se)

    p_forget = model.predict_proba(X_test)[:, 1]
    p_refit_draws = predictive_means(model.family_, flat, model.transform_.transform(X_test))
    p_refit = p_refit_draws.mean(axis=0)
    dp = np.abs(p_forget - p_refit)
    assert (dp / p_refit_draws.std(axis=0)).max() < Z * se
    assert np.mean((p_forget > 0.5) == (p_refit > 0.5)) >= 0.99


def test_forgetting_the_most_surprising_rows_is_flagged_unreliable(pima_fit):
    """The 20 rows the model fits worst carry most of the weight: the tool must say so.

    (Over fits with seeds 0–4, forgetting them left Kish ESS 4–13 and k̂ 1.02–1.52; six rows,
    as this test once used, ranged from ESS 35 to 171: reliable or not by the seed.)
    """
    fitted, _ = pima_fit
    model = copy.deepcopy(fitted)
    worst = model.row_ids_[np.argsort(model.posterior_.loglik.mean(axis=0))[:20]].tolist()
    with pytest.warns(UnreliableForgetWarning, match="UNRELIABLE"):
        result = model.forget(worst, method="reweight")
    assert not result.reliable
    assert result.pareto_k > result.khat_threshold or result.ess < 100
    assert model.ledger_[-1]["reliable"] is False


def test_forget_is_cumulative_and_a_repeat_is_a_no_op(pima_fit):
    fitted, _ = pima_fit
    stepwise, at_once = copy.deepcopy(fitted), copy.deepcopy(fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableForgetWarning)
        stepwise.forget(["3", "17"], method="reweight")
        stepwise.forget([42], method="reweight")
        at_once.forget([3, 17, 42], method="reweight")
    np.testing.assert_allclose(stepwise.posterior_.log_weights, at_once.posterior_.log_weights, atol=1e-9)
    assert stepwise.forgotten_ids_ == ["3", "17", "42"]
    repeat = stepwise.forget([17], method="reweight")
    assert repeat.n_forgotten == 0 and repeat.already_forgotten == ["17"]
    assert "already forgotten" in repeat.reason
    np.testing.assert_array_equal(stepwise.posterior_.log_weights, at_once.posterior_.log_weights)
    assert len(stepwise.ledger_) == 2
