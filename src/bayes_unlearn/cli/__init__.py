"""The ``bayes-unlearn`` command line: a thin Typer layer over the Python API.

Each command module registers its commands on ``app``. Conventions shared by all commands:
``--json`` makes stdout exactly one JSON object; human output, progress bars and warnings go to
stderr or Rich tables; user errors print one line to stderr and exit non-zero (see EXIT_CODES).
"""

from __future__ import annotations

# Command modules register themselves on import.
from . import core  # noqa: E402,F401
from . import demo as _demo  # noqa: E402,F401
from . import repair as _repair  # noqa: E402,F401
from . import report as _report  # noqa: E402,F401
from . import unlearning as _unlearning  # noqa: E402,F401
from .app import app, main

__all__ = ["app", "main"]
