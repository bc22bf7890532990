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
from typing import Any

from pa_envs.core import (
    PRINCIPAL,
    Game,
    GameParams,
    PrincipalAgentParallelEnv,
    TabularModel,
    contract_matrix,
    flat_contract,
)
from pa_envs.core.names import UnknownNameError, did_you_mean

__version__ = "0.1.0"  # the one place the version is written (pyproject reads it)

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
    UnknownNameError
        If no env has that name (a ``ValueError`` and a ``KeyError``; the message
        lists the closest names).
    """
    try:
        return ENVS[name]
    except (KeyError, TypeError):
        raise UnknownNameError(
            f"no env named {name!r}{did_you_mean(str(name), ENVS)} Registered: {sorted(ENVS)}"
        ) from None


def make_parallel_env(
    name_or_env: str | PrincipalAgentParallelEnv, **kwargs: Any
) -> PrincipalAgentParallelEnv:
    """The parallel env a name stands for, or an env already built.

    Parameters
    ----------
    name_or_env : str or PrincipalAgentParallelEnv
        A registered env name (``"pollution_v0"``), a preset name
        (``"pollution_v0:hard"``, see :mod:`pa_envs.presets`) or a pa_envs
        parallel env, returned as it is.
    **kwargs
        Keywords of the env's ``parallel_env`` (``render_mode`` included), on
        top of a preset's parameters. Only with a name.

    Returns
    -------
    PrincipalAgentParallelEnv

    Raises
    ------
    UnknownNameError
        For an unknown env or preset name (a ``ValueError``, and a ``KeyError``;
        the message suggests the closest names).
    TypeError
        For anything but a str or a parallel env, or keywords given with a built env.

    Examples
    --------
    >>> import pa_envs
    >>> pa_envs.make_parallel_env("pollution_v0", n_agents=2).game.n_agents
    2
    >>> pa_envs.make_parallel_env("pollution_v0:hard").game.n_agents
    3
    """
    if isinstance(name_or_env, PrincipalAgentParallelEnv):
        if kwargs:
            raise TypeError(
                f"env parameters {sorted(kwargs)} go with an env name, not with an env already built "
                f"({type(name_or_env).__name__}); build it with them instead"
            )
        return name_or_env
    if not isinstance(name_or_env, str):
        raise TypeError(
            "an env must be a str (a registered env or preset name) or a pa_envs parallel env, "
            f"got {name_or_env!r} ({type(name_or_env).__name__})"
        )
    from pa_envs import presets

    env, env_kwargs = presets.env_kwargs(name_or_env, **kwargs)
    return ENVS[env].parallel_env(**env_kwargs)


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
    "make_parallel_env",
    "pollution_v0",
]
