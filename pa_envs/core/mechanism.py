"""What a mechanism is, and the loop every agents-only form runs it in.

A :class:`Mechanism` maps what the principal sees at the start of a period
(the state, its observation, the period: :class:`MechanismInput`) to a
contract, for a batch of B copies at once. It may learn from what each period
produced (:class:`PeriodFeedback`, :meth:`Mechanism.update`) and saves and
restores itself with :meth:`~Mechanism.state_dict` /
:meth:`~Mechanism.load_state_dict`.

:class:`MechanismDriver` is the mechanism's side of the loop, written once:
start episodes, post checked contracts, play a period of
:class:`~pa_envs.core.batch.BatchedEpisodes` under them and learn from it. The
PettingZoo :class:`~pa_envs.mechanisms.MechanismEnv` (B = 1), the gymnasium
:class:`~pa_envs.vector.AgentVectorView` and the SB3
:class:`~pa_envs.sb3.MechanismVecEnv` call it; they differ only in when a
finished copy restarts, which each form's API decides.

The bundled mechanisms, their registry and the env binding are in
:mod:`pa_envs.mechanisms`, which re-exports these names; this module sits in
the core so that the two-phase mechanism and the learning loop can build on
it without importing the registry that lists them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from pa_envs.core.batch import BatchedEpisodes, CheckedOnce
from pa_envs.core.contracts import check_contract_batch
from pa_envs.core.episode import PlayerSpaces
from pa_envs.core.game import Game, PeriodOutcome


class MechanismInput(NamedTuple):
    """What the principal sees when it moves, for B copies."""

    state: np.ndarray  # (B, state_dim) int64
    observation: np.ndarray  # (B, F) the principal's observation
    period: np.ndarray  # (B,) periods already played (0 at the first move)


class PeriodFeedback(NamedTuple):
    """What one period produced, for B copies (what a learning principal learns from)."""

    state: np.ndarray  # (B, state_dim) the state the period was played in
    period: np.ndarray  # (B,) its index (0-based)
    contract: np.ndarray  # (B, N, n_signals) in force
    signals: np.ndarray  # (B, N) contractible signals observed
    transfers: np.ndarray  # (B, N) paid
    principal_payoff: np.ndarray  # (B,)
    social_welfare: np.ndarray  # (B,)
    next_state: np.ndarray  # (B, state_dim)
    done: np.ndarray  # (B,) bool: the episode ended with this period
    # (B,) bool: which copies played this period (None: all). A vector form whose copies
    # restart at different times marks the ones that sat the period out.
    active: np.ndarray | None = None

    @classmethod
    def of(
        cls,
        state: np.ndarray,
        period: np.ndarray,
        contract: np.ndarray,
        outcome: PeriodOutcome,
        next_state: np.ndarray,
        done: np.ndarray,
        active: np.ndarray | None = None,
    ) -> PeriodFeedback:
        """The feedback of a resolved period (``outcome`` of :func:`~pa_envs.core.game.resolve_period`)."""
        dynamics = outcome.dynamics
        return cls(
            state=state,
            period=period,
            contract=contract,
            signals=dynamics.signals,
            transfers=outcome.transfers,
            principal_payoff=dynamics.principal_payoff,
            social_welfare=outcome.social_welfare,
            next_state=next_state,
            done=done,
            active=active,
        )


class Mechanism:
    """A policy for the principal, batch-first. Subclasses override :meth:`contract`.

    Lifecycle: :meth:`bind` once to a game, :meth:`start_episodes` at each
    reset, then per period :meth:`contract` and :meth:`update`.
    """

    name = "mechanism"

    def __init__(self) -> None:
        self.game: Game | None = None

    def bind(self, game: Game) -> None:
        """Learn the game's sizes (and, for oracles, its model). Called by wrappers."""
        self.game = game

    def start_episodes(self, batch_size: int, which: np.ndarray | None = None) -> None:
        """Copies ``which`` (default: all ``batch_size``) begin a new episode."""

    def contract(self, inputs: MechanismInput) -> np.ndarray:
        """``(B, N, n_signals)`` transfers for the coming period."""
        raise NotImplementedError

    def update(self, feedback: PeriodFeedback) -> None:
        """Learn from one period (default: nothing to learn)."""

    def post(self, state: np.ndarray, period: np.ndarray) -> np.ndarray:
        """:meth:`contract` for B copies in ``state`` (``(B, state_dim)``) at ``period`` (``(B,)``),
        the principal's observation built from the state as the envs build it."""
        game = self._bound_game()
        observation = game.principal_features(state).astype(np.float32)
        return np.asarray(self.contract(MechanismInput(state, observation, np.array(period, copy=True))))

    def info(self) -> dict[str, np.ndarray]:
        """Per-copy facts worth reporting in infos (arrays with a leading batch axis)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What a run needs to resume this mechanism (arrays and plain values)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, checked as the constructor checks its
        arguments (a mechanism without state takes ``{}`` only)."""
        check_state_keys(type(self).__name__, state, ())

    # helpers for subclasses
    def _bound_game(self) -> Game:
        if self.game is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to a game; call bind(game) first")
        return self.game

    def _zeros(self, batch: int) -> np.ndarray:
        game = self._bound_game()
        return np.zeros((batch, game.n_agents, game.n_signals))


def check_state_keys(owner: str, state: object, keys: tuple[str, ...]) -> None:
    """Raise unless ``state`` is a dict with exactly ``keys``: a ``TypeError`` for another type,
    a ``ValueError`` naming ``owner`` and the missing and unexpected keys."""
    if not isinstance(state, dict):
        raise TypeError(f"a {owner} state must be a dict with keys {list(keys)}, got {state!r}")
    missing = [key for key in keys if key not in state]
    extra = sorted(map(str, set(state) - set(keys)))
    if missing or extra:
        raise ValueError(
            f"a {owner} state has keys {list(keys)}; this one lacks {missing} and has unexpected {extra}"
        )


class MechanismDriver:
    """The mechanism's side of the loop for B copies: start, post, play, learn.

    Parameters
    ----------
    mechanism : Mechanism
        The principal; bound to ``game`` here.
    game : Game
        The game every copy plays.
    num_copies : int
        B.

    Attributes
    ----------
    contracts : numpy.ndarray
        ``(B, N, n_signals)``: the contracts posted for the coming period (a new array
        whenever they change, so that what a mechanism kept of an earlier period stays).
    """

    def __init__(self, mechanism: Mechanism, game: Game, num_copies: int) -> None:
        if not isinstance(mechanism, Mechanism):
            raise TypeError(f"mechanism must be a pa_envs Mechanism, got {type(mechanism).__name__}")
        mechanism.bind(game)
        self.mechanism = mechanism
        self.game = game
        self.num_copies = num_copies
        self.bound = PlayerSpaces(game).transfer_bound
        self.contracts = np.zeros((num_copies, game.n_agents, game.n_signals))
        self._checked = CheckedOnce()  # a read-only array posted again is not checked again

    def begin(self, which: np.ndarray | None = None) -> None:
        """Copies ``which`` (default: all) begin an episode: the mechanism is told."""
        self.mechanism.start_episodes(self.num_copies, which)

    def start(self, state: np.ndarray, periods: np.ndarray, which: np.ndarray | None = None) -> None:
        """Copies ``which`` (default: all) begin an episode in ``state``: the mechanism is told,
        then posts their first contracts."""
        self.begin(which)
        self.post(state, periods, which)

    def post(self, state: np.ndarray, periods: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
        """The mechanism sees every copy's ``state`` (``(B, state_dim)``) at ``periods`` and posts
        contracts, checked; copies ``which`` (default: all) get them. Returns :attr:`contracts`."""
        posted = self.mechanism.post(state, periods)
        if not self._checked.seen(posted):
            posted = self._checked.keep(
                check_contract_batch(
                    posted,
                    who=self.mechanism.name,
                    shape=self.contracts.shape,
                    bound=self.bound,
                    signal_names=self.game.signal_names,
                )
            )
        if which is None:
            # Kept as the contracts in force (and in earlier feedback): a mechanism may refill
            # one writeable buffer each period, so only a read-only array is kept as it is.
            self.contracts = posted if not posted.flags.writeable else posted.copy()
        else:
            contracts = self.contracts.copy()
            contracts[which] = posted[which]
            self.contracts = contracts
        return self.contracts

    def learn(
        self,
        state: np.ndarray,
        periods: np.ndarray,
        outcome: PeriodOutcome,
        next_state: np.ndarray,
        done: np.ndarray,
        active: np.ndarray | None = None,
    ) -> None:
        """The mechanism learns from a period played in ``state`` at ``periods`` under :attr:`contracts`."""
        self.mechanism.update(
            PeriodFeedback.of(state, periods, self.contracts, outcome, next_state, done, active)
        )

    def play(
        self, engine: BatchedEpisodes, actions: np.ndarray, active: np.ndarray | None = None
    ) -> tuple[PeriodOutcome, np.ndarray]:
        """One period of ``engine``'s copies (``active`` ones, default all) with checked ``actions``
        under :attr:`contracts`; the mechanism learns from it. Returns the outcome and which
        copies finished (they restart when the caller's form says)."""
        state, periods = engine.state, engine.periods.copy()
        outcome, done = engine.play(actions, self.contracts, check=False, active=active)
        self.learn(state, periods, outcome, engine.state, done, active)
        return outcome, done
