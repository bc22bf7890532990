"""Independent, light, numpy-only learners for the agents: the theory's assumptions.

Each learner plays for ``N`` agents of ``B`` copies at once (batch-first, so an
experiment steps many seeds in one call). An agent conditions on the
*observed state* (an index, e.g. ``model.state_index(stock)``) and chooses one
of its ``L`` actions; the contract in force is part of its (non-stationary)
reward, so it keeps learning while the principal changes the contract.

- :class:`QLearner`: tabular Q-learning, epsilon-greedy with epsilon decaying
  per episode, geometrically (``schedule="exponential"``, to a floor) or as a
  power of the episode count (``schedule="power"``: ``epsilon0 * (1 + e)**-power``,
  ``power = 1/3`` by default, so its exploration and its regret stay sublinear).
- :class:`ContractQLearner`: Q-learning that knows its contract, as an agent of
  principal-agent theory does: it learns its private utility per state and
  action (reward minus the transfer it was paid) and, where the signal is an
  outcome, the law of its signal, and adds the posted transfers when it
  chooses. A new contract is then not a new situation to learn from scratch.
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

from collections.abc import Sequence
from typing import Any

import numpy as np

from pa_envs.analysis import unilateral_rewards
from pa_envs.core import rng as counter_rng
from pa_envs.core.game import check_real, check_unit
from pa_envs.core.numerics import prior_weight
from pa_envs.core.tabular import TabularModel

SCHEDULES = ("exponential", "power")
DRAW_BLOCK = counter_rng.AHEAD  # periods of uniforms a seeded learner draws at once (fewer if large)
REGRET_BLOCK, REGRET_BLOCK_ENTRIES = 256, 1 << 16  # periods (and numbers) of regret held back at most
# ContractQLearner's fitted signal-law prior: (law, base, effect, two_way, weight) (see signal_law).
_max, _sum = np.maximum.reduce, np.add.reduce


def _column(positions: np.ndarray) -> np.ndarray:
    return positions[:, None]


_Pooled = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class Learner:
    """Common state: sizes, the random generator, the regret account."""

    name = "learner"

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        n_agents: int,
        batch: int = 1,
        seed: int | Sequence[int] | None = None,
    ):
        for label, value in (("n_states", n_states), ("n_actions", n_actions), ("n_agents", n_agents)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{label} must be a positive int, got {value!r}")
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"batch must be a positive int, got {batch!r}")
        self.n_states, self.n_actions, self.n_agents, self.batch = n_states, n_actions, n_agents, batch
        # One seed per copy: each copy draws from its own counter-based stream, so what a copy
        # does never depends on which other copies share its batch.
        self._keys: np.ndarray | None = None
        self._draws = 0
        # Seeded draws, a block of periods at a time (their numbers do not depend on the block).
        self._ahead = counter_rng.DrawnAhead(counter_rng.block_positions(batch, n_agents))
        if isinstance(seed, (str, bytes)):  # sequences, but not of seeds
            raise TypeError(f"seed must be an int, one int per copy or None, got {seed!r}")
        if isinstance(seed, (Sequence, np.ndarray)):
            seeds = list(seed)
            if len(seeds) != batch:
                raise ValueError(f"seed: one seed per copy needs {batch} seeds, got {len(seeds)}")
            self._keys = np.array([counter_rng.key_from_seed(s) for s in seeds], dtype=np.uint64)
            self.rng = np.random.default_rng(seeds[0] if seeds else None)
        else:
            self.rng = np.random.default_rng(seed)
        shape = (batch, n_agents, n_states, n_actions)
        self._would_have = np.zeros(shape)  # sum over visits of each action's (estimated) reward
        self._earned = np.zeros((batch, n_agents, n_states))
        # Periods not yet added to those sums: they are added a block at a time, in order
        # (the same additions as period by period; a large table is touched once a block).
        block = max(1, min(REGRET_BLOCK, REGRET_BLOCK_ENTRIES // (batch * n_agents * n_actions)))
        self._pending = 0
        self._pending_rows = np.zeros((block, batch, n_agents), dtype=np.int64)
        self._pending_estimates = np.zeros((block, batch, n_agents, n_actions))
        self._pending_rewards = np.zeros((block, batch, n_agents))
        self.episodes = 0
        self._rows = np.arange(batch)[:, None]
        self._agents = np.arange(n_agents)[None, :]
        # Row of (copy, agent, state 0) in a table viewed as (B * N * n_states, ...): one flat
        # index per copy and agent is a much cheaper gather than three broadcast ones.
        self._base = (self._rows * n_agents + self._agents) * n_states

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
    def act(
        self, states: np.ndarray, payoffs: np.ndarray | None = None, contracts: np.ndarray | None = None
    ) -> np.ndarray:
        """``(B, N)`` actions in ``states`` (``(B,)`` indices). ``payoffs`` is for best responders,
        ``contracts`` (``(B, N, n_signals)``, the transfers in force) for learners that read them."""
        states = self._check_states(states)
        return self._sample(self.probabilities(states))

    def act_unchecked(self, states: np.ndarray, contracts: np.ndarray | None = None) -> np.ndarray:
        """:meth:`act` for ``(B, N)`` int64 state indices the caller built and checked."""
        return self._sample(self.probabilities(states))

    def _flat(self, states: np.ndarray) -> np.ndarray:
        """``(B, N)`` rows of ``(B, N)`` state indices in a table viewed as ``(B * N * n_states, ...)``."""
        return self._base + states

    def _at(self, table: np.ndarray, states: np.ndarray) -> np.ndarray:
        """``table[copy, agent, states[copy, agent]]`` of a ``(B, N, n_states, ...)`` table."""
        return table.reshape(-1, *table.shape[3:])[self._base + states]

    def _sample(self, p: np.ndarray) -> np.ndarray:
        """One action per copy and agent from ``(B, N, L)`` probabilities (inverse CDF)."""
        draws = self._uniforms()[:, :, None]
        return np.minimum(_sum(p.cumsum(axis=2) <= draws, axis=2), self.n_actions - 1)

    def _uniforms(self) -> np.ndarray:
        """``(B, N)`` uniforms: from each copy's own stream when seeded per copy."""
        if self._keys is None:
            return self.rng.random((self.batch, self.n_agents))
        self._draws += 1
        # Draw d of every copy is its counter d: one (P, 1) column, each counter hashed once.
        return self._ahead.row(self._draws, self._keys, _column, self.n_agents)

    def learn(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_states: np.ndarray,
        done: np.ndarray,
        counterfactual: np.ndarray | None = None,
        *,
        transfers: np.ndarray | None = None,
        signals: np.ndarray | None = None,
        check: bool = True,
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
        transfers, signals : (B, N), optional
            What each agent was paid and the signal it was paid on (for learners that
            read their contract, :class:`ContractQLearner`).
        check : bool
            Check the inputs (a loop that built them itself may skip the checks).
        """
        if not check:
            # The loop that built the inputs checked them (play(): the hot path).
            states, next_states = self._as_agent_states(states), self._as_agent_states(next_states)
            estimates = (
                counterfactual if counterfactual is not None else self._importance(states, actions, rewards)
            )
            self._record(
                states, actions, rewards, next_states, done, estimates, counterfactual, transfers, signals
            )
            return
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
            estimates = self._importance(states, actions, rewards)
        else:
            estimates = np.asarray(counterfactual, dtype=np.float64)
            if estimates.shape != (self.batch, self.n_agents, self.n_actions) or not np.all(
                np.isfinite(estimates)
            ):
                raise ValueError(
                    f"counterfactual must be finite, shaped ({self.batch}, {self.n_agents}, "
                    f"{self.n_actions}), got shape {estimates.shape}"
                )
        for name, value in (("transfers", transfers), ("signals", signals)):
            if value is not None and np.shape(value) != (self.batch, self.n_agents):
                raise ValueError(
                    f"{name} must have shape ({self.batch}, {self.n_agents}), got {np.shape(value)}"
                )
        if transfers is not None:
            transfers = np.asarray(transfers, dtype=np.float64)
            if not np.all(np.isfinite(transfers)):
                raise ValueError(f"transfers must be finite, got {transfers.tolist()}")
        if signals is not None:
            signals = np.asarray(signals)
            top = getattr(self, "n_signals", None)
            if (
                not np.issubdtype(signals.dtype, np.integer)
                or signals.min() < 0
                or (top is not None and signals.max() >= top)
            ):
                raise ValueError(f"signals must be ints in 0..{top}, got {signals.tolist()}")
        self._record(
            states, actions, rewards, next_states, done, estimates, counterfactual, transfers, signals
        )

    def _importance(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> np.ndarray:
        """Importance-weighted reward estimates: unbiased for every action the learner could have taken."""
        p = self.probabilities(states)
        taken = np.zeros_like(p)
        chosen = np.take_along_axis(p, actions[:, :, None], axis=2)
        np.put_along_axis(taken, actions[:, :, None], rewards[:, :, None] / np.maximum(chosen, 1e-12), axis=2)
        return taken

    def _record(
        self, states, actions, rewards, next_states, done, estimates, counterfactual, transfers, signals
    ):
        k = self._pending
        self._pending_rows[k] = self._flat(states)
        self._pending_estimates[k] = estimates
        self._pending_rewards[k] = rewards
        self._pending = k + 1
        if self._pending == len(self._pending_rows):
            self._settle()
        self.update(states, actions, rewards, next_states, done, estimates, counterfactual)

    def _as_agent_states(self, states: np.ndarray) -> np.ndarray:
        states = np.asarray(states)
        return np.broadcast_to(states[:, None], (self.batch, self.n_agents)) if states.ndim == 1 else states

    def _settle(self) -> None:
        """Add the pending periods to the regret sums, in the order they were played."""
        k, self._pending = self._pending, 0
        if k == 1:  # one period (a large batch's block): distinct rows, a plain += adds each once
            rows = self._pending_rows[0]
            self._would_have.reshape(-1, self.n_actions)[rows] += self._pending_estimates[0]
            self._earned.reshape(-1)[rows] += self._pending_rewards[0]
        elif k:
            rows = self._pending_rows[:k].reshape(-1)
            # One flat index per number: numpy's fast 1-D ufunc.at (a row-wise one is 5x
            # slower); each entry still gets its additions in play order.
            entries = (rows[:, None] * self.n_actions + np.arange(self.n_actions)).reshape(-1)
            np.add.at(self._would_have.reshape(-1), entries, self._pending_estimates[:k].reshape(-1))
            np.add.at(self._earned.reshape(-1), rows, self._pending_rewards[:k].reshape(-1))

    def end_episode(self) -> None:
        """Every copy finished an episode (exploration schedules step here)."""
        self._settle()
        self.episodes += 1

    @property
    def regret(self) -> np.ndarray:
        """``(B, N)`` empirical external regret so far, summed over states."""
        self._settle()
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
        return self._as_agent_states(states.astype(np.int64))

    # -- saving ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        self._settle()
        return {
            "learner": self.name,
            "sizes": (self.batch, self.n_agents, self.n_states, self.n_actions),
            "settings": self._settings(),
            "would_have": self._would_have.copy(),
            "earned": self._earned.copy(),
            "episodes": self.episodes,
            "rng": self.rng.bit_generator.state,
            "draws": self._draws,
            "keys": None if self._keys is None else self._keys.copy(),
            **self._tables(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sizes = (self.batch, self.n_agents, self.n_states, self.n_actions)
        if state.get("learner") != self.name or tuple(state.get("sizes", ())) != sizes:
            raise ValueError(
                f"this state is of a {state.get('learner')!r} learner sized {state.get('sizes')} "
                f"(batch, agents, states, actions); this learner is {self.name!r} sized {sizes}"
            )
        tables = {"would_have": self._would_have, "earned": self._earned, **self._tables()}
        for name, current in tables.items():
            if name not in state:
                raise ValueError(f"this state lacks {name!r}")
            # A cached value (None until the first episode ends) may be missing on either side.
            if current is not None and state[name] is not None and np.shape(state[name]) != np.shape(current):
                raise ValueError(
                    f"saved {name} has shape {np.shape(state[name])}, expected {np.shape(current)}"
                )
        for name, value in state["settings"].items():
            setattr(self, name, value)
        # C order: the hot path writes the tables through flat views.
        self._pending = 0  # the saved sums replace this learner's, pending periods included
        self._would_have = np.array(state["would_have"], dtype=np.float64, order="C")
        self._earned = np.array(state["earned"], dtype=np.float64, order="C")
        self.episodes = int(state["episodes"])
        self.rng.bit_generator.state = state["rng"]
        self._draws = int(state.get("draws", 0))
        keys = state.get("keys")
        self._keys = None if keys is None else np.array(keys, dtype=np.uint64)
        self._ahead.clear()  # drawn for the old keys
        for name in self._tables():
            if hasattr(self, name):  # the learner's tables (cached values are the subclass's to restore)
                setattr(self, name, np.array(state[name], order="C"))

    def _tables(self) -> dict[str, np.ndarray | None]:
        return {}

    def _settings(self) -> dict[str, Any]:
        return {}


class QLearner(Learner):
    """Tabular Q-learning, epsilon-greedy.

    Exploration decays per episode ``e``: ``schedule="exponential"`` (the default)
    gives ``epsilon = max(min_epsilon, epsilon0 * decay**e)``, ``schedule="power"``
    gives ``epsilon = max(min_epsilon, epsilon0 * (1 + e)**-power)``. With the power
    schedule, ``power = 1/3`` and ``min_epsilon = 0`` the learner explores in
    ``O(T**(2/3))`` of ``T`` episodes, so its own regret grows sublinearly: the
    condition the two-phase mechanism's guarantee assumes of the agents. A floor
    ``min_epsilon > 0`` keeps exploring a fixed share of periods forever (regret
    grows linearly).

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
        seed: int | Sequence[int] | None = None,
        *,
        alpha: float = 0.1,
        gamma: float = 0.0,
        epsilon0: float = 1.0,
        decay: float = 0.98,
        min_epsilon: float = 0.01,
        initial_q: float = 0.0,
        schedule: str = "exponential",
        power: float = 1 / 3,
    ) -> None:
        super().__init__(n_states, n_actions, n_agents, batch, seed)
        self.alpha, self.gamma = check_unit("alpha", alpha), check_unit("gamma", gamma)
        self.epsilon0, self.decay = check_unit("epsilon0", epsilon0), check_unit("decay", decay)
        self.min_epsilon = check_unit("min_epsilon", min_epsilon)
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        self.schedule = schedule
        check_real("power", power, 0.0, 10.0)
        self.power = float(power)
        real = isinstance(initial_q, (int, float, np.integer, np.floating)) and not isinstance(
            initial_q, bool
        )
        if not real or not np.isfinite(initial_q):
            raise ValueError(f"initial_q must be a finite number, got {initial_q!r}")
        self.initial_q = float(initial_q)
        self.q = np.full((batch, n_agents, n_states, n_actions), float(initial_q))

    @property
    def epsilon(self) -> float:
        if self.schedule == "power":
            return max(self.min_epsilon, self.epsilon0 * (1.0 + self.episodes) ** -self.power)
        return max(self.min_epsilon, self.epsilon0 * self.decay**self.episodes)

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        return self._greedy_mix(self._at(self.q, states))

    def _greedy_mix(self, values: np.ndarray) -> np.ndarray:
        """Epsilon-greedy probabilities over ``(B, N, L)`` action values (ties split evenly)."""
        # Ufunc reductions called directly (the methods' wrappers cost more than these few numbers).
        greedy = values == _max(values, axis=2, keepdims=True)
        greedy = greedy / _sum(greedy, axis=2, keepdims=True)
        epsilon = self.epsilon
        return epsilon / self.n_actions + (1.0 - epsilon) * greedy

    def update(self, states, actions, rewards, next_states, done, estimates, counterfactual) -> None:
        target = rewards
        if self.gamma > 0:
            following = _max(self._at(self.q, next_states), axis=2)
            target = rewards + self.gamma * np.where(done[:, None], 0.0, following)
        where = self._flat(states) * self.n_actions + actions  # into q viewed flat
        q = self.q.reshape(-1)
        q[where] += self.alpha * (target - q[where])

    def _tables(self) -> dict[str, np.ndarray | None]:
        return {"q": self.q.copy()}

    def _settings(self) -> dict[str, Any]:
        names = ("alpha", "gamma", "epsilon0", "decay", "min_epsilon", "schedule", "power")
        return {name: getattr(self, name) for name in names}


class ContractQLearner(QLearner):
    """Q-learning that knows its contract: it learns what the world pays, and reads the transfers.

    An agent of principal-agent theory knows the contract it is offered; what it
    does not know is its environment. This learner keeps, per state and action,
    an estimate ``q`` of its private utility (the reward minus the transfer it
    was paid: the contract-free part), updated like Q-learning, and the law of
    its own contractible signal (counts; the signal is the action in envs where
    the signal is the action, an outcome such as a claim or a review
    elsewhere). It chooses epsilon-greedily on

        q[s, a] + sum_k P(signal k | s, a) * contract[k]

    with the contract posted this period (``act(states, contracts=...)``), so it
    answers a new contract at once instead of learning each contract as a new
    situation. Myopic: the transfers of later periods are the principal's to
    change, so only ``gamma = 0`` is accepted. An action not yet tried in a
    state is tried before any other (its value counts as infinite); after that
    its utility is the average of what it earned until ``1 / alpha`` visits,
    then an exponential average with weight ``alpha`` (it keeps tracking the
    others' play, which moves the utility where agents interact).

    ``learn`` needs ``transfers`` and ``signals`` (``(B, N)``: what each agent was paid
    and the signal it was paid on).
    """

    name = "contract_q_learning"

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        n_agents: int,
        batch: int = 1,
        seed: int | Sequence[int] | None = None,
        *,
        n_signals: int | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(n_states, n_actions, n_agents, batch, seed, **settings)
        if self.gamma != 0.0:
            raise ValueError(f"gamma must be 0 for a ContractQLearner (it is myopic), got {self.gamma!r}")
        n_signals = n_actions if n_signals is None else n_signals
        if isinstance(n_signals, bool) or not isinstance(n_signals, (int, np.integer)) or n_signals < 1:
            raise ValueError(f"n_signals must be a positive int, got {n_signals!r}")
        self.n_signals = int(n_signals)
        self.signal_counts = np.zeros((batch, n_agents, n_states, n_actions, self.n_signals))
        # Sums of the utilities seen, for the utility's prior over all states (refreshed as episodes end).
        self.utility_sums = np.zeros((batch, n_agents, n_states, n_actions, 2))
        self._pooled: _Pooled | None = None
        self._utility_prior: tuple[np.ndarray, np.ndarray] | None = None
        self._last_contracts: np.ndarray | None = None

    def signal_law(self, states: np.ndarray) -> np.ndarray:
        """``(B, N, L, n_signals)``: the estimated law of each action's signal in ``states``.

        The counts there, plus observations of a prior fitted over all states: either
        the action's law over all states, or the state's signal frequencies plus the
        action's average departure from them (a signal that moves alike in every
        state: a claim is less likely under prevention by the same amount whatever the
        risk). Per copy and agent, the prior that fits the states better is used, with
        as many observations as empirical Bayes finds it worth: many where the law
        varies with the state no more than noise, few where it does.
        """
        counts = self._at(self.signal_counts, states)  # (B, N, L, K)
        pooled = self._pooled if self._pooled is not None else self._refresh_pooled()
        law, base, effect, two_way, weight = pooled
        by_state = np.clip(self._at(base, states)[:, :, None, :] + effect, 0.0, None)
        by_state /= np.maximum(by_state.sum(axis=3, keepdims=True), 1e-12)
        prior = np.where(two_way[:, :, None, None], by_state, law)
        weight = weight[:, :, None, None]
        return (counts + weight * prior) / (counts.sum(axis=3, keepdims=True) + weight)

    def _refresh_pooled(self) -> _Pooled:
        """Fit both priors of :meth:`signal_law` over all states, keep the better, weigh it
        (kept as ``_pooled``, and returned)."""
        counts = self.signal_counts  # (B, N, S, L, K)
        visits = counts.sum(axis=4)  # (B, N, S, L)
        seen = visits > 0
        local = counts / np.maximum(visits, 1.0)[..., None]
        uniform = 1.0 / self.n_signals
        pooled = counts.sum(axis=2)  # (B, N, L, K)
        tried = pooled.sum(axis=3, keepdims=True)
        law = np.where(tried > 0, pooled / np.maximum(tried, 1.0), uniform)
        in_state = counts.sum(axis=3)  # (B, N, S, K)
        state_seen = in_state.sum(axis=3, keepdims=True)
        base = np.where(state_seen > 0, in_state / np.maximum(state_seen, 1.0), uniform)
        departure = np.where(seen[..., None], local - base[:, :, :, None, :], 0.0)
        effect = (departure * visits[..., None]).sum(axis=2) / np.maximum(tried, 1.0)  # (B, N, L, K)
        additive = np.clip(base[:, :, :, None, :] + effect[:, :, None], 0.0, None)
        additive /= np.maximum(additive.sum(axis=4, keepdims=True), 1e-12)
        noise = (law * (1 - law)).sum(axis=3)  # (B, N, L): one observation's variance
        weights = visits.sum(axis=(2, 3))

        def spread(prior: np.ndarray) -> np.ndarray:
            """How far the states' laws stray from a prior beyond their noise, (B, N)."""
            excess = ((local - prior) ** 2).sum(axis=4) - noise[:, :, None] / np.maximum(visits, 1.0)
            return np.where(seen, excess * visits, 0.0).sum(axis=(2, 3)) / np.maximum(weights, 1.0)

        alone, two_way = spread(law[:, :, None]), spread(additive)
        mean_noise = (noise * tried[..., 0]).sum(axis=2) / np.maximum(tried[..., 0].sum(axis=2), 1.0)
        better = np.minimum(alone, two_way)
        weight = prior_weight(mean_noise, better, low=1.0)
        self._pooled = (law, base, effect, two_way < alone, weight)
        return self._pooled

    def end_episode(self) -> None:
        super().end_episode()
        # The priors move slowly once there are data: every episode at first, then every tenth.
        if self.episodes < 20 or self.episodes % 10 == 0:
            self._refresh_pooled()
            self._refresh_utility()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        # The priors as they were at the last refresh: a restored learner plays on identically.
        pooled = [state[f"pooled_{i}"] for i in range(5)]
        if pooled[0] is None:
            self._pooled = None
        else:
            law, base, effect, two_way, weight = (np.array(value) for value in pooled)
            self._pooled = (law, base, effect, two_way, weight)
        prior, weight = (state[f"utility_prior_{i}"] for i in range(2))
        self._utility_prior = None if prior is None else (np.array(prior), np.array(weight))
        contracts = state["last_contracts"]
        self._last_contracts = None if contracts is None else np.array(contracts)

    def action_values(self, states: np.ndarray, contracts: np.ndarray) -> np.ndarray:
        """``(B, N, L)``: estimated utility plus the expected transfer of each action
        (``inf`` for an action not yet tried in that state: every action is tried once)."""
        visits = self._at(self.signal_counts, states).sum(axis=3)  # (B, N, L)
        paid = np.einsum("bnlk,bnk->bnl", self.signal_law(states), contracts)
        return np.where(visits > 0, self.utility(states, visits) + paid, np.inf)

    def utility(self, states: np.ndarray, visits: np.ndarray | None = None) -> np.ndarray:
        """``(B, N, L)``: the estimated private utility of each action in ``states``: the
        tracked average ``q``, shrunk (empirical Bayes, per copy and agent) toward a prior
        fitted over all states, the state's level plus the action's average departure
        from it. Where an action's utility differs from another's alike in every state
        (a cost of effort), the difference is learned from every state's data."""
        if visits is None:
            visits = self._at(self.signal_counts, states).sum(axis=3)
        utility_prior = self._utility_prior if self._utility_prior is not None else self._refresh_utility()
        prior, weight = utility_prior
        tracked = np.minimum(visits, 1.0 / self.alpha)  # what an exponential average weighs
        weight = weight[:, :, None]
        q = self._at(self.q, states)
        return (tracked * q + weight * self._at(prior, states)) / np.maximum(tracked + weight, 1e-12)

    def _refresh_utility(self) -> tuple[np.ndarray, np.ndarray]:
        """Fit :meth:`utility`'s prior and its weight (kept as ``_utility_prior``, and returned)."""
        sums, squares = self.utility_sums[..., 0], self.utility_sums[..., 1]  # (B, N, S, L)
        visits = self.signal_counts.sum(axis=4)
        seen = visits > 0
        means = sums / np.maximum(visits, 1.0)
        level = sums.sum(axis=3) / np.maximum(visits.sum(axis=3), 1.0)  # (B, N, S)
        departure = np.where(seen, means - level[..., None], 0.0)
        effect = (departure * visits).sum(axis=2) / np.maximum(visits.sum(axis=2), 1.0)  # (B, N, L)
        prior = level[..., None] + effect[:, :, None, :]
        within = np.where(visits > 1, squares - sums * means, 0.0).sum(axis=(2, 3))
        noise = within / np.maximum((visits - 1).clip(0).sum(axis=(2, 3)), 1.0)
        excess = np.where(
            seen, ((means - prior) ** 2 - noise[:, :, None, None] / np.maximum(visits, 1.0)) * visits, 0.0
        )
        spread = excess.sum(axis=(2, 3)) / np.maximum(visits.sum(axis=(2, 3)), 1.0)
        self._utility_prior = (prior, prior_weight(noise, spread, low=0.0))
        return self._utility_prior

    def act(
        self, states: np.ndarray, payoffs: np.ndarray | None = None, contracts: np.ndarray | None = None
    ) -> np.ndarray:
        states = self._check_states(states)
        if contracts is None:
            raise ValueError(
                f"{type(self).__name__}.act needs contracts ({self.batch}, {self.n_agents}, "
                f"{self.n_signals}): the transfers in force"
            )
        contracts = np.asarray(contracts, dtype=np.float64)
        if contracts.shape != (self.batch, self.n_agents, self.n_signals):
            raise ValueError(
                f"contracts must have shape ({self.batch}, {self.n_agents}, {self.n_signals}), "
                f"got {contracts.shape}"
            )
        return self.act_unchecked(states, contracts)

    def act_unchecked(self, states: np.ndarray, contracts: np.ndarray | None = None) -> np.ndarray:
        """:meth:`act` for ``(B, N)`` state indices and contracts already checked by the caller."""
        assert contracts is not None, "a ContractQLearner acts on the contracts in force"
        self._last_contracts = contracts
        return self._sample(self._greedy_mix(self.action_values(states, contracts)))

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """The probabilities :meth:`act` played with, under the contract it was last given
        (what importance-weighted regret estimates need); contract-free before any."""
        contracts = self._last_contracts
        if contracts is None:
            contracts = np.zeros((self.batch, self.n_agents, self.n_signals))
        return self._greedy_mix(self.action_values(states, contracts))

    def _record(
        self, states, actions, rewards, next_states, done, estimates, counterfactual, transfers, signals
    ):
        if transfers is None or signals is None:
            raise ValueError(
                f"{type(self).__name__}.learn needs transfers and signals ({self.batch}, {self.n_agents})"
            )
        super()._record(states, actions, rewards, next_states, done, estimates, counterfactual, None, None)
        where = self._flat(states) * self.n_actions + actions  # (state, action) rows, flat
        counts = self.signal_counts.reshape(-1, self.n_signals)
        counts.reshape(-1)[where * self.n_signals + signals] += 1.0
        # A sample average until 1 / alpha visits (no initial value to forget), then alpha.
        visits = counts[where].sum(axis=-1)
        utility = rewards - transfers
        q = self.q.reshape(-1)
        q[where] += np.maximum(self.alpha, 1.0 / visits) * (utility - q[where])
        self.utility_sums.reshape(-1, 2)[where] += np.stack([utility, utility**2], axis=-1)

    def update(self, states, actions, rewards, next_states, done, estimates, counterfactual) -> None:
        """The utility update needs the transfers: :meth:`_record` does it."""

    def _tables(self) -> dict[str, np.ndarray | None]:
        pooled = self._pooled if self._pooled is not None else (None,) * 5
        utility = self._utility_prior if self._utility_prior is not None else (None,) * 2
        return {
            "q": self.q.copy(),
            "signal_counts": self.signal_counts.copy(),
            "utility_sums": self.utility_sums.copy(),
            **{f"pooled_{i}": None if value is None else np.array(value) for i, value in enumerate(pooled)},
            **{f"utility_prior_{i}": None if v is None else np.array(v) for i, v in enumerate(utility)},
            "last_contracts": None if self._last_contracts is None else self._last_contracts.copy(),
        }


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
        scores = self.eta * self._at(self.scores, states)
        weights = np.exp(scores - scores.max(axis=2, keepdims=True))
        p = weights / weights.sum(axis=2, keepdims=True)
        if self._full_information:
            return p
        return (1.0 - self.exploration) * p + self.exploration / self.n_actions

    def update(self, states, actions, rewards, next_states, done, estimates, counterfactual) -> None:
        self._full_information = counterfactual is not None
        flat, scores = self._flat(states), self.scores.reshape(-1, self.n_actions)
        scores[flat] = self.memory * scores[flat] + estimates

    def _tables(self) -> dict[str, np.ndarray | None]:
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

    def act(
        self, states: np.ndarray, payoffs: np.ndarray | None = None, contracts: np.ndarray | None = None
    ) -> np.ndarray:
        """The best action of each copy and agent under ``payoffs`` (they include the transfers:
        ``contracts`` is not read)."""
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

    def _importance(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> np.ndarray:
        # learn() estimates what it was not given: a best responder's regret needs it given.
        raise ValueError("MyopicBestResponder.learn needs counterfactual rewards to account its regret")


LEARNERS: dict[str, type[Learner]] = {
    "q_learning": QLearner,
    "contract_q_learning": ContractQLearner,
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
    return unilateral_rewards(model, states, actions, np.asarray(contracts, dtype=np.float64))


__all__ = [
    "LEARNERS",
    "ContractQLearner",
    "HedgeLearner",
    "Learner",
    "MyopicBestResponder",
    "QLearner",
    "counterfactual_rewards",
]
