"""grid_v0: households, a utility (the regulator) and grid stress that builds up at peak.

Env card
--------
In short
    :principal: utility / regulator
    :agents: households choosing when to draw power
    :contractible signal: the meter's reading (a battery reads off-peak)
    :shared state: grid stress, outages
Players
    ``principal_0`` (the utility / regulator) and ``agent_0`` ... ``agent_{N-1}``
    (households).
Agents' actions
    ``Discrete(4)``: when the household draws its daily load.
    ``off_peak`` (0), ``shoulder`` (1), ``peak`` (2) draw at that time;
    ``battery`` (3) charges a home battery off-peak and uses the energy at
    peak: the household enjoys peak consumption (``value_peak - battery_cost``,
    the cost being wear and losses) while its grid draw is off-peak.
Contractible signal
    What the smart meter sees: the time of the grid draw,
    ``("off_peak", "shoulder", "peak")``. A battery household's signal is
    ``off_peak``: the signal is NOT the action, and a time-of-use tariff (one
    transfer per signal) cannot tell a battery from a genuinely off-peak
    household. A contract is an ``(N, 3)`` matrix of transfers per signal; a
    peak charge is a negative entry in column 2 (``game.taxed_signal`` is
    ``peak``).
Principal's action
    The flat contract, ``Box(-max_transfer, max_transfer, (N * 3,), float32)``.
Observations
    Agent ``i``: ``[stress, contract row i]`` (4 float32). Principal:
    ``[stress]``. ``state()``: ``[stress, flat contract in force]``. The grid
    stress is public (the utility publishes it).
Timing
    As every env of the suite: ``parallel_env()`` moves everyone at once with
    the contract posted at ``t`` in force at ``t + 1``; ``env()`` (AEC) has the
    utility post first and the households, in order, respond (Stackelberg).
Dynamics
    A period is a day. The state is the grid stress, an int in
    ``0 .. stress_cap`` (24 at the defaults). Each unit of
    stress recovers (disappears) independently with probability ``recovery``,
    then the day's load adds ``peak_stress`` per peak draw and
    ``shoulder_stress`` per shoulder draw (off-peak and battery draws add 0):
    ``stress' = min(stress_cap, stress - Binomial(stress, recovery) + load)``
    (an exact two-stage law: ``ShockThenMap`` in the tabular model). One
    uniform draws the recovery (inverse CDF), a second one the outage.
Outages
    An outage strikes on the day the load pushes the grid over the edge: with
    probability ``min(1, outage_probability_per_unit * max(0, stress' -
    outage_threshold))``, a function of the stress AFTER the day's load (so
    today's draws raise today's risk as well as tomorrow's). An outage costs
    every household ``outage_cost`` and the utility ``repair_cost``; it does
    not move the state.
Rewards
    Household ``i``: the value of its timing (``value_off_peak``,
    ``value_shoulder``, ``value_peak``, or ``value_peak - battery_cost``)
    minus ``outage_cost * 1[outage]``, plus its transfer. Utility:
    ``-repair_cost * 1[outage]`` (the externality: borne by no household)
    minus the transfers it pays; or, with ``principal_objective="welfare"``,
    social welfare minus ``cost_of_public_funds * sum(|transfers|)``.
    Social welfare = sum of values - ``(N * outage_cost + repair_cost) * 1[outage]``.
The externality
    A unit of stress stays ``1 / recovery`` days on average and, above the
    threshold, raises the outage probability by ``outage_probability_per_unit``
    every day it stays. Each outage costs society ``N * outage_cost +
    repair_cost`` but the household that caused the stress bears only its own
    ``outage_cost``: the repair cost is borne by no household, and the other
    households' outage costs are an externality between households.
Why the defaults are inefficient (N = 3)
    Values: peak 3, shoulder 2.25, off-peak 0.5, battery ``3 - 1.5 = 1.5``.
    An outage costs society ``3 * 0.1 + 9.7 = 10``, of which a household
    bears 0.1. A unit of stress above the threshold of 6 lives ``1 / 0.5 = 2``
    days and raises the outage probability by 0.1 on each: it costs society
    about ``2 * 0.1 * 10 = 2`` but the household that added it only
    ``2 * 0.1 * 0.1 = 0.02`` (0.01 today, all a myopic household counts).
    Saving a unit costs 0.75 whichever way (peak to shoulder gives up 0.75
    for 1 unit, peak to battery 1.5 for 2 units): worth it for society above
    the threshold, never for a household. So, left alone, households all draw
    at peak in every state, myopic or forward-looking. The load is then 6 a
    day, the stress after the load settles around ``6 / 0.5 = 12``, twice the
    threshold, and an outage strikes on about 59% of days: about
    ``9 - 0.59 * 10 = 3.1`` of welfare a day. The social optimum spreads the
    load with the stress: everyone at peak on a rested grid, then one, two,
    three households at shoulder, then batteries as the stress rises
    (``ppp, spp, ssp, sss, ssb, sbb, bbb`` from stress 0 to 10 and beyond),
    holding the stress near the threshold (outages on about 2% of days).
    A flat tax between 0.75 and 1.5 on the ``peak`` signal moves everyone to
    shoulder (a load of 3, stress around 6): most of the gap, but not the
    state-dependent mix of the optimum. Off-peak (0.5) is dominated by the
    battery (1.5), which loads the grid no more.
Battery and the meter (implementability)
    The meter reads ``off_peak`` for both ``battery`` and ``off_peak``, so
    no tariff can pay them differently. It does not need to: they load the
    grid identically, so they differ only in the household's own value, which
    it already weighs correctly. The social optimum uses whichever of the two
    a household prefers (here the battery, 1.5 > 0.5), and the implementing
    bonus on the ``off_peak`` signal only has to beat ``peak`` and
    ``shoulder``; the other same-signal action is already a worse choice by
    ``value_peak - battery_cost - value_off_peak = 1`` (more than the
    Pigouvian mechanism's margin of 0.25). If those two values were equal (or
    closer than the margin), a target using one of them could not be made a
    strict best response on a single signal and
    :func:`pa_envs.analysis.implementing_transfers` raises
    :class:`~pa_envs.analysis.NotImplementable`.
Forward-looking households (a caveat)
    A household's payoff depends on the others only through the total load,
    so for myopic households the period's game is a potential game and
    best-response iteration always settles. Forward-looking households also
    weigh their own continuation values, which differ when future equilibria
    give households different roles (one keeps the peak, another shifts):
    with a flat transfer that leaves a household nearly indifferent between
    two timings, the period's game may then have no pure equilibrium and
    :func:`pa_envs.analysis.equilibrium` raises
    :class:`~pa_envs.analysis.EquilibriumNotFound`. The defaults keep the
    household's own outage cost small (1% of an outage's social cost), so
    every flat transfer on any signal on the grids of
    ``baselines.references`` (101 and 201 points in ``[-5, 5]``) has a pure
    equilibrium at ``agent_discount=0.99``; a larger ``outage_cost`` can
    break this near the indifference points.
Weak implementation off the path
    With the margin ``epsilon=1e-3`` of :func:`pa_envs.analysis.exact_references`,
    ``pigouvian_unique`` is ``False`` at the defaults: in states so stressed
    (17 and above) that the others' peak draws alone make an outage certain,
    all-peak survives the minimal bonus. The optimum never reaches them from a
    rested grid; a margin of 0.05 or more removes them.
Exact model
    The stress is an integer in ``0 .. stress_cap`` and the recovery law is
    exact, so :meth:`GridGame.tabular_model` gives transitions and payoffs over
    (stress, joint action) for small N, and :meth:`GridGame.count_model` over
    count profiles (households are symmetric: payoffs depend on the own action
    and the total load) for many. The joint model holds
    ``(stress_cap + 1) * 4**N`` pairs; beyond 5e7 payoff entries
    ``tabular_model()`` refuses (naming ``n_agents`` and the cap) and
    ``exact_model()`` falls back to ``count_model()``.

Parameters
----------
See :class:`GridParams` (and :class:`~pa_envs.core.game.GameParams` for
``n_agents``, ``max_cycles``, ``max_transfer``, ``principal_objective``,
``cost_of_public_funds``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pa_envs.core.distributions import binomial_cdf_table, draw_from_cdf_table, pmf_from_cdf
from pa_envs.core.factories import define_env
from pa_envs.core.game import Dynamics, GameParams, SymmetricGame
from pa_envs.core.tabular import TabularModel
from pa_envs.core.transitions import ShockThenMap

ACTIONS = ("off_peak", "shoulder", "peak", "battery")
SIGNALS = ("off_peak", "shoulder", "peak")
OFF_PEAK, SHOULDER, PEAK, BATTERY = range(4)
# What the meter reads for each action: the battery draws off-peak.
SIGNAL_OF_ACTION = np.array([0, 1, 2, 0], dtype=np.int64)

# The exact recovery law is a (cap + 1) x (cap + 1) table: beyond this it would not fit.
MAX_STRESS_CAP = 4000


@dataclasses.dataclass(frozen=True)
class GridParams(GameParams):
    """Parameters of grid_v0 (validated at construction).

    Attributes
    ----------
    value_off_peak, value_shoulder, value_peak : float
        A household's value of drawing its daily load at that time, in ``[-1e12, 1e12]``;
        need ``value_peak > value_shoulder > value_off_peak``.
    battery_cost : float
        Wear and losses of shifting the load through a home battery, in ``[0, 1e12]``:
        a battery household gets ``value_peak - battery_cost``.
    peak_stress : int
        Stress units one peak draw adds, in ``1 .. 4000``.
    shoulder_stress : int
        Stress units one shoulder draw adds, in ``0 .. peak_stress``.
    recovery : float
        Probability that each unit of stress recovers in a day, in [0, 1].
    outage_threshold : int
        Stress (after the day's load) above which outages can happen, in
        ``0 .. stress_cap`` (``stress_cap``: never).
    outage_probability_per_unit : float
        Outage probability per unit of stress above the threshold (capped at 1),
        in [0, 1].
    outage_cost : float
        Loss of every household in an outage, in ``[0, 1e12]``.
    repair_cost : float
        The utility's loss in an outage (borne by no household), in ``[0, 1e12]``.
    max_stress : int or None
        Cap on the stress, at most 4000; ``None`` sets twice the all-peak
        steady state, ``ceil(2 * N * peak_stress / max(recovery, 0.05))``, but
        at least ``outage_threshold``; :attr:`stress_cap` is the cap in force.
    initial_stress : int
        Stress at reset, in ``0 .. stress_cap``.
    """

    value_off_peak: float = 0.5
    value_shoulder: float = 2.25
    value_peak: float = 3.0
    battery_cost: float = 1.5
    peak_stress: int = 2
    shoulder_stress: int = 1
    recovery: float = 0.5
    outage_threshold: int = 6
    outage_probability_per_unit: float = 0.1
    outage_cost: float = 0.1
    repair_cost: float = 9.7
    max_stress: int | None = None
    initial_stress: int = 0

    def validate(self) -> None:
        super().validate()
        for name in ("value_off_peak", "value_shoulder", "value_peak"):
            self._payoff_scale(name, -np.inf, 1.0, "1")
        if not self.value_peak > self.value_shoulder > self.value_off_peak:
            raise ValueError(
                "values must satisfy value_peak > value_shoulder > value_off_peak, got "
                f"value_peak={self.value_peak!r}, value_shoulder={self.value_shoulder!r}, "
                f"value_off_peak={self.value_off_peak!r}"
            )
        self._payoff_scale("battery_cost", 0.0, 1.0, "1")
        # A draw adding more than the largest cap fills any grid at once.
        cap_why = f"the largest stress cap, {MAX_STRESS_CAP}"
        self._int("peak_stress", 1, MAX_STRESS_CAP, why=cap_why)
        self._int("shoulder_stress", 0, self.peak_stress, why="at most peak_stress")
        self._real("recovery", 0.0, 1.0)
        if self.max_stress is not None:
            self._int("max_stress", 1, MAX_STRESS_CAP)
        self._int(
            "outage_threshold",
            0,
            MAX_STRESS_CAP if self.max_stress is None else self.max_stress,
            why="at most max_stress, or 4000 without it",
        )
        if self.max_stress is None and self.stress_cap > MAX_STRESS_CAP:
            raise ValueError(
                "the default stress cap, ceil(2 * n_agents * peak_stress / max(recovery, 0.05)), would be "
                f"{self.stress_cap} for n_agents={self.n_agents}, peak_stress={self.peak_stress}, recovery="
                f"{self.recovery!r}: above {MAX_STRESS_CAP} (the recovery table is cap x cap); give "
                f"max_stress <= {MAX_STRESS_CAP}"
            )
        self._real("outage_probability_per_unit", 0.0, 1.0)
        self._payoff_scale("outage_cost", 0.0, 1.0, "1")
        self._payoff_scale("repair_cost", 0.0, 1.0, "1")
        self._int("initial_stress", 0, self.stress_cap, why="at most the stress cap in force (max_stress)")

    @property
    def stress_cap(self) -> int:
        """The cap in force: ``max_stress``, or the default derived from the other parameters."""
        if self.max_stress is not None:
            return self.max_stress
        peak_load = self.n_agents * self.peak_stress
        return max(math.ceil(2 * peak_load / max(self.recovery, 0.05)), self.outage_threshold)


class GridGame(SymmetricGame):
    """Economics of grid_v0; see the module docstring."""

    name = "grid_v0"
    params_class = GridParams
    params: GridParams  # the narrower type, for the type checker
    state_names = ("stress",)

    def __init__(self, params: GridParams) -> None:
        super().__init__(params)
        p = params
        self.value = np.array(
            [p.value_off_peak, p.value_shoulder, p.value_peak, p.value_peak - p.battery_cost]
        )
        self.load = np.array([0, p.shoulder_stress, p.peak_stress, 0], dtype=np.int64)
        self.recovery_cdf = binomial_cdf_table(p.stress_cap, p.recovery)
        self.outage_probability = self.outage_probability_at(np.arange(p.stress_cap + 1))
        self._state_high = np.array([p.stress_cap], dtype=np.int64)
        # The step's constants as (1,) arrays of their dtype (numpy converts a Python scalar
        # operand on every call; the cap is a property, too): the same float64 / int64 values.
        self._stress_cap = np.array([p.stress_cap], dtype=np.int64)  # not state_high, which callers see
        self._outage_cost = np.array([p.outage_cost])
        self._repair_cost = np.array([p.repair_cost])
        self._ones = np.ones(p.n_agents, dtype=np.int64)  # sums each copy's loads, an exact int dot

    def outage_probability_at(self, stress: np.ndarray) -> np.ndarray:
        """Probability of an outage when the stress after the day's load is ``stress``."""
        p = self.params
        above = np.maximum(np.asarray(stress) - p.outage_threshold, 0)
        return np.minimum(p.outage_probability_per_unit * above, 1.0)

    @property
    def action_names(self) -> tuple[str, ...]:
        return ACTIONS

    @property
    def signal_names(self) -> tuple[str, ...]:
        return SIGNALS

    @property
    def state_high(self) -> np.ndarray:
        return self._state_high

    @property
    def noise_size(self) -> int:
        return 2  # the recovery draw, then the outage draw

    def initial_state(self, noise: np.ndarray) -> np.ndarray:
        return np.full((noise.shape[0], 1), self.params.initial_stress, dtype=np.int64)

    def step(self, state: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Dynamics:
        stress = state[:, 0]
        # Inverse-CDF draw of Binomial(stress, recovery) from one uniform per copy: the table's
        # look-up, the same count as comparing the gathered row (draw_from_cdf).
        recovered = draw_from_cdf_table(self.recovery_cdf, stress, noise[:, 0])
        next_stress = np.minimum(stress - recovered + self.load[actions].dot(self._ones), self._stress_cap)
        outage = noise[:, 1] < self.outage_probability[next_stress]
        private_utility = self.value[actions] - self._outage_cost * outage[:, None]
        repair = self._repair_cost * outage
        # Positional fields (next_state, signals, private_utility, principal_payoff,
        # externality, terminated): keywords cost a step more, for the same tuple.
        return Dynamics(
            next_stress[:, None],
            SIGNAL_OF_ACTION[actions],
            private_utility,
            -repair,
            repair,
            np.zeros(len(stress), dtype=bool),
        )

    model_size_advice = "a smaller max_stress"

    @property
    def n_model_states(self) -> int:
        return self.params.stress_cap + 1

    def model_size_description(self) -> str:
        p = self.params
        return f"n_agents={p.n_agents} and a stress cap of {p.stress_cap}"

    def _model(self, joint: np.ndarray, symmetric: bool) -> TabularModel:
        p = self.params
        n_states = p.stress_cap + 1
        stress = np.arange(n_states)
        added = self.load[joint].sum(axis=1)  # (A,)
        totals, transition_class = np.unique(added, return_inverse=True)
        transition_class = transition_class.reshape(-1).astype(np.int64)
        # Binomial(stress, recovery) units recover (action-free), then class g adds totals[g] units.
        recovery_pmf = pmf_from_cdf(self.recovery_cdf)  # (S, K): P(recovered = k)
        remaining = np.clip(stress[:, None] - stress[None, :], 0, None)  # k > stress has probability 0
        transitions = ShockThenMap(
            kernel_successors=remaining,
            kernel_probabilities=recovery_pmf,
            class_map=np.minimum(stress[None, :] + totals[:, None], p.stress_cap),
        )
        # The outage depends on the stress after the load: its probability given (s, a).
        outage = transitions.expected_by_class(self.outage_probability)[:, transition_class]  # (S, A)
        # Per agent (joint model) or per action (count model): value of the action taken.
        n_actions = len(ACTIONS)
        taken = np.broadcast_to(np.arange(n_actions), (len(joint), n_actions)) if symmetric else joint
        private_utility = self.value[taken][None, :, :] - p.outage_cost * outage[:, :, None]
        laws = np.eye(len(SIGNALS))[SIGNAL_OF_ACTION[taken]]  # the meter reads the draw time
        signal_probabilities = np.broadcast_to(laws[None], (n_states, *laws.shape))
        repair = p.repair_cost * outage
        initial = np.zeros(n_states)
        initial[p.initial_stress] = 1.0
        return TabularModel(
            states=stress[:, None],
            joint_actions=joint,
            initial_distribution=initial,
            transition_class=transition_class,
            transitions=transitions,
            private_utility=np.ascontiguousarray(private_utility),
            principal_payoff=-repair,
            externality=repair,
            signal_probabilities=signal_probabilities,
            horizon=p.max_cycles,
            symmetric=symmetric,
        )


raw_env, parallel_env_class, env, parallel_env = define_env(GridGame, __name__)
