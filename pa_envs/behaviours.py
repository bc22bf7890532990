"""Built-in behaviours for the agents a gymnasium view does not train.

A behaviour chooses actions for a set of agents of a parallel env and may
learn from what follows. Bundled:

- :class:`BestResponse`: myopic best responses to the contract in force,
  computed from the env's exact model (the agents of the theory);
- :class:`LearnerBehaviour`: the learners of :mod:`pa_envs.learners`
  (``"q_learning"``, alias ``"tabular_q"``; ``"hedge"``;
  ``"myopic_best_response"``), learning while the contract changes;
- :class:`FixedPolicy`: the same action(s) every period;
- :class:`CallablePolicy`: a user function from observations to actions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pa_envs import analysis
from pa_envs.core.names import did_you_mean
from pa_envs.core.parallel import PrincipalAgentParallelEnv
from pa_envs.learners import LEARNERS, ContractQLearner, Learner, counterfactual_rewards


class Behaviour:
    """Chooses actions for ``agents`` of ``env``; override :meth:`act` (and :meth:`learn`)."""

    name = "behaviour"

    def bind(self, env: PrincipalAgentParallelEnv, agents: list[str]) -> None:
        """Called once by the view with the env and the agents this behaviour plays."""
        self.env = env
        self.agents = list(agents)
        self.joint = np.zeros(env.game.n_agents, dtype=np.int64)

    def reset(self, rng: np.random.Generator) -> None:
        """A new episode; ``rng`` is the view's seeded generator."""
        self.rng = rng
        self.joint = np.zeros(self.env.game.n_agents, dtype=np.int64)

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
        """Learn from one period (default: remember what everyone played, in :attr:`joint`).

        ``observations``, ``next_observations``: this behaviour's agents';
        ``actions``: every agent's action this period (the view passes them
        all); ``rewards``: every agent's reward.
        """
        for agent, action in actions.items():
            self.joint[self.env.possible_agents.index(agent) - 1] = int(action)


class BestResponse(Behaviour):
    """Myopic best responses to the posted contract, from the exact model.

    Its agents' best replies are iterated (agent by agent, from last
    period's play) to a pure equilibrium of the period's game in the current
    state, the agents it does not play held at their last real actions.
    """

    name = "best_response"

    def bind(self, env: PrincipalAgentParallelEnv, agents: list[str]) -> None:
        super().bind(env, agents)
        self.model = env.game.exact_model()
        self._columns = [env.possible_agents.index(a) - 1 for a in self.agents]

    def act(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        state = int(self.model.state_index(self.env.game_state()))
        # Start from last period's real play (a stable selection among several equilibria);
        # agents this behaviour does not play keep their last real action.
        joint = analysis.best_responses(
            self.model, state, self.env.contract_in_force(), start=self.joint, players=self._columns
        )
        return {agent: int(joint[i]) for agent, i in zip(self.agents, self._columns, strict=True)}


class FixedPolicy(Behaviour):
    """The same action every period: one int for all agents, or one per agent.

    The actions are checked against the env when the view binds the behaviour
    (at the view's construction), not at the first step.
    """

    name = "fixed"

    def __init__(self, actions: int | list[int], parameter: str = "behaviour") -> None:
        self.actions = actions
        self.parameter = parameter

    def fixed_actions(self, agents: list[str], n_actions: int) -> np.ndarray:
        """The action of each of ``agents`` as int64, checked against ``Discrete(n_actions)``.

        Raises
        ------
        ValueError
            If the list has not one action per agent, or an action is outside the space.
        """
        if isinstance(self.actions, (int, np.integer)):
            fixed = np.full(len(agents), int(self.actions), dtype=np.int64)
        elif len(self.actions) != len(agents):
            raise ValueError(
                f"{self.parameter}: {len(self.actions)} fixed actions {list(self.actions)} given for "
                f"{len(agents)} agents {agents}"
            )
        else:
            fixed = np.array([int(a) for a in self.actions], dtype=np.int64)
        bad = np.flatnonzero((fixed < 0) | (fixed >= n_actions))
        if bad.size:
            raise ValueError(
                f"{self.parameter}: fixed action {int(fixed[bad[0]])} for {agents[bad[0]]} is outside "
                f"Discrete({n_actions}), an int in 0..{n_actions - 1}"
            )
        return fixed

    def bind(self, env: PrincipalAgentParallelEnv, agents: list[str]) -> None:
        super().bind(env, agents)
        fixed = self.fixed_actions(self.agents, env.game.n_actions).tolist()
        self._chosen = dict(zip(self.agents, fixed, strict=True))

    def act(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        return dict(self._chosen)


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


class LearnerBehaviour(Behaviour):
    """Its agents are learners of :mod:`pa_envs.learners` (Q-learning, Hedge/EXP3, myopic).

    The observed state is the env's state index in its exact model; the
    contract in force is part of the reward. With ``full_information=True``
    (default) learning and regret use the exact counterfactual rewards from
    the model (Hedge, exact regret); with ``False`` only the realized reward
    (EXP3, importance-weighted regret). The other agents' actions, the
    trained agent's included, are read as they were really played.

    Parameters
    ----------
    learner : str or Learner
        ``"q_learning"``, ``"hedge"``, ``"myopic_best_response"``, or a
        learner built for ``(n_states, n_actions, len(agents), batch=1)``.
    **kwargs
        Settings of a learner given by name (``alpha``, ``eta``, ``seed``, ...).
        Without a ``seed`` it draws from the view's generator, which
        ``reset(seed=...)`` seeds.
    """

    name = "learner"

    def __init__(
        self, learner: str | Learner = "q_learning", full_information: bool = True, **kwargs: Any
    ) -> None:
        if isinstance(learner, str) and learner not in LEARNERS:
            raise ValueError(f"no learner named {learner!r}; known: {sorted(LEARNERS)}")
        if learner == "contract_q_learning" or isinstance(learner, ContractQLearner):
            raise ValueError(
                "contract_q_learning reads each agent's contract, transfer and signal, which a view's "
                "behaviour does not pass it; use it through pa_envs.learning_loop.play or the harness"
            )
        if not isinstance(learner, (str, Learner)):
            raise TypeError(f"learner must be a name or a Learner, got {learner!r}")
        if isinstance(learner, Learner) and kwargs:
            raise TypeError("keyword settings only go with a learner given by name")
        self._spec, self._kwargs = learner, kwargs
        self.full_information = bool(full_information)
        self.learner: Learner | None = learner if isinstance(learner, Learner) else None

    def bind(self, env: PrincipalAgentParallelEnv, agents: list[str]) -> None:
        super().bind(env, agents)
        self.model = env.game.exact_model()
        self._index = np.array([env.possible_agents.index(a) - 1 for a in self.agents])
        sizes = (self.model.n_states, self.model.n_actions, len(self.agents))
        if self.learner is None:
            assert isinstance(self._spec, str)  # a Learner given is self.learner from the start
            self.learner = LEARNERS[self._spec](*sizes, **self._kwargs)
        got = (self.learner.n_states, self.learner.n_actions, self.learner.n_agents)
        if got != sizes or self.learner.batch != 1:
            raise ValueError(
                f"the learner is built for (n_states, n_actions, n_agents)={got}, "
                f"batch={self.learner.batch}; these agents need {sizes}, batch=1"
            )

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        if isinstance(self._spec, str) and self._kwargs.get("seed") is None:
            # Unseeded learners draw from the view's seeded generator: same seed, same episode.
            self.learner.rng = rng

    def _state(self) -> np.ndarray:
        return self.model.state_index(self.env.game_state()[None])

    def act(self, observations: dict[str, np.ndarray]) -> dict[str, int]:
        self._before = self._state()
        self._contract = self.env.contract_in_force()[None]
        payoffs = counterfactual_rewards(self.model, self._before, self.joint[None], self._contract)
        mine = self.learner.act(self._before, payoffs[:, self._index])[0]
        return {agent: int(mine[k]) for k, agent in enumerate(self.agents)}

    def learn(
        self,
        observations: dict[str, np.ndarray],
        actions: dict[str, int],
        rewards: dict[str, float],
        next_observations: dict[str, np.ndarray],
        done: bool,
    ) -> None:
        super().learn(observations, actions, rewards, next_observations, done)
        counterfactual = None
        if self.full_information:
            counterfactual = counterfactual_rewards(
                self.model, self._before, self.joint[None], self._contract
            )
            counterfactual = counterfactual[:, self._index]
        earned = np.array([[rewards[agent] for agent in self.agents]])
        mine = self.joint[self._index][None]
        self.learner.learn(self._before, mine, earned, self._state(), np.array([done]), counterfactual)
        if done:
            self.learner.end_episode()


BEHAVIOURS: dict[str, type[Behaviour]] = {
    "best_response": BestResponse,
    "learner": LearnerBehaviour,
    "fixed": FixedPolicy,
    "callable": CallablePolicy,
}
LEARNER_NAMES = {
    "tabular_q": "q_learning",
    **{name: name for name in LEARNERS if name != "contract_q_learning"},
}


def make_behaviour(spec: Any, parameter: str = "behaviour") -> Behaviour:
    """A behaviour from a name, an instance, an int (a fixed action), a list of ints (one
    fixed action per agent played) or a callable: the one parser of behaviour specs, for the
    single views and the vector views alike. ``parameter`` names the spec in errors."""
    if isinstance(spec, Behaviour):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        return FixedPolicy(int(spec), parameter)
    if (
        isinstance(spec, (list, tuple))
        and spec
        and all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in spec)
    ):
        return FixedPolicy([int(a) for a in spec], parameter)  # one fixed action per agent played
    if isinstance(spec, str):
        if spec in ("fixed", "callable", "learner"):
            raise ValueError(
                f"{parameter}: the {spec!r} behaviour needs an argument: pass an int, a callable or a Learner"
            )
        if spec in LEARNER_NAMES:
            return LearnerBehaviour(LEARNER_NAMES[spec])
        if spec not in BEHAVIOURS:
            names = ["best_response", *LEARNER_NAMES]
            raise ValueError(
                f"{parameter}: no behaviour named {spec!r}{did_you_mean(spec, names)} Give one of {names}, "
                "an int (a fixed action), a callable or a Behaviour"
            )
        return BEHAVIOURS[spec]()
    if callable(spec):
        return CallablePolicy(spec)
    raise TypeError(
        f"{parameter}: cannot make a behaviour from {spec!r}; give a name, an int (a fixed action), "
        "a list of ints (one per agent), a callable or a Behaviour"
    )
