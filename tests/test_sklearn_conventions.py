"""The estimators follow scikit-learn's conventions without importing scikit-learn."""

import subprocess
import sys

import numpy as np
import pytest

from bayes_unlearn import BayesianLinearRegression, BayesianLogisticRegression


def test_clone_and_set_params_follow_scikit_learn():
    from sklearn.base import clone, is_classifier, is_regressor

    model = BayesianLogisticRegression(chains=2, draws=50, random_state=7, impute_zeros=["a"])
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert copy.set_params(draws=80).draws == 80 and model.draws == 50
    with pytest.raises(ValueError, match="invalid parameter 'drawz'"):
        model.set_params(drawz=3)
    assert is_classifier(model) and not is_regressor(model)
    assert is_regressor(BayesianLinearRegression())
    assert repr(model) == "BayesianLogisticRegression(chains=2, draws=50, impute_zeros=['a'], random_state=7)"


def test_cross_val_score_runs_on_the_estimator():
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 2))
    y = (X[:, 0] + 0.3 * rng.standard_normal(80) > 0).astype(int)
    scores = cross_val_score(BayesianLogisticRegression(chains=2, draws=200, warmup=200), X, y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.8)


def test_importing_the_estimators_does_not_import_scikit_learn():
    code = ("import sys, bayes_unlearn; from bayes_unlearn.estimator import BayesianLogisticRegression; "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
