"""Model repair: failure set F, posterior update with F, influence r(z), LOO and feedback
detectors, automatic choice of detector and K, and the treatment by forgetting."""

from .api import (
    RepairWarning,
    apply_repair,
    feedback_context,
    feedback_metrics,
    repair,
    retrain_without,
)
from .detectors import DETECTORS, detector_scores
from .influence import expected_loglik, influence_scores
from .loo import loo_scores, psis_loo_rows
from .result import RepairResult
from .selection import SELECT_RULES, select_positive, select_top_k
from .update import UPDATE_METHODS, update_posterior

__all__ = [
    "DETECTORS", "SELECT_RULES", "detector_scores", "UPDATE_METHODS", "RepairResult", "RepairWarning", "apply_repair",
    "expected_loglik", "feedback_context", "feedback_metrics", "influence_scores", "loo_scores", "psis_loo_rows", "repair",
    "retrain_without", "select_positive", "select_top_k", "update_posterior",
]
