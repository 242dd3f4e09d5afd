"""Forget by importance reweighting (Nguyen et al. 2022): w(θ) ∝ 1/p(D_e|θ).

The formula itself is ``weights.erased_log_weights`` (``forget_log_weights`` normalises it); this wraps it with diagnostics.
"""

from __future__ import annotations

from ..posterior import WeightDiagnostics, WeightedPosterior


def reweight_forget(posterior: WeightedPosterior, columns) -> tuple[WeightedPosterior, WeightDiagnostics]:
    """Reweight the candidate set to forget the rows at ``columns`` of its loglik matrix.

    Returns the new candidate set (those loglik columns dropped: the rows' influence is
    gone from the weights and their values leave the model) and its weight diagnostics.
    """
    updated = posterior.forget_columns(columns)
    return updated, updated.diagnostics()
