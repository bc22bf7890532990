"""pa_envs: principal-agent Markov environments for PettingZoo.

A principal pays agents transfers conditioned on what it observes; the agents'
actions move a shared state (a stateful externality). Every env offers the
PettingZoo parallel form (``<name>.parallel_env()``), the AEC form
(``<name>.env()``) and the raw AEC class (``<name>.raw_env``).

``ENVS`` maps each env's name to its module; ``GYMNASIUM_IDS`` lists the
single-agent gymnasium views registered on import (see :mod:`pa_envs.views`).
Exact references are in :mod:`pa_envs.analysis`, mechanisms in
:mod:`pa_envs.mechanisms`.
"""

from __future__ import annotations

from pa_envs.core import (
    PRINCIPAL,
    Game,
    GameParams,
    PrincipalAgentParallelEnv,
    TabularModel,
    contract_matrix,
    flat_contract,
)
from pa_envs.presets import make_parallel_env
from pa_envs.registry import ENV_NAMES, ENVS, get_env_module
from pa_envs.views import register_views

__version__ = "0.1.0"  # the one place the version is written (pyproject reads it)

pollution_v0 = ENVS["pollution_v0"]

GYMNASIUM_IDS: list[str] = register_views(sorted(ENVS))
"""Every registered gymnasium id: a principal view and an agent view per env."""

__all__ = [
    "ENVS",
    "ENV_NAMES",
    "GYMNASIUM_IDS",
    "PRINCIPAL",
    "Game",
    "GameParams",
    "PrincipalAgentParallelEnv",
    "TabularModel",
    "contract_matrix",
    "flat_contract",
    "get_env_module",
    "make_parallel_env",
    "pollution_v0",
]
