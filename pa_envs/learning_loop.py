"""Learning agents under a principal, many copies in one array pass: the loop of the experiments.

:func:`play` runs ``B`` copies of one env configuration for ``E`` episodes. Each
copy has its own seed: its env noise (the same counter-based stream a
PettingZoo env reset with that seed draws) and its agents' draws (a stream of
their own) depend on nothing else in the batch, so a copy plays the same alone
or beside others. The principal is any :class:`~pa_envs.mechanisms.Mechanism`
over the batch (:class:`~pa_envs.mechanisms.Stacked` puts several principals,
or one principal at several settings, side by side). The agents are the
tabular learners of :mod:`pa_envs.learners`, one per agent of every copy, each
conditioning on what that agent observes (its observation's state features,
as an index) and, for :class:`~pa_envs.learners.QLearner`, on the contract row
it is shown (:class:`Situations`).

Three agent set-ups are named (:data:`AGENTS`):

- ``"theory"``: :class:`~pa_envs.learners.ContractQLearner` with exploration
  ``epsilon = 0.3 (1 + e)**(-1/3)`` in episode ``e`` and no floor: agents whose own
  regret grows sublinearly and that explore every action, the conditions of
  the two-phase mechanism's guarantee;
- ``"situations"``: :class:`~pa_envs.learners.QLearner` on (state, contract
  row) situations with the power schedule: agents that learn each new
  contract as a new situation, from scratch, with optimistic initial values;
- ``"floor"``: the suite's earlier learners, the same situation learners with
  ``epsilon = max(0.01, 0.95**e)``: they keep exploring 1% of periods
  forever, so their own regret and every principal's welfare regret grow
  linearly: the documented case where the theory's conditions fail.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from pa_envs.analysis import unilateral_rewards
from pa_envs.core.batch import BatchedEpisodes
from pa_envs.core.game import Game, check_int
from pa_envs.core.names import did_you_mean
from pa_envs.core.numerics import ObservationIndex, dot_ints, one_blas_thread, place_values
from pa_envs.core.rng import AGENT_STREAM
from pa_envs.core.tabular import TabularModel
from pa_envs.learners import LEARNERS, ContractQLearner, Learner
from pa_envs.mechanisms import Mechanism, PeriodFeedback

_min, _max, _all = np.minimum.reduce, np.maximum.reduce, np.logical_and.reduce
_SENTINEL = 2**62  # above every row key of the fast path (keys stay below 2**62)

AGENTS: dict[str, dict[str, Any]] = {
    "theory": {
        "learner": "contract_q_learning",
        "alpha": 0.05,
        "schedule": "power",
        "power": 1 / 3,
        "epsilon0": 0.3,
        "min_epsilon": 0.0,
    },
    "floor": {
        "learner": "q_learning",
        "alpha": 0.3,
        "schedule": "exponential",
        "decay": 0.95,
        "epsilon0": 1.0,
        "min_epsilon": 0.01,
        "initial_q": 15.0,
        "rows": 256,
    },
    "situations": {
        "learner": "q_learning",
        "alpha": 0.3,
        "schedule": "power",
        "power": 1 / 3,
        "epsilon0": 1.0,
        "min_epsilon": 0.0,
        "initial_q": 15.0,
        "rows": 256,
    },
}
"""Named agent set-ups: the learner (a name of :data:`pa_envs.learners.LEARNERS`) and its settings."""


class Situations:
    """What a :class:`~pa_envs.learners.QLearner` agent conditions on: its state and its contract row.

    Each distinct (rounded) contract row gets an id, per copy, the first time it is
    shown to an agent of that copy; an agent's situation is ``state * rows + row id``,
    so a new contract is a new situation, which an optimistic learner explores.

    Parameters
    ----------
    n_states : int
        States the agents tell apart.
    batch : int
        Copies; each keeps its own ids.
    rows : int
        Most distinct rows a copy may show; a ``RuntimeError`` names the limit beyond.
    bound : float, optional
        Largest transfer a row holds (``max_transfer``): rows within it are told apart by
        one integer key per row, a fast path; any other row takes the general one.
    """

    def __init__(self, n_states: int, batch: int = 1, rows: int = 64, bound: float | None = None) -> None:
        self.n_states, self.batch, self.rows = n_states, batch, rows
        self._global: dict[bytes, int] = {}
        self._local = np.full((batch, 16), -1, dtype=np.int64)
        self._starts = np.arange(batch)[:, None] * self._local.shape[1]  # copy b's row in _local, flat
        self._used = np.zeros(batch, dtype=np.int64)
        self._last: tuple[np.ndarray, np.ndarray] | None = None
        # The fast path's cache over _global: sorted integer keys of rounded rows and their ids.
        self._reach = None if bound is None else int(np.ceil(float(bound) * 1000)) + 1
        self._keys = np.array([_SENTINEL], dtype=np.int64)
        self._ids = np.array([-1], dtype=np.int64)
        self._place_cache: list[int] | None = None

    @property
    def size(self) -> int:
        return self.n_states * self.rows

    def row_ids(self, contract: np.ndarray) -> np.ndarray:
        """``(B, N)`` per-copy ids of the contract rows ``(B, N, S)``."""
        last = self._last
        if last is not None and last[0].shape == contract.shape and _all(last[0] == contract, axis=None):
            return last[1]
        batch, n_agents, n_signals = contract.shape
        global_ids = self._keyed_ids(contract)
        if global_ids is None:
            rounded = np.round(contract, 3).reshape(-1, n_signals) + 0.0  # + 0.0: no negative zeros
            unique, inverse = np.unique(rounded, axis=0, return_inverse=True)
            known = np.array([self._global.setdefault(row.tobytes(), len(self._global)) for row in unique])
            global_ids = known[inverse.reshape(-1)].reshape(batch, n_agents)
        if _max(global_ids, axis=None) >= self._local.shape[1]:
            grown = np.full((batch, 2 * (int(global_ids.max()) + 1)), -1, dtype=np.int64)
            grown[:, : self._local.shape[1]] = self._local
            self._local = grown
            self._starts = np.arange(batch)[:, None] * grown.shape[1]
        # One flat gather: copy b's row starts at b * width of the (B, width) table.
        starts = self._starts
        if batch != len(starts):  # a batch other than the one made for
            starts = np.arange(batch)[:, None] * self._local.shape[1]
        ids = self._local.reshape(-1)[starts + global_ids]
        if _min(ids, axis=None) < 0:
            copies = np.broadcast_to(np.arange(batch)[:, None], global_ids.shape)
            pairs = np.unique(np.stack([copies[ids < 0], global_ids[ids < 0]], axis=1), axis=0)
            for copy, row in pairs:  # rare: a copy shows a row for the first time
                self._local[copy, row] = self._used[copy]
                self._used[copy] += 1
            if self._used.max() > self.rows:
                raise RuntimeError(
                    f"a copy showed more than {self.rows} distinct contract rows; raise Situations(rows=...)"
                )
            ids = self._local.reshape(-1)[starts + global_ids]
        self._last = (contract.copy(), ids)
        return ids

    def _keyed_ids(self, contract: np.ndarray) -> np.ndarray | None:
        """``(B, N)`` global ids of the rows, through one integer key per rounded row, or
        ``None`` where a row is beyond the bound (or the keys would overflow).

        ``np.round(x, 3)`` is ``rint(1000 x) / 1000``: rows round alike exactly when their
        ``rint(1000 x)`` agree, and keys in base ``2 reach + 1`` sort as the rows do, so new
        rows get the ids, in the order, that the general path gives them."""
        reach = self._reach
        batch, n_agents, n_signals = contract.shape
        if reach is None or (2 * reach + 1) ** n_signals >= 2**62:
            return None
        scaled = np.rint(contract * 1000.0).reshape(-1, n_signals)
        if scaled.size and np.abs(scaled).max() > reach:
            return None
        digits = scaled.astype(np.int64) + reach
        keys = dot_ints(digits, self._places(n_signals))
        # The keys end with a sentinel above every key (id -1): a search never runs off the end.
        position = np.searchsorted(self._keys, keys)
        found = self._keys[position] == keys
        if not _all(found, axis=None):
            fresh, first = np.unique(keys[~found], return_index=True)
            rows = scaled[~found][first] / 1000.0 + 0.0  # what np.round(., 3) + 0.0 gives
            ids = np.array([self._global.setdefault(row.tobytes(), len(self._global)) for row in rows])
            order = np.argsort(np.concatenate([self._keys, fresh]), kind="stable")
            self._keys = np.concatenate([self._keys, fresh])[order]
            self._ids = np.concatenate([self._ids, ids])[order]
            position = np.searchsorted(self._keys, keys)
        return self._ids[position].reshape(batch, n_agents)

    def _places(self, n_signals: int) -> list[int]:
        """The place values of a row's digits in base ``2 reach + 1`` (most significant first)."""
        if self._place_cache is None or len(self._place_cache) != n_signals:
            assert self._reach is not None  # only the keyed path asks
            self._place_cache = [int(v) for v in place_values(np.full(n_signals, 2 * self._reach + 1))]
        return self._place_cache

    def __call__(self, states: np.ndarray, contract: np.ndarray) -> np.ndarray:
        """``(B, N)`` situations of state indices ``(B,)`` or ``(B, N)`` under contracts ``(B, N, S)``."""
        states = np.asarray(states)
        if states.ndim == 1:
            states = states[:, None]
        return states * self.rows + self.row_ids(contract)


@dataclasses.dataclass(frozen=True)
class PlayResult:
    """What :func:`play` measured, per copy.

    Attributes
    ----------
    welfare, transfers : ndarray, shape (B, E)
        Social welfare and transfers paid in each episode.
    agent_regret : ndarray, shape (B, N)
        Each agent's empirical external regret over the run (see
        :attr:`pa_envs.learners.Learner.regret`), from exact counterfactual rewards.
    agent_regret_at : ndarray, shape (C, B, N)
        The same after each of the ``checkpoints`` episode counts given to :func:`play`.
    periods : int
        Periods each copy played.
    seconds : float
        Wall time of the run.
    """

    welfare: np.ndarray
    transfers: np.ndarray
    agent_regret: np.ndarray
    agent_regret_at: np.ndarray
    periods: int
    seconds: float


def make_agents(
    game: Game, seeds: Sequence[int], agents: str | Mapping[str, Any] = "theory"
) -> tuple[Learner, Callable[[np.ndarray, np.ndarray], np.ndarray], ObservationIndex]:
    """The learners of every agent of every copy, and what each agent conditions on.

    Returns ``(learners, situation, observations)``: ``situation(states, contracts)``
    gives the ``(B, N)`` indices the learners take from ``(B, N)`` observation indices.
    """
    if isinstance(agents, str):
        if agents not in AGENTS:
            raise ValueError(
                f"no agent set-up named {agents!r}{did_you_mean(agents, AGENTS)} Known: {sorted(AGENTS)}"
            )
        settings = dict(AGENTS[agents])
    elif isinstance(agents, Mapping):
        settings = dict(agents)
    else:
        raise TypeError(f"agents must be a name of AGENTS or a mapping of settings, got {agents!r}")
    kind = settings.pop("learner", "contract_q_learning")
    if kind not in LEARNERS:
        raise ValueError(f"no learner named {kind!r}{did_you_mean(kind, LEARNERS)} Known: {sorted(LEARNERS)}")
    observations = ObservationIndex(game.agent_features_high())
    batch = len(seeds)
    learner_seeds = [AGENT_STREAM + int(s) for s in seeds]
    learners: Learner
    if LEARNERS[kind] is ContractQLearner:
        learners = ContractQLearner(
            observations.size, game.n_actions, game.n_agents, batch, learner_seeds,
            n_signals=game.n_signals, **settings,
        )  # fmt: skip

        def situation(states: np.ndarray, contracts: np.ndarray) -> np.ndarray:
            return states

        return learners, situation, observations
    rows = settings.pop("rows", 64)
    situations = Situations(observations.size, batch, rows=rows, bound=game.params.max_transfer)
    learners = LEARNERS[kind](
        situations.size, game.n_actions, game.n_agents, batch, learner_seeds, **settings
    )
    return learners, situations, observations


def play(
    game: Game,
    model: TabularModel,
    mechanism: Mechanism,
    seeds: Sequence[int],
    episodes: int,
    agents: str | Mapping[str, Any] = "theory",
    progress: Callable[[int], None] | None = None,
    checkpoints: Sequence[int] = (),
) -> PlayResult:
    """Play ``episodes`` episodes of ``len(seeds)`` copies: learning agents under ``mechanism``.

    Parameters
    ----------
    game, model
        The env's economics and its exact model (the model serves only the agents'
        regret accounting: exact expected counterfactual rewards).
    mechanism
        The principal of every copy (bound here).
    seeds
        One seed per copy.
    episodes
        Episodes every copy plays.
    agents
        A name of :data:`AGENTS` or a mapping like its entries.
    progress
        Called with the number of episodes just finished (1) after each episode.
    checkpoints
        Episode counts after which to keep a copy of the agents' regret.
    """
    check_int("episodes", episodes, 1)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)) or len(seeds) == 0:
        raise ValueError(f"seeds must be a non-empty sequence of ints (one per copy), got {seeds!r}")
    for seed in seeds:
        check_int("seeds", seed, 0)
    for mark in checkpoints:
        check_int("checkpoints", mark, 1, episodes)
    # Every matrix of the loop is small: BLAS threads would only fight over the cores
    # (a principal's planning ran 4x slower with them on a busy 2-core machine).
    with one_blas_thread():
        return _play(game, model, mechanism, seeds, episodes, agents, progress, checkpoints)


def _play(game, model, mechanism, seeds, episodes, agents, progress, checkpoints) -> PlayResult:
    start = time.perf_counter()
    batch = len(seeds)
    mechanism.bind(game)
    learners, situation, observations = make_agents(game, seeds, agents)
    # The engine of the vector forms: each copy follows a PettingZoo env reset with its seed,
    # then reset without one at each episode end, bit for bit.
    engine = BatchedEpisodes(game, batch)
    welfare = np.zeros((batch, episodes))
    transfers = np.zeros((batch, episodes))
    horizon = game.params.max_cycles
    marks = sorted({int(c) for c in checkpoints})  # play() checked them: 1..episodes
    kept: dict[int, np.ndarray] = {}
    who = f"the mechanism {mechanism.name}"
    # A situation learner's rows: both situations of a period share its contract's row ids,
    # found once (a contract learner conditions on its observation alone).
    rows = situation.row_ids if isinstance(situation, Situations) else None
    width = situation.rows if isinstance(situation, Situations) else 0
    for episode in range(episodes):
        state = engine.reset([int(s) for s in seeds] if episode == 0 else None)
        mechanism.start_episodes(batch)
        seen = observations(game.agent_features(state))
        where = model.state_index(state)
        for _ in range(horizon):
            periods = engine.periods.copy()
            contract = engine.check_contracts(mechanism.post(state, periods), who)
            if rows is None:
                mine = seen
            else:
                ids = rows(contract)
                mine = seen * width + ids
            # The loop built and checked every input: the learners' unchecked paths.
            actions = learners.act_unchecked(mine, contract)
            counterfactual = unilateral_rewards(model, where, actions, contract)
            outcome, done = engine.play(actions, contract, check=False)
            if done.any() and not done.all():
                raise RuntimeError(f"{game.name}: an episode ended early; play() runs episodes in lockstep")
            next_state = engine.state
            assert next_state is not None  # set by reset(), kept by play()
            following = observations(game.agent_features(next_state))
            # The next contract is not posted yet: a situation learner bootstraps on this one's row.
            learners.learn(
                mine, actions, outcome.agent_rewards, following if rows is None else following * width + ids,
                done, counterfactual, transfers=outcome.transfers, signals=outcome.dynamics.signals,
                check=False,
            )  # fmt: skip
            mechanism.update(PeriodFeedback.of(state, periods, contract, outcome, next_state, done))
            welfare[:, episode] += outcome.social_welfare
            transfers[:, episode] += outcome.transfer_totals
            state, seen = next_state, following
            where = model.state_index(state)
        learners.end_episode()
        if episode + 1 in marks:
            kept[episode + 1] = learners.regret
        if progress is not None:
            progress(1)
    at = np.stack([kept[c] for c in marks]) if marks else np.zeros((0, batch, game.n_agents))
    return PlayResult(
        welfare, transfers, learners.regret, at, episodes * horizon, time.perf_counter() - start
    )


__all__ = ["AGENTS", "ObservationIndex", "PlayResult", "Situations", "make_agents", "play"]
