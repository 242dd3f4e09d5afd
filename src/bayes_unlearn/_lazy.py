"""A module imported on first attribute access.

The model families write their log-densities with ``jax.numpy``, but only tracing calls them:
loading a saved model and forgetting rows by reweighting never do, and importing JAX costs
about a second of every such command.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for the module ``name``; the first attribute read imports it."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        if attr.startswith("__"):  # copy/pickle/introspection probes: not the module's business
            raise AttributeError(attr)
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)
