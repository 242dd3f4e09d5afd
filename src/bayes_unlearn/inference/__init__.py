"""Samplers: NUTS for fits and refits, tempered SMC for large deletions (all from BlackJAX)."""
