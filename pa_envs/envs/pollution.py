"""pollution_v0: firms, a regulator and a pollution stock that decays slowly.

Env card
--------
In short
    :principal: regulator
    :agents: firms choosing production
    :contractible signal: the firm's production level
    :shared state: pollution stock
Players
    ``principal_0`` (the regulator) and ``agent_0`` ... ``agent_{N-1}`` (firms).
Agents' actions
    ``Discrete(n_levels)``: a production level. With the default three levels
    ``low``, ``medium``, ``high`` a firm produces ``q = 1, 2, 3`` units
    (level ``k`` produces ``q = k + 1``).
Contractible signal
    The firm's own production level, so a contract is an ``(N, n_levels)``
    matrix of transfers per level (a tax on ``high`` is a negative entry;
    ``game.taxed_signal`` is ``high``).
Principal's action
    The flat contract, ``Box(-max_transfer, max_transfer, (N * n_levels,), float32)``.
Observations
    Agent ``i``: ``[stock, contract row i]`` (``1 + n_levels`` float32).
    Principal: ``[stock]``. ``state()``: ``[stock, flat contract in force]``.
Timing
    ``parallel_env()``: everyone moves at once; the contract played at step
    ``t`` is in force at step ``t + 1`` (a posted schedule); ``reset`` puts a
    zero contract in force unless ``options={"contract": C}``.
    ``env()`` (AEC): each period the regulator posts the contract first, then
    the firms, in order, see it and choose (Stackelberg timing).
    PettingZoo's ``aec_to_parallel(env())`` gives a third timing: the
    contract sent with the firms' actions applies to that same period, which
    the firms did not see when they chose. Use ``parallel_env()`` for a
    parallel API.
Dynamics
    Emissions are ``emission_per_unit * q`` per firm. Each unit of the stock
    decays independently with probability ``decay``, then emissions are
    added: ``stock' = min(max_stock, stock - Binomial(stock, decay) + sum(emissions))``.
Rewards
    Firm ``i``: profit ``price * q_i - production_cost * q_i**2`` minus its
    share of the damage ``firm_damage * stock``, plus its transfer.
    Regulator: ``-social_damage * stock`` (damage borne by no firm) minus the
    transfers it pays; or, with ``principal_objective="welfare"``, social
    welfare minus ``cost_of_public_funds * sum(|transfers|)``.
    Social welfare = sum of profits - ``(N * firm_damage + social_damage) * stock``;
    with the ``"payoff"`` objective all rewards sum to it at every step.
The externality
    A unit emitted today stays ``1 / decay`` periods on average and costs
    every firm and society meanwhile: in the long run, undiscounted, a unit
    costs society about ``(N * firm_damage + social_damage) / decay`` but the
    firm that emits it bears only ``firm_damage / decay``.
Why the defaults are interesting (N = 3)
    A unit costs society about ``(3 * 0.1 + 0.1) / 0.2 = 2`` while the
    emitter bears ``0.5``. Going from medium to high adds 1 unit and 1 of
    profit; going from low to medium adds 1 unit and 3 of profit. So firms left
    alone produce ``high`` (myopic or forward-looking), the social optimum is
    the interior ``medium`` (except in the last periods, whose emissions hurt
    no one within the episode), and a flat tax between 1 and 3 on ``high``
    recovers nearly all the lost welfare. Long-run per-period welfare: about
    27 - 0.4 * 45 = 9 under laissez-faire against 24 - 0.4 * 30 = 12 at the
    optimum.
Exact model
    The stock is an integer in ``0 .. max_stock`` and the decay law is exact, so
    :meth:`PollutionGame.tabular_model` gives transitions and payoffs over
    (stock, joint action) for small N.

Parameters
----------
See :class:`PollutionParams` (and :class:`~pa_envs.core.game.GameParams` for
``n_agents``, ``max_cycles``, ``max_transfer``, ``principal_objective``,
``cost_of_public_funds``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pa_envs.core.distributions import binomial_cdf_table, draw_from_cdf_table, pmf_from_cdf
from pa_envs.core.factories import define_env
from pa_envs.core.game import MAX_ACTIONS, Dynamics, GameParams, SymmetricGame
from pa_envs.core.tabular import TabularModel
from pa_envs.core.transitions import ShockThenMap

# The exact decay law is a (cap + 1) x (cap + 1) table: beyond this it would not fit.
MAX_STOCK_CAP = 4000


@dataclasses.dataclass(frozen=True)
class PollutionParams(GameParams):
    """Parameters of pollution_v0 (validated at construction).

    Attributes
    ----------
    n_levels : int
        Production levels, in ``2 .. 10000``; level ``k`` produces ``k + 1`` units.
    price : float
        Output price, in ``(0, 1e12 / n_levels]``.
    production_cost : float
        Quadratic cost coefficient, in ``[0, 1e12 / n_levels**2]``; profit
        ``price * q - production_cost * q**2`` must increase over the levels
        (``price > production_cost * (2 * n_levels - 1)``).
    emission_per_unit : int
        Stock units emitted per unit produced, in ``1 .. 4000``.
    decay : float
        Probability that each unit of stock decays in a period, in [0, 1].
    firm_damage : float
        Loss of every firm per unit of stock per period, in ``[0, 1e12 / stock cap]``.
    social_damage : float
        Loss borne by no firm (the regulator's) per unit of stock, in ``[0, 1e12 / stock cap]``.
    max_stock : int or None
        Cap on the stock, at most 4000; ``None`` sets twice the laissez-faire steady state,
        ``ceil(2 * N * n_levels * emission_per_unit / max(decay, 0.05))``;
        :attr:`stock_cap` is the cap in force either way.
    initial_stock : int
        Stock at reset, in ``0 .. max_stock``.
    """

    n_levels: int = 3
    price: float = 6.0
    production_cost: float = 1.0
    emission_per_unit: int = 1
    decay: float = 0.2
    firm_damage: float = 0.1
    social_damage: float = 0.1
    max_stock: int | None = None
    initial_stock: int = 0

    def validate(self) -> None:
        super().validate()
        levels = self._int("n_levels", 2, MAX_ACTIONS, why="MAX_ACTIONS")
        self._check_step_size(1 + 2 * levels, f"1 + 2 x n_levels={levels}")
        price = self._payoff_scale("price", 0.0, levels, f"the top quantity {levels}", open_low=True)
        cost = self._payoff_scale("production_cost", 0.0, levels**2, f"the top quantity squared {levels**2}")
        if price <= cost * (2 * levels - 1):
            raise ValueError(
                "profit must increase with production: need price > production_cost * "
                f"(2 * n_levels - 1) = {cost * (2 * levels - 1):g}, got price={price!r}"
            )
        # A unit emitting more than the largest cap fills any stock at once.
        self._int("emission_per_unit", 1, MAX_STOCK_CAP, why=f"the largest stock cap, {MAX_STOCK_CAP}")
        self._real("decay", 0.0, 1.0)
        if self.max_stock is not None:
            self._int("max_stock", 1, MAX_STOCK_CAP)
        elif self.stock_cap > MAX_STOCK_CAP:
            raise ValueError(
                "the default stock cap, ceil(2 * n_agents * n_levels * emission_per_unit / "
                f"max(decay, 0.05)), would be {self.stock_cap} for n_agents={self.n_agents}, "
                f"n_levels={levels}, emission_per_unit={self.emission_per_unit}, decay={self.decay!r}: "
                f"above {MAX_STOCK_CAP} (the decay table is cap x cap); give max_stock <= {MAX_STOCK_CAP}"
            )
        cap = self.stock_cap
        self._payoff_scale("firm_damage", 0.0, cap, f"the stock cap {cap}")
        self._payoff_scale("social_damage", 0.0, cap, f"the stock cap {cap}")
        self._int("initial_stock", 0, cap, why="at most the stock cap in force (max_stock)")

    @property
    def stock_cap(self) -> int:
        """The cap in force: ``max_stock``, or the default derived from the other parameters."""
        if self.max_stock is not None:
            return self.max_stock
        peak = self.n_agents * self.n_levels * self.emission_per_unit
        return math.ceil(2 * peak / max(self.decay, 0.05))


class PollutionGame(SymmetricGame):
    """Economics of pollution_v0; see the module docstring."""

    name = "pollution_v0"
    params_class = PollutionParams
    params: PollutionParams  # the narrower type, for the type checker
    state_names = ("stock",)

    def __init__(self, params: PollutionParams) -> None:
        super().__init__(params)
        p = params
        quantity = np.arange(1, p.n_levels + 1, dtype=np.float64)
        self.quantity = quantity
        self.profit = p.price * quantity - p.production_cost * quantity**2
        self.emissions = np.arange(1, p.n_levels + 1, dtype=np.int64) * p.emission_per_unit
        self.decay_cdf = binomial_cdf_table(p.stock_cap, p.decay)
        self._state_high = np.array([p.stock_cap], dtype=np.int64)
        # The damages of every stock 0 .. cap, once: a step gathers its copies' rows (one cheap
        # look-up) instead of multiplying a float by the int stock (numpy's mixed-type multiply
        # costs three look-ups at B = 1) and negating. The same float64 products and negations.
        stocks = np.arange(p.stock_cap + 1, dtype=np.float64)
        self._firm_damage_at = p.firm_damage * stocks
        self._social_damage_at = p.social_damage * stocks
        self._social_payoff_at = -self._social_damage_at
        self._cap = np.array([p.stock_cap], dtype=np.int64)  # (1,): no scalar conversion a step
        self._ones = np.ones(p.n_agents, dtype=np.int64)  # sums each copy's firms' emissions

    @property
    def action_names(self) -> tuple[str, ...]:
        if self.params.n_levels == 3:
            return ("low", "medium", "high")
        return tuple(f"level_{k}" for k in range(self.params.n_levels))

    @property
    def signal_names(self) -> tuple[str, ...]:
        return self.action_names

    @property
    def state_high(self) -> np.ndarray:
        return self._state_high

    def initial_state(self, noise: np.ndarray) -> np.ndarray:
        return np.full((noise.shape[0], 1), self.params.initial_stock, dtype=np.int64)

    def step(self, state: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Dynamics:
        stock = state[:, 0]
        # Gathered by the (B, 1) state column, each copy's damage per firm broadcasts over its firms.
        private_utility = self.profit[actions] - self._firm_damage_at[state]
        # Inverse-CDF draw of Binomial(stock, decay) from one uniform per copy.
        decayed = draw_from_cdf_table(self.decay_cdf, stock, noise[:, 0])
        # Each copy's emissions summed over its firms as an integer dot product with ones: exact
        # (int64, any order gives the same sum) and cheaper than a reduction on a few numbers.
        emitted = self.emissions[actions].dot(self._ones)
        next_stock = np.minimum(stock - decayed + emitted, self._cap)
        # Positional fields (next_state, signals, private_utility, principal_payoff,
        # externality, terminated): keywords cost a step more, for the same tuple.
        return Dynamics(
            next_stock[:, None],
            actions,
            private_utility,
            self._social_payoff_at[stock],
            self._social_damage_at[stock],
            np.zeros(len(stock), dtype=bool),
        )

    model_size_advice = "a smaller max_stock"

    @property
    def n_model_states(self) -> int:
        return self.params.stock_cap + 1

    def model_size_description(self) -> str:
        p = self.params
        return f"n_agents={p.n_agents}, n_levels={p.n_levels} and a stock cap of {p.stock_cap}"

    def _model(self, joint: np.ndarray, symmetric: bool) -> TabularModel:
        p = self.params
        n_states = p.stock_cap + 1
        stock = np.arange(n_states)
        emitted = self.emissions[joint].sum(axis=1)  # (A,)
        totals, transition_class = np.unique(emitted, return_inverse=True)
        # Binomial(stock, decay) units decay (action-free), then class g adds totals[g] units.
        decay_pmf = pmf_from_cdf(self.decay_cdf)  # (S, K): P(decayed = k)
        remaining = np.clip(stock[:, None] - stock[None, :], 0, None)  # k > stock has probability 0
        transitions = ShockThenMap(
            kernel_successors=remaining,
            kernel_probabilities=decay_pmf,
            class_map=np.minimum(stock[None, :] + totals[:, None], p.stock_cap),
        )
        # Per agent (joint model) or per action (count model): profit of the action taken.
        taken = np.broadcast_to(np.arange(p.n_levels), (len(joint), p.n_levels)) if symmetric else joint
        private_utility = self.profit[taken][None, :, :] - p.firm_damage * stock[:, None, None]
        laws = np.eye(p.n_levels)[taken]  # the signal is the action taken
        signal_probabilities = np.broadcast_to(laws[None], (n_states, *laws.shape))
        damage = np.broadcast_to(p.social_damage * stock[:, None], (n_states, len(joint)))
        initial = np.zeros(n_states)
        initial[p.initial_stock] = 1.0
        return TabularModel(
            states=stock[:, None],
            joint_actions=joint,
            initial_distribution=initial,
            transition_class=transition_class.reshape(-1).astype(np.int64),
            transitions=transitions,
            private_utility=np.ascontiguousarray(private_utility),
            principal_payoff=-damage,
            externality=damage,
            signal_probabilities=signal_probabilities,
            horizon=p.max_cycles,
            symmetric=symmetric,
        )


raw_env, parallel_env_class, env, parallel_env = define_env(PollutionGame, __name__)
