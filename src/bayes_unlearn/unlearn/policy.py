"""When is importance reweighting good enough? The rule ``auto`` uses before trying SMC.

Reweighting S samples to weights with Kish ESS e keeps about e·η independent draws, η being
the sampler's efficiency (bulk ESS / S for NUTS draws). Each posterior mean then carries a
Monte-Carlo error of about sd/√(e·η), and the largest of d such errors is about
√(2 ln 2d)·sd/√(e·η). ``auto`` reweights when the Pareto k̂ of the weights is below its
threshold and either

* that expected worst error stays below ``AUTO_MAX_MEAN_ERROR`` posterior sds, or
* the weights keep half of the samples (e ≥ S/2): the reweighted set is then at most twice as
  noisy as the set itself, so its distance to an exact refit stays within ≈ 1.22× the distance
  between two refits — inside the 1.5× noise-floor target.
"""

from __future__ import annotations

import math

from ..posterior import WeightDiagnostics, min_reliable_ess

# In posterior sds; the fidelity target is 0.15 (DESIGN.md §5). The formula is optimistic: after
# 5 successive 2 % requests on Pima (Kish ESS 727 of 2000, k̂ 0.28) it predicted 0.09 sd and we
# measured 0.150 sd against an exact refit, so the bound is set at 0.07 (≈ 0.11 sd in practice).
AUTO_MAX_MEAN_ERROR = 0.07


def expected_max_abs_z(n_params: int) -> float:
    """≈ E max_j |Z_j| for d independent standard normals (the usual √(2 ln 2d) bound)."""
    return math.sqrt(2.0 * math.log(2.0 * max(n_params, 1)))


def reweight_min_ess(n_samples: int, n_params: int, efficiency: float = 1.0,
                     max_mean_error: float = AUTO_MAX_MEAN_ERROR) -> float:
    """Kish ESS below which ``auto`` stops reweighting (see the module docstring)."""
    by_error = (expected_max_abs_z(n_params) / max_mean_error) ** 2 / max(efficiency, 1e-3)
    return max(min_reliable_ess(n_samples), min(by_error, 0.5 * n_samples))


def sample_efficiency(fit_info: dict, n_samples: int) -> float:
    """Independent draws per sample of the candidate set: stored by SMC, else NUTS bulk ESS / S."""
    if fit_info.get("sample_efficiency") is not None:
        return float(fit_info["sample_efficiency"])
    ess = fit_info.get("ess_bulk_min")
    return 1.0 if ess is None else float(min(1.0, max(ess, 1.0) / n_samples))


def reweight_verdict(diag: WeightDiagnostics, n_params: int, efficiency: float = 1.0) -> tuple[bool, str]:
    """(acceptable for auto?, one-line why) for the diagnostics of a reweighted candidate set."""
    need = reweight_min_ess(diag.n_samples, n_params, efficiency)
    k = diag.pareto_k
    k_text = "—" if not math.isfinite(k) else f"{k:.2f}"
    problems = []
    # A k̂ above the threshold with diag.reliable means bounded weights (a negligible tail).
    if math.isfinite(k) and k > diag.khat_threshold and not diag.reliable:
        problems.append(f"k̂={k_text} > {diag.khat_threshold:.2f}")
    if diag.ess < need:
        problems.append(f"ESS={diag.ess:.0f} < {need:.0f}")
    if problems:
        return False, "reweight " + ", ".join(problems)
    return True, f"reweight ESS={diag.ess:.0f} ≥ {need:.0f}, k̂={k_text} ≤ {diag.khat_threshold:.2f}"
