"""Repair: the formulas on arrays (exact answers), then detectors and repair on a synthetic
problem whose harmful rows are known by construction (see ``_repair_data``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _repair_data import corrupted_model, problem
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score

from bayes_unlearn.errors import DataError, RequestError
from bayes_unlearn.repair import (
    RepairWarning,
    apply_repair,
    expected_loglik,
    influence_scores,
    psis_loo_rows,
    repair,
    retrain_without,
    select_positive,
    select_top_k,
    update_posterior,
)
from bayes_unlearn.repair.choice import paired_gain, stratified_folds
from bayes_unlearn.repair.detectors import mean_rank
from bayes_unlearn.repair.failures import failure_mask
from bayes_unlearn.repair.selection import candidate_ks

# ---- pure functions -----------------------------------------------------------------------------


def test_expected_loglik_is_the_weighted_average():
    loglik = np.array([[-1.0, -2.0], [-3.0, -4.0]])
    assert np.allclose(expected_loglik(loglik, np.log([0.5, 0.5])), [-2.0, -3.0])
    assert np.allclose(expected_loglik(loglik, np.log([0.25, 0.75]) + 7.0), [-2.5, -3.5])  # unnormalised


def test_influence_is_before_minus_after():
    before = np.array([[-1.0, -0.5], [-1.0, -0.5]])
    after = np.array([[-2.0, -0.1], [-2.0, -0.3], [-2.0, -0.2]])
    r = influence_scores(before, np.zeros(2), after, np.zeros(3))
    assert np.allclose(r, [1.0, -0.3])  # row 0 got less likely after learning F: a suspect
    assert list(select_positive(r)) == [0]


def test_psis_loo_matches_arviz_loo_pointwise():
    import arviz as az

    rng = np.random.default_rng(0)
    loglik = rng.normal(-1.0, 0.3, size=(2, 400, 6))
    idata = az.from_dict(posterior={"mu": rng.normal(size=(2, 400))}, log_likelihood={"y": loglik})
    ref = az.loo(idata, pointwise=True, reff=1.0)
    elpd, khat = psis_loo_rows(loglik.reshape(800, 6))
    assert np.allclose(elpd, ref.loo_i.values, atol=1e-10)
    assert np.allclose(khat, ref.pareto_k.values, atol=1e-10)


def test_psis_loo_with_uniform_weights_equals_unweighted():
    rng = np.random.default_rng(1)
    loglik = rng.normal(-1.0, 0.5, size=(500, 4))
    a, _ = psis_loo_rows(loglik)
    b, _ = psis_loo_rows(loglik, np.full(500, 3.0))
    assert np.allclose(a, b)


def test_selection_rules():
    scores = np.array([0.2, -1.0, 3.0, 0.0, 0.5])
    assert list(select_positive(scores)) == [2, 4, 0]
    assert list(select_top_k(scores, 2)) == [2, 4]
    assert list(select_top_k(scores, 0)) == []
    with pytest.raises(RequestError):
        select_top_k(scores, 5)
    ks = candidate_ks(200)
    assert ks[0] == 0 and ks == sorted(set(ks)) and max(ks) == 100


def test_mean_rank_combines_scores_on_a_common_scale():
    a = np.array([10.0, 20.0, 30.0, 40.0])
    b = np.array([0.4, 0.1, 0.3, 0.2])  # another scale entirely
    assert np.allclose(mean_rank(a, b), [(0.25 + 1.0) / 2, (0.5 + 0.25) / 2, (0.75 + 0.75) / 2, (1.0 + 0.5) / 2])


def test_paired_gain_is_mean_and_standard_error_of_differences():
    a = np.array([1.0, 2.0, 3.0, 6.0])
    b = np.array([0.0, 1.0, 1.0, 2.0])
    mean, se = paired_gain(a, b)
    diff = a - b
    assert mean == pytest.approx(2.0)
    assert se == pytest.approx(diff.std(ddof=1) / 2.0)


def test_stratified_folds_partition_and_balance():
    y = np.array([0] * 30 + [1] * 12)
    folds = stratified_folds(y, 3, seed=0)
    assert np.array_equal(np.sum(folds, axis=0), np.ones(42))
    for f in folds:
        assert sum(y[f] == 1) == 4 and sum(y[f] == 0) == 10


def test_failure_mask_binary_multiclass_and_regression():
    assert list(failure_mask([0.9, 0.2, 0.6], [1, 1, 0], "binary")) == [False, True, True]
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    assert list(failure_mask(probs, [0, 1], "multiclass")) == [False, True]
    with pytest.raises(RequestError, match="classifier"):
        failure_mask([0.1], [0.2], "regression")


def test_map_refit_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    from bayes_unlearn.models import logistic_family
    from bayes_unlearn.repair.map_refit import map_estimates

    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 2))
    y = (X[:, 0] + rng.normal(size=150) > 0).astype(float)
    masks = np.ones((2, 150))
    masks[1, :50] = 0.0
    # Normal(0, 1) weights = sklearn's L2 penalty with C = 1; a very wide intercept prior ≈ unpenalised.
    family = logistic_family(2, intercept_prior_scale=1e3)
    theta = map_estimates(family, X, y, masks, np.zeros(3))
    for row, keep in zip(theta, (slice(None), slice(50, None))):
        clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X[keep], y[keep])
        assert np.allclose(row, np.r_[clf.intercept_, clf.coef_[0]], atol=2e-3)


# ---- the posterior update with F -----------------------------------------------------------------


def test_reweight_update_multiplies_weights_by_p_of_F():
    from bayes_unlearn.inference.nuts import loglik_matrix

    model = corrupted_model()
    p = problem()
    X_v = model._design(p["X_fb"])
    y_v = p["y_fb"].to_numpy(float)
    rows = np.zeros(len(y_v))
    rows[:5] = 1.0
    up = update_posterior(model, X_v, y_v, rows, "reweight")
    ll = loglik_matrix(model.family_, model.posterior_.flat_samples, X_v[:5], y_v[:5]).astype(float)
    expected = model.posterior_.log_weights + ll.sum(axis=1)
    assert np.allclose(up.log_weights, expected - logsumexp(expected), atol=1e-6)
    assert up.diagnostics["ess"] <= model.posterior_.n_samples
    with pytest.raises(RequestError):
        update_posterior(model, X_v, y_v, np.zeros(len(y_v)), "reweight")


def test_refit_and_smc_updates_agree_with_each_other():
    """p(θ|D, F) three ways: refit (NUTS on D ∪ F) is the reference; SMC within MC noise."""
    model = corrupted_model()
    p = problem()
    X_v = model._design(p["X_fb"])
    y_v = p["y_fb"].to_numpy(float)
    rows = np.zeros(len(y_v))
    rows[:20] = 1.0
    refit = update_posterior(model, X_v, y_v, rows, "refit", seed=1)
    smc = update_posterior(model, X_v, y_v, rows, "smc", seed=1)
    w = np.exp(smc.log_weights)
    mean_refit = refit.flat_samples.mean(axis=0)
    sd_refit = refit.flat_samples.std(axis=0)
    mean_smc = w @ smc.flat_samples
    # 600 refit draws (ESS ~ hundreds): 0.35 sd is several Monte-Carlo standard errors.
    assert np.max(np.abs(mean_smc - mean_refit) / sd_refit) < 0.35
    # The update moved the posterior: 20 clean rows shift it by far more than that noise.
    before = model.posterior_.mean()
    assert np.max(np.abs(mean_refit - before) / sd_refit) > 0.35


# ---- detectors and repair on known harmful rows ----------------------------------------------------


# Reweighting by p(V|θ) for 120 feedback rows leaves an ESS of a few samples: a noisier score.
@pytest.mark.parametrize("detector,update,floor", [
    ("influence", "refit", 0.85), ("feedback", "refit", 0.85), ("feedback", "reweight", 0.75)])
def test_detectors_rank_the_flipped_rows_on_top(detector, update, floor):
    p = problem()
    model = corrupted_model()
    k = int(p["harmful"].sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = repair(model, p["X_fb"], p["y_fb"], detector=detector, select="top-k", k=k, update=update)
    ids = np.array(result.row_ids, dtype=int)
    assert roc_auc_score(p["harmful"][ids], result.all_scores) >= floor
    # Precision of the top-K well above the 18 % base rate.
    assert p["harmful"][np.array(result.causes, dtype=int)].mean() >= (0.55 if floor > 0.8 else 0.45)
    assert result.causes == [result.row_ids[i] for i in np.argsort(-result.all_scores, kind="stable")[:k]]


def test_auto_repair_improves_held_out_accuracy():
    p = problem()
    model = corrupted_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        result = repair(model, p["X_fb"], p["y_fb"], update="refit", forget_method="reweight")
    assert result.n_failures > 0 and result.choice is not None
    assert result.choice["heldout_loglik"] > result.choice["baseline_loglik"]
    ids = np.array(result.row_ids, dtype=int)
    assert roc_auc_score(p["harmful"][ids], result.all_scores) >= 0.85
    assert 0 < result.n_causes <= 0.5 * len(ids)
    before = model.score(p["X_test"], p["y_test"])
    retrained = retrain_without(model, result.causes)
    assert retrained.score(p["X_test"], p["y_test"]) >= before + 0.05
    assert result.repaired_model.score(p["X_test"], p["y_test"]) >= before + 0.05
    assert len(model.row_ids_) == len(ids)  # repair never changes the model it is given
    forget = apply_repair(model, result, method="reweight")
    assert forget.n_forgotten == result.n_causes
    assert set(result.causes).isdisjoint(model.row_ids_)


def test_positive_rule_selects_many_rows_and_warns():
    p = problem()
    model = corrupted_model()
    with pytest.warns(RepairWarning, match="r > 0 rule selected"):
        result = repair(model, p["X_fb"], p["y_fb"], detector="influence", select="positive",
                        update="reweight", forget_method="reweight")
    assert result.n_causes == int((result.all_scores > 0).sum()) > 0.3 * len(result.row_ids)
    assert result.k is None


def test_empty_failure_set_is_a_clear_request_error():
    p = problem()
    model = corrupted_model()
    predicted = model.predict(p["X_fb"])  # labels the model already agrees with: F = ∅
    with pytest.raises(RequestError, match="failure set F is empty"):
        repair(model, p["X_fb"], predicted, detector="influence", select="top-k", k=3)


def test_feedback_with_wrong_columns_or_labels_is_a_data_error():
    p = problem()
    model = corrupted_model()
    with pytest.raises(DataError, match="missing feature column"):
        repair(model, p["X_fb"].drop(columns="c"), p["y_fb"])
    with pytest.raises(DataError, match="unexpected column"):
        repair(model, p["X_fb"].assign(extra=1.0), p["y_fb"])
    with pytest.raises(DataError, match="not seen at fit time"):
        repair(model, p["X_fb"], p["y_fb"].replace({1: 7}))
    with pytest.raises(DataError, match="labels"):
        repair(model, p["X_fb"], p["y_fb"].iloc[:10])


@pytest.mark.parametrize("kwargs,match", [
    ({"detector": "loo", "select": "positive"}, "loo scores are always positive"),
    ({"select": "top-k"}, "needs k"),
    ({"select": "auto", "k": 3}, "only used with"),
    ({"detector": "magic"}, "unknown detector"),
    ({"update": "magic"}, "unknown update"),
])
def test_bad_options_are_request_errors(kwargs, match):
    p = problem()
    with pytest.raises(RequestError, match=match):
        repair(corrupted_model(), p["X_fb"], p["y_fb"], **kwargs)
