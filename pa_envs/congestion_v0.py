"""congestion_v0: see :mod:`pa_envs.envs.congestion` for the env card."""

from pa_envs.envs.congestion import (
    CongestionGame,
    CongestionParams,
    env,
    parallel_env,
    parallel_env_class,
    pigou_toll,
    raw_env,
)

__all__ = [
    "CongestionGame",
    "CongestionParams",
    "env",
    "parallel_env",
    "parallel_env_class",
    "pigou_toll",
    "raw_env",
]
