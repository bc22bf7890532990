"""Mechanisms: policies for the principal, and the wrapper that binds one to an env.

A :class:`Mechanism` maps what the principal sees at the start of a period
(the state, its observation, the period) to a contract, for a batch of B
copies at once. It may learn from what each period produced
(:meth:`Mechanism.update`) and saves and restores itself with
:meth:`~Mechanism.state_dict` / :meth:`~Mechanism.load_state_dict`.

:class:`MechanismEnv` binds a mechanism to a parallel env and leaves an
agents-only PettingZoo ParallelEnv: every period the mechanism moves first,
seeing the state, and posts the contract the agents then observe and act
under (Stackelberg timing). Its infos still carry welfare, externality and
transfers. ``pettingzoo.utils.conversions.parallel_to_aec`` gives the AEC form
(:func:`mechanism_aec_env`).

Bundled: :class:`NoTransfers` (laissez-faire), :class:`FlatSchedule` (the
coarse incentive, with :meth:`FlatSchedule.best_flat_tax`), :class:`Pigouvian`
(the oracle posting the minimal implementing transfers of the social optimum)
and :class:`Budgeted` (caps what another mechanism pays per episode).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from pa_envs import analysis
from pa_envs.core.episode import PRINCIPAL
from pa_envs.core.game import Game, PeriodOutcome
from pa_envs.core.names import did_you_mean
from pa_envs.core.parallel import PrincipalAgentParallelEnv
from pa_envs.core.tabular import TabularModel


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
        """Restore what :meth:`state_dict` returned."""

    # helpers for subclasses
    def _bound_game(self) -> Game:
        if self.game is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to a game; call bind(game) first")
        return self.game

    def _zeros(self, batch: int) -> np.ndarray:
        game = self._bound_game()
        return np.zeros((batch, game.n_agents, game.n_signals))


class NoTransfers(Mechanism):
    """Laissez-faire: the principal never pays or taxes (the ``W_LF`` baseline)."""

    name = "no_transfers"

    def contract(self, inputs: MechanismInput) -> np.ndarray:
        return self._zeros(len(inputs.period))


class FlatSchedule(Mechanism):
    """A contract you write (``transfers``): one transfer per signal for every agent, state and period.

    A coarse incentive: it cannot change with the state or the period. Build a
    tax on one signal with :meth:`tax`, the best such tax with :meth:`best_flat_tax`.

    Parameters
    ----------
    transfers : array_like
        ``(n_signals,)`` for every agent, or ``(N, n_signals)``.
    """

    name = "flat_schedule"

    def __init__(self, transfers: np.ndarray) -> None:
        super().__init__()
        try:
            self.transfers = np.asarray(transfers, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"FlatSchedule transfers must be numbers, got {transfers!r}") from None
        if self.transfers.ndim not in (1, 2) or not np.all(np.isfinite(self.transfers)):
            raise ValueError(
                "FlatSchedule transfers must be finite, shaped (n_signals,) or (N, n_signals), "
                f"got {transfers!r}"
            )

    @classmethod
    def tax(cls, game_or_env: Any, amount: float, signal: int | None = None) -> FlatSchedule:
        """A flat tax you set (``amount``) on one signal, by default the one a tax targets (e.g. ``high``).

        ``amount`` > 0 taxes, < 0 pays. ``signal`` defaults to the game's
        :attr:`~pa_envs.core.game.Game.taxed_signal` (e.g. ``high`` production).
        """
        game = _game_of(game_or_env)
        signal = game.taxed_signal if signal is None else signal
        _check_signal(game.n_signals, signal)
        transfers = np.zeros(game.n_signals)
        transfers[signal] = -amount
        return cls(transfers)

    @classmethod
    def best_flat_tax(
        cls,
        game_or_env: Any,
        signal: int | None = None,
        *,
        agent_discount: float = 0.0,
        amounts: np.ndarray | None = None,
        model: TabularModel | None = None,
    ) -> FlatSchedule:
        """The flat tax with the highest equilibrium welfare, found by solving the env's exact model.

        The tax is on ``signal`` (default: the game's
        :attr:`~pa_envs.core.game.Game.taxed_signal`). Candidates default to 101
        taxes from 0 to ``max_transfer``; the equilibrium welfare of each is exact
        (:func:`pa_envs.analysis.best_flat_transfer`).
        """
        game = _game_of(game_or_env)
        signal = game.taxed_signal if signal is None else signal
        _check_signal(game.n_signals, signal)
        if amounts is None:
            amounts = -np.linspace(0.0, game.params.max_transfer, 101)
        model = game.exact_model() if model is None else model
        amount, _ = analysis.best_flat_transfer(model, signal, amounts=amounts, agent_discount=agent_discount)
        transfers = np.zeros(game.n_signals)
        transfers[signal] = amount
        return cls(transfers)

    def bind(self, game: Game) -> None:
        self._check(self.transfers, game)
        super().bind(game)

    @staticmethod
    def _check(transfers: np.ndarray, game: Game) -> None:
        expected = {(game.n_signals,), (game.n_agents, game.n_signals)}
        if transfers.shape not in expected:
            raise ValueError(
                f"FlatSchedule transfers have shape {transfers.shape}; {game.name} needs "
                f"({game.n_signals},) or ({game.n_agents}, {game.n_signals})"
            )
        if not np.all(np.isfinite(transfers)):
            raise ValueError(f"FlatSchedule transfers must be finite, got {transfers.tolist()}")
        _check_within_bound(game, float(np.abs(transfers).max()), "FlatSchedule")

    def contract(self, inputs: MechanismInput) -> np.ndarray:
        """The same read-only ``(B, N, n_signals)`` array every period (built again only
        when the batch size or :attr:`transfers` change): a flat schedule never varies."""
        game = self._bound_game()
        batch = len(inputs.period)
        cached = getattr(self, "_posted", None)
        if cached is None or cached[1].shape[0] != batch or not np.array_equal(cached[0], self.transfers):
            row = np.broadcast_to(self.transfers, (game.n_agents, game.n_signals))
            posted = np.broadcast_to(row, (batch, *row.shape)).copy()
            posted.flags.writeable = False
            cached = (self.transfers.copy(), posted)
            self._posted = cached
        return cached[1]

    def state_dict(self) -> dict[str, Any]:
        return {"transfers": self.transfers.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        transfers = np.asarray(state["transfers"], dtype=np.float64)
        if self.game is not None:
            self._check(transfers, self.game)
        self.transfers = transfers


class Pigouvian(Mechanism):
    """The oracle: the least transfers per agent, state and period that make the optimum an equilibrium.

    On :meth:`bind` it solves the env's exact model (``game.exact_model()``:
    the joint-action model, or the count model when that is too big) and then
    posts, each period, the transfers for the current period and state. With
    the count model, agent ``i`` is asked for the ``i``-th action of the
    optimum's profile sorted by action.

    Parameters
    ----------
    agent_discount : float
        How far ahead the agents are assumed to look (0: myopic).
    epsilon : float
        Margin by which the target action must beat every deviation; a
        larger margin makes the incentive easier for noisy learners to see.
    """

    name = "pigouvian"

    def __init__(self, agent_discount: float = 0.0, epsilon: float = 0.25) -> None:
        super().__init__()
        self.agent_discount = agent_discount
        self.epsilon = epsilon
        self.model: TabularModel | None = None
        self.table: np.ndarray | None = None

    def bind(self, game: Game) -> None:
        if self.game is not None and self.game.params == game.params and self.table is not None:
            return
        self.model = game.exact_model()
        optimum = analysis.social_optimum(self.model)
        self.table = analysis.implementing_transfers(
            self.model, optimum.policy, agent_discount=self.agent_discount, epsilon=self.epsilon
        )
        _check_within_bound(game, float(np.abs(self.table).max()), "Pigouvian")
        super().bind(game)

    def contract(self, inputs: MechanismInput) -> np.ndarray:
        self._bound_game()
        states = self.model.state_index(inputs.state)
        periods = np.minimum(inputs.period, self.table.shape[0] - 1)
        return self.table[periods, states].copy()

    def state_dict(self) -> dict[str, Any]:
        return {"agent_discount": self.agent_discount, "epsilon": self.epsilon}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.agent_discount = float(state["agent_discount"])
        self.epsilon = float(state["epsilon"])
        if self.game is not None:
            game, self.game, self.table = self.game, None, None
            self.bind(game)


class Budgeted(Mechanism):
    """Wraps another mechanism and caps what it pays per episode at a ``budget``.

    Payments (positive transfers) count against ``budget``; taxes collected do
    not refill it. Before each period the positive entries of the inner
    contract are scaled down so that even if every agent earned its largest
    payment the episode's payments would stay within the budget. The infos
    report ``budget_remaining`` and ``budget_binding``: whether the cap cut
    the contract posted last (after a step, the one for the coming period;
    after the final step, the one of the period just played).
    """

    def __init__(self, mechanism: Mechanism, budget: float) -> None:
        super().__init__()
        if not isinstance(mechanism, Mechanism):
            raise TypeError(
                f"Budgeted wraps a Mechanism, got {mechanism!r} (build named ones with make_mechanism)"
            )
        real = isinstance(budget, (int, float, np.integer, np.floating)) and not isinstance(budget, bool)
        if not real or not np.isfinite(budget) or budget < 0:
            raise ValueError(f"budget must be a finite number >= 0, got {budget!r}")
        self.inner = mechanism
        self.name = f"budgeted({mechanism.name})"
        self.budget = float(budget)
        self.spent = np.zeros(1)
        self.binding = np.zeros(1, dtype=bool)
        self.binding_periods = 0

    def bind(self, game: Game) -> None:
        self.inner.bind(game)
        super().bind(game)

    def start_episodes(self, batch_size: int, which: np.ndarray | None = None) -> None:
        self.inner.start_episodes(batch_size, which)
        if len(self.spent) != batch_size:
            self.spent = np.zeros(batch_size)
            self.binding = np.zeros(batch_size, dtype=bool)
        rows = slice(None) if which is None else which
        self.spent[rows] = 0.0
        self.binding[rows] = False

    def contract(self, inputs: MechanismInput) -> np.ndarray:
        contract = np.array(self.inner.contract(inputs), dtype=np.float64)
        worst = np.clip(contract, 0.0, None).max(axis=2).sum(axis=1)  # (B,) largest possible payment
        remaining = np.maximum(self.budget - self.spent, 0.0)
        self.binding = worst > remaining + 1e-12
        scale = np.where(self.binding, remaining / np.where(worst > 0, worst, 1.0), 1.0)
        contract = np.where(contract > 0, contract * scale[:, None, None], contract)
        self.binding_periods += int(self.binding.sum())
        return contract

    def update(self, feedback: PeriodFeedback) -> None:
        paid = np.clip(feedback.transfers, 0.0, None).sum(axis=1)
        if feedback.active is not None:
            paid = np.where(feedback.active, paid, 0.0)
        self.spent = self.spent + paid
        self.inner.update(feedback)

    def info(self) -> dict[str, np.ndarray]:
        return {
            **self.inner.info(),
            "budget_remaining": np.maximum(self.budget - self.spent, 0.0),
            "budget_binding": self.binding.copy(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "spent": self.spent.copy(),
            "binding_periods": self.binding_periods,
            "inner": self.inner.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.budget = float(state["budget"])
        self.spent = np.asarray(state["spent"], dtype=np.float64).copy()
        self.binding = np.zeros(len(self.spent), dtype=bool)
        self.binding_periods = int(state["binding_periods"])
        self.inner.load_state_dict(state["inner"])


class Stacked(Mechanism):
    """Several mechanisms side by side in one batch: the first ``counts[0]`` copies are
    played by ``mechanisms[0]``, the next ``counts[1]`` by ``mechanisms[1]``, and so on.

    One batch of copies can then compare principals (or settings of one principal)
    in the same array pass; each member sees only its own copies, as if it played
    them alone.

    Parameters
    ----------
    members : sequence of (Mechanism, int)
        Each mechanism and how many consecutive copies it plays.
    """

    def __init__(self, members: Sequence[tuple[Mechanism, int]]) -> None:
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("Stacked needs at least one (mechanism, copies) pair")
        if len({id(mechanism) for mechanism, _ in members}) != len(members):
            raise ValueError("Stacked members must be distinct objects: one mechanism plays its own copies")
        for mechanism, count in members:
            if not isinstance(mechanism, Mechanism):
                raise TypeError(f"Stacked members must be Mechanisms, got {mechanism!r}")
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
                raise ValueError(f"each member plays a positive int of copies, got {count!r}")
        self.members = [(mechanism, int(count)) for mechanism, count in members]
        self.name = "stacked(" + ",".join(m.name for m, _ in self.members) + ")"
        edges = np.cumsum([0] + [count for _, count in self.members])
        self.slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]
        self.n_copies = int(edges[-1])

    def bind(self, game: Game) -> None:
        for mechanism, _ in self.members:
            mechanism.bind(game)
        super().bind(game)

    def _check_batch(self, batch_size: int) -> None:
        if batch_size != self.n_copies:
            raise ValueError(
                f"this Stacked mechanism plays {self.n_copies} copies, got a batch of {batch_size}"
            )

    def start_episodes(self, batch_size: int, which: np.ndarray | None = None) -> None:
        self._check_batch(batch_size)
        if which is not None:
            which = np.asarray(which)
            if which.size and (which.min() < 0 or which.max() >= self.n_copies):
                raise ValueError(f"which holds copies outside 0..{self.n_copies - 1}: {which.tolist()}")
        for (mechanism, count), rows in zip(self.members, self.slices, strict=True):
            if which is None:
                mechanism.start_episodes(count)
                continue
            mine = which
            mine = mine[(mine >= rows.start) & (mine < rows.stop)] - rows.start
            if len(mine):
                mechanism.start_episodes(count, mine)

    def contract(self, inputs: MechanismInput) -> np.ndarray:
        self._check_batch(len(inputs.period))
        parts = [
            np.asarray(mechanism.contract(MechanismInput(*(field[rows] for field in inputs))))
            for (mechanism, _), rows in zip(self.members, self.slices, strict=True)
        ]
        return np.concatenate(parts, axis=0)

    def update(self, feedback: PeriodFeedback) -> None:
        for (mechanism, _), rows in zip(self.members, self.slices, strict=True):
            mechanism.update(PeriodFeedback(*(None if field is None else field[rows] for field in feedback)))

    def info(self) -> dict[str, np.ndarray]:
        """The facts every member reports, one value per copy (a fact some member lacks is left out)."""
        parts = [mechanism.info() for mechanism, _ in self.members]
        shared = set.intersection(*(set(part) for part in parts))
        out = {}
        for key in sorted(shared):
            values = [np.asarray(part[key]) for part in parts]
            if all(
                v.ndim >= 1 and len(v) == count for v, (_, count) in zip(values, self.members, strict=True)
            ):
                out[key] = np.concatenate(values)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "counts": [count for _, count in self.members],
            "members": [mechanism.state_dict() for mechanism, _ in self.members],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("members") if isinstance(state, dict) else None
        if not isinstance(saved, list) or len(saved) != len(self.members):
            raise ValueError(f"this state does not hold {len(self.members)} members' states")
        counts = [count for _, count in self.members]
        if state.get("counts") != counts:
            raise ValueError(f"this state was saved with copies {state.get('counts')}; this one has {counts}")
        for (mechanism, _), member in zip(self.members, saved, strict=True):
            mechanism.load_state_dict(member)


MECHANISMS: dict[str, type[Mechanism]] = {
    "no_transfers": NoTransfers,
    "flat_schedule": FlatSchedule,
    "pigouvian": Pigouvian,
    "budgeted": Budgeted,
}


MECHANISM_NAMES: tuple[str, ...] = (*MECHANISMS, "flat_tax", "best_flat_tax", "two_phase")
"""Every name :func:`make_mechanism` builds."""
_BUILT_FOR_AN_ENV = ("flat_tax", "best_flat_tax")
"""The names whose builder takes the env first (the others take keywords only)."""


def _unknown_mechanism(name: str) -> ValueError:
    hint = did_you_mean(name, MECHANISM_NAMES)
    return ValueError(f"no mechanism named {name!r}{hint} Known: {sorted(MECHANISM_NAMES)}")


def mechanism_builder(name: str) -> Callable[..., Mechanism]:
    """The class or factory :func:`make_mechanism` builds ``name`` with.

    Its docstring documents that mechanism, and the docstring's first line says
    in one sentence what it is (``pa-envs list`` shows it).
    """
    if name == "two_phase":
        from pa_envs.two_phase import TwoPhaseMechanism  # it imports this module: on use only

        return TwoPhaseMechanism
    builders = {**MECHANISMS, "flat_tax": FlatSchedule.tax, "best_flat_tax": FlatSchedule.best_flat_tax}
    if name not in builders:
        raise _unknown_mechanism(name)
    return builders[name]


def make_mechanism(name: str, env: Any = None, /, **kwargs: Any) -> Mechanism:
    """Build a bundled mechanism by name.

    ``"best_flat_tax"`` builds :meth:`FlatSchedule.best_flat_tax` for ``env``;
    ``"flat_tax"`` a :meth:`FlatSchedule.tax` of ``amount``; ``"budgeted"``
    takes ``mechanism`` (a Mechanism, or a name built for ``env`` with
    ``mechanism_kwargs``) and ``budget``.
    """
    if name == "budgeted" and isinstance(kwargs.get("mechanism"), str):
        inner = kwargs.pop("mechanism_kwargs", None) or {}
        kwargs = {**kwargs, "mechanism": make_mechanism(kwargs["mechanism"], env, **inner)}
    builder = mechanism_builder(name)
    if name in _BUILT_FOR_AN_ENV:
        return builder(env, **kwargs)
    return builder(**kwargs)


# -- the wrapper ----------------------------------------------------------------------


class MechanismEnv(ParallelEnv):
    """An agents-only ParallelEnv: ``mechanism`` plays the principal of ``env``.

    Each period the mechanism sees the state and posts the contract, then the
    agents observe it (their observation's contract row) and act. Rewards,
    terminations and truncations are the agents'. Each agent's info carries
    its own keys plus the period's ``social_welfare``, ``externality``,
    ``total_transfers``, ``principal_reward`` and the mechanism's own facts.

    Parameters
    ----------
    env : PrincipalAgentParallelEnv
        A parallel env of this suite (``<name>.parallel_env(...)``).
    mechanism : Mechanism
        The principal's policy; bound to ``env``'s game here.
    """

    def __init__(self, env: PrincipalAgentParallelEnv, mechanism: Mechanism) -> None:
        if not isinstance(env, PrincipalAgentParallelEnv):
            raise TypeError(f"MechanismEnv needs a parallel env of pa_envs, got {type(env).__name__}")
        if not isinstance(mechanism, Mechanism):
            raise TypeError(f"mechanism must be a pa_envs Mechanism, got {type(mechanism).__name__}")
        self.env = env
        self.mechanism = mechanism
        mechanism.bind(env.game)
        self.possible_agents = env.possible_agents[1:]
        self.agents: list[str] = []
        self.metadata = {**env.metadata, "name": f"{env.metadata['name']}+{mechanism.name}"}
        self.render_mode = env.render_mode
        self.state_space = env.state_space
        self._period_start: tuple[np.ndarray, int, np.ndarray] | None = None

    @property
    def game(self) -> Game:
        return self.env.game

    def observation_space(self, agent: str):
        self._check_agent(agent)
        return self.env.observation_space(agent)

    def action_space(self, agent: str):
        self._check_agent(agent)
        return self.env.action_space(agent)

    def _check_agent(self, agent: str) -> None:
        if agent not in self.possible_agents:
            raise ValueError(f"{agent!r} is not an agent of this env; the agents are {self.possible_agents}")

    def _post(self) -> dict[str, np.ndarray]:
        """The mechanism moves: it sees the state and posts this period's contract."""
        state, period = self.env.game_state(), self.env.period
        contract = self.mechanism.post(state[None], np.array([period]))[0]
        self._period_start = (state, period, contract)
        return self.env.post_contract(contract)

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        observations, infos = self.env.reset(seed=seed, options=options)
        self.mechanism.start_episodes(1)
        observations = self._post()
        self.agents = list(self.possible_agents)
        return self._agents_only(observations), self._agent_infos(infos)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self._period_start is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            if actions:
                raise ValueError(
                    f"the episode is over, yet actions were sent for {sorted(actions)}; call reset()"
                )
            return {}, {}, {}, {}, {}
        if PRINCIPAL in actions:
            raise ValueError(
                f"{PRINCIPAL} is played by the mechanism {self.mechanism.name}; send agents only"
            )
        state, period, contract = self._period_start
        observations, rewards, terminations, truncations, infos = self.env.step(
            {PRINCIPAL: self.env.flat_contract(contract), **actions}
        )
        done = not self.env.agents
        principal = infos[PRINCIPAL]
        self.mechanism.update(
            PeriodFeedback(
                state=state[None],
                period=np.array([period]),
                contract=contract[None],
                signals=principal["signals"][None],
                transfers=principal["transfers"][None],
                principal_payoff=np.array([principal["principal_payoff"]]),
                social_welfare=np.array([principal["social_welfare"]]),
                next_state=self.env.game_state()[None],
                done=np.array([done]),
            )
        )
        if done:
            self.agents = []
        else:
            observations = self._post()
        principal_reward = rewards.pop(PRINCIPAL)
        for table in (terminations, truncations):
            table.pop(PRINCIPAL)
        agent_infos = self._agent_infos(infos, principal_reward)
        return self._agents_only(observations), rewards, terminations, truncations, agent_infos

    def _agents_only(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {p: observations[p] for p in self.possible_agents}

    def _agent_infos(self, infos: dict[str, dict], principal_reward: float = 0.0) -> dict[str, dict]:
        principal = infos[PRINCIPAL]
        shared = {
            "social_welfare": principal["social_welfare"],
            "externality": principal["externality"],
            "total_transfers": principal["total_transfers"],
            "principal_reward": principal_reward,
        }
        for key, value in self.mechanism.info().items():
            shared[key] = np.asarray(value)[0].item()
        return {p: {**infos[p], **shared} for p in self.possible_agents}

    def state(self) -> np.ndarray:
        return self.env.state()

    def render(self, mode: str | None = None) -> str | np.ndarray | None:
        return self.env.render(mode)

    def close(self) -> None:
        self.env.close()


def mechanism_env(
    env: PrincipalAgentParallelEnv, mechanism: Mechanism | str, /, **kwargs: Any
) -> MechanismEnv:
    """Bind a mechanism (or a bundled one by name, built with ``kwargs``) to a parallel env."""
    if isinstance(mechanism, str):
        mechanism = make_mechanism(mechanism, env, **kwargs)
    elif kwargs:
        raise TypeError("keyword arguments only go with a mechanism given by name")
    return MechanismEnv(env, mechanism)


def mechanism_aec_env(env: PrincipalAgentParallelEnv, mechanism: Mechanism | str, /, **kwargs: Any):
    """The AEC form of :func:`mechanism_env`, through PettingZoo's ``parallel_to_aec``."""
    return parallel_to_aec(mechanism_env(env, mechanism, **kwargs))


def _game_of(game_or_env: Any) -> Game:
    game = getattr(game_or_env, "game", game_or_env)
    if not isinstance(game, Game):
        raise TypeError(f"expected a pa_envs env or Game, got {type(game_or_env).__name__}")
    return game


def _check_signal(n_signals: int, signal: int) -> None:
    if (
        isinstance(signal, bool)
        or not isinstance(signal, (int, np.integer))
        or not -n_signals <= signal < n_signals
    ):
        raise ValueError(f"signal must be an index in -{n_signals}..{n_signals - 1}, got {signal!r}")


def _check_within_bound(game: Game, largest: float, who: str) -> None:
    bound = max(float(np.float32(game.params.max_transfer)), float(game.params.max_transfer))
    if largest > bound:
        raise ValueError(
            f"{who} needs transfers up to {largest:.4g}, beyond max_transfer={game.params.max_transfer:g} "
            f"of {game.name}; raise max_transfer"
        )
