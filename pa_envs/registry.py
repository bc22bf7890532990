"""The registered envs: each name and its module ``pa_envs.<name>`` (env card and factories)."""

from __future__ import annotations

import importlib
from types import ModuleType

from pa_envs.core.names import UnknownNameError, did_you_mean

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


__all__ = ["ENVS", "ENV_NAMES", "get_env_module"]
