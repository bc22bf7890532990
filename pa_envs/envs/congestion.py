"""congestion_v0: commuters, a road that congests, a rail line that does not, and a queue.

Env card
--------
In short
    :principal: road authority
    :agents: commuters choosing road or rail
    :contractible signal: the route (a toll gantry)
    :shared state: queue carried over
Players
    ``principal_0`` (the road authority) and ``agent_0`` ... ``agent_{N-1}`` (commuters).
Agents' actions
    ``Discrete(2)``: ``road`` (action 0, congestible) or ``rail`` (action 1, a
    fixed travel cost).
Contractible signal
    The route taken (a toll gantry sees every car), so a contract is an
    ``(N, 2)`` matrix of transfers per route; a toll on the road is a negative
    entry in column 0 (:attr:`CongestionGame.taxed_signal` is ``road``).
Principal's action
    The flat contract, ``Box(-max_transfer, max_transfer, (2 * N,), float32)``.
Observations
    Agent ``i``: ``[queue, contract row i]``. Principal: ``[queue]``.
    ``state()``: ``[queue, flat contract in force]``.
Timing
    As every env of the suite: ``parallel_env()`` posts the contract for the
    next period, ``env()`` (AEC) lets the principal move first each period.
Dynamics
    ``n`` commuters take the road. The road carries ``load = n + queue``
    vehicles: this period's drivers plus the backlog left over from the last
    period. Up to ``capacity`` vehicles get through; each vehicle beyond it
    is still queued next period with probability ``carry_over``:
    ``queue' = min(max_queue, Binomial(max(0, load - capacity), carry_over))``.
    ``carry_over = 0`` gives the static game (the queue stays 0).
Rewards
    A road commuter bears the travel time ``road_slope * load / N``; a rail
    commuter the fixed cost ``rail_cost``. Rewards are minus these costs,
    plus the commuter's transfer (minus its toll). The authority bears
    ``spillover_cost * queue`` (idling traffic in residential streets, borne
    by no commuter: the ``externality``) minus the transfers it pays.
    Social welfare = minus the total travel cost minus the spillover.
The externality
    A driver slows every other driver on the road today and, through the
    queue, tomorrow. It bears only its own travel time.
Pigou's network (``carry_over = 0``, ``rail_cost = road_slope = 1``, even N)
    With ``n`` drivers the total cost is ``n * n / N + (N - n)``: least at
    ``n = N / 2``, ``3N / 4`` per period. Left alone every commuter drives
    (``n / N <= 1``: the road is never worse than rail), ``N`` per period: the
    price of anarchy is exactly ``4 / 3``. (With atomic commuters ``n = N - 1``
    is an equilibrium as well; action 0 is ``road`` so that laissez-faire
    best-response iteration, which starts from action 0, finds the
    all-road equilibrium, the worst one, which the price of anarchy
    measures.) A road toll ``tau`` with ``1/2 - 1/N < tau < 1/2`` makes ``N / 2``
    drivers the unique equilibrium, from every start: the optimal toll
    implements the optimum (``congestion_v0.pigou_toll(N)`` gives the
    midpoint). ``tests/test_congestion.py`` checks all of this for N = 2, 4, 6,
    on the joint-action and the count model, and that tolls just outside the
    window miss the optimum.
Why the defaults are interesting (N = 3)
    ``capacity = N // 2 = 1``: the optimum's load goes through; laissez-faire's
    leaves a backlog of ``Binomial(2, 0.5)`` vehicles, non-zero three times in
    four, that slows tomorrow's drivers; myopic drivers keep driving while
    ``(n + queue) / N <= 1``. The stateful part makes the optimum
    and the equilibrium depend on the queue.
Exact model
    The queue is an integer in ``0 .. max_queue`` and its law is exact
    (Binomial by inverse CDF), so :meth:`CongestionGame.tabular_model` and
    :meth:`CongestionGame.count_model` (commuters are symmetric) are exact.

Parameters
----------
See :class:`CongestionParams` (and :class:`~pa_envs.core.game.GameParams` for
``n_agents``, ``max_cycles``, ``max_transfer``, ``principal_objective``,
``cost_of_public_funds``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pa_envs.core.distributions import binomial_cdf_table, draw_from_cdf_table, pmf_from_cdf
from pa_envs.core.factories import define_env
from pa_envs.core.game import Dynamics, GameParams, SymmetricGame, check_int
from pa_envs.core.tabular import TabularModel
from pa_envs.core.transitions import GatheredTransitions

ROAD, RAIL = 0, 1
MAX_QUEUE_CAP = 4000
# The most vehicles a road can have to clear, n_agents + queue cap: the carry-over law is a
# (load + 1) x (load + 1) table, as large as the largest decay table of pollution_v0.
MAX_LOAD = 4000


@dataclasses.dataclass(frozen=True)
class CongestionParams(GameParams):
    """Parameters of congestion_v0 (validated at construction).

    Attributes
    ----------
    road_slope : float
        Travel time on the road per vehicle of load, times ``N``: a road
        commuter bears ``road_slope * (n + queue) / N``; in
        ``(0, 1e12 * N / (N + queue cap)]``.
    rail_cost : float
        The fixed cost of the rail route, in ``[0, 1e12]``.
    capacity : int or None
        Vehicles the road clears per period, in ``0 .. 4000``; ``None`` sets ``N // 2`` (the
        optimum's load in Pigou's network). :attr:`road_capacity` is the one in force.
    carry_over : float
        Probability that a vehicle beyond capacity is still queued next
        period, in [0, 1]; 0 gives the static game.
    max_queue : int or None
        Cap on the queue, at most 4000; ``None`` sets ``N``. :attr:`queue_cap` is the one in
        force; ``n_agents`` plus it is at most 4000 (the carry-over law is a table of
        ``(N + cap + 1)**2`` numbers).
    initial_queue : int
        Queue at reset, in ``0 .. queue_cap``.
    spillover_cost : float
        Cost per queued vehicle per period borne by no commuter (the authority's), in
        ``[0, 1e12 / queue cap]``.
    """

    road_slope: float = 1.0
    rail_cost: float = 1.0
    capacity: int | None = None
    carry_over: float = 0.5
    max_queue: int | None = None
    initial_queue: int = 0
    spillover_cost: float = 0.0

    def validate(self) -> None:
        super().validate()
        if self.capacity is not None:
            # The road's load is at most n_agents + the queue cap: a larger capacity never binds.
            self._int("capacity", 0, MAX_LOAD, why="MAX_LOAD, the largest load any road can have")
        self._real("carry_over", 0.0, 1.0)
        if self.max_queue is not None:
            self._int("max_queue", 0, MAX_QUEUE_CAP)
        if self.n_agents + self.queue_cap > MAX_LOAD:
            given = "the default max_queue = N" if self.max_queue is None else f"max_queue={self.max_queue}"
            raise ValueError(
                f"n_agents + queue cap must be at most MAX_LOAD = {MAX_LOAD} (the carry-over law is a table "
                f"of (n_agents + queue cap + 1)**2 numbers), got n_agents={self.n_agents} and {given}; "
                f"use fewer agents or give max_queue <= {max(MAX_LOAD - self.n_agents, 0)}"
            )
        self._int("initial_queue", 0, self.queue_cap, why="at most the queue cap in force (max_queue)")
        # A road commuter bears road_slope * (drivers + queue) / N, at most road_slope * (N + queue cap) / N.
        load = (self.n_agents + self.queue_cap) / self.n_agents
        self._payoff_scale("road_slope", 0.0, load, f"(N + queue cap) / N = {load:g}", open_low=True)
        self._payoff_scale("rail_cost", 0.0, 1.0, "1")
        cap = self.queue_cap
        self._payoff_scale("spillover_cost", 0.0, cap, f"the queue cap {cap}")

    @property
    def road_capacity(self) -> int:
        """The capacity in force: ``capacity``, or ``N // 2``."""
        return self.n_agents // 2 if self.capacity is None else self.capacity

    @property
    def queue_cap(self) -> int:
        """The queue cap in force: ``max_queue``, or ``N``."""
        return self.n_agents if self.max_queue is None else self.max_queue


class CongestionGame(SymmetricGame):
    """Economics of congestion_v0; see the module docstring."""

    name = "congestion_v0"
    params_class = CongestionParams
    params: CongestionParams  # the narrower type, for the type checker
    state_names = ("queue",)

    def __init__(self, params: CongestionParams) -> None:
        super().__init__(params)
        p = params
        # The excess load is at most N + queue_cap vehicles.
        self.max_excess = p.n_agents + p.queue_cap
        self.carry_cdf = binomial_cdf_table(self.max_excess, p.carry_over)
        self._state_high = np.array([p.queue_cap], dtype=np.int64)
        # The step's constants as (1,) arrays of their dtype (numpy converts a Python scalar
        # operand on every call; the parameters are properties, too) and the spillover of every
        # queue, gathered rather than computed a step: the same float64 / int64 values.
        self._rail_cost = np.array([float(p.rail_cost)])
        self._road_capacity = np.array([p.road_capacity], dtype=np.int64)
        self._queue_cap = np.array([p.queue_cap], dtype=np.int64)
        self._zero = np.zeros(1, dtype=np.int64)
        self._ones = np.ones(p.n_agents, dtype=np.int64)  # counts each copy's drivers, an int dot
        queues = np.arange(p.queue_cap + 1, dtype=np.int64)
        self._spillover_at = p.spillover_cost * queues.astype(np.float64)
        self._payoff_at = -self._spillover_at

    @property
    def action_names(self) -> tuple[str, ...]:
        return ("road", "rail")

    @property
    def signal_names(self) -> tuple[str, ...]:
        return self.action_names

    @property
    def taxed_signal(self) -> int:
        return ROAD

    @property
    def state_high(self) -> np.ndarray:
        return self._state_high

    def initial_state(self, noise: np.ndarray) -> np.ndarray:
        return np.full((noise.shape[0], 1), self.params.initial_queue, dtype=np.int64)

    def road_time(self, queue: np.ndarray, drivers: np.ndarray) -> np.ndarray:
        """Travel time of each driver on the road: ``road_slope * (drivers + queue) / N``."""
        p = self.params
        return p.road_slope * (drivers + queue) / p.n_agents

    def travel_costs(self, queue: np.ndarray, drivers: np.ndarray) -> np.ndarray:
        """``(..., 2)`` cost of the road and of rail given the queue and the number of drivers."""
        road = self.road_time(queue, drivers)
        return np.stack([road, np.full(np.shape(road), float(self.params.rail_cost))], axis=-1)

    def step(self, state: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Dynamics:
        queue = state[:, 0]
        on_road = actions == ROAD
        drivers = on_road.dot(self._ones)  # the count, as int64
        road = self.road_time(queue, drivers)
        private_utility = -np.where(on_road, road[:, None], self._rail_cost)
        excess = np.maximum(drivers + queue - self._road_capacity, self._zero)
        carried = draw_from_cdf_table(self.carry_cdf, excess, noise[:, 0])
        # Positional fields (next_state, signals, private_utility, principal_payoff,
        # externality, terminated): keywords cost a step more, for the same tuple.
        return Dynamics(
            np.minimum(carried, self._queue_cap)[:, None],
            actions,
            private_utility,
            self._payoff_at[queue],
            self._spillover_at[queue],
            np.zeros(len(queue), dtype=bool),
        )

    model_size_advice = "a smaller max_queue"

    @property
    def n_model_states(self) -> int:
        return self.params.queue_cap + 1

    def model_size_description(self) -> str:
        p = self.params
        return f"n_agents={p.n_agents} and a queue cap of {p.queue_cap}"

    def _model(self, joint: np.ndarray, symmetric: bool) -> TabularModel:
        p = self.params
        n_states = p.queue_cap + 1
        queue = np.arange(n_states)
        drivers = (joint == ROAD).sum(axis=1)  # (A,)
        # The queue's law depends on the joint action only through the number of drivers.
        classes = np.arange(p.n_agents + 1)
        excess = np.maximum(classes[None, :] + queue[:, None] - p.road_capacity, 0)  # (S, G)
        carried = np.arange(self.max_excess + 1)
        transitions = GatheredTransitions(
            successors=np.broadcast_to(
                np.minimum(carried, p.queue_cap), (*excess.shape, len(carried))
            ).copy(),
            probabilities=pmf_from_cdf(self.carry_cdf)[excess],
        )
        costs = self.travel_costs(queue[:, None], drivers[None, :])  # (S, A, 2)
        taken = np.broadcast_to(np.arange(2), (len(joint), 2)) if symmetric else joint
        private_utility = -np.take_along_axis(
            costs, np.broadcast_to(taken[None], (n_states, *taken.shape)), axis=2
        )
        laws = np.eye(2)[taken]  # the signal is the route taken
        spillover = np.broadcast_to(
            p.spillover_cost * queue[:, None].astype(np.float64), (n_states, len(joint))
        )
        initial = np.zeros(n_states)
        initial[p.initial_queue] = 1.0
        return TabularModel(
            states=queue[:, None],
            joint_actions=joint,
            initial_distribution=initial,
            transition_class=drivers.astype(np.int64),
            transitions=transitions,
            private_utility=np.ascontiguousarray(private_utility),
            principal_payoff=-spillover,
            externality=spillover,
            signal_probabilities=np.broadcast_to(laws[None], (n_states, *laws.shape)),
            horizon=p.max_cycles,
            symmetric=symmetric,
        )


def pigou_toll(n_agents: int) -> float:
    """A road toll that makes ``N / 2`` drivers the unique equilibrium of Pigou's
    network (``carry_over = 0``, unit costs, even ``N``): the midpoint of ``(1/2 - 1/N, 1/2)``."""
    check_int("n_agents", n_agents, 2)
    if n_agents % 2:
        raise ValueError(f"Pigou's toll needs an even number of commuters, got n_agents={n_agents}")
    return 0.5 - 0.5 / n_agents


raw_env, parallel_env_class, env, parallel_env = define_env(CongestionGame, __name__)
