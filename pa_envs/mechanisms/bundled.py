"""The bundled mechanisms: laissez-faire, flat schedules, the Pigouvian oracle, budgets, stacks.

:class:`NoTransfers` (laissez-faire), :class:`FlatSchedule` (the coarse
incentive, with :meth:`FlatSchedule.best_flat_tax`), :class:`Pigouvian` (the
oracle posting the minimal implementing transfers of the social optimum),
:class:`Budgeted` (caps what another mechanism pays per episode) and
:class:`Stacked` (several mechanisms side by side in one batch). Each one's
:meth:`~pa_envs.core.mechanism.Mechanism.load_state_dict` checks what it
loads as its constructor checks its arguments.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from pa_envs import analysis
from pa_envs.core.batch import seal
from pa_envs.core.contracts import transfer_bound
from pa_envs.core.game import Game, check_int, check_real
from pa_envs.core.mechanism import Mechanism, MechanismInput, PeriodFeedback, check_state_keys
from pa_envs.core.tabular import TabularModel


def _same(kept: np.ndarray, current: np.ndarray) -> bool:
    """``np.array_equal`` for two float arrays, without its wrapper (checked every period)."""
    return kept.shape == current.shape and bool((kept == current).all())


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
        self.transfers = self._transfers(transfers)

    @staticmethod
    def _transfers(transfers: object) -> np.ndarray:
        """``transfers`` as a float64 array, checked (what the constructor and a load accept)."""
        try:
            array = np.asarray(transfers)
        except ValueError:  # ragged
            array = None
        if array is None or array.dtype.kind not in "iuf":
            raise TypeError(f"FlatSchedule transfers must be numbers (ints or floats), got {transfers!r}")
        array = array.astype(np.float64)
        if array.ndim not in (1, 2) or not np.all(np.isfinite(array)):
            raise ValueError(
                "FlatSchedule transfers must be finite, shaped (n_signals,) or (N, n_signals), "
                f"got {transfers!r}"
            )
        return array

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
        if cached is None or cached[1].shape[0] != batch or not _same(cached[0], self.transfers):
            row = np.broadcast_to(self.transfers, (game.n_agents, game.n_signals))
            posted = np.broadcast_to(row, (batch, *row.shape)).copy()
            seal(posted)  # read-only, never written again: the engine checks it once
            cached = (self.transfers.copy(), posted)
            self._posted = cached
        return cached[1]

    def state_dict(self) -> dict[str, Any]:
        return {"transfers": self.transfers.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state_keys("FlatSchedule", state, ("transfers",))
        transfers = self._transfers(state["transfers"])
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
        self.agent_discount, self.epsilon = self._settings(agent_discount, epsilon)
        self.model: TabularModel | None = None
        self.table: np.ndarray | None = None

    @staticmethod
    def _settings(agent_discount: object, epsilon: object) -> tuple[float, float]:
        """The settings checked: a discount in [0, 1] and a finite margin >= 0."""
        return (
            check_real("Pigouvian agent_discount", agent_discount, 0.0, 1.0),
            check_real("Pigouvian epsilon", epsilon, 0.0),
        )

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
        return self.table[periods, states]  # fancy indexing: a new array, never the table

    def state_dict(self) -> dict[str, Any]:
        return {"agent_discount": self.agent_discount, "epsilon": self.epsilon}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state_keys("Pigouvian", state, ("agent_discount", "epsilon"))
        self.agent_discount, self.epsilon = self._settings(state["agent_discount"], state["epsilon"])
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
        self.inner = mechanism
        self.name = f"budgeted({mechanism.name})"
        self.budget = self._budget(budget)
        self.spent = np.zeros(1)
        self.binding = np.zeros(1, dtype=bool)
        self.binding_periods = 0

    @staticmethod
    def _budget(budget: object) -> float:
        if not isinstance(budget, (int, float, np.integer, np.floating)) or isinstance(budget, bool):
            raise ValueError(f"budget must be a finite number >= 0, got {budget!r}")
        if not np.isfinite(budget) or budget < 0:
            raise ValueError(f"budget must be a finite number >= 0, got {budget!r}")
        return float(budget)

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
        check_state_keys("Budgeted", state, ("budget", "spent", "binding_periods", "inner"))
        budget = self._budget(state["budget"])
        spent = np.asarray(state["spent"])
        if spent.dtype.kind not in "iuf" or spent.ndim != 1 or not len(spent):
            raise ValueError(
                f"Budgeted spent must be numbers, one per copy (shape (B,)), got {state['spent']!r}"
            )
        if not np.all(np.isfinite(spent)) or np.any(spent < 0):
            raise ValueError(f"Budgeted spent must be finite and >= 0 in every copy, got {spent.tolist()}")
        check_int("Budgeted binding_periods", state["binding_periods"], 0)
        self.inner.load_state_dict(state["inner"])
        self.budget = budget
        self.spent = spent.astype(np.float64)  # a copy: the saved state must not follow
        self.binding = np.zeros(len(self.spent), dtype=bool)
        self.binding_periods = int(state["binding_periods"])


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
            if getattr(mechanism.update, "__func__", None) is Mechanism.update:
                continue  # learns nothing (the base class's no-op, not overridden): no feedback to slice
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
        check_state_keys("Stacked", state, ("counts", "members"))
        saved = state["members"]
        if not isinstance(saved, list) or len(saved) != len(self.members):
            raise ValueError(f"this state does not hold {len(self.members)} members' states")
        counts = [count for _, count in self.members]
        if state.get("counts") != counts:
            raise ValueError(f"this state was saved with copies {state.get('counts')}; this one has {counts}")
        for (mechanism, _), member in zip(self.members, saved, strict=True):
            mechanism.load_state_dict(member)


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
    bound = transfer_bound(game.params.max_transfer)
    if largest > bound:
        raise ValueError(
            f"{who} needs transfers up to {largest:.4g}, beyond max_transfer={game.params.max_transfer:g} "
            f"of {game.name}; raise max_transfer"
        )
