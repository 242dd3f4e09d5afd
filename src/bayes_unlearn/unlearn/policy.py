"""When is importance reweighting good enough? The rule ``auto`` uses before trying SMC.

Reweighting S samples to a target whose weights have Kish ESS e estimates each posterior mean
with a Monte-Carlo error of about sd/√e; the largest of d such errors is about
√(2 ln 2d)·sd/√e. ``auto`` reweights only when that expected worst error stays below
``AUTO_MAX_MEAN_ERROR`` posterior sds (or the weights keep half the samples of a small set) and
the Pareto k̂ of the weights is below its threshold.
"""

from __future__ import annotations

import math

from ..posterior import WeightDiagnostics, min_reliable_ess

AUTO_MAX_MEAN_ERROR = 0.1  # in posterior sds; the fidelity target is 0.15 (DESIGN.md §5)


def expected_max_abs_z(n_params: int) -> float:
    """≈ E max_j |Z_j| for d independent standard normals (the usual √(2 ln 2d) bound)."""
    return math.sqrt(2.0 * math.log(2.0 * max(n_params, 1)))


def reweight_min_ess(n_samples: int, n_params: int, max_mean_error: float = AUTO_MAX_MEAN_ERROR) -> float:
    """ESS below which ``auto`` stops reweighting.

    Either the worst posterior mean is expected within ``max_mean_error`` sd, or the weights keep
    half the samples — a small candidate set is already that noisy, and so is a refit of the same
    size, so losing at most half of it does not change the fidelity much. Never below the ESS floor.
    """
    by_error = (expected_max_abs_z(n_params) / max_mean_error) ** 2
    return max(min_reliable_ess(n_samples), min(by_error, 0.5 * n_samples))


def reweight_verdict(diag: WeightDiagnostics, n_params: int) -> tuple[bool, str]:
    """(acceptable for auto?, one-line why) for the diagnostics of a reweighted candidate set."""
    need = reweight_min_ess(diag.n_samples, n_params)
    k = diag.pareto_k
    k_text = "—" if not math.isfinite(k) else f"{k:.2f}"
    problems = []
    if math.isfinite(k) and k > diag.khat_threshold:
        problems.append(f"k̂={k_text} > {diag.khat_threshold:.2f}")
    if diag.ess < need:
        problems.append(f"ESS={diag.ess:.0f} < {need:.0f}")
    if problems:
        return False, "reweight " + ", ".join(problems)
    return True, f"reweight ESS={diag.ess:.0f} ≥ {need:.0f}, k̂={k_text} ≤ {diag.khat_threshold:.2f}"
