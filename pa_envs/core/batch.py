"""B copies of one game stepped in one numpy call: the engine of the vector forms.

:class:`BatchedEpisodes` keeps, per copy, the state, the stream key, the
episode count and the period, and plays a period of all copies with one call
of :func:`~pa_envs.core.game.resolve_period`, the very function a single
PettingZoo env calls with ``B = 1``. The random numbers come from the same
counter-based stream (:mod:`pa_envs.core.rng`), so copy ``b`` seeded with
``seeds[b]`` follows the trajectory of a PettingZoo env reset with
``seed=seeds[b]`` and then reset without a seed at each episode end, bit for bit.
Finished copies restart on their own (:meth:`BatchedEpisodes.restart`).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from pa_envs.core import rng
from pa_envs.core.contracts import check_contract_batch, check_discrete
from pa_envs.core.episode import PlayerSpaces, agent_name
from pa_envs.core.game import Game, PeriodOutcome, check_int, resolve_period


def copy_seeds(seed: int | Sequence[int | None] | None, num_copies: int) -> list[int | None]:
    """One seed per copy: ``seed + b`` for an int (as SB3 and gymnasium seed vector envs),
    the given sequence, or ``None`` (fresh entropy) for every copy. Each seed follows
    :func:`~pa_envs.core.rng.check_seed` (numpy ints accepted; a negative one is a
    ``ValueError``, a non-integer a ``TypeError``)."""
    if seed is None:
        return [None] * num_copies
    if isinstance(seed, (list, tuple, np.ndarray)):
        if len(seed) != num_copies:
            raise ValueError(
                f"seed must be an int, None or a sequence of {num_copies} seeds (one per copy), "
                f"got {len(seed)} seeds: {list(seed)!r}"
            )
        return [rng.check_seed(s, f"seed[{b}]") for b, s in enumerate(seed)]
    first = rng.check_seed(seed)
    return [first + b for b in range(num_copies)]


_min, _max = np.minimum.reduce, np.maximum.reduce


_SEALED: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def seal(array: np.ndarray) -> np.ndarray:
    """Make ``array`` read-only and mark it as the library's own, never written again (a flat
    schedule's posted contracts): :class:`CheckedOnce` may then check it once. Returns it."""
    array.flags.writeable = False
    _SEALED[id(array)] = array
    return array


def is_sealed(array: object) -> bool:
    """Whether ``array`` is one the library sealed (:func:`seal`) and is still read-only."""
    return type(array) is np.ndarray and not array.flags.writeable and _SEALED.get(id(array)) is array


class CheckedOnce:
    """The last array a check passed, when it cannot change: one the library sealed
    (:func:`seal`: read-only, made and never written again by the library).

    A mechanism that posts the same sealed array every period (a flat schedule) is then
    checked once, not every period. Any other array is checked each time: a new one, a
    writeable one, and a user's read-only one too (a mechanism may unlock its buffer, refill
    it and lock it again, or write it through a view made before it was locked).
    """

    def __init__(self) -> None:
        self._kept: np.ndarray | None = None

    def seen(self, array: object) -> bool:
        """Whether ``array`` is the very array kept (and still read-only)."""
        kept = self._kept
        return kept is not None and array is kept and not kept.flags.writeable

    def keep(self, array: np.ndarray) -> np.ndarray:
        """Remember ``array``, just checked, if the library sealed it; return it."""
        self._kept = array if is_sealed(array) else None
        return array


class BatchedEpisodes:
    """The state, randomness and checks of B copies of a game.

    Parameters
    ----------
    game : Game
        The economics (shared by every copy).
    num_copies : int
        B, at least 1.
    """

    def __init__(self, game: Game, num_copies: int) -> None:
        check_int("num_copies", num_copies, 1)
        self.game = game
        self.num_copies = num_copies
        self.spaces = PlayerSpaces(game)
        self.keys = np.zeros(num_copies, dtype=np.uint64)
        self.episodes = np.zeros(num_copies, dtype=np.int64)
        self.periods = np.zeros(num_copies, dtype=np.int64)
        self.state: np.ndarray | None = None
        # Whether every copy is at the same period (their noise then comes from a block drawn
        # ahead): kept up to date by reset, restart and play, which alone change the periods.
        self._lockstep = num_copies > 1
        self._noise_size = game.noise_size
        self._horizon = game.params.max_cycles  # the last period an episode plays
        # Noise of a block of periods for copies in lockstep (see _noise); the streams it was
        # drawn from change at every reset and restart, and then the block is dropped.
        self._ahead = rng.DrawnAhead(rng.block_positions(num_copies, game.noise_size))
        self._contracts_checked = CheckedOnce()
        # Actions in range view as unsigned ints below n_actions (a negative one wraps past it).
        self._action_limit = game.n_actions

    def reset(self, seed: int | Sequence[int] | None = None) -> np.ndarray:
        """Start a new episode in every copy; return the ``(B, state_dim)`` initial states.

        As a PettingZoo env's reset, copy by copy: a copy given a seed (``seed + b``, or
        ``seed[b]``) restarts its stream from it; a copy given none (``seed=None``, or a
        ``None`` entry of the sequence) goes on with its stream, from fresh entropy at
        the very first reset. ``reset([5, None])`` reseeds copy 0 only, as gymnasium's
        vector envs do.
        """
        seeds = copy_seeds(seed, self.num_copies)
        first = self.state is None
        for copy, copy_seed in enumerate(seeds):
            if copy_seed is None and not first:
                self.episodes[copy] += 1
            else:
                self.keys[copy] = rng.key_from_seed(copy_seed)
                self.episodes[copy] = 0
        self.periods[:] = 0
        self._lockstep = self.num_copies > 1
        self._ahead.clear()
        self.state = self.game.initial_state(self._noise(self.keys, self.episodes, self.periods))
        return self.state

    def restart(self, which: np.ndarray) -> None:
        """Copies ``which`` (indices) begin their next episode, as an unseeded reset does."""
        self.episodes[which] += 1
        self.periods[which] = 0
        self._lockstep = self.num_copies > 1 and _min(self.periods) == _max(self.periods)
        self._ahead.clear()
        noise = self._noise(self.keys[which], self.episodes[which], self.periods[which])
        self.state[which] = self.game.initial_state(noise)

    def play(
        self,
        actions: np.ndarray,
        contracts: np.ndarray,
        *,
        check: bool = True,
        active: np.ndarray | None = None,
    ) -> tuple[PeriodOutcome, np.ndarray]:
        """One period of every copy: ``actions`` ``(B, N)`` under ``contracts`` ``(B, N, n_signals)``.

        Returns the outcome and ``(B,)`` whether each copy's episode ended
        (terminated, or truncated at ``max_cycles``); finished copies keep their
        final state until :meth:`restart`. Actions and contracts are checked
        (:meth:`check_actions`, :meth:`check_contracts`) unless ``check=False``,
        for callers that checked them already (nothing checks them then, not even
        the signals of a Game whose signals are the actions). With ``active`` (``(B,)`` bool),
        only those copies play: the others keep their state and period (their
        rows of the outcome are to be ignored, and they are never ``done``).
        """
        if self.state is None:
            raise RuntimeError("call reset() before play()")
        if check:
            actions = self.check_actions(actions)
            contracts = self.check_contracts(contracts, "the principal")
        if active is None:
            playing = None
            periods = self.periods + 1  # copies in lockstep stay so
        else:
            playing = np.asarray(active, dtype=bool)
            periods = self.periods + playing
            if not (self._lockstep and playing.all()):
                self._lockstep = self.num_copies > 1 and _min(periods) == _max(periods)
        noise = self._noise(self.keys, self.episodes, periods)
        # Checked here or by the caller (check=False): a Game whose signals are the actions
        # needs no second range check of them.
        outcome = resolve_period(
            self.game, self.state, actions, contracts, noise, actions_below=self._action_limit
        )
        next_state = outcome.dynamics.next_state
        self.state = next_state if playing is None else np.where(playing[:, None], next_state, self.state)
        self.periods = periods
        # In lockstep every copy reaches the horizon at once: one comparison, not B.
        ended = int(periods[0]) >= self._horizon if self._lockstep else periods >= self._horizon
        done = outcome.dynamics.terminated | ended
        return outcome, (done if playing is None else playing & done)

    def _noise(self, keys: np.ndarray, episodes: np.ndarray, periods: np.ndarray) -> np.ndarray:
        """``(B', noise_size)`` uniforms of each copy's stream at its (episode, period).

        Every copy at the same period (the learning loop, or a vector form whose copies
        all restart together) takes its rows from a block drawn a few dozen periods ahead:
        the same numbers, counter-based, one hash call per block instead of per period."""
        if keys is self.keys and self._lockstep:

            def counters(ahead: np.ndarray) -> np.ndarray:
                ahead = ahead[:, None]
                if _min(episodes) == _max(episodes):  # one counter per period: hashed once, not B times
                    return rng.batch_counters(episodes[:1], ahead)  # (P, 1)
                return rng.batch_counters(episodes, ahead)  # (P, B)

            return self._ahead.row(int(periods[0]), keys, counters, self._noise_size, self._horizon)
        return rng.batch_uniforms(keys, rng.batch_counters(episodes, periods), self._noise_size)

    # -- checks -------------------------------------------------------------------------
    def check_actions(self, actions: object, layout: str | None = None) -> np.ndarray:
        """Validate ``(B, N)`` discrete actions (or ``(B * N,)``) and return them as int64
        (ints only: :func:`~pa_envs.core.contracts.check_discrete`, the single envs' rule).
        ``layout`` says, in errors, how the caller's users shape them (default: both shapes)."""
        game, b = self.game, self.num_copies
        n = game.n_agents
        if (
            type(actions) is np.ndarray
            and actions.dtype.kind in "iu"
            and actions.dtype.isnative  # a byte-swapped int would view as another number
            # A negative int viewed unsigned is at least 2**(bits - 1): caught below the limit only.
            and (actions.dtype.kind == "u" or self._action_limit <= 1 << (8 * actions.itemsize - 1))
            and actions.size == b * n
            and _max(actions.view(f"u{actions.itemsize}"), axis=None) < self._action_limit
        ):
            # The common case (an int array of the right size, every action in range) in one
            # reduction; anything else is checked and named below.
            return actions.reshape(b, n).astype(np.int64, copy=False)
        names = ", ".join(game.action_names)
        layout = f"shaped ({b}, {n}) or ({b * n},)" if layout is None else layout
        expected = f"Discrete({game.n_actions}) per agent ({names}), {layout}"
        try:
            array: Any = actions if type(actions) is np.ndarray else np.asarray(actions)
        except ValueError:  # ragged: check_discrete says so
            array = actions
        if isinstance(array, np.ndarray) and array.dtype.kind in "iu":
            if array.size != b * n:
                raise ValueError(f"actions have shape {array.shape}, expected {expected}")
            array = array.reshape(b, n)
        return check_discrete(
            array,
            n_actions=game.n_actions,
            action_names=game.action_names,
            who="actions",
            expected=expected,
            locate=lambda index: f"copy {index[0]}, {agent_name(index[1])}",
        )

    def check_contracts(self, contracts: object, who: str) -> np.ndarray:
        """Raise unless ``contracts`` are finite ``(B, N, n_signals)`` transfers within the bound
        (:func:`~pa_envs.core.contracts.check_contract_batch`). The read-only array checked
        last (:class:`CheckedOnce`), posted again, is returned as it is."""
        if self._contracts_checked.seen(contracts):
            return contracts  # type: ignore[return-value]
        game = self.game
        checked = check_contract_batch(
            contracts,
            who=who,
            shape=(self.num_copies, game.n_agents, game.n_signals),
            bound=self.spaces.transfer_bound,
            signal_names=game.signal_names,
        )
        return self._contracts_checked.keep(checked)
