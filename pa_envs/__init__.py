"""pa_envs: principal-agent Markov environments for PettingZoo.

A principal pays agents transfers conditioned on what it observes; the agents'
actions move a shared state (a stateful externality). Every env offers the
PettingZoo parallel form (``<name>.parallel_env()``), the AEC form
(``<name>.env()``) and the raw AEC class (``<name>.raw_env``).

``ENVS`` maps each env's name to its module.
"""

from __future__ import annotations

from types import ModuleType

from pa_envs import pollution_v0
from pa_envs.core import PRINCIPAL, Game, GameParams, TabularModel, contract_matrix, flat_contract

__version__ = "0.1.0"

ENVS: dict[str, ModuleType] = {
    "pollution_v0": pollution_v0,
}


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
        import difflib

        close = difflib.get_close_matches(name, ENVS, n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise KeyError(f"no env named {name!r}{hint} Registered: {sorted(ENVS)}") from None


__all__ = [
    "ENVS",
    "PRINCIPAL",
    "Game",
    "GameParams",
    "TabularModel",
    "contract_matrix",
    "flat_contract",
    "get_env_module",
    "pollution_v0",
]
