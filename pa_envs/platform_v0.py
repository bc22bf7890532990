"""platform_v0: see :mod:`pa_envs.envs.marketplace` for the env card."""

from pa_envs.envs.marketplace import (
    PlatformGame,
    PlatformParams,
    env,
    parallel_env,
    parallel_env_class,
    raw_env,
)

__all__ = [
    "PlatformGame",
    "PlatformParams",
    "env",
    "parallel_env",
    "parallel_env_class",
    "raw_env",
]
