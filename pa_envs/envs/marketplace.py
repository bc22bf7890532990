"""platform_v0: a marketplace, its sellers and the buyers' shared trust in the platform.

(The module is ``marketplace`` so that it can never shadow the standard library's
``platform``; the env is registered as ``platform_v0``.)

Env card
--------
In short
    :principal: marketplace
    :agents: sellers choosing quality and price
    :contractible signal: an **outcome**: sale, price and review
    :shared state: buyers' trust
Players
    ``principal_0`` (the platform) and ``agent_0`` ... ``agent_{N-1}`` (sellers).
Agents' actions
    ``Discrete(4)``: a quality effort (low or high) and a price level (low or
    high). Action ``a`` has quality ``a // 2`` and price level ``a % 2``:
    ``0 = low_quality@low_price``, ``1 = low_quality@high_price``,
    ``2 = high_quality@low_price``, ``3 = high_quality@high_price``.
Contractible signal
    The platform sees sales, prices and reviews, never the effort. A seller's
    signal is one of ``no_sale``, ``good_review@low_price``,
    ``bad_review@low_price``, ``good_review@high_price``,
    ``bad_review@high_price`` (indices 0 .. 4), so a contract is an ``(N, 5)``
    matrix of transfers. A commission ``c`` is the transfer ``-c * price`` on
    every sale signal; a quality bonus is a payment on the good-review signals:
    :meth:`PlatformGame.commission_contract` builds that matrix
    (``env.game.commission_contract(0.2, quality_bonus=0.1)``; it checks
    ``0 <= c <= 1``, ``quality_bonus >= 0`` and every entry within
    ``max_transfer``). The laissez-faire reference (no transfers) is
    commission 0. ``game.taxed_signal`` is ``bad_review@low_price``.
Principal's action
    The flat contract, ``Box(-max_transfer, max_transfer, (N * 5,), float32)``.
Observations
    Agent ``i``: ``[trust, contract row i]`` (``1 + 5`` float32). Platform:
    ``[trust]``. ``state()``: ``[trust, flat contract in force]``. No one observes
    another seller's effort; reviews are noisy signals of it.
Timing
    As in every env of the suite: ``parallel_env()`` applies the contract posted
    at step ``t`` from step ``t + 1`` on; ``env()`` (AEC) lets the platform post
    first and the sellers answer within the period.
Dynamics
    The state is the buyers' trust ``T`` in ``0 .. max_trust``. Each seller
    independently makes one sale with probability
    ``demand(T, price) = sale_probability[price] * (baseline_demand +
    (1 - baseline_demand) * T / max_trust)`` (``baseline_demand = 0`` is
    ``T / max_trust * sale_probability[price]``; the default 0.35 keeps some
    buyers coming at zero trust, so that trust can be rebuilt and every action
    stays distinguishable by its signals). A sale brings a review: good with
    probability ``good_review_probability[quality]``, else bad. Then
    ``T' = clip(T + #good - bad_review_weight * #bad, 0, max_trust)``: no
    drift, trust moves only through reviews. One uniform per seller draws
    both its sale and its review. The trust change depends only on
    how many sellers take each action, so the exact model groups joint actions
    into count profiles and convolves the per-seller laws of the change
    (``0``, ``+1``, ``-bad_review_weight``) into the law of the net change.
Rewards
    Seller ``i``: on a sale, the price (``low_price`` or ``high_price``); in a
    period of high quality, ``quality_cost`` (an effort cost paid per period,
    sale or not); plus its transfer (commission, bonus).
    Platform: ``-refund * #bad reviews`` (buyer protection: it refunds every bad
    experience), minus the transfers it pays, so with the default
    ``principal_objective="payoff"`` its reward is commission revenue minus
    refunds minus bonuses; with ``"welfare"``, social welfare minus
    ``cost_of_public_funds * sum(|transfers|)``.
    Social welfare = sellers' revenue - effort costs - refunds.
The externality
    Trust is shared. A seller who shirks saves ``quality_cost`` now, raises the
    chance of a bad review (refunded by the platform: damage borne by no seller,
    the ``externality`` of the infos) and lowers the trust that every seller's
    future demand depends on; it bears only its own share of that lost demand.
Why the defaults are inefficient (N = 3, ``max_trust = 10``)
    The trust factor is ``0.35 + 0.065 * T``. The low price 1 sells with
    probability 0.8 times it and the high price 1.5 with probability 0.1 times
    it (0.8 against 0.15 of revenue a period at full trust), so sellers price
    low: the high price is a niche, used only when a contract makes it pay.
    High quality costs 0.14 a period. A low-price sale moves trust by
    ``0.9 - 2 * 0.1 = +0.7`` at high quality and by ``0.2 - 2 * 0.8 = -1.4``
    at low quality: 2.1 trust units apart, and 0.7 bad reviews (0.35 of
    refunds) apart.
    *Myopic* sellers never pay for quality (it costs now and pays only later,
    and mostly to others), so trust collapses to 0, where a seller sells 0.28
    a period: welfare ``3 * (0.28 - 0.5 * 0.8 * 0.28) = 0.50`` a period,
    against ``3 * (0.8 - 0.14 - 0.5 * 0.1 * 0.8) = 1.86`` at full trust under
    the optimum (every seller ``high_quality@low_price`` but in the last
    periods at low trust).
    *Forward-looking* sellers (``agent_discount = 0.99``) see that a trust unit
    raises their own sales by ``0.8 * 0.065 = 0.052`` a period, but not that
    it raises the others' sales too, nor the refunds it saves. In equilibrium
    all three invest at trust 0 to 6, two or three at 7 and 8, two at 9 and one
    or two at 10 (each would rather the others kept trust up), and nobody in
    the last 3 to 13 periods (the end game, longer at low trust). Trust averages 8.1
    instead of 9.6 and 18% of ``W*`` is lost (measured in
    ``docs/envs/platform_v0.md``).
Commissions
    A commission ``c`` scales every seller's revenue by ``1 - c`` and leaves the
    effort cost whole: a seller's payoff is ``(1 - c)`` times its payoff without
    commission at the effort cost ``quality_cost / (1 - c)``, so the sellers
    play exactly as if quality cost that much. Up to ``c = 0.3`` (an effective
    cost of 0.2) fewer sellers invest at high trust (from trust 6 on) and at
    trust 0, and the end game starts earlier; at ``c = 0.4`` (0.23) it
    unravels all the way back: no seller ever invests, trust collapses and the
    commission revenue falls by more than a third.
    ``baselines.platform_sweep`` measures this (``commission_sweep``) and
    prints it: ``python -m baselines.platform_sweep``.
Pure equilibria
    With forward-looking sellers the stage games of the Markov perfect
    equilibrium need not have a pure equilibrium (sellers near indifference
    between two actions can chase each other), and
    :func:`pa_envs.analysis.equilibrium` then raises ``EquilibriumNotFound``.
    At the defaults (N = 3) it does not happen for the commission sweep, nor
    for any of 201 flat transfers spread evenly over ``[-max_transfer,
    max_transfer]`` on any one of the five signals (a grid that holds the one
    ``baselines.references`` tries), but it does for other parameters (e.g. a
    high price that sells more, 0.4, which puts sellers near indifference between
    prices; :func:`~pa_envs.analysis.best_flat_transfer` skips such amounts).
    The count model tracks no seller's identity across periods, so use the
    joint model (:meth:`PlatformGame.tabular_model`) for forward-looking
    sellers: when their equilibrium is asymmetric the count model's
    best-response iteration can cycle.
Exact model
    :meth:`PlatformGame.tabular_model` (joint actions) and
    :meth:`PlatformGame.count_model` (count profiles of symmetric sellers) are
    exact; transitions are :class:`~pa_envs.core.transitions.GatheredTransitions`
    over the count profiles. The size guard refuses the joint model from
    ``n_agents = 9`` (``exact_model()`` then falls back to the count model)
    and the count model from ``n_agents = 52``. The module is ``marketplace``,
    not ``platform``, so that it never shadows the standard library's
    ``platform``.

Parameters
----------
See :class:`PlatformParams` (and :class:`~pa_envs.core.game.GameParams` for
``n_agents``, ``max_cycles``, ``max_transfer``, ``principal_objective``,
``cost_of_public_funds``).

Print the commission sweep with ``python -m baselines.platform_sweep`` (``--help``
lists its options).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pa_envs.core.factories import define_env
from pa_envs.core.game import Dynamics, GameParams, SymmetricGame, check_real
from pa_envs.core.tabular import (
    TabularModel,
    enumerate_count_profiles,
    profile_index,
)
from pa_envs.core.transitions import GatheredTransitions

# Largest trust scale accepted.
MAX_TRUST_CAP = 1000

ACTION_NAMES = (
    "low_quality@low_price",
    "low_quality@high_price",
    "high_quality@low_price",
    "high_quality@high_price",
)
SIGNAL_NAMES = (
    "no_sale",
    "good_review@low_price",
    "bad_review@low_price",
    "good_review@high_price",
    "bad_review@high_price",
)
NO_SALE = 0


@dataclasses.dataclass(frozen=True)
class PlatformParams(GameParams):
    """Parameters of platform_v0 (validated at construction).

    Attributes
    ----------
    max_trust : int
        Largest trust level, in ``1 .. 1000``; trust lives in ``0 .. max_trust``.
    initial_trust : int or None
        Trust at reset, in ``0 .. max_trust``; ``None`` is ``max_trust // 2``
        (:attr:`trust_start` is the value in force either way).
    low_price, high_price : float
        The two prices, ``0 < low_price < high_price <= 1e12``.
    sale_probability_low_price, sale_probability_high_price : float
        Chance of a sale at full trust at each price, in (0, 1]; the high
        price sells no more than the low one.
    good_review_probability_low_quality, good_review_probability_high_quality : float
        Chance that a sale gets a good review, in [0, 1]; high quality must
        be strictly more likely to be praised.
    quality_cost : float
        Effort cost of a period of high quality (sale or not), in ``[0, 1e12]``.
    bad_review_weight : int
        Trust units a bad review removes (a good one adds 1), in ``0 .. max_trust``.
    refund : float
        What the platform refunds per bad review, in ``[0, 1e12]``.
    baseline_demand : float
        Share of demand that does not depend on trust, in [0, 1). With 0 no one
        sells at zero trust, every action looks alike there and no transfer can
        implement anything in that state (:func:`~pa_envs.analysis.implementing_transfers`
        raises).
    """

    max_trust: int = 10
    initial_trust: int | None = None
    low_price: float = 1.0
    high_price: float = 1.5
    sale_probability_low_price: float = 0.8
    sale_probability_high_price: float = 0.1
    good_review_probability_low_quality: float = 0.2
    good_review_probability_high_quality: float = 0.9
    quality_cost: float = 0.14
    bad_review_weight: int = 2
    refund: float = 0.5
    baseline_demand: float = 0.35

    def validate(self) -> None:
        super().validate()
        trust = self._int("max_trust", 1, MAX_TRUST_CAP)
        if self.initial_trust is not None:
            self._int("initial_trust", 0, trust, why="at most max_trust")
        # A seller sells at most once a period: a price is a payoff term as it stands.
        low = self._payoff_scale("low_price", 0.0, 1.0, "1 sale", open_low=True)
        high = self._payoff_scale("high_price", 0.0, 1.0, "1 sale", open_low=True)
        if high <= low:
            raise ValueError(f"high_price must be above low_price={low!r}, got {high!r}")
        sale_low = self._real("sale_probability_low_price", 0.0, 1.0, open_low=True)
        self._real(
            "sale_probability_high_price",
            0.0,
            sale_low,
            open_low=True,
            why="at most sale_probability_low_price",
        )
        praise_low = self._real("good_review_probability_low_quality", 0.0, 1.0)
        praise_high = self._real("good_review_probability_high_quality", 0.0, 1.0)
        if praise_high <= praise_low:
            raise ValueError(
                "good_review_probability_high_quality must be above good_review_probability_low_quality="
                f"{praise_low!r}, got {praise_high!r}"
            )
        self._payoff_scale("quality_cost", 0.0, 1.0, "1 period")
        self._int("bad_review_weight", 0, trust, why="at most max_trust")
        self._payoff_scale("refund", 0.0, 1.0, "1 bad review")
        demand = self._real("baseline_demand", 0.0, 1.0)
        if demand >= 1.0:
            raise ValueError(f"baseline_demand must be a number in [0, 1), got {self.baseline_demand!r}")

    @property
    def trust_start(self) -> int:
        """Trust at reset: ``initial_trust``, or ``max_trust // 2``."""
        return self.max_trust // 2 if self.initial_trust is None else self.initial_trust


class PlatformGame(SymmetricGame):
    """Economics of platform_v0; see the module docstring."""

    name = "platform_v0"
    params_class = PlatformParams
    params: PlatformParams  # the narrower type, for the type checker
    state_names = ("trust",)

    def __init__(self, params: PlatformParams) -> None:
        super().__init__(params)
        p = params
        actions = np.arange(len(ACTION_NAMES))
        self.quality = actions // 2  # 0 low, 1 high
        self.price_level = actions % 2  # 0 low, 1 high
        self.price = np.array([p.low_price, p.high_price])[self.price_level]
        self.effort_cost = p.quality_cost * self.quality  # per period of high quality
        self.good_review = np.array(
            [p.good_review_probability_low_quality, p.good_review_probability_high_quality]
        )[self.quality]
        sale = np.array([p.sale_probability_low_price, p.sale_probability_high_price])[self.price_level]
        trust = np.arange(p.max_trust + 1)
        factor = p.baseline_demand + (1.0 - p.baseline_demand) * trust / p.max_trust
        self.demand = factor[:, None] * sale[None, :]  # (S, 4): chance of a sale
        self.good_threshold = self.demand * self.good_review[None, :]  # (S, 4): chance of a good review
        # Law of each action's signal in each trust level: (S, 4, 5).
        laws = np.zeros((p.max_trust + 1, len(actions), len(SIGNAL_NAMES)))
        laws[:, :, NO_SALE] = 1.0 - self.demand
        columns = 1 + 2 * self.price_level
        laws[:, actions, columns] = self.good_threshold
        laws[:, actions, columns + 1] = self.demand - self.good_threshold
        self.signal_laws = laws
        self._state_high = np.array([p.max_trust], dtype=np.int64)
        # The step's constants as (1,) arrays of their dtype (numpy converts a Python scalar
        # operand on every call) and each action's signal on a sale with a good review: the
        # same int64 / float64 values, so the same numbers.
        self._sale_signal = 1 + 2 * self.price_level
        self._no_sale = np.array([NO_SALE], dtype=np.int64)
        self._bad_review_weight = np.array([p.bad_review_weight], dtype=np.int64)
        self._refund = np.array([p.refund])
        self._zero = np.zeros(1, dtype=np.int64)
        self._max_trust = np.array([p.max_trust], dtype=np.int64)  # not state_high, which callers see
        self._ones = np.ones(p.n_agents, dtype=np.int64)  # counts each copy's reviews, an int dot

    @property
    def action_names(self) -> tuple[str, ...]:
        return ACTION_NAMES

    @property
    def signal_names(self) -> tuple[str, ...]:
        return SIGNAL_NAMES

    @property
    def taxed_signal(self) -> int:
        """A flat tax targets ``bad_review@low_price``: the mark of shirking at the price sellers choose."""
        return SIGNAL_NAMES.index("bad_review@low_price")

    @property
    def state_high(self) -> np.ndarray:
        return self._state_high

    @property
    def noise_size(self) -> int:
        return self.params.n_agents  # one uniform per seller: sale and review

    # -- contracts -----------------------------------------------------------
    def commission_contract(self, commission: float, quality_bonus: float = 0.0) -> np.ndarray:
        """The ``(N, 5)`` contract of a commission and a quality bonus, for every seller.

        Each sale signal pays ``-commission * price`` (the platform keeps that
        share of the price), and each good-review signal pays ``quality_bonus``
        on top. ``commission_contract(0.0)`` is the zero contract: laissez-faire.

        Raises
        ------
        ValueError
            If ``commission`` is not in [0, 1], ``quality_bonus`` is negative or
            not finite, or a transfer would exceed ``max_transfer``.
        """
        check_real("commission", commission, 0.0, 1.0)
        check_real("quality_bonus", quality_bonus, 0.0)
        p = self.params
        row = np.zeros(len(SIGNAL_NAMES))
        for level, price in enumerate((p.low_price, p.high_price)):
            row[1 + 2 * level] = -commission * price + quality_bonus
            row[2 + 2 * level] = -commission * price
        largest = float(np.abs(row).max())
        if largest > p.max_transfer:
            raise ValueError(
                f"commission={commission!r} with quality_bonus={quality_bonus!r} needs transfers up to "
                f"{largest:g}, above max_transfer={p.max_transfer!r}"
            )
        return np.tile(row, (p.n_agents, 1))

    # -- dynamics ------------------------------------------------------------
    def initial_state(self, noise: np.ndarray) -> np.ndarray:
        return np.full((noise.shape[0], 1), self.params.trust_start, dtype=np.int64)

    def step(self, state: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Dynamics:
        trust = state[:, 0]
        row = state[:, :1]  # trust[:, None], once for both look-ups
        uniforms = noise[:, : self.params.n_agents]
        # One uniform per seller: below good_threshold a sale with a good review, then
        # up to demand a sale with a bad one, above it no sale.
        sold = uniforms < self.demand[row, actions]
        good = uniforms < self.good_threshold[row, actions]
        bad = sold & ~good
        signals = np.where(sold, self._sale_signal[actions] + bad, self._no_sale)  # int64
        n_good = good.dot(self._ones)  # the counts, as int64
        n_bad = bad.dot(self._ones)
        # np.clip's wrapper costs more than the two ufuncs it stands for (the same ints).
        next_trust = np.minimum(
            np.maximum(trust + n_good - self._bad_review_weight * n_bad, self._zero), self._max_trust
        )
        refunds = self._refund * n_bad  # float64
        # Positional fields (next_state, signals, private_utility, principal_payoff,
        # externality, terminated): keywords cost a step more, for the same tuple.
        return Dynamics(
            next_trust[:, None],
            signals,
            sold * self.price[actions] - self.effort_cost[actions],
            -refunds,
            refunds,
            np.zeros(len(trust), dtype=bool),
        )

    # -- exact models ----------------------------------------------------------
    model_size_advice = "a smaller max_trust"

    @property
    def n_model_states(self) -> int:
        return self.params.max_trust + 1

    def model_size_description(self) -> str:
        p = self.params
        return f"n_agents={p.n_agents}, max_trust={p.max_trust} and bad_review_weight={p.bad_review_weight}"

    def model_entries(self, n_profiles: int, per_profile: int) -> int:
        """Payoffs and signal laws, plus the trust-change law of every count profile."""
        p = self.params
        n_classes = math.comb(p.n_agents + self.n_actions - 1, self.n_actions - 1)
        payoffs = n_profiles * per_profile * (1 + self.n_signals)
        return self.n_model_states * (payoffs + n_classes * self._n_changes)

    @property
    def _n_changes(self) -> int:
        """Possible net trust changes in a period: ``-w * N .. N``."""
        p = self.params
        return p.n_agents * (1 + p.bad_review_weight) + 1

    def _model(self, joint: np.ndarray, symmetric: bool) -> TabularModel:
        p = self.params
        n_states = p.max_trust + 1
        trust = np.arange(n_states)
        n_actions = len(ACTION_NAMES)
        # Transition classes: the count profiles (the law of the change depends on counts only).
        profiles = enumerate_count_profiles(p.n_agents, n_actions)
        profile_counts = np.stack([(profiles == k).sum(axis=1) for k in range(n_actions)], axis=1)
        joint_counts = np.stack([(joint == k).sum(axis=1) for k in range(n_actions)], axis=1)
        transition_class = profile_index(profile_counts, joint_counts)
        # Law of the net change, offset by w * N, convolved seller by seller: (S, C, K).
        w, offset = p.bad_review_weight, p.bad_review_weight * p.n_agents
        law = np.zeros((n_states, len(profiles), self._n_changes))
        law[:, :, offset] = 1.0
        for j in range(p.n_agents):
            action = profiles[:, j]  # (C,)
            good = self.good_threshold[:, action][:, :, None]  # (S, C, 1)
            bad = (self.demand - self.good_threshold)[:, action][:, :, None]
            shifted = law * (1.0 - good - bad)
            shifted[:, :, 1:] += law[:, :, :-1] * good
            if w == 0:
                shifted += law * bad
            else:
                shifted[:, :, :-w] += law[:, :, w:] * bad
            law = shifted
        change = np.arange(self._n_changes) - offset
        successors = np.clip(trust[:, None, None] + change[None, None, :], 0, p.max_trust)
        successors = np.broadcast_to(successors, law.shape)
        transitions = GatheredTransitions(successors, np.clip(law, 0.0, 1.0))
        # Per agent (joint model) or per action (count model): the action taken.
        taken = np.broadcast_to(np.arange(n_actions), (len(joint), n_actions)) if symmetric else joint
        expected_sales = self.demand[:, taken]  # (S, A, N or 4)
        private_utility = expected_sales * self.price[taken][None] - self.effort_cost[taken][None]
        signal_probabilities = self.signal_laws[:, taken]  # (S, A, N or 4, 5)
        expected_bad = (self.demand - self.good_threshold)[:, joint].sum(axis=2)  # (S, A)
        refunds = p.refund * expected_bad
        initial = np.zeros(n_states)
        initial[p.trust_start] = 1.0
        return TabularModel(
            states=trust[:, None],
            joint_actions=joint,
            initial_distribution=initial,
            transition_class=transition_class.astype(np.int64),
            transitions=transitions,
            private_utility=np.ascontiguousarray(private_utility),
            principal_payoff=-refunds,
            externality=refunds,
            signal_probabilities=np.ascontiguousarray(signal_probabilities),
            horizon=p.max_cycles,
            symmetric=symmetric,
        )


raw_env, parallel_env_class, env, parallel_env = define_env(PlatformGame, __name__)
