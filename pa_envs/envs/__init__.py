"""Env modules: each holds one scenario's economics (its env card)."""
