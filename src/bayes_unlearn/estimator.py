"""scikit-learn-style Bayesian estimators that can forget training rows.

    model = BayesianLogisticRegression(chains=4, draws=1000, random_state=0).fit(X, y)
    model.forget([3, 17, 42])          # a deletion request, by row id
    model.predict_proba(X_new)         # weighted posterior predictive
    model.save("model_dir"); model = load("model_dir")

The estimator owns the preprocessing, the candidate set (``posterior_``) and the rows not
yet forgotten; the maths lives in ``weights``, ``posterior`` and ``unlearn``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from .data import FeatureTransform, TargetEncoding
from .diagnostics import convergence_summary
from .errors import DataError, RequestError
from .models import build_family
from .posterior import WeightedPosterior
from .rows import TrainingRows
from .sklearn_conventions import EstimatorConventions
from .unlearn import ForgetResult
from .weights import weighted_quantiles


class ConvergenceWarning(UserWarning):
    """The MCMC chains have not converged: R-hat too high or ESS too low."""


class UnreliableForgetWarning(UserWarning):
    """A forget result whose diagnostics say it may be far from an exact refit."""


def as_id_list(rows) -> list[str]:
    """Row ids as strings (ids are stored as strings; 3 and "3" name the same row)."""
    if isinstance(rows, (str, int, np.integer)):
        rows = [rows]
    return [str(r) for r in rows]


class BayesianModel(EstimatorConventions):
    """Shared machinery of the Bayesian regression families (not used directly)."""

    family_name: str = ""

    def __init__(self, chains: int = 4, draws: int = 1000, warmup: int = 1000, random_state: int = 0,
                 prior_scale: float = 1.0, intercept_prior_scale: float = 5.0,
                 impute_zeros: Iterable[str] = (), categorical: Iterable[str] | None = None,
                 progress: Callable[[int, int], None] | None = None):
        self.chains = chains
        self.draws = draws
        self.warmup = warmup
        self.random_state = random_state
        self.prior_scale = prior_scale
        self.intercept_prior_scale = intercept_prior_scale
        self.impute_zeros = impute_zeros
        self.categorical = categorical
        self.progress = progress

    # ---- configuration ----------------------------------------------------------------
    def _hyperparameters(self) -> dict:
        return {"prior_scale": float(self.prior_scale),
                "intercept_prior_scale": float(self.intercept_prior_scale)}

    def _check_settings(self) -> None:
        for name in ("chains", "draws", "warmup"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise DataError(f"{name} must be a positive integer, got {value!r}")
        for name, value in self._hyperparameters().items():
            if value is not None and not (np.isfinite(value) and value > 0):
                raise DataError(f"{name} must be a positive number, got {value!r}")

    # ---- fitting ----------------------------------------------------------------------
    def fit(self, X, y, row_ids=None):
        """Sample the posterior given features ``X`` (DataFrame or array) and targets ``y``."""
        self._check_settings()
        features = _as_frame(X)
        target = pd.Series(np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy(),
                           name=getattr(y, "name", None) or "target")
        if len(features) != len(target):
            raise DataError(f"X has {len(features)} rows but y has {len(target)}")
        if len(features) < 2:
            raise DataError("need at least 2 training rows")
        ids = (np.array([str(i) for i in range(len(features))], dtype=object) if row_ids is None
               else np.asarray(as_id_list(row_ids), dtype=object))
        if len(ids) != len(features):
            raise DataError(f"row_ids has {len(ids)} entries for {len(features)} rows")
        if len(set(ids)) != len(ids):
            raise DataError("row_ids are not unique")
        transform = FeatureTransform.fit(features, list(self.impute_zeros or ()), self.categorical)
        encoding = TargetEncoding.fit(target, _TASKS[self.family_name])
        self.transform_ = transform
        self.target_encoding_ = encoding
        self.family_ = self._build_family()
        self.rows_ = TrainingRows(features, target, ids)
        self.capacity_ = len(ids)
        self.forgotten_ids_: list[str] = []
        self.ledger_: list[dict] = []
        self.samples_saw_forgotten_rows_ = False
        self.samples_independent_of_forgotten_rows_ = True
        self._draw_candidate_set(seed=int(self.random_state))
        return self

    # The rows still held (``rows_``, a ``TrainingRows``), read-only views for convenience.
    @property
    def train_features_(self) -> pd.DataFrame:
        return self.rows_.features

    @property
    def train_target_(self) -> pd.Series:
        return self.rows_.target

    @property
    def row_ids_(self) -> np.ndarray:
        return self.rows_.ids

    def _build_family(self):
        encoding = self.target_encoding_
        return build_family(self.family_name, len(self.transform_.feature_names),
                            n_classes=max(len(encoding.classes), 2),
                            feature_names=self.transform_.feature_names,
                            class_names=[str(c) for c in encoding.classes] or None,
                            **self._hyperparameters())

    def training_arrays(self, padded: bool = True):
        """(X, y, mask) of the remaining rows; padded to the original size so shapes never change."""
        X = self.transform_.transform(self.train_features_)
        y = self.target_encoding_.encode(self.train_target_)
        mask = np.ones(len(y))
        if padded and len(y) < self.capacity_:
            pad = self.capacity_ - len(y)
            X = np.vstack([X, np.zeros((pad, X.shape[1]))])
            y = np.concatenate([y, np.zeros(pad)])
            mask = np.concatenate([mask, np.zeros(pad)])
        return X, y, mask

    def _draw_candidate_set(self, seed: int, init_positions=None, inverse_mass_matrix=None,
                            warmup: int | None = None) -> None:
        """Run NUTS on the remaining rows and make the result the (unweighted) candidate set."""
        self.posterior_, self.fit_info_ = self._sample_candidate_set(
            seed, init_positions=init_positions, inverse_mass_matrix=inverse_mass_matrix, warmup=warmup)

    def _sample_candidate_set(self, seed: int, exclude=None, init_positions=None,
                              inverse_mass_matrix=None, warmup: int | None = None):
        """NUTS on the stored rows except the positions ``exclude``; changes nothing on ``self``.

        Returns (unweighted candidate set with the log-lik columns of the kept rows, fit info).
        """
        from .inference.nuts import loglik_matrix, sample_nuts

        X, y, mask = self.training_arrays()
        n_rows = len(self.row_ids_)
        keep = np.ones(n_rows, bool)
        if exclude is not None:
            keep[np.asarray(exclude, dtype=int)] = False
            mask = mask.copy()
            mask[:n_rows] = keep
        result = sample_nuts(self.family_, X, y, mask, chains=int(self.chains),
                             warmup=int(warmup or self.warmup), draws=int(self.draws), seed=seed,
                             init_positions=init_positions, inverse_mass_matrix=inverse_mass_matrix,
                             progress=self.progress)
        loglik = loglik_matrix(self.family_, result.samples.reshape(-1, self.family_.n_params),
                               X[:n_rows][keep], y[:n_rows][keep])
        posterior = WeightedPosterior.from_samples(result.samples, loglik, self.family_.param_names)
        summary = convergence_summary(result.samples, self.family_.param_names)
        fit_info = {
            "seconds": result.seconds, "chains": int(self.chains), "draws": int(self.draws),
            "warmup": int(warmup or self.warmup), "seed": seed, "n_rows": int(keep.sum()),
            "divergences": int(result.divergent.sum()),
            "gradient_evaluations": result.n_gradient_evaluations,
            "step_size": result.step_size.tolist(),
            # the diagonal only: the dense matrices are d × d per chain
            "metric_variances": np.median(np.diagonal(result.inverse_mass_matrix, axis1=1, axis2=2),
                                          axis=0).tolist(),
            **summary,
        }
        if not summary["converged"]:
            warnings.warn("MCMC has not converged: " + "; ".join(summary["convergence_problems"])
                          + ". Increase draws/warmup before trusting this model.",
                          ConvergenceWarning, stacklevel=4)
        return posterior, fit_info

    # ---- forgetting -------------------------------------------------------------------
    def forget(self, rows, method: str = "auto", purge: bool = False) -> ForgetResult:
        """Remove the influence of the training rows with these ids from the posterior.

        ``method``: "auto" (reweight when its diagnostics allow, else tempered SMC, else a warm
        refit), "reweight", "smc" or "refit". ``purge=True`` also regenerates the samples so that
        none was drawn with a forgotten row (auto then skips reweighting; see ``compact``).
        """
        from .unlearn import methods

        self._check_fitted()
        start = time.perf_counter()
        ids = as_id_list(rows)
        if not ids:
            raise RequestError("no row ids given")
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dups = sorted({i for i in ids if i in seen or seen.add(i)})
            raise RequestError(f"duplicate row id(s) in the request: {', '.join(dups[:10])}")
        columns, not_held = self.rows_.locate(ids)
        forgotten = set(self.forgotten_ids_) if not_held else set()
        unknown = [i for i in not_held if i not in forgotten]
        if unknown:
            raise RequestError(f"unknown row id(s): {', '.join(unknown[:10])}"
                               + (f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else ""))
        already = not_held
        skip = set(already)
        new = [i for i in ids if i not in skip] if skip else ids
        if not new:
            diag = self.posterior_.diagnostics()
            return ForgetResult("none", 0, [], already, diag.ess, _finite(diag.pareto_k),
                                diag.khat_threshold, diag.reliable,
                                "every requested row was already forgotten: nothing to do",
                                time.perf_counter() - start, len(self.rows_))
        if len(new) >= len(self.rows_):
            raise RequestError(f"cannot forget every remaining training row ({len(self.rows_)}); "
                               "at least one row must stay")
        outcome = methods.run(self, columns, method, purge=purge)
        self.posterior_ = outcome.posterior
        self.rows_.remove(columns)
        self.forgotten_ids_ = self.forgotten_ids_ + new
        # Reweighting keeps samples drawn with the forgotten rows; SMC and refit regenerate them.
        self.samples_saw_forgotten_rows_ = not outcome.regenerated
        self.samples_independent_of_forgotten_rows_ = _independent_of_old_samples(outcome)
        if outcome.fit_info is not None:
            self.fit_info_ = outcome.fit_info
        diag = outcome.diagnostics
        result = ForgetResult(
            method=outcome.method, n_forgotten=len(new), row_ids=new, already_forgotten=already,
            ess=diag.ess, pareto_k=_finite(diag.pareto_k), khat_threshold=diag.khat_threshold,
            reliable=diag.reliable, reason=outcome.reason or diag.reason,
            seconds=time.perf_counter() - start, n_remaining=len(self.rows_), details=outcome.details,
        )
        self._record(result, new, outcome.regenerated)
        if not result.reliable:
            warnings.warn(result.warning, UnreliableForgetWarning, stacklevel=2)
        if purge and self.samples_saw_forgotten_rows_:  # an explicit method="reweight" with purge
            self.compact()
        return result

    def _record(self, result: ForgetResult, row_ids: list[str], regenerated: bool) -> None:
        """Append a request to the ledger (saved in meta.json with the model)."""
        self.ledger_ = self.ledger_ + [{
            "time": datetime.now(UTC).isoformat(timespec="seconds"), "row_ids": row_ids,
            "method": result.method, "ess": result.ess, "pareto_k": result.pareto_k,
            "reliable": result.reliable, "seconds": result.seconds, "reason": result.reason,
            "regenerated": bool(regenerated), "n_remaining": result.n_remaining,
        }]

    def compact(self, method: str = "auto") -> ForgetResult:
        """Regenerate the candidate set on the remaining rows so no sample saw a forgotten row.

        ``method``: "smc" (resample the weighted set and move it by HMC on the remaining rows),
        "refit" (a cold NUTS refit: nothing of the old samples survives) or "auto" (smc when its
        diagnostics pass, else refit). Recorded in the ledger with no row ids. Only "refit" is
        strict: SMC particles descend from samples that saw the forgotten rows, so "refit" also
        runs when the samples were already regenerated by SMC or a warm refit.
        """
        from .unlearn import methods

        self._check_fitted()
        start = time.perf_counter()
        strict = method == "refit"
        if not self.forgotten_ids_ or not (self.samples_saw_forgotten_rows_
                                           or (strict and not self.samples_independent_of_forgotten_rows_)):
            diag = self.posterior_.diagnostics()
            return ForgetResult("none", 0, [], [], diag.ess, _finite(diag.pareto_k), diag.khat_threshold,
                                diag.reliable, "no stored sample was drawn with a forgotten row: "
                                "nothing to compact", time.perf_counter() - start, len(self.row_ids_))
        outcome = methods.compact(self, method)
        self.posterior_ = outcome.posterior
        self.samples_saw_forgotten_rows_ = False
        self.samples_independent_of_forgotten_rows_ = _independent_of_old_samples(outcome)
        if outcome.fit_info is not None:
            self.fit_info_ = outcome.fit_info
        diag = outcome.diagnostics
        result = ForgetResult(
            method=outcome.method, n_forgotten=0, row_ids=[], already_forgotten=[], ess=diag.ess,
            pareto_k=_finite(diag.pareto_k), khat_threshold=diag.khat_threshold,
            reliable=diag.reliable, reason=outcome.reason or diag.reason,
            seconds=time.perf_counter() - start, n_remaining=len(self.rows_), details=outcome.details,
        )
        self._record(result, [], True)
        if not result.reliable:
            warnings.warn(result.warning, UnreliableForgetWarning, stacklevel=2)
        return result

    # ---- prediction -------------------------------------------------------------------
    def _design(self, X) -> np.ndarray:
        self._check_fitted()
        return self.transform_.transform(_as_frame(X, self.transform_.input_columns))

    def predictive_samples(self, X) -> np.ndarray:
        """Per-sample predictive means: (S, N) for binary/regression, (S, N, K) for softmax."""
        from .predictive import predictive_means

        return predictive_means(self.family_, self.posterior_.flat_samples, self._design(X))

    def predict_summary(self, X, interval: float = 0.95) -> dict:
        """Weighted posterior predictive mean and equal-tailed credible interval per row."""
        if not 0 < interval < 1:
            raise DataError(f"interval must be in (0, 1), got {interval}")
        draws = self.predictive_samples(X)
        w = self.posterior_.weights
        mean = np.tensordot(w, draws, axes=1)
        lo, hi = weighted_quantiles(draws, w, [(1 - interval) / 2, (1 + interval) / 2])
        return {"mean": mean, "lower": lo, "upper": hi, "interval": interval}

    def _check_fitted(self) -> None:
        if not hasattr(self, "posterior_"):
            raise RequestError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def info(self) -> dict:
        """Everything a user should know about the model's state, as plain data."""
        self._check_fitted()
        diag = self.posterior_.diagnostics()
        return {
            "model": self.family_name, "task": self.family_.task,
            "n_rows": len(self.row_ids_), "n_forgotten": len(self.forgotten_ids_),
            "n_samples": self.posterior_.n_samples, "parameters": list(self.family_.param_names),
            "fit": self.fit_info_, "weights": diag.to_dict(),
            "samples_saw_forgotten_rows": bool(self.samples_saw_forgotten_rows_),
            "samples_independent_of_forgotten_rows": bool(self.samples_independent_of_forgotten_rows_),
            "reweighting_budget": _reweighting_budget(self),
            "ledger": self.ledger_,
        }

    def save(self, path) -> None:
        from .serialize import save_model

        self._check_fitted()
        save_model(self, path)


class _BayesianClassifier(BayesianModel):
    """Classes, predicted labels and accuracy shared by the binary and softmax families."""

    _estimator_type = "classifier"

    @property
    def classes_(self) -> np.ndarray:
        self._check_fitted()  # a clear RequestError, not an AttributeError, before fit()
        return np.asarray(self.target_encoding_.classes, dtype=object)

    def predict(self, X) -> np.ndarray:
        # argmax over (1 − p, p) is "p > 0.5" for the binary model: ties go to the first class
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y) -> float:
        return float(np.mean(self.predict(X).astype(str) == np.asarray(y).astype(str)))


class BayesianLogisticRegression(_BayesianClassifier):
    """Binary Bayesian logistic regression, p(y=1|x,θ) = σ(b + wᵀx) — the report's model."""

    family_name = "logistic"

    def predict_proba(self, X) -> np.ndarray:
        p1 = self.predict_summary(X)["mean"]
        return np.column_stack([1 - p1, p1])


class BayesianSoftmaxRegression(_BayesianClassifier):
    """Multinomial (softmax) Bayesian logistic regression for K ≥ 2 classes."""

    family_name = "softmax"

    def predict_proba(self, X) -> np.ndarray:
        return self.predict_summary(X)["mean"]


class BayesianLinearRegression(BayesianModel):
    """Bayesian linear regression with Gaussian noise; σ sampled (HalfNormal prior) or known.

    Targets are standardised internally; predictions come back in the original units.
    """

    family_name = "linear"
    _estimator_type = "regressor"

    def __init__(self, chains: int = 4, draws: int = 1000, warmup: int = 1000, random_state: int = 0,
                 prior_scale: float = 1.0, intercept_prior_scale: float = 5.0,
                 noise_prior_scale: float = 1.0, noise_scale: float | None = None,
                 impute_zeros: Iterable[str] = (), categorical: Iterable[str] | None = None,
                 progress: Callable[[int, int], None] | None = None):
        super().__init__(chains, draws, warmup, random_state, prior_scale, intercept_prior_scale,
                         impute_zeros, categorical, progress)
        self.noise_prior_scale = noise_prior_scale
        self.noise_scale = noise_scale

    def _hyperparameters(self) -> dict:
        return {**super()._hyperparameters(), "noise_prior_scale": float(self.noise_prior_scale),
                "noise_scale": None if self.noise_scale is None else float(self.noise_scale)}

    def predict_summary(self, X, interval: float = 0.95) -> dict:
        out = super().predict_summary(X, interval)
        enc = self.target_encoding_
        return {k: (v * enc.scale + enc.mean if k != "interval" else v) for k, v in out.items()}

    def predict(self, X) -> np.ndarray:
        return self.predict_summary(X)["mean"]

    def score(self, X, y) -> float:
        from sklearn.metrics import r2_score

        return float(r2_score(np.asarray(y, float), self.predict(X)))


_TASKS = {"logistic": "binary", "softmax": "multiclass", "linear": "regression"}
ESTIMATORS = {"logistic": BayesianLogisticRegression, "linear": BayesianLinearRegression,
              "softmax": BayesianSoftmaxRegression}


def _as_frame(X, columns=None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise DataError(f"X must be 2-dimensional, got shape {arr.shape}")
    names = columns if columns is not None and len(columns) == arr.shape[1] else [f"x{j}" for j in range(arr.shape[1])]
    return pd.DataFrame(arr, columns=names)


def _reweighting_budget(model) -> dict:
    """Current ESS against the ESS that ``auto`` needs before it stops reweighting."""
    from .unlearn.policy import reweight_min_ess, sample_efficiency

    ess = model.posterior_.diagnostics().ess
    n = model.posterior_.n_samples
    needed = reweight_min_ess(n, model.family_.n_params, sample_efficiency(model.fit_info_, n))
    return {"ess": ess, "auto_min_ess": needed, "remaining_ess": max(0.0, ess - needed)}


def _independent_of_old_samples(outcome) -> bool:
    """Only a cold refit draws samples that owe nothing to samples which saw forgotten rows.

    SMC moves particles resampled from them, and a warm refit starts its chains from them:
    neither uses a forgotten row, but their output still descends from draws that did.
    """
    return outcome.method == "refit" and not (outcome.fit_info or {}).get("warm_start", True)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
