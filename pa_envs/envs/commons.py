"""commons_v0: fishers, a regulator and a renewable fish stock (a common-pool resource).

Env card
--------
In short
    :principal: regulator
    :agents: fishers choosing effort
    :contractible signal: the fisher's effort (landings class)
    :shared state: fish stock (logistic regrowth)
Players
    ``principal_0`` (the regulator) and ``agent_0`` ... ``agent_{N-1}`` (fishers).
Agents' actions
    ``Discrete(n_efforts)``: a harvest effort. With the default three levels
    ``idle``, ``low``, ``high`` a fisher puts in ``e = 0, 1, 2`` units of
    effort (level ``k`` is ``k`` units).
Contractible signal
    The fisher's own effort level (its logbook / landing class), so a contract
    is an ``(N, n_efforts)`` matrix of transfers per level: a tax on ``high``
    is a negative entry, a payment for restraint a positive entry on ``idle``
    (``game.taxed_signal`` is ``high``).
Principal's action
    The flat contract, ``Box(-max_transfer, max_transfer, (N * n_efforts,), float32)``.
Observations
    Agent ``i``: ``[stock, contract row i]`` (``1 + n_efforts`` float32).
    Principal: ``[stock]``. ``state()``: ``[stock, flat contract in force]``.
Timing
    As in every env of the suite: ``parallel_env()`` posts the contract for the
    next period, ``env()`` (AEC) lets the regulator move first each period.
Dynamics
    The stock ``x`` is an integer in ``0 .. carrying_capacity`` (``K``). With
    total effort ``E = sum(e_i)``, fisher ``i`` wants to land
    ``catchability * e_i * x``; when the fleet wants more than the stock
    (``catchability * E > 1``) every catch is scaled down in proportion, so the
    total catch is ``H = min(1, catchability * E) * x`` and fisher ``i`` lands
    ``h_i = H * e_i / E`` (real-valued; ``H = x`` exactly when scaled). The escapement ``y = x - H`` regrows
    logistically: ``z = min(K, y + growth_rate * y * (1 - y / K))``, and the
    next stock is ``z`` rounded stochastically: ``floor(z) + 1`` with
    probability ``frac(z)``, else ``floor(z)`` (one uniform per copy), so its
    mean is exactly ``z``. A stock of 0 is extinct for good.
Rewards
    Fisher ``i``: ``price * h_i - effort_cost * e_i``, plus its transfer.
    Regulator: ``-stock_value * (K - x)``: society's non-use value of a fish
    per period (``stock_value``, default 0) lost for each fish missing from the
    unfished stock, borne by no fisher; minus the transfers it pays (or, with
    ``principal_objective="welfare"``, social welfare minus
    ``cost_of_public_funds * sum(|transfers|)``). Counting the value as a loss
    from the unfished stock keeps the externality non-negative; it differs
    from a gain ``+stock_value * x`` by a constant per period, so no policy
    changes. With the default ``stock_value = 0`` the regulator's payoff and
    the ``externality`` field are 0, and social welfare is the fleet's profit.
The externality
    It runs between the fishers, through the stock: a fish landed today is not
    there to breed, so it lowers every fisher's future catch per unit of
    effort, but the fisher who lands it keeps the whole price. A myopic
    fisher adds effort as long as ``price * catchability * x > effort_cost``,
    so open access drives the stock down to where the rent is gone (Gordon's
    dissipation): ``x_OA = effort_cost / (price * catchability)``. A sole
    owner (``N = 1``) bears the whole future cost, so a *forward-looking* one
    (``agent_discount = 1``, the episode's horizon) manages the stock
    efficiently: its laissez-faire is the social optimum (98.96 over 100
    periods). A *myopic* sole owner (``agent_discount = 0``, the default of
    the analysis) ignores the future as open access does and fishes the stock
    down: 35.88 (``analysis.laissez_faire(model, agent_discount=a)`` for
    ``a = 1, 0`` on ``commons_v0.parallel_env(n_agents=1).game.exact_model()``;
    ``tests/test_commons.py`` checks both).
Equilibrium selection
    With several fishers the period's game can have several pure equilibria
    (who fishes when the stock is near ``x_OA``): a unit of effort earns
    ``0.1 * x - 0.5`` whatever the others do, so at ``x = 5`` a fisher is exactly
    indifferent and best-response iteration keeps its starting action on that
    tie. ``analysis.laissez_faire``
    starts best-response iteration from every fisher ``idle`` (action 0), which
    here reaches the *best* of them: ``W_LF = 27.38`` at the defaults; starting
    from ``low`` or ``high`` reaches worse ones, down to 11.66
    (``analysis.laissez_faire_range``: ``(11.66, 27.38)``). The price of
    anarchy reported (3.845) is against the best; against the worst it is 9.03.
Why the defaults are inefficient (N = 3)
    ``K = 20``, ``growth_rate = 0.3``, ``catchability = 0.1``, ``price = 1``,
    ``effort_cost = 0.5``. A unit of effort earns ``0.1 * x - 0.5`` now:
    positive for any stock above ``x_OA = 5``. So myopic fishers all fish
    ``high`` (``E = 6``, 60% of the stock per period) while ``x > 5`` and go
    idle below: the stock is fished down from 20 to about 5 in two periods
    and hovers there (mean stock 4.7 over the episode), where effort earns
    nothing. Patient fishers do no better: a fish left in the water is at
    most ``1 + r = 1.3`` fish next period (the slope of the regrowth), and
    the fisher who spared it shares them with two others, so it gets back
    well under one fish; at ``agent_discount = 0.99`` laissez-faire plays as
    the myopic one does and earns the same welfare to within 0.2. The
    social optimum keeps the stock up. A constant harvest share ``f``
    sustains ``x(f) = K (1 + r - 1 / (1 - f)) / (r (1 - f))`` and earns
    ``f * x(f) - 5 f`` per period: ``f = 0.1``: ``x = 14.0``, rent 0.90;
    ``f = 0.15``: ``x = 9.7``, rent 0.70; ``f = 0.2``: ``x = 4.2``, a loss.
    With effort in whole units the optimum does a little better by pulse
    fishing: idle while the stock is below 15, fish hard at 15 and above
    (mean stock 12.7). Over 100 periods ``W* = 105.3`` against
    ``W_LF = 27.4``: three quarters of the rent is dissipated. A flat payment
    ``S`` for ``idle`` keeps a myopic fisher idle while ``S > 2 (0.1 x - 0.5)``,
    i.e. below ``x = 5 (S + 1)``: ``S = 2`` reproduces the optimum's threshold
    of 15 and recovers 94% of the gap; a tax on ``high`` only moves fishers
    to ``low`` (``E = 3``, still 30% of the stock a period) and recovers little.
Exact model
    The next stock takes at most two values given ``(x, E)``, so
    :meth:`CommonsGame.tabular_model` is exact with transition class = total
    effort (:class:`~pa_envs.core.transitions.GatheredTransitions`, ``(S, G, 2)``);
    fishers are symmetric, so :meth:`CommonsGame.count_model` covers many of them
    (``exact_model()`` switches to it when the joint model exceeds 5e7 entries,
    e.g. at ``n_agents=12``).

Parameters
----------
See :class:`CommonsParams` (and :class:`~pa_envs.core.game.GameParams` for
``n_agents``, ``max_cycles``, ``max_transfer``, ``principal_objective``,
``cost_of_public_funds``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pa_envs.core.factories import define_env
from pa_envs.core.game import MAX_ACTIONS, Dynamics, GameParams, SymmetricGame
from pa_envs.core.tabular import TabularModel
from pa_envs.core.transitions import GatheredTransitions

# The stock is an int in 0 .. carrying_capacity; beyond this the models would not fit.
MAX_CAPACITY = 100_000


@dataclasses.dataclass(frozen=True)
class CommonsParams(GameParams):
    """Parameters of commons_v0 (validated at construction).

    Attributes
    ----------
    carrying_capacity : int
        ``K``: the largest stock (where logistic growth stops), in ``1 .. 100000``.
    initial_stock : int or None
        Stock at reset, in ``0 .. carrying_capacity``; ``None`` (default) starts
        at the carrying capacity (an unfished stock). :attr:`start_stock` is the
        value in force either way.
    n_efforts : int
        Effort levels, in ``2 .. 10000``; level ``k`` is ``k`` units of effort (level 0 is idle).
    catchability : float
        Share of the stock one unit of effort lands, in ``(0, 1]``.
    growth_rate : float
        Intrinsic growth rate ``r`` of the logistic regrowth, in ``[0, 1e12 / K]``.
    price : float
        Price of a fish, in ``(0, 1e12 / K]``.
    effort_cost : float
        Cost of a unit of effort, in ``[0, 1e12 / (n_efforts - 1)]``; fishing must pay
        on an unfished stock: ``price * catchability * carrying_capacity > effort_cost``.
    stock_value : float
        Society's non-use value of a fish per period (borne by no fisher), in
        ``[0, 1e12 / K]``: the regulator's payoff is ``-stock_value * (K - stock)``.
    """

    carrying_capacity: int = 20
    initial_stock: int | None = None
    n_efforts: int = 3
    catchability: float = 0.1
    growth_rate: float = 0.3
    price: float = 1.0
    effort_cost: float = 0.5
    stock_value: float = 0.0

    def validate(self) -> None:
        super().validate()
        capacity = self._int("carrying_capacity", 1, MAX_CAPACITY)
        if self.initial_stock is not None:
            self._int("initial_stock", 0, capacity, why="at most carrying_capacity")
        efforts = self._int("n_efforts", 2, MAX_ACTIONS, why="MAX_ACTIONS")
        self._check_step_size(1 + 2 * efforts, f"1 + 2 x n_efforts={efforts}")
        catchability = self._real("catchability", 0.0, 1.0, open_low=True)
        # The regrowth r * y * (1 - y / K) is at most r * K / 4: bounded like a payoff, so it stays finite.
        self._payoff_scale("growth_rate", 0.0, capacity, f"carrying_capacity={capacity}")
        # A fisher lands at most the whole stock: price * K is the largest revenue.
        price = self._payoff_scale("price", 0.0, capacity, f"carrying_capacity={capacity}", open_low=True)
        top = efforts - 1
        effort_cost = self._payoff_scale("effort_cost", 0.0, top, f"the top effort {top}")
        full_stock_margin = price * catchability * capacity
        if full_stock_margin <= effort_cost:
            raise ValueError(
                "fishing must pay on an unfished stock: need effort_cost < price * catchability * "
                f"carrying_capacity = {full_stock_margin:g}, got effort_cost={effort_cost!r}"
            )
        self._payoff_scale("stock_value", 0.0, capacity, f"carrying_capacity={capacity}")

    @property
    def start_stock(self) -> int:
        """The stock at reset: ``initial_stock``, or the carrying capacity when it is ``None``."""
        return self.carrying_capacity if self.initial_stock is None else self.initial_stock


class CommonsGame(SymmetricGame):
    """Economics of commons_v0; see the module docstring."""

    name = "commons_v0"
    params_class = CommonsParams
    params: CommonsParams  # the narrower type, for the type checker
    state_names = ("stock",)

    def __init__(self, params: CommonsParams) -> None:
        super().__init__(params)
        self.effort = np.arange(params.n_efforts, dtype=np.int64)
        self._state_high = np.array([params.carrying_capacity], dtype=np.int64)
        # The step's constants as (1,) arrays of their dtype (numpy converts a Python scalar
        # operand on every call) and the damage of every stock, gathered rather than computed a
        # step: the same float64 / int64 values, so the same numbers.
        p = params
        self._price = np.array([p.price])
        self._effort_cost = np.array([p.effort_cost])
        self._capacity = np.array([p.carrying_capacity], dtype=np.int64)
        self._ones = np.ones(p.n_agents, dtype=np.int64)  # each copy's total effort, an exact int dot
        stocks = np.arange(p.carrying_capacity + 1, dtype=np.int64)
        self._damage_at = p.stock_value * (p.carrying_capacity - stocks).astype(np.float64)
        self._payoff_at = -self._damage_at

    @property
    def action_names(self) -> tuple[str, ...]:
        if self.params.n_efforts == 3:
            return ("idle", "low", "high")
        return tuple(f"effort_{k}" for k in range(self.params.n_efforts))

    @property
    def signal_names(self) -> tuple[str, ...]:
        return self.action_names

    @property
    def state_high(self) -> np.ndarray:
        return self._state_high

    @property
    def max_total_effort(self) -> int:
        """The largest total effort of the fleet, ``N * (n_efforts - 1)``."""
        return self.params.n_agents * (self.params.n_efforts - 1)

    def initial_state(self, noise: np.ndarray) -> np.ndarray:
        return np.full((noise.shape[0], 1), self.params.start_stock, dtype=np.int64)

    # -- the economics, elementwise in (stock, total effort) ----------------------------
    def harvest(self, stock: np.ndarray, total_effort: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(catch per unit of effort, escapement)`` for stocks and total efforts of any (same) shape.

        The fleet lands ``H = min(1, catchability * E) * x`` (exactly ``x`` when its
        desired catch exceeds the stock), shared in proportion to effort.
        """
        p = self.params
        x = np.asarray(stock, dtype=np.float64)
        e = np.asarray(total_effort, dtype=np.int64)
        share = p.catchability * e
        total = np.where(share >= 1.0, x, share * x)
        per_effort = np.where(e > 0, total / np.maximum(e, 1), p.catchability * x)
        return per_effort, x - total

    def regrowth(self, escapement: np.ndarray) -> np.ndarray:
        """Mean next stock ``min(K, y + r y (1 - y / K))`` of escapements ``y``."""
        p = self.params
        y = np.asarray(escapement, dtype=np.float64)
        k = float(p.carrying_capacity)
        return np.minimum(y + p.growth_rate * y * (1.0 - y / k), k)

    def _successors(self, stock: np.ndarray, total_effort: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(floor(z), P(floor(z) + 1))``: the two possible next stocks' base and the chance of the upper."""
        _, escapement = self.harvest(stock, total_effort)
        return self._successors_of(escapement)

    def _successors_of(self, escapement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_successors` from the escapement (the step has it from its own harvest)."""
        z = self.regrowth(escapement)
        low = np.floor(z)
        return low.astype(np.int64), z - low

    def step(self, state: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Dynamics:
        stock = state[:, 0]
        total_effort = actions.dot(self._ones)
        per_effort, escapement = self.harvest(stock, total_effort)  # once: the catch and the regrowth
        catch = actions * per_effort[:, None]
        private_utility = self._price * catch - self._effort_cost * actions
        low, up = self._successors_of(escapement)
        next_stock = np.minimum(low + (noise[:, 0] < up), self._capacity)  # int64 already
        # Positional fields (next_state, signals, private_utility, principal_payoff,
        # externality, terminated): keywords cost a step more, for the same tuple.
        return Dynamics(
            next_stock[:, None],
            actions,
            private_utility,
            self._payoff_at[stock],
            self._damage_at[stock],
            np.zeros(len(stock), dtype=bool),
        )

    # -- exact models -------------------------------------------------------------------
    model_size_advice = "a smaller carrying_capacity"

    @property
    def n_model_states(self) -> int:
        return self.params.carrying_capacity + 1

    def model_size_description(self) -> str:
        p = self.params
        return f"n_agents={p.n_agents}, n_efforts={p.n_efforts} and carrying_capacity={p.carrying_capacity}"

    def _model(self, joint: np.ndarray, symmetric: bool) -> TabularModel:
        p = self.params
        n_states = p.carrying_capacity + 1
        stock = np.arange(n_states)
        # Transition class = total effort E in 0 .. N * (n_efforts - 1).
        classes = np.arange(self.max_total_effort + 1)
        low, up = self._successors(stock[:, None], classes[None, :])  # (S, G)
        successors = np.stack([low, np.minimum(low + 1, p.carrying_capacity)], axis=2)
        probabilities = np.stack([1.0 - up, up], axis=2)
        total_effort = joint.sum(axis=1)  # (A,)
        per_effort, _ = self.harvest(stock[:, None], total_effort[None, :])  # (S, A)
        # Per agent (joint model) or per action (count model): the effort of the action taken.
        taken = np.broadcast_to(self.effort, (len(joint), p.n_efforts)) if symmetric else joint
        catch = taken[None, :, :] * per_effort[:, :, None]
        private_utility = p.price * catch - p.effort_cost * taken[None, :, :]
        laws = np.eye(p.n_efforts)[taken]  # the signal is the action taken
        signal_probabilities = np.broadcast_to(laws[None], (n_states, *laws.shape))
        damage = np.broadcast_to(
            p.stock_value * (p.carrying_capacity - stock[:, None]).astype(np.float64), (n_states, len(joint))
        )
        initial = np.zeros(n_states)
        initial[p.start_stock] = 1.0
        return TabularModel(
            states=stock[:, None],
            joint_actions=joint,
            initial_distribution=initial,
            transition_class=total_effort.astype(np.int64),
            transitions=GatheredTransitions(successors, probabilities),
            private_utility=np.ascontiguousarray(private_utility),
            principal_payoff=-damage,
            externality=damage,
            signal_probabilities=signal_probabilities,
            horizon=p.max_cycles,
            symmetric=symmetric,
        )


raw_env, parallel_env_class, env, parallel_env = define_env(CommonsGame, __name__)
