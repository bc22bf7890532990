"""What a run of the harness is: its spec, the names of its principal and agent learners,
its env's parameters and what its steps count."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from pa_envs import presets
from pa_envs.core.names import did_you_mean
from pa_envs.mechanisms import MECHANISM_NAMES

SB3_ALGORITHMS = ("PPO", "A2C", "DQN")
TABULAR = ("q_learning", "contract_q_learning", "hedge")
BUNDLED_PRINCIPALS = MECHANISM_NAMES
"""The bundled principals: every mechanism :func:`pa_envs.mechanisms.make_mechanism` builds by name."""


class GridError(ValueError, TypeError):
    """A run of a grid that could not start: names the option at fault (a :class:`RunSpec`
    field such as ``"principal_kwargs"``) and the run (or the env, for every run on it).
    Both a ``ValueError`` and a ``TypeError``, as the errors it stands for."""

    def __init__(self, option: str, run: str, problem: str) -> None:
        self.option, self.run, self.problem = option, run, problem
        super().__init__(f"{option}: {run}: {problem}")


# -- what a run is -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of the grid.

    Attributes
    ----------
    env, principal, agents : str
        A registered env, a principal and an agent learner (see the module docstring).
    seed : int
    steps : int
        Steps of training (SB3's ``total_timesteps``): agent-steps (periods x agents x copies)
        for agent learners, principal steps (periods x copies) for a ``learn:`` principal.
    copies : int
        Copies of the env stepped together.
    n_agents : int
    env_kwargs, principal_kwargs, agent_kwargs : dict
        Passed to the env, the principal and the agent learner.
    """

    env: str
    principal: str
    agents: str
    seed: int = 0
    steps: int = 20_000
    copies: int = 4
    n_agents: int = 3
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    principal_kwargs: dict = dataclasses.field(default_factory=dict)
    agent_kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        """``run env / principal / agents seed s``: how errors name the run."""
        return f"run {self.env} / {self.principal} / {self.agents} seed {self.seed}"

    @property
    def key(self) -> str:
        """What identifies the run in the results file (every field, canonical JSON)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def _closest(name: str, known: Iterable[str], what: str) -> ValueError:
    known = list(known)
    return ValueError(
        f"unknown {what} {name!r}{did_you_mean(name, known)} Known: {sorted(known)} or 'module:Class'"
    )


def check_agents(name: str) -> None:
    """Raise ``ValueError`` (with the closest names) unless ``name`` is an agent learner."""
    if name in SB3_ALGORITHMS or name in TABULAR or ":" in name:
        return
    raise _closest(name, (*SB3_ALGORITHMS, *TABULAR), "agent learner")


def check_principal(name: str) -> None:
    """Raise ``ValueError`` (with the closest names) unless ``name`` is a principal."""
    if name in BUNDLED_PRINCIPALS or ":" in name:
        return
    raise _closest(name, (*BUNDLED_PRINCIPALS, "learn:PPO", "learn:A2C"), "principal")


def load_object(path: str) -> Any:
    """``"package.module:Name"`` -> the object."""
    module, _, attribute = path.partition(":")
    if not module or not attribute:
        raise ValueError(f"expected 'module:Name', got {path!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # a user's module beside them, as `python -m` would find it
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"cannot load {path!r}: {error}") from None


def env_parameters(spec: RunSpec) -> tuple[str, dict[str, Any]]:
    """The registered env of a run and all its parameters (a preset's, then the run's; with the
    keywords of a learning principal's view, which :func:`base_env` leaves out)."""
    return presets.env_kwargs(spec.env, n_agents=spec.n_agents, **spec.env_kwargs)


def base_env(spec: RunSpec) -> Any:
    """A run's PettingZoo env, built from the env's own parameters (not the view's keywords:
    :func:`pa_envs.experiments.train_sb3.split_view_kwargs`)."""
    from pa_envs.experiments.train_sb3 import split_view_kwargs

    _, env_kwargs = env_parameters(spec)
    return presets.parallel_env(spec.env, **split_view_kwargs(env_kwargs)[1])


def step_unit(spec: RunSpec | dict[str, Any]) -> str:
    """What a run's steps count: a ``learn:`` principal's are its own steps (periods x copies),
    the agent learners' agent-steps (periods x agents x copies)."""
    principal = spec["principal"] if isinstance(spec, dict) else spec.principal
    return "principal steps (periods)" if principal.startswith("learn:") else "agent-steps"


def episode_steps(spec: RunSpec) -> int:
    """The steps (in :func:`step_unit`) a run plays before its first episodes end: one episode
    of every copy."""
    periods = base_env(spec).params.max_cycles
    per_period = spec.copies if spec.principal.startswith("learn:") else spec.copies * spec.n_agents
    return periods * per_period


def run_name(spec: RunSpec) -> str:
    """A run's name for its log folder: ``<env>_<principal>_<agents>_seed<seed>`` (``:`` as ``-``)."""
    name = f"{spec.env}_{spec.principal}_{spec.agents}_seed{spec.seed}"
    return name.replace(":", "-").replace("/", "-").replace(os.sep, "-")
