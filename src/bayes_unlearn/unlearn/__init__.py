"""Forgetting methods and their result record."""

from .result import ForgetResult
from .reweight import reweight_forget

__all__ = ["ForgetResult", "reweight_forget"]
