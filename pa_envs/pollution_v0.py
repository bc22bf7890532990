"""pollution_v0: see :mod:`pa_envs.envs.pollution` for the env card."""

from pa_envs.envs.pollution import (
    PollutionGame,
    PollutionParams,
    env,
    parallel_env,
    parallel_env_class,
    raw_env,
)

__all__ = ["PollutionGame", "PollutionParams", "env", "parallel_env", "parallel_env_class", "raw_env"]
