"""Evaluation: fidelity of a forget against an exact refit, and other measurements."""
