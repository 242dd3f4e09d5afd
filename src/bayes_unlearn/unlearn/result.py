"""What a forget request reports: which method ran, why, and how reliable its result is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ForgetResult:
    method: str
    n_forgotten: int
    row_ids: list[str]
    already_forgotten: list[str]
    ess: float
    pareto_k: float | None
    khat_threshold: float
    reliable: bool
    reason: str
    seconds: float
    n_remaining: int
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def warning(self) -> str | None:
        if self.reliable:
            return None
        return (f"UNRELIABLE: {self.reason}. The {self.method} result may be far from a refit "
                f"without these rows; use method='smc' or 'refit', or run `verify`.")
