"""Learners, experiments and benchmark harness built on pa_envs."""
