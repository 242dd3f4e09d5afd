"""MCMC convergence diagnostics (ArviZ): rank-normalised split R-hat and bulk/tail ESS."""

from __future__ import annotations

import threading

import numpy as np

RHAT_LIMIT = 1.01  # Vehtari et al. (2021)
ESS_PER_CHAIN = 100  # bulk ESS below 100 per chain makes R-hat itself unreliable


def prefetch_arviz() -> threading.Thread:
    """Import ArviZ on a background thread: it costs seconds, and JAX sampling releases the GIL."""

    def _import():
        try:
            import arviz  # noqa: F401
        except Exception:  # pragma: no cover - the real import error surfaces later
            pass

    thread = threading.Thread(target=_import, daemon=True)
    thread.start()
    return thread


def convergence_summary(samples: np.ndarray, param_names) -> dict:
    """R-hat and ESS of (chains, draws, d) samples, with a verdict and the worst parameter."""
    import arviz as az

    ds = az.convert_to_dataset({"theta": np.asarray(samples)}, dims={"theta": ["param"]},
                               coords={"param": list(param_names)})
    rhat = np.atleast_1d(az.rhat(ds)["theta"].values)
    ess_bulk = np.atleast_1d(az.ess(ds, method="bulk")["theta"].values)
    ess_tail = np.atleast_1d(az.ess(ds, method="tail")["theta"].values)
    n_chains = samples.shape[0]
    problems = []
    if n_chains > 1 and np.nanmax(rhat) > RHAT_LIMIT:
        j = int(np.nanargmax(rhat))
        problems.append(f"R-hat {rhat[j]:.3f} > {RHAT_LIMIT} for {param_names[j]}")
    if np.nanmin(ess_bulk) < ESS_PER_CHAIN * n_chains:
        j = int(np.nanargmin(ess_bulk))
        problems.append(f"bulk ESS {ess_bulk[j]:.0f} < {ESS_PER_CHAIN * n_chains} for {param_names[j]}")
    return {
        "rhat_max": float(np.nanmax(rhat)) if n_chains > 1 else None,
        "ess_bulk_min": float(np.nanmin(ess_bulk)),
        "ess_tail_min": float(np.nanmin(ess_tail)),
        "converged": not problems,
        "convergence_problems": problems,
    }
