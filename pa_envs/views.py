"""Single-agent gymnasium views of every env, registered on ``import pa_envs``.

For each env ``<name>_v0`` two ids are registered in the ``pa_envs`` namespace
(``pollution_v0`` gives ``Pollution``):

- ``pa_envs/<Name>-Principal-v0`` (:class:`PrincipalView`): the principal
  learns. Each step it posts a contract for the coming period, having seen
  the state; the agents then act by a built-in behaviour (default
  ``"best_response"``: myopic best responses from the exact model; or
  ``"q_learning"`` (alias ``"tabular_q"``), ``"hedge"``,
  ``"myopic_best_response"``, an int for a fixed action, a callable, a
  :class:`~pa_envs.behaviours.Behaviour`). Reward: the principal's.
  With ``normalize_actions=True`` its action space is ``Box(-1, 1)`` and an
  action ``a`` pays ``a * max_transfer`` (what SB3's PPO, A2C and SAC
  explore well, and what gymnasium's and SB3's checkers ask for); the default
  is the contract in money, ``Box(-max_transfer, max_transfer)``.
- ``pa_envs/<Name>-Agent-v0`` (:class:`AgentView`): one agent (``learner``,
  default 0) learns; the principal runs ``mechanism`` (a bundled name such as
  ``"no_transfers"``, ``"pigouvian"``, ``"best_flat_tax"``, or a
  :class:`~pa_envs.mechanisms.Mechanism`) and the other agents follow
  ``others`` (as above).

Other keywords go to the env (``n_agents``, ``max_cycles``, ...)::

    import gymnasium
    env = gymnasium.make("pa_envs:pa_envs/Pollution-Agent-v0", mechanism="pigouvian", n_agents=4)

``gymnasium.make_vec(id, num_envs=B)`` gives the batched form of either view
(:mod:`pa_envs.vector`: B copies stepped in one numpy call).

The views end their episodes themselves, at the env's ``max_cycles``
(truncation) or earlier where the env terminates, so the ids are registered
without a ``TimeLimit``: ``gymnasium.make(id, max_cycles=150)`` runs 150
periods. ``env.spec.max_episode_steps`` is therefore ``None``; the episode
length is ``env.unwrapped.env.params.max_cycles``. A ``max_episode_steps``
passed to ``gymnasium.make`` still adds gymnasium's ``TimeLimit``, which cuts
episodes at that many steps; ``gymnasium.make_vec`` cuts its copies alike.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from pa_envs.behaviours import Behaviour, make_behaviour
from pa_envs.core import rng
from pa_envs.core.contracts import NormalizedContracts
from pa_envs.core.episode import PRINCIPAL
from pa_envs.core.parallel import DeepCopies, check_options, episode_over
from pa_envs.core.render import RENDER_FPS, RENDER_MODES
from pa_envs.mechanisms import Mechanism, mechanism_env
from pa_envs.presets import make_parallel_env
from pa_envs.registry import get_env_module

NAMESPACE = "pa_envs"


class _View(DeepCopies, gymnasium.Env):
    """What both views share: rendering, and the checks that a step comes in a running episode."""

    # gymnasium.Env declares metadata an instance attribute: a ClassVar here would clash.
    metadata = {"render_modes": list(RENDER_MODES), "render_fps": RENDER_FPS}  # noqa: RUF012
    env: Any
    _started = False

    def _check_running(self, action: Any) -> None:
        """Raise unless an episode is under way (the same rule as the PettingZoo forms)."""
        if not self.env.agents:
            if not self._started:
                raise RuntimeError("call reset() before step()")
            raise episode_over("an action")

    def render(self) -> str | np.ndarray | None:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


class PrincipalView(_View):
    """The principal as a gymnasium learner; see the module docstring."""

    def __init__(
        self,
        env_name: str = "pollution_v0",
        behaviour: Any = "best_response",
        render_mode: str | None = None,
        normalize_actions: bool = False,
        **env_kwargs: Any,
    ) -> None:
        self.env = make_parallel_env(env_name, render_mode=render_mode, **env_kwargs)
        self.behaviour: Behaviour = make_behaviour(behaviour, "behaviour")
        self.behaviour.bind(self.env, self.env.possible_agents[1:])
        self.observation_space = self.env.observation_space(PRINCIPAL)
        contract_space = self.env.action_space(PRINCIPAL)
        self.normalized = NormalizedContracts.option(normalize_actions, contract_space, self.env.game)
        self.action_space = contract_space if self.normalized is None else self.normalized.space
        self.render_mode = render_mode

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        # Checked before the view's generator is reseeded: a rejected reset changes nothing.
        seed, options = rng.check_seed(seed), check_options(options)  # numpy int seeds too
        super().reset(seed=seed)
        observations, infos = self.env.reset(seed=seed, options=options)
        self.behaviour.reset(self.np_random)
        self._started = True
        return observations[PRINCIPAL], infos[PRINCIPAL]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._check_running(action)
        if self.normalized is not None:
            action = self.normalized.contract(action, PRINCIPAL).reshape(-1)
        seen = self.env.post_contract(action)
        agents = {a: seen[a] for a in self.behaviour.agents}
        chosen = self.behaviour.act(agents)
        observations, rewards, terminations, truncations, infos = self.env.step({PRINCIPAL: action, **chosen})
        done = not self.env.agents
        self.behaviour.learn(agents, chosen, rewards, observations, done)
        return (
            observations[PRINCIPAL],
            float(rewards[PRINCIPAL]),
            bool(terminations[PRINCIPAL]),
            bool(truncations[PRINCIPAL]),
            infos[PRINCIPAL],
        )


class AgentView(_View):
    """One agent as a gymnasium learner under a mechanism; see the module docstring."""

    def __init__(
        self,
        env_name: str = "pollution_v0",
        mechanism: str | Mechanism = "no_transfers",
        learner: int = 0,
        others: Any = "best_response",
        mechanism_kwargs: dict[str, Any] | None = None,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        base = make_parallel_env(env_name, render_mode=render_mode, **env_kwargs)
        self.env = mechanism_env(base, mechanism, **(mechanism_kwargs or {}))
        agents = self.env.possible_agents
        if (
            isinstance(learner, bool)
            or not isinstance(learner, (int, np.integer))
            or not 0 <= learner < len(agents)
        ):
            raise ValueError(f"learner must be an agent index in 0..{len(agents) - 1}, got {learner!r}")
        self.agent = agents[learner]
        self.others: Behaviour = make_behaviour(others, "others")
        self.others.bind(base, [a for a in agents if a != self.agent])
        self.observation_space = self.env.observation_space(self.agent)
        self.action_space = self.env.action_space(self.agent)
        self.render_mode = render_mode
        self._observations: dict[str, np.ndarray] | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        # Checked before the view's generator is reseeded: a rejected reset changes nothing.
        seed, options = rng.check_seed(seed), check_options(options)  # numpy int seeds too
        super().reset(seed=seed)
        self._observations, infos = self.env.reset(seed=seed, options=options)
        self.others.reset(self.np_random)
        self._started = True
        return self._observations[self.agent], infos[self.agent]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._check_running(action)
        assert self._observations is not None  # set by reset(), which _check_running requires
        others = {a: self._observations[a] for a in self.others.agents}
        chosen = self.others.act(others)
        observations, rewards, terminations, truncations, infos = self.env.step(
            {self.agent: action, **chosen}
        )
        done = not self.env.agents
        self.others.learn(others, {self.agent: action, **chosen}, rewards, observations, done)
        self._observations = observations
        return (
            observations[self.agent],
            float(rewards[self.agent]),
            bool(terminations[self.agent]),
            bool(truncations[self.agent]),
            infos[self.agent],
        )


def view_ids(env_name: str) -> tuple[str, str]:
    """The registered (principal, agent) gymnasium ids of an env."""
    stem = env_name.rsplit("_v", 1)[0].title().replace("_", "")
    version = env_name.rsplit("_v", 1)[1]
    return (f"{NAMESPACE}/{stem}-Principal-v{version}", f"{NAMESPACE}/{stem}-Agent-v{version}")


def register_views(env_names: list[str]) -> list[str]:
    """Register both views of each env with gymnasium (idempotent); return the ids."""
    ids = []
    for name in env_names:
        get_env_module(name)  # an unknown name fails here, not at make()
        for env_id, cls in zip(view_ids(name), ("PrincipalView", "AgentView"), strict=True):
            if env_id not in gymnasium.registry:
                gymnasium.register(
                    id=env_id,
                    entry_point=f"pa_envs.views:{cls}",
                    # gymnasium.make_vec builds B copies in one numpy call (pa_envs.vector).
                    vector_entry_point=f"pa_envs.vector:{cls.replace('View', 'VectorView')}",
                    # No TimeLimit: the views end episodes at their own max_cycles, which
                    # a registered limit would silently cut (gymnasium.make(id, max_cycles=150)).
                    kwargs={"env_name": name},
                )
            ids.append(env_id)
    return ids
