"""Independent, light, numpy-only learners for the agents: the theory's assumptions.

Each learner plays for ``N`` agents of ``B`` copies at once (batch-first, so an
experiment steps many seeds in one call). An agent conditions on the
*observed state* (an index, e.g. ``model.state_index(stock)``) and chooses one
of its ``L`` actions; the contract in force is part of its (non-stationary)
reward, so it keeps learning while the principal changes the contract.

- :class:`QLearner`: tabular Q-learning, epsilon-greedy with epsilon decaying
  per episode.
- :class:`HedgeLearner`: no-regret exponential weights per state: Hedge with
  full-information feedback, EXP3 (importance-weighted) without.
- :class:`MyopicBestResponder`: each period, the best reply to the others'
  last actions given this period's payoffs (needs the payoff oracle).

Every learner reports its empirical external regret (:attr:`Learner.regret`):
per copy and agent, the sum over states of ``max_a sum_t r_t(a) - sum_t r_t(a_t)``,
with ``r_t(a)`` the reward action ``a`` would have earned in period ``t``. Pass
those counterfactual rewards to :meth:`Learner.learn` (an experiment can
compute them exactly from the env's model); without them the regret uses
importance-weighted estimates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pa_envs.analysis import unilateral_rewards
from pa_envs.core.game import check_unit
from pa_envs.core.tabular import TabularModel


class Learner:
    """Common state: sizes, the random generator, the regret account."""

    name = "learner"

    def __init__(self, n_states: int, n_actions: int, n_agents: int, batch: int = 1, seed: int | None = None):
        for label, value in (("n_states", n_states), ("n_actions", n_actions), ("n_agents", n_agents)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{label} must be a positive int, got {value!r}")
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"batch must be a positive int, got {batch!r}")
        self.n_states, self.n_actions, self.n_agents, self.batch = n_states, n_actions, n_agents, batch
        self.rng = np.random.default_rng(seed)
        shape = (batch, n_agents, n_states, n_actions)
        self._would_have = np.zeros(shape)  # sum over visits of each action's (estimated) reward
        self._earned = np.zeros((batch, n_agents, n_states))
        self.episodes = 0
        self._rows = np.arange(batch)[:, None]
        self._agents = np.arange(n_agents)[None, :]

    # -- to override ---------------------------------------------------------------
    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """``(B, N, L)`` probability of each action in ``states`` (``(B,)``)."""
        raise NotImplementedError

    def update(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_states: np.ndarray,
        done: np.ndarray,
        estimates: np.ndarray,
        counterfactual: np.ndarray | None,
    ) -> None:
        """Learner-specific update (``estimates``: ``(B, N, L)`` reward of each action)."""

    # -- the shared loop -------------------------------------------------------------
    def act(self, states: np.ndarray, payoffs: np.ndarray | None = None) -> np.ndarray:
        """``(B, N)`` actions in ``states`` (``(B,)`` indices). ``payoffs`` is for best responders."""
        states = self._check_states(states)
        p = self.probabilities(states)
        draws = self.rng.random((self.batch, self.n_agents, 1))
        return np.minimum((p.cumsum(axis=2) <= draws).sum(axis=2), self.n_actions - 1)

    def learn(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_states: np.ndarray,
        done: np.ndarray,
        counterfactual: np.ndarray | None = None,
    ) -> None:
        """Learn from one period of every copy.

        Parameters
        ----------
        states, next_states : (B,) state indices before and after.
        actions : (B, N) actions taken.
        rewards : (B, N) rewards earned (utility plus transfer).
        done : (B,) the episode ended.
        counterfactual : (B, N, L), optional
            The reward each action would have earned this period (others' actions fixed).
        """
        states = self._check_states(states)
        next_states = self._check_states(next_states)
        actions = np.asarray(actions)
        rewards = np.asarray(rewards, dtype=np.float64)
        if actions.shape != (self.batch, self.n_agents) or rewards.shape != actions.shape:
            raise ValueError(
                f"actions and rewards must have shape ({self.batch}, {self.n_agents}), "
                f"got {actions.shape} and {rewards.shape}"
            )
        if (
            not np.issubdtype(actions.dtype, np.integer)
            or actions.min() < 0
            or actions.max() >= self.n_actions
        ):
            raise ValueError(f"actions must be ints in 0..{self.n_actions - 1}, got {actions.tolist()}")
        actions = actions.astype(np.int64)
        if not np.all(np.isfinite(rewards)):
            raise ValueError(f"rewards must be finite, got {rewards.tolist()}")
        done = np.asarray(done, dtype=bool)
        if done.shape != (self.batch,):
            raise ValueError(f"done must have shape ({self.batch},), got {done.shape}")
        if counterfactual is None:
            # Importance weighting: unbiased for every action the learner could have taken.
            p = self.probabilities(states)
            taken = np.zeros_like(p)
            chosen = np.take_along_axis(p, actions[:, :, None], axis=2)
            np.put_along_axis(
                taken, actions[:, :, None], rewards[:, :, None] / np.maximum(chosen, 1e-12), axis=2
            )
            estimates = taken
        else:
            estimates = np.asarray(counterfactual, dtype=np.float64)
            if estimates.shape != (self.batch, self.n_agents, self.n_actions) or not np.all(
                np.isfinite(estimates)
            ):
                raise ValueError(
                    f"counterfactual must be finite, shaped ({self.batch}, {self.n_agents}, "
                    f"{self.n_actions}), got shape {estimates.shape}"
                )
        where = (self._rows, self._agents, states)
        self._would_have[where] += estimates
        self._earned[where] += rewards
        self.update(states, actions, rewards, next_states, done, estimates, counterfactual)

    def end_episode(self) -> None:
        """Every copy finished an episode (exploration schedules step here)."""
        self.episodes += 1

    @property
    def regret(self) -> np.ndarray:
        """``(B, N)`` empirical external regret so far, summed over states."""
        return (self._would_have.max(axis=3) - self._earned).sum(axis=2)

    def _check_states(self, states: np.ndarray) -> np.ndarray:
        """``(B,)`` one observed state per copy, or ``(B, N)`` one per agent; returned as ``(B, N)``."""
        states = np.asarray(states)
        if (
            states.shape not in ((self.batch,), (self.batch, self.n_agents))
            or not np.issubdtype(states.dtype, np.integer)
            or states.min() < 0
            or states.max() >= self.n_states
        ):
            raise ValueError(
                f"states must be ({self.batch},) or ({self.batch}, {self.n_agents}) indices in "
                f"0..{self.n_states - 1}, got {states.tolist()}"
            )
        states = states.astype(np.int64)
        return np.broadcast_to(states[:, None], (self.batch, self.n_agents)) if states.ndim == 1 else states

    # -- saving ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "learner": self.name,
            "sizes": (self.batch, self.n_agents, self.n_states, self.n_actions),
            "settings": self._settings(),
            "would_have": self._would_have.copy(),
            "earned": self._earned.copy(),
            "episodes": self.episodes,
            "rng": self.rng.bit_generator.state,
            **self._tables(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sizes = (self.batch, self.n_agents, self.n_states, self.n_actions)
        if state.get("learner") != self.name or tuple(state.get("sizes", ())) != sizes:
            raise ValueError(
                f"this state is of a {state.get('learner')!r} learner sized {state.get('sizes')} "
                f"(batch, agents, states, actions); this learner is {self.name!r} sized {sizes}"
            )
        for name, value in state["settings"].items():
            setattr(self, name, value)
        self._would_have = np.array(state["would_have"])
        self._earned = np.array(state["earned"])
        self.episodes = int(state["episodes"])
        self.rng.bit_generator.state = state["rng"]
        for name in self._tables():
            setattr(self, name, np.array(state[name]))

    def _tables(self) -> dict[str, np.ndarray]:
        return {}

    def _settings(self) -> dict[str, Any]:
        return {}


class QLearner(Learner):
    """Tabular Q-learning, epsilon-greedy; ``epsilon = max(min_epsilon, epsilon0 * decay**episodes)``.

    ``initial_q`` above every reward (optimistic initialization) makes each
    agent try every action in every state it reaches; with ``0`` and positive
    rewards, the first action tried in a state reached after exploration has
    decayed tends to stick.
    """

    name = "q_learning"

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        n_agents: int,
        batch: int = 1,
        seed: int | None = None,
        *,
        alpha: float = 0.1,
        gamma: float = 0.0,
        epsilon0: float = 1.0,
        decay: float = 0.98,
        min_epsilon: float = 0.01,
        initial_q: float = 0.0,
    ) -> None:
        super().__init__(n_states, n_actions, n_agents, batch, seed)
        self.alpha, self.gamma = check_unit("alpha", alpha), check_unit("gamma", gamma)
        self.epsilon0, self.decay = check_unit("epsilon0", epsilon0), check_unit("decay", decay)
        self.min_epsilon = check_unit("min_epsilon", min_epsilon)
        real = isinstance(initial_q, (int, float, np.integer, np.floating)) and not isinstance(
            initial_q, bool
        )
        if not real or not np.isfinite(initial_q):
            raise ValueError(f"initial_q must be a finite number, got {initial_q!r}")
        self.q = np.full((batch, n_agents, n_states, n_actions), float(initial_q))

    @property
    def epsilon(self) -> float:
        return max(self.min_epsilon, self.epsilon0 * self.decay**self.episodes)

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        q = self.q[self._rows, self._agents, states]  # (B, N, L)
        greedy = q == q.max(axis=2, keepdims=True)
        greedy = greedy / greedy.sum(axis=2, keepdims=True)  # ties split evenly
        return self.epsilon / self.n_actions + (1.0 - self.epsilon) * greedy

    def update(self, states, actions, rewards, next_states, done, estimates, counterfactual) -> None:
        target = rewards
        if self.gamma > 0:
            following = self.q[self._rows, self._agents, next_states].max(axis=2)
            target = rewards + self.gamma * np.where(done[:, None], 0.0, following)
        where = (self._rows, self._agents, states, actions)
        self.q[where] += self.alpha * (target - self.q[where])

    def _tables(self) -> dict[str, np.ndarray]:
        return {"q": self.q.copy()}

    def _settings(self) -> dict[str, Any]:
        names = ("alpha", "gamma", "epsilon0", "decay", "min_epsilon")
        return {name: getattr(self, name) for name in names}


class HedgeLearner(Learner):
    """Exponential weights per state: ``p ∝ exp(eta * cumulative reward estimates)``.

    With counterfactual rewards it is Hedge (full information); without, EXP3:
    importance-weighted estimates and ``exploration`` mixed in uniformly.
    EXP3 depends on the scale of rewards: ``eta`` should be about
    ``sqrt(log L / (T L))`` divided by the reward range, and its estimated
    regret is noisy.
    ``memory < 1`` discounts old scores at each visit, so the learner tracks a
    contract that changes (classic Hedge, ``memory=1``, is no-regret against
    fixed actions but slow to follow a change).
    """

    name = "hedge"

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        n_agents: int,
        batch: int = 1,
        seed: int | None = None,
        *,
        eta: float = 0.1,
        exploration: float = 0.05,
        memory: float = 1.0,
    ) -> None:
        super().__init__(n_states, n_actions, n_agents, batch, seed)
        real = isinstance(eta, (int, float, np.integer, np.floating)) and not isinstance(eta, bool)
        if not real or not 0 < eta < np.inf:
            raise ValueError(f"eta must be a positive number, got {eta!r}")
        self.eta = float(eta)
        self.exploration = check_unit("exploration", exploration)
        self.memory = check_unit("memory", memory, open_low=True)
        self.scores = np.zeros((batch, n_agents, n_states, n_actions))
        self._full_information = True

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        scores = self.eta * self.scores[self._rows, self._agents, states]
        weights = np.exp(scores - scores.max(axis=2, keepdims=True))
        p = weights / weights.sum(axis=2, keepdims=True)
        if self._full_information:
            return p
        return (1.0 - self.exploration) * p + self.exploration / self.n_actions

    def update(self, states, actions, rewards, next_states, done, estimates, counterfactual) -> None:
        self._full_information = counterfactual is not None
        where = (self._rows, self._agents, states)
        self.scores[where] = self.memory * self.scores[where] + estimates

    def _tables(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores.copy()}

    def _settings(self) -> dict[str, Any]:
        names = ("eta", "exploration", "memory", "_full_information")
        return {name: getattr(self, name) for name in names}


class MyopicBestResponder(Learner):
    """Each period, the action with the highest payoff given the others' last actions.

    ``act`` needs ``payoffs`` ``(B, N, L)``: this period's reward of each own
    action (utility plus transfer) with the others at their last actions, as
    :func:`counterfactual_rewards` computes from the env's model.
    """

    name = "myopic_best_response"

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        raise RuntimeError(
            "a best responder has no action probabilities; pass counterfactual rewards to learn()"
        )

    def act(self, states: np.ndarray, payoffs: np.ndarray | None = None) -> np.ndarray:
        self._check_states(states)
        if payoffs is None:
            raise ValueError("MyopicBestResponder.act needs payoffs (B, N, L): see counterfactual_rewards()")
        payoffs = np.asarray(payoffs, dtype=np.float64)
        if payoffs.shape != (self.batch, self.n_agents, self.n_actions):
            raise ValueError(
                f"payoffs must have shape ({self.batch}, {self.n_agents}, {self.n_actions}), "
                f"got {payoffs.shape}"
            )
        return payoffs.argmax(axis=2)

    def learn(self, states, actions, rewards, next_states, done, counterfactual=None) -> None:
        if counterfactual is None:
            raise ValueError("MyopicBestResponder.learn needs counterfactual rewards to account its regret")
        super().learn(states, actions, rewards, next_states, done, counterfactual)


LEARNERS: dict[str, type[Learner]] = {
    "q_learning": QLearner,
    "hedge": HedgeLearner,
    "myopic_best_response": MyopicBestResponder,
}


def counterfactual_rewards(
    model: TabularModel, states: np.ndarray, actions: np.ndarray, contracts: np.ndarray
) -> np.ndarray:
    """``(B, N, L)``: the expected reward each agent's every action earns, the others' actions fixed.

    Parameters
    ----------
    model : TabularModel
        The env's exact model (joint-action or count model).
    states : (B,) state indices.
    actions : (B, N) the joint action the others' actions are read from.
    contracts : (B, N, n_signals) the contracts in force.
    """
    states = np.asarray(states, dtype=np.int64)
    actions = np.asarray(actions, dtype=np.int64)
    return np.stack(
        [unilateral_rewards(model, states, actions, contracts, i) for i in range(actions.shape[1])], axis=1
    )


__all__ = [
    "LEARNERS",
    "HedgeLearner",
    "Learner",
    "MyopicBestResponder",
    "QLearner",
    "counterfactual_rewards",
]
