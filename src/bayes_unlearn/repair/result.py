"""What a repair reports: the suspects, their scores, how they were chosen, and the diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RepairResult:
    """Outcome of ``repair``. Scores: higher = more suspect. ``causes`` are row ids, ranked.

    ``all_scores`` / ``row_ids`` cover every remaining training row (for AUROC and plots);
    ``repaired_model`` is a copy of the model with the causes forgotten (None when C is empty);
    ``forget`` is that forget's result (method, ESS, Pareto k̂, reliability).
    """

    detector: str
    select: str
    k: int | None
    update: str
    n_feedback: int
    n_failures: int
    failure_rows: list[int]  # positions of F within the feedback set
    causes: list[str]
    cause_scores: list[float]
    cause_loo_khat: list[float]
    row_ids: list[str]
    all_scores: np.ndarray
    loo_khat_threshold: float
    update_diagnostics: dict
    choice: dict | None
    forget: dict | None
    feedback_before: dict
    feedback_after: dict | None
    seconds: float
    warnings: list[str] = field(default_factory=list)
    repaired_model: object = None

    @property
    def n_causes(self) -> int:
        return len(self.causes)

    def to_dict(self, all_scores: bool = False) -> dict:
        d = {
            "detector": self.detector, "select": self.select, "k": self.k, "update": self.update,
            "n_feedback": self.n_feedback, "n_failures": self.n_failures,
            "failure_rows": self.failure_rows, "n_causes": self.n_causes, "causes": self.causes,
            "scores": self.cause_scores, "loo_khat": self.cause_loo_khat,
            "loo_khat_threshold": self.loo_khat_threshold,
            "update_diagnostics": self.update_diagnostics, "choice": self.choice,
            "forget": self.forget, "feedback_before": self.feedback_before,
            "feedback_after": self.feedback_after, "seconds": self.seconds, "warnings": self.warnings,
        }
        if all_scores:
            d["all_scores"] = dict(zip(self.row_ids, np.asarray(self.all_scores).tolist()))
        return d
