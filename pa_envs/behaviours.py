"""Built-in behaviours for the agents a gymnasium view does not train.

A behaviour chooses actions for a set of agents of a parallel env and may
learn from what follows. Bundled:

- :class:`BestResponse`: myopic best responses to the contract in force,
  computed from the env's exact model (the agents of the theory);
- :class:`TabularQ`: independent epsilon-greedy Q-learners over the agents'
  (rounded) observations, learning while the contract changes;
- :class:`FixedPolicy`: the same action(s) every period;
- :class:`CallablePolicy`: a user function from observations to actions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pa_envs import analysis
from pa_envs.core.parallel import PrincipalAgentParallelEnv


class Behaviour:
    """Chooses actions for ``agents`` of ``env``; override :meth:`act` (and :meth:`learn`)."""

    name = "behaviour"

    def bind(self, env: PrincipalAgentParallelEnv, agents: list[str]) -> None:
        """Called once by the view with the env and the agents this behaviour plays."""
        self.env = env
        self.agents = list(agents)

    def reset(self, rng: np.random.Generator) -> None:
        """A new episode; ``rng`` is the view's seeded generator."""
        self.rng = rng

    def act(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        raise NotImplementedError

    def learn(
        self,
        observations: dict[str, np.ndarray],
        actions: dict[str, int],
        rewards: dict[str, float],
        next_observations: dict[str, np.ndarray],
        done: bool,
    ) -> None:
        """Learn from one period (default: nothing)."""


class BestResponse(Behaviour):
    """Myopic best responses to the posted contract, from the exact model.

    All agents' best replies are iterated to a pure equilibrium of the
    period's game in the current state; this behaviour plays its agents'
    parts of it.
    """

    name = "best_response"

    def bind(self, env: PrincipalAgentParallelEnv, agents: list[str]) -> None:
        super().bind(env, agents)
        self.model = env.game.exact_model()
        self._columns = [env.possible_agents.index(a) - 1 for a in self.agents]
        self._last: np.ndarray | None = None

    def act(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        state = int(self.model.state_index(self.env.game_state()))
        # Starting from last period's play keeps the selection stable when several equilibria exist.
        joint = analysis.best_responses(self.model, state, self.env.contract_in_force(), start=self._last)
        self._last = joint
        return {agent: int(joint[i]) for agent, i in zip(self.agents, self._columns, strict=True)}

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        self._last = None


class FixedPolicy(Behaviour):
    """The same action every period: one int for all agents, or one per agent."""

    name = "fixed"

    def __init__(self, actions: int | list[int]) -> None:
        self.actions = actions

    def act(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        if isinstance(self.actions, (int, np.integer)):
            return dict.fromkeys(self.agents, int(self.actions))
        if len(self.actions) != len(self.agents):
            raise ValueError(f"FixedPolicy has {len(self.actions)} actions for {len(self.agents)} agents")
        return {a: int(x) for a, x in zip(self.agents, self.actions, strict=True)}


class CallablePolicy(Behaviour):
    """Actions from ``policy(observations) -> {agent: action}``, observations of these agents only."""

    name = "callable"

    def __init__(self, policy: Callable[[dict[str, np.ndarray]], dict[str, int]]) -> None:
        if not callable(policy):
            raise TypeError(f"CallablePolicy needs a callable, got {policy!r}")
        self.policy = policy

    def act(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        chosen = self.policy(observations)
        missing = [a for a in self.agents if a not in chosen]
        if missing:
            raise ValueError(f"the policy gave no action for {missing}")
        return {a: chosen[a] for a in self.agents}


class TabularQ(Behaviour):
    """Independent Q-learners, one per agent, over observations rounded to ``decimals``.

    Epsilon-greedy with ``epsilon = max(min_epsilon, epsilon0 * decay**episode)``,
    learning rate ``alpha``, discount ``gamma``. They keep learning as the
    contract changes (the observation holds the agent's contract row).
    """

    name = "tabular_q"

    def __init__(
        self,
        alpha: float = 0.1,
        gamma: float = 0.0,
        epsilon0: float = 1.0,
        decay: float = 0.99,
        min_epsilon: float = 0.02,
        decimals: int = 1,
    ) -> None:
        self.alpha, self.gamma = alpha, gamma
        self.epsilon0, self.decay, self.min_epsilon = epsilon0, decay, min_epsilon
        self.decimals = decimals
        self.tables: dict[str, dict[bytes, np.ndarray]] = {}
        self.episodes = 0

    def bind(self, env: PrincipalAgentParallelEnv, agents: list[str]) -> None:
        super().bind(env, agents)
        self.n_actions = int(env.action_space(agents[0]).n)
        self.tables = {a: {} for a in self.agents}

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        self.episodes += 1

    @property
    def epsilon(self) -> float:
        return max(self.min_epsilon, self.epsilon0 * self.decay**self.episodes)

    def _q(self, agent: str, observation: np.ndarray) -> np.ndarray:
        key = np.round(observation, self.decimals).astype(np.float32).tobytes()
        return self.tables[agent].setdefault(key, np.zeros(self.n_actions))

    def act(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        chosen = {}
        for agent in self.agents:
            if self.rng.random() < self.epsilon:
                chosen[agent] = int(self.rng.integers(self.n_actions))
            else:
                chosen[agent] = int(np.argmax(self._q(agent, observations[agent])))
        return chosen

    def learn(
        self,
        observations: dict[str, np.ndarray],
        actions: dict[str, int],
        rewards: dict[str, float],
        next_observations: dict[str, np.ndarray],
        done: bool,
    ) -> None:
        for agent in self.agents:
            q = self._q(agent, observations[agent])
            target = rewards[agent]
            if not done and self.gamma > 0:
                target += self.gamma * self._q(agent, next_observations[agent]).max()
            q[actions[agent]] += self.alpha * (target - q[actions[agent]])


BEHAVIOURS: dict[str, type[Behaviour]] = {
    "best_response": BestResponse,
    "tabular_q": TabularQ,
    "fixed": FixedPolicy,
    "callable": CallablePolicy,
}


def make_behaviour(spec: Any) -> Behaviour:
    """A behaviour from a name, an instance, an int (a fixed action) or a callable."""
    if isinstance(spec, Behaviour):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return FixedPolicy(int(spec))
    if isinstance(spec, str):
        if spec in ("fixed", "callable"):
            raise ValueError(f"the {spec!r} behaviour needs an argument: pass an int action or a callable")
        if spec not in BEHAVIOURS:
            import difflib

            close = difflib.get_close_matches(spec, BEHAVIOURS, n=3)
            hint = f"; did you mean {close}?" if close else ""
            raise ValueError(
                f"no behaviour named {spec!r}{hint} Give one of 'best_response', 'tabular_q', "
                "an int (a fixed action), a callable or a Behaviour"
            )
        return BEHAVIOURS[spec]()
    if callable(spec):
        return CallablePolicy(spec)
    raise TypeError(f"cannot make a behaviour from {spec!r}")
