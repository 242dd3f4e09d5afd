"""The weighted candidate set: posterior samples, their log-weights and per-row log-likelihoods.

Samples θ_s come from MCMC on the training rows; forgetting changes only the log-weights
(or, after SMC / refit, replaces the whole set). Every summary here is weighted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from .weights import (
    WeightSummary,
    khat_threshold,
    normalize_log_weights,
    pareto_smoothed,
    summarize_erased,
    summarize_log_weights,
)


@dataclass(frozen=True)
class WeightDiagnostics:
    """How far the weights can be trusted: Kish ESS, PSIS Pareto k̂ and the verdict."""

    n_samples: int
    ess: float
    pareto_k: float
    khat_threshold: float
    min_ess: float
    reliable: bool
    reason: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pareto_k"] = None if not np.isfinite(self.pareto_k) else self.pareto_k
        return d


def min_reliable_ess(n_samples: int) -> float:
    """ESS floor below which weighted estimates are too noisy to report: 100, or 10 % of tiny sets."""
    return float(min(100.0, 0.1 * n_samples))


# Weights that all lie within this factor of each other cannot dominate an estimate: the
# weighted mean moves at most as far as such a bounded tilt allows, whatever k̂ says.
BOUNDED_WEIGHT_RATIO = 2.0


def diagnose_weights(log_weights) -> WeightDiagnostics:
    return judge_weights(summarize_log_weights(log_weights))


def judge_weights(summary: WeightSummary) -> WeightDiagnostics:
    n, ess, k = summary.log_weights.size, summary.ess, summary.pareto_k
    threshold = khat_threshold(n)
    floor = min_reliable_ess(n)
    problems = []
    if k > threshold:
        problems.append(f"Pareto k̂ = {k:.2f} exceeds {threshold:.2f}")
    elif k != k:  # NaN: the GPD fit failed, e.g. a tail whose lower quarter underflowed to 0
        problems.append("Pareto k̂ could not be fitted (degenerate tail)")
    if ess < floor:
        problems.append(f"ESS = {ess:.0f} is below {floor:.0f}")
    if problems and ess >= floor and summary.spread <= np.log(BOUNDED_WEIGHT_RATIO):
        # Forgetting rows the model fits well gives weights 1/p(z|θ) ≈ 1 + (tiny, skewed): the
        # GPD fit sees a heavy-looking tail of negligible size (k̂ ≈ 0.7–0.9 at ESS ≈ S).
        return WeightDiagnostics(n, ess, k, threshold, floor, True,
                                 f"weights within a factor {BOUNDED_WEIGHT_RATIO:g} of each other "
                                 f"(k̂ = {k:.2f} describes a negligible tail)")
    reason = "; ".join(problems) if problems else "k̂ and ESS within limits"
    return WeightDiagnostics(n, ess, k, threshold, floor, not problems, reason)


@dataclass(frozen=True)
class WeightedPosterior:
    """S weighted samples of θ.

    samples:      (chains, draws, d) parameter draws
    log_weights:  (S,) normalised log importance weights, S = chains × draws
    loglik_store: (S, N₀) float32 log p(z_j|θ_s) of the rows the set was built with, stored
                  column-major so that a row's S values are contiguous (a forget reads columns)
    param_names:  names of the d parameters
    live_columns: the columns of ``loglik_store`` still in the training set (None: all)

    ``loglik`` is the (S, N) block of the live rows. Forgetting only shrinks ``live_columns``:
    copying the S × N matrix would cost more than the reweighting itself, so the copy is made
    lazily, the first time ``loglik`` is read (at the latest when the model is saved).
    """

    samples: np.ndarray
    log_weights: np.ndarray
    loglik_store: np.ndarray
    param_names: tuple[str, ...]
    live_columns: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "loglik_store", np.asfortranarray(self.loglik_store, dtype=np.float32))

    @cached_property
    def loglik(self) -> np.ndarray:
        if self.live_columns is None:
            return self.loglik_store
        return np.take(self.loglik_store, self.live_columns, axis=1)

    @property
    def n_rows(self) -> int:
        return self.loglik_store.shape[1] if self.live_columns is None else len(self.live_columns)

    def _live(self) -> np.ndarray:
        return np.arange(self.loglik_store.shape[1]) if self.live_columns is None else self.live_columns

    @classmethod
    def from_samples(cls, samples, loglik, param_names) -> WeightedPosterior:
        samples = np.asarray(samples)
        n = samples.shape[0] * samples.shape[1]
        return cls(samples, np.full(n, -np.log(n)), np.asarray(loglik, np.float32), tuple(param_names))

    @property
    def n_samples(self) -> int:
        return self.samples.shape[0] * self.samples.shape[1]

    @property
    def flat_samples(self) -> np.ndarray:
        return self.samples.reshape(self.n_samples, -1)

    @property
    def weights(self) -> np.ndarray:
        return np.exp(normalize_log_weights(self.log_weights))

    @property
    def is_weighted(self) -> bool:
        return bool(np.ptp(self.log_weights) > 1e-12)

    @cached_property
    def _diagnostics(self) -> WeightDiagnostics:
        return diagnose_weights(self.log_weights)

    def diagnostics(self) -> WeightDiagnostics:
        return self._diagnostics

    def psis_weights(self) -> np.ndarray:
        """Pareto-smoothed normalised weights (lower variance, small bias)."""
        return np.exp(pareto_smoothed(self.log_weights)[0])

    def mean(self) -> np.ndarray:
        return self.weights @ self.flat_samples

    def cov(self) -> np.ndarray:
        centred = self.flat_samples - self.mean()
        return (centred * self.weights[:, None]).T @ centred

    def sd(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov()))

    def forget_columns(self, columns) -> WeightedPosterior:
        """Reweight by 1/p(D_e|θ) for the given (live) loglik columns, then drop those columns."""
        columns = np.asarray(columns, dtype=np.int64)
        live = self._live()
        # the transposed (C-ordered) store holds each training row's S values contiguously
        summary = summarize_erased(self.log_weights, self.loglik_store.T, live[columns])
        keep = np.ones(live.size, dtype=bool)
        keep[columns] = False
        # the constructor itself: dataclasses.replace re-reads every field (5.0 µs instead of 2.6)
        updated = WeightedPosterior(self.samples, summary.log_weights, self.loglik_store, self.param_names,
                                    live[keep])
        # the diagnostics come from the same pass over the weights: seed the cached property
        updated.__dict__["_diagnostics"] = judge_weights(summary)
        return updated
