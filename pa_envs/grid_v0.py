"""grid_v0: see :mod:`pa_envs.envs.grid` for the env card."""

from pa_envs.envs.grid import (
    GridGame,
    GridParams,
    env,
    parallel_env,
    parallel_env_class,
    raw_env,
)

__all__ = ["GridGame", "GridParams", "env", "parallel_env", "parallel_env_class", "raw_env"]
