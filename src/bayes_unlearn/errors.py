"""Errors a user can cause. The CLI prints their message (no traceback) and exits non-zero."""


class BayesUnlearnError(Exception):
    """Base class: a clear, specific message for the user."""

    exit_code = 1


class DataError(BayesUnlearnError, ValueError):
    """Input data unusable: NaN/inf, missing or unexpected columns, wrong label values, …"""

    exit_code = 2


class RequestError(BayesUnlearnError, ValueError):
    """A forget/repair request that cannot be honoured: unknown or duplicate ids, every row, …"""

    exit_code = 3


class ModelFileError(BayesUnlearnError, OSError):
    """A model directory that is missing, incomplete, corrupted, foreign or of an unknown version."""

    exit_code = 4
