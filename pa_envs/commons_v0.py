"""commons_v0: see :mod:`pa_envs.envs.commons` for the env card."""

from pa_envs.envs.commons import (
    CommonsGame,
    CommonsParams,
    env,
    parallel_env,
    parallel_env_class,
    raw_env,
)

__all__ = ["CommonsGame", "CommonsParams", "env", "parallel_env", "parallel_env_class", "raw_env"]
