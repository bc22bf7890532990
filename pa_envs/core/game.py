"""The principal-agent game that every env of the suite shares.

An env supplies its economics as a :class:`Game`: pure numpy functions over
arrays with a leading batch axis (B copies). :func:`resolve_period` adds the
contract (transfers) and the rewards, the same way for every env, and every
adapter (parallel, AEC, and later the vector and gymnasium forms) calls it.

Conventions
-----------
- ``state``: ``(B, state_dim)`` int64, the shared state (e.g. a pollution stock).
- ``actions``: ``(B, N)`` int64, each agent's discrete action.
- ``contracts``: ``(B, N, n_signals)`` float64, the transfers in force.
- ``noise``: ``(B, noise_size)`` uniforms in [0, 1): all the randomness of a
  period, drawn by the caller, so the dynamics are deterministic functions.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import numpy as np

from pa_envs.core import rng
from pa_envs.core.tabular import TabularModel, enumerate_count_profiles, enumerate_joint_actions

PRINCIPAL_OBJECTIVES = ("payoff", "welfare")

# -- the numeric limits every env's parameters obey -----------------------------------------
# Parameters are validated as the numbers they are: ints are converted with ``int()`` and reals
# with ``float()`` at construction (so no numpy int64 arithmetic can wrap), and each is bounded
# so that no reachable reward, state or transfer can overflow, become infinite or lose its
# exactness. The bounds follow from four limits:

PAYOFF_BOUND = 1e12
"""The largest magnitude of one payoff term of one period: an agent's private utility term (a
profit, a cost, a damage at the largest state), the principal's payoff or externality, a
transfer times the cost of public funds. Each env bounds every real parameter by
``PAYOFF_BOUND`` divided by the largest state or action it multiplies (e.g. ``firm_damage <=
PAYOFF_BOUND / stock cap``). Why this value: float64 rounds a term of 1e12 by at most
``1e12 * 2**-53 ~ 1.1e-4``, so rewards still sum to welfare to within a thousandth of a unit per
term and a transfer of a cent still moves a reward; and whatever the horizon (at most
:data:`MAX_CYCLES` periods) and the number of agents (at most :data:`MAX_AGENTS`), any
episode's return is below ``PAYOFF_BOUND * 4 * (MAX_AGENTS + 1) * MAX_CYCLES ~ 2e27``: finite,
with some 280 orders of magnitude to spare."""

MAX_CYCLES = rng.MAX_PERIOD
"""The longest horizon, ``2**32 - 1``: a period is the low 32 bits of the random counter
(:mod:`pa_envs.core.rng`), so a longer episode would replay the next episode's draws."""

MAX_AGENTS = 100_000
"""The most agents: every step of the PettingZoo API builds dicts of ``N + 1`` entries (actions,
observations, rewards, infos), so a step's time and memory grow with ``N``."""

MAX_STEP_ENTRIES = 10_000_000
"""The most numbers one period may handle per agent array: ``n_agents`` times (an agent's
observation width plus twice its contract row). Each such array is at most 80 MB in float64."""

MAX_ACTIONS = 10_000
"""The most discrete actions (or contractible signals) an agent may have: every env builds
per-action labels and tables, and a contract holds ``n_agents * n_signals`` transfers."""

FLOAT32_EXACT = 2**24
"""The largest integer every smaller one of which float32 represents exactly: state values (a
stock, a risk level) are observed as float32, so a state's range stays within it."""


def _bound_error(name: str, span: str, value: object, why: str) -> ValueError:
    reason = f" ({why})" if why else ""
    return ValueError(f"{name} must be {span}, got {value!r}{reason}")


def check_int(name: str, value: object, low: int, high: int | None = None, *, why: str = "") -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[low, high]``, else raise.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (a bool is not one).
    ValueError
        If it is outside ``[low, high]``; the message names the parameter, the range, the value
        and ``why`` (where the bound comes from), if given.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        span = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise _bound_error(name, span, value, why)
    return int(value)


def check_real(
    name: str,
    value: object,
    low: float = -np.inf,
    high: float = np.inf,
    *,
    open_low: bool = False,
    why: str = "",
) -> float:
    """Return ``value`` as a ``float`` if it is a finite real in ``[low, high]`` (or ``(low, high]``).

    Raises
    ------
    TypeError
        If ``value`` is not a real number (a bool is not one).
    ValueError
        If it is not finite (including an int too large for a float) or out of range; the
        message names the parameter, the range, the value and ``why``, if given.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        real = float(value)
    except OverflowError:  # an int beyond float64's range
        real = math.inf
    if not math.isfinite(real) or real > high or real < low or (open_low and real == low):
        left = "(" if open_low else "["
        raise _bound_error(name, f"a finite number in {left}{low:g}, {high:g}]", value, why)
    return real


def check_payoff_scale(
    name: str, value: object, low: float, per_unit: float, unit: str, *, open_low: bool = False
) -> float:
    """Check a coefficient that multiplies up to ``per_unit`` (a state, a quantity) in a payoff term.

    The coefficient must be a finite real in ``[low, PAYOFF_BOUND / per_unit]`` (and at least
    ``-PAYOFF_BOUND / per_unit`` when ``low`` is ``-inf``), so the term stays within
    :data:`PAYOFF_BOUND`; ``unit`` says what it multiplies, for the error. Returns it as a float.
    """
    high = PAYOFF_BOUND / max(per_unit, 1.0)
    low = max(low, -high)
    why = f"{name} x {unit} is a payoff term of one period, at most PAYOFF_BOUND = {PAYOFF_BOUND:g}"
    return check_real(name, value, low, high, open_low=open_low, why=why)


def check_unit(name: str, value: object, *, open_low: bool = False) -> float:
    """Return ``value`` as a float if it is a real number in [0, 1] (or (0, 1]), else raise
    ``ValueError`` naming it (a discount, a probability, a learning rate)."""
    span = "(0, 1]" if open_low else "[0, 1]"
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number in {span}, got {value!r}")
    if not (0.0 < value <= 1.0 if open_low else 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in {span}, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class GameParams:
    """Parameters every env shares.

    Attributes
    ----------
    n_agents : int
        Number of agents (``agent_0`` ... ``agent_{N-1}``), in ``1 .. 100000``
        (:data:`MAX_AGENTS`; an env may allow fewer, see :data:`MAX_STEP_ENTRIES`).
    max_cycles : int
        Episode length in periods, in ``1 .. 2**32 - 1`` (:data:`MAX_CYCLES`); every
        player is truncated after it.
    max_transfer : float
        Transfers lie in ``[-max_transfer, max_transfer]`` (the bound is the
        larger of ``max_transfer`` and its float32 value, as in the principal's
        action space), at most ``1e6``.
    principal_objective : {"payoff", "welfare"}
        ``"payoff"``: the principal's reward is its own payoff minus the
        transfers it pays, so all rewards sum to social welfare.
        ``"welfare"``: a benevolent planner, rewarded with social welfare minus
        ``cost_of_public_funds * sum(|transfers|)``.
    cost_of_public_funds : float
        The ``lambda`` of the planner objective, in ``[0, 1e12 / max_transfer]``
        (:data:`PAYOFF_BOUND`).

    Notes
    -----
    Every env's parameters are converted (ints with ``int()``, reals with ``float()``) and
    bounded at construction so that no reachable payoff, state or transfer overflows: see
    :data:`PAYOFF_BOUND` and the limits beside it.
    """

    n_agents: int = 3
    max_cycles: int = 100
    max_transfer: float = 5.0
    principal_objective: str = "payoff"
    cost_of_public_funds: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``TypeError``/``ValueError`` naming the first invalid parameter.

        Subclasses call ``super().validate()`` first, then check (and convert) their own
        fields with :meth:`_int`, :meth:`_real` and :meth:`_payoff_scale`.
        """
        self._int("n_agents", 1, MAX_AGENTS, why="MAX_AGENTS: a step builds dicts of N + 1 entries")
        self._int("max_cycles", 1, MAX_CYCLES, why="MAX_CYCLES: a period is 32 bits of the random counter")
        # Beyond this, float64 sums of transfers and payoffs lose the welfare identity.
        bound = self._real("max_transfer", 0.0, 1e6, open_low=True)
        if self.principal_objective not in PRINCIPAL_OBJECTIVES:
            raise ValueError(
                f"principal_objective must be one of {PRINCIPAL_OBJECTIVES}, got {self.principal_objective!r}"
            )
        self._payoff_scale("cost_of_public_funds", 0.0, bound, f"max_transfer = {bound:g}")

    # -- checks that store the converted value (the dataclass is frozen) ---------------------
    def _int(self, name: str, low: int, high: int | None = None, *, why: str = "") -> int:
        """Check field ``name`` with :func:`check_int`, store it as an ``int`` and return it."""
        value = check_int(name, getattr(self, name), low, high, why=why)
        object.__setattr__(self, name, value)
        return value

    def _real(
        self, name: str, low: float = -np.inf, high: float = np.inf, *, open_low: bool = False, why: str = ""
    ) -> float:
        """Check field ``name`` with :func:`check_real`, store it as a ``float`` and return it."""
        value = check_real(name, getattr(self, name), low, high, open_low=open_low, why=why)
        object.__setattr__(self, name, value)
        return value

    def _payoff_scale(
        self, name: str, low: float, per_unit: float, unit: str, *, open_low: bool = False
    ) -> float:
        """Check field ``name`` with :func:`check_payoff_scale`, store it as a ``float`` and return it."""
        value = check_payoff_scale(name, getattr(self, name), low, per_unit, unit, open_low=open_low)
        object.__setattr__(self, name, value)
        return value

    def _check_step_size(self, per_agent: int, what: str) -> None:
        """Raise unless ``n_agents * per_agent`` (the numbers one period handles per agent array:
        an observation and twice a contract row; ``what`` spells it) is within
        :data:`MAX_STEP_ENTRIES`."""
        total = self.n_agents * per_agent
        if total > MAX_STEP_ENTRIES:
            raise ValueError(
                f"one period would handle n_agents x ({what}) = {self.n_agents} x {per_agent} = {total:,} "
                f"numbers per agent array, more than MAX_STEP_ENTRIES = {MAX_STEP_ENTRIES:,}; use fewer "
                "agents or smaller per-agent sizes"
            )


class Dynamics(NamedTuple):
    """What the economics of one period produce, before any transfer.

    Every field has the leading batch axis B.
    """

    next_state: np.ndarray  # (B, state_dim) int64
    signals: np.ndarray  # (B, N) int64, the contractible signal of each agent
    private_utility: np.ndarray  # (B, N) float64
    principal_payoff: np.ndarray  # (B,) float64
    externality: np.ndarray  # (B,) float64, damage borne by no agent
    terminated: np.ndarray  # (B,) bool


class PeriodOutcome(NamedTuple):
    """One resolved period: dynamics plus transfers, rewards and welfare."""

    dynamics: Dynamics
    transfers: np.ndarray  # (B, N) paid to each agent (negative: taxed)
    agent_rewards: np.ndarray  # (B, N)
    principal_reward: np.ndarray  # (B,)
    social_welfare: np.ndarray  # (B,) private utilities + principal payoff
    transfer_totals: np.ndarray | None = None  # (B,) each copy's transfers summed, if computed


class Game(ABC):
    """The economics of one env, batch-first.

    Subclasses set the class attributes, build their lookup tables in
    ``__init__`` and implement :meth:`initial_state`, :meth:`step` and
    :meth:`tabular_model`. They hold no episode state: a ``Game`` is a set of
    pure functions of its parameters.
    """

    name: ClassVar[str]
    params_class: ClassVar[type[GameParams]] = GameParams
    state_names: ClassVar[tuple[str, ...]]
    """Names of the components of the state vector (e.g. ``("stock",)``)."""

    def __init__(self, params: GameParams) -> None:
        if not isinstance(params, self.params_class):
            raise TypeError(
                f"{type(self).__name__} needs {self.params_class.__name__}, got {type(params).__name__}"
            )
        self.params = params

    # -- sizes and labels ---------------------------------------------------
    @property
    def n_agents(self) -> int:
        return self.params.n_agents

    @property
    @abstractmethod
    def action_names(self) -> tuple[str, ...]:
        """Labels of an agent's discrete actions."""

    @property
    @abstractmethod
    def signal_names(self) -> tuple[str, ...]:
        """Labels of the contractible signals (a contract has one transfer per signal)."""

    @property
    def taxed_signal(self) -> int:
        """The signal a flat tax targets unless told otherwise: the one that marks the
        most harmful action (default: the last signal, e.g. ``high`` production)."""
        return self.n_signals - 1

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def n_signals(self) -> int:
        return len(self.signal_names)

    @property
    @abstractmethod
    def state_high(self) -> np.ndarray:
        """Largest value of each state component (the lowest is 0)."""

    @property
    def noise_size(self) -> int:
        """Uniform draws one period consumes per copy."""
        return 1

    # -- dynamics -----------------------------------------------------------
    @abstractmethod
    def initial_state(self, noise: np.ndarray) -> np.ndarray:
        """Return ``(B, state_dim)`` initial states from ``(B, noise_size)`` uniforms."""

    @abstractmethod
    def step(self, state: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Dynamics:
        """Advance B copies by one period (no transfers involved)."""

    @abstractmethod
    def tabular_model(self) -> TabularModel:
        """Return the exact finite model over (state, joint action)."""

    def count_model(self) -> TabularModel:
        """Return the exact model over count profiles, for envs whose agents are symmetric."""
        raise NotImplementedError(f"{self.name} has no count model (its agents are not symmetric)")

    def exact_model(self) -> TabularModel:
        """The joint-action model when it fits in memory, else the count model of symmetric agents."""
        try:
            return self.tabular_model()
        except ValueError as too_big:
            try:
                return self.count_model()
            except NotImplementedError:
                raise too_big from None

    # -- what players see ---------------------------------------------------
    def agent_features(self, state: np.ndarray) -> np.ndarray:
        """``(B, N, F)`` state features each agent observes (default: the whole state)."""
        return np.repeat(state[:, None, :], self.n_agents, axis=1)

    def agent_features_high(self) -> np.ndarray:
        """Upper bounds of :meth:`agent_features` (the lower bounds are 0)."""
        return self.state_high

    def principal_features(self, state: np.ndarray) -> np.ndarray:
        """``(B, F)`` state features the principal observes (default: the whole state)."""
        return state

    def principal_features_high(self) -> np.ndarray:
        """Upper bounds of :meth:`principal_features` (the lower bounds are 0)."""
        return self.state_high

    def describe_state(self, state_row: np.ndarray) -> dict[str, int]:
        """Name each component of one copy's state, for infos and rendering."""
        return dict(zip(self.state_names, np.asarray(state_row).tolist(), strict=True))


@functools.lru_cache(maxsize=64)
def _pay_offsets(batch: int, n_agents: int, n_signals: int) -> np.ndarray:
    """``(B, N)`` offsets of each agent's contract row in flat ``(B, N, n_signals)`` contracts:
    adding the signals gives the flat index of each agent's transfer (one gather, not three
    index arrays)."""
    offsets = (np.arange(batch * n_agents, dtype=np.int64) * n_signals).reshape(batch, n_agents)
    offsets.flags.writeable = False
    return offsets


class SymmetricGame(Game):
    """A game whose agents are symmetric: an agent's payoff and signal depend on its own
    action and on how many agents take each action, never on who they are.

    Subclasses build both exact models with one method, ``_model(joint, symmetric)``
    (``joint``: the joint actions, or the canonical joint actions of the count
    profiles), and say how many states the model has (:attr:`n_model_states`);
    :meth:`tabular_model` and :meth:`count_model` are then given, each refusing a
    model too big to hold with a ``ValueError`` that names the parameters.
    """

    max_model_entries: ClassVar[int] = 50_000_000
    model_size_advice: ClassVar[str] = "a smaller state space"
    """What else makes the model smaller, in the size error (e.g. ``"a smaller max_stock"``)."""

    @property
    @abstractmethod
    def n_model_states(self) -> int:
        """States of the exact model."""

    @abstractmethod
    def _model(self, joint: np.ndarray, symmetric: bool) -> TabularModel:
        """The exact model over ``joint`` (joint actions, or count profiles if ``symmetric``)."""

    def model_size_description(self) -> str:
        """The parameters that set the model's size, for the size error."""
        return f"n_agents={self.n_agents}"

    def model_entries(self, n_profiles: int, per_profile: int) -> int:
        """Numbers a model over ``n_profiles`` joint actions or profiles holds: payoffs and
        signal laws, ``S * profiles * per_profile * (1 + n_signals)``."""
        return self.n_model_states * n_profiles * per_profile * (1 + self.n_signals)

    def tabular_model(self) -> TabularModel:
        n, actions = self.n_agents, self.n_actions
        self._check_model_size("joint-action", actions**n, n, "or count_model()")
        return self._model(enumerate_joint_actions(n, actions), symmetric=False)

    def count_model(self) -> TabularModel:
        """The exact model over count profiles (how many agents take each action), for many agents."""
        n, actions = self.n_agents, self.n_actions
        self._check_model_size("count", math.comb(n + actions - 1, actions - 1), actions, "")
        return self._model(enumerate_count_profiles(n, actions), symmetric=True)

    def _check_model_size(self, kind: str, n_profiles: int, per_profile: int, advice: str) -> None:
        entries = self.model_entries(n_profiles, per_profile)
        if entries > self.max_model_entries:
            also = f", {advice}" if advice else ""
            raise ValueError(
                f"the {kind} model of {self.name} with {self.model_size_description()} needs "
                f"{entries:.2e} entries (limit {self.max_model_entries:.0e}); use fewer agents, "
                f"{self.model_size_advice}{also}"
            )


def resolve_period(
    game: Game,
    state: np.ndarray,
    actions: np.ndarray,
    contracts: np.ndarray,
    noise: np.ndarray,
    *,
    actions_below: int | None = None,
) -> PeriodOutcome:
    """Play one period of B copies: dynamics, then transfers and rewards.

    Transfers never enter the dynamics: they move money between principal and
    agents, so they cancel out of social welfare (neutral ex post) while they
    change each agent's reward (and so what it learns to do).

    ``actions_below``, if given, says the caller has checked every action to lie in
    ``0 .. actions_below - 1``: a Game whose signals are those very actions (the same array)
    then needs no range check of them when they fit the contract's columns.
    """
    dynamics = game.step(state, actions, noise)
    signals, private_utility = dynamics.signals, dynamics.private_utility
    # Ufuncs called directly and one flat gather: at B = 1 a period is a handful of tiny
    # arrays, so numpy's per-call overhead (ndarray.sum's wrapper, 3-array fancy indexing)
    # is most of its cost. The same numbers as contracts[b, i, signals[b, i]].
    n_signals = contracts.shape[2]
    # The flat gather would read the next agent's row for a signal past the end: a Game that
    # returns one gets an error naming it, not somebody else's transfer.
    if signals is actions and actions_below is not None and actions_below <= n_signals:
        out_of_range = False  # the caller's checked actions: in range already
    elif signals.size <= _SMALL_PERIOD:
        # A few copies' signals: Python's min and max of the ints cost less than two numpy
        # reductions (a couple of microseconds each at any size).
        rows = signals.tolist()  # (B, N) lists of ints
        out_of_range = signals.size > 0 and (min(map(min, rows)) < 0 or max(map(max, rows)) >= n_signals)
    else:
        out_of_range = bool(_min(signals, axis=None) < 0 or _max(signals, axis=None) >= n_signals)
    if out_of_range:
        raise ValueError(
            f"{game.name}: Game.step returned signals outside 0..{n_signals - 1}: {signals.tolist()}"
        )
    offsets = _pay_offsets(*signals.shape, n_signals)
    transfers = contracts.take(signals + offsets)  # take without an axis reads the flat array
    agent_rewards = private_utility + transfers
    social_welfare = _sum_rows(private_utility, 1) + dynamics.principal_payoff
    totals = _sum_rows(transfers, 1)  # the principal's outlay; the infos report it too
    params = game.params
    if params.principal_objective == "payoff":
        principal_reward = dynamics.principal_payoff - totals
    else:
        principal_reward = social_welfare - params.cost_of_public_funds * _sum_rows(np.abs(transfers), 1)
    return PeriodOutcome(dynamics, transfers, agent_rewards, principal_reward, social_welfare, totals)


_sum_rows = np.add.reduce
_min, _max = np.minimum.reduce, np.maximum.reduce
_SMALL_PERIOD = 64  # signals a period may hold for their range to be checked in Python
