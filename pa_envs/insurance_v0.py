"""insurance_v0: see :mod:`pa_envs.envs.insurance` for the env card."""

from pa_envs.envs.insurance import (
    InsuranceGame,
    InsuranceParams,
    env,
    parallel_env,
    parallel_env_class,
    raw_env,
)

__all__ = ["InsuranceGame", "InsuranceParams", "env", "parallel_env", "parallel_env_class", "raw_env"]
