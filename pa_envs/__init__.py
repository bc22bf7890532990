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

import importlib
from types import ModuleType

from pa_envs.core import PRINCIPAL, Game, GameParams, TabularModel, contract_matrix, flat_contract

__version__ = "0.1.0"

# One line per env: its module ``pa_envs.<name>`` holds the env card and the factories.
ENV_NAMES: tuple[str, ...] = (
    "pollution_v0",
    "commons_v0",
    "congestion_v0",
    "insurance_v0",
    "platform_v0",
    "grid_v0",
    # new envs: one line each, above this comment
)

ENVS: dict[str, ModuleType] = {name: importlib.import_module(f"pa_envs.{name}") for name in ENV_NAMES}
pollution_v0 = ENVS["pollution_v0"]


def get_env_module(name: str) -> ModuleType:
    """Return the env module registered as ``name``.

    Raises
    ------
    KeyError
        If no env has that name (the message lists the closest names).
    """
    try:
        return ENVS[name]
    except KeyError:
        from pa_envs.core.names import did_you_mean

        raise KeyError(
            f"no env named {name!r}{did_you_mean(name, ENVS)} Registered: {sorted(ENVS)}"
        ) from None


from pa_envs.views import register_views  # noqa: E402  (needs ENVS and get_env_module above)

GYMNASIUM_IDS: list[str] = register_views(sorted(ENVS))
"""Every registered gymnasium id: a principal view and an agent view per env."""

__all__ = [
    "ENVS",
    "GYMNASIUM_IDS",
    "PRINCIPAL",
    "Game",
    "GameParams",
    "TabularModel",
    "contract_matrix",
    "flat_contract",
    "get_env_module",
    "pollution_v0",
]
