"""Runnable scripts and examples built on pa_envs (not installed: the library code that the
``pa-envs`` command runs is :mod:`pa_envs.experiments`; ``python -m baselines.<script>`` runs
from a checkout)."""
