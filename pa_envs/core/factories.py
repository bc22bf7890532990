"""Build an env module's ``raw_env`` / ``env`` / ``parallel_env`` from its Game."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pa_envs.core.aec import OrderEnforcingAEC, PrincipalAgentAECEnv
from pa_envs.core.game import Game
from pa_envs.core.parallel import PrincipalAgentParallelEnv
from pa_envs.core.render import RENDER_FPS, RENDER_MODES


class EnvFactories(NamedTuple):
    """The PettingZoo entry points of one env module."""

    raw_env: type[PrincipalAgentAECEnv]
    parallel_env_class: type[PrincipalAgentParallelEnv]
    env: Callable[..., Any]
    parallel_env: Callable[..., PrincipalAgentParallelEnv]


def define_env(game_class: type[Game], module: str) -> EnvFactories:
    """Create the AEC class, the parallel class and the factories of one env.

    The classes are placed in ``module`` (the env module's ``__name__``) under
    the names ``raw_env`` and ``parallel_env_class`` so that they pickle.
    """
    metadata = {
        "name": game_class.name,
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": RENDER_FPS,
    }
    attrs = {"game_class": game_class, "metadata": metadata, "__module__": module}
    raw_env = type("raw_env", (PrincipalAgentAECEnv,), {**attrs, "__doc__": _doc("AEC", game_class)})
    parallel_cls = type(
        "parallel_env_class",
        (PrincipalAgentParallelEnv,),
        {**attrs, "__doc__": _doc("parallel", game_class)},
    )

    def env(**kwargs: Any) -> OrderEnforcingAEC:
        """The AEC env (Stackelberg timing), wrapped as PettingZoo wraps its own envs."""
        return OrderEnforcingAEC(raw_env(**kwargs))

    def parallel_env(**kwargs: Any) -> PrincipalAgentParallelEnv:
        """The parallel env (posted-contract timing)."""
        return parallel_cls(**kwargs)

    for factory in (env, parallel_env):
        factory.__module__ = module
        factory.__qualname__ = factory.__name__
    return EnvFactories(raw_env, parallel_cls, env, parallel_env)


def _doc(form: str, game_class: type[Game]) -> str:
    return f"{game_class.name}, {form} form. See the module docstring for the env card."
