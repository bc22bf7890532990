"""insurance_v0: an insurer, insured agents with hidden risk types, moral hazard and contagion.

Env card
--------
In short
    :principal: insurer
    :agents: insured people choosing prevention, with hidden risk types
    :contractible signal: an **outcome**: claim or no claim
    :shared state: each one's risk level (contagion)
Players
    ``principal_0`` (the insurer, or a public health/emergency budget) and
    ``agent_0`` ... ``agent_{N-1}`` (the insured).
Agents' actions
    ``Discrete(2)``: prevention effort, ``shirk`` (0) or ``prevent`` (1).
    Preventing costs ``effort_cost`` this period.
Hidden type (adverse selection)
    At reset each agent draws a private risk type ``theta_i``, ``low`` (0) or
    ``high`` (1), independently with ``P(high) = high_risk_share``; it is fixed
    for the episode.
Risk level (moral hazard with memory)
    Each agent has a risk level ``r_i`` in ``0 .. n_risk_levels - 1``, a public
    bonus-malus class (``initial_risk`` at reset). Shirking moves it up one
    level with probability ``risk_up`` (capped at the top), preventing moves it
    down one level with probability ``risk_down`` (floored at 0), independently
    across agents given the actions.
Losses
    Each period agent ``i`` suffers a loss of size ``loss`` with probability

        pi_i = base[theta_i] + risk_step * r_i + contagion * mean_{j != i} r_j
               - effort_effect * prevent_i

    with ``base = (base_low, base_high)`` (the mean over the others is 0 when
    ``N = 1``). Losses are independent across agents given the state and the
    actions. The parameters are checked at construction so that ``pi_i`` lies
    in ``[0, 1]`` for every state and action (a ``ValueError`` otherwise,
    never a silent clip).
Contractible signal
    The OUTCOME, not the effort: ``signal_names = ("no_claim", "claim")``.
    A contract is an ``(N, 2)`` matrix of transfers per outcome. An insurance
    policy with premium ``p`` and coverage ``c`` is the row ``(-p, c - p)``;
    a no-claim bonus (premium rebate) ``b`` adds ``b`` to the ``no_claim``
    entry; a deductible ``d`` is a coverage ``c = loss - d``; a flat tax on the
    top signal (``taxed_signal`` = ``claim``) is a pure deductible / claim
    penalty.
Principal's action
    The flat contract, ``Box(-max_transfer, max_transfer, (2 * N,), float32)``.
Observations (hidden information is the point)
    Agent ``i``: ``[own type, own risk level, the other agents' risk levels
    (in agent order, skipping i), contract row i]`` (``1 + N + 2`` float32).
    It never sees another agent's type.
    Principal: ``[risk_0, ..., risk_{N-1}]``: the bonus-malus classes only,
    never a type, never an effort.
    ``state()`` (global, for centralized critics): ``[type_0 .. type_{N-1},
    risk_0 .. risk_{N-1}, flat contract in force]``.
Timing
    As every env of the suite: ``parallel_env()`` posts the contract for the
    next period; ``env()`` (AEC) lets the insurer move first each period.
Rewards
    Agent ``i``'s private (risk-adjusted) utility per period:

        -loss * 1[loss_i] - effort_cost * prevent_i
        - (risk_aversion / 2) * loss**2 * pi_i * (1 - pi_i)

    plus its transfer. The principal: ``-public_cost * (number of losses)``
    minus the transfers it pays (the ``externality`` field is
    ``public_cost * (number of losses)``). Social welfare is the sum of both
    (transfers cancel): it is negative, a cost, so the price of anarchy is the
    cost ratio ``W_LF / W*``.
Risk attitude: a modelling choice and its limit
    The suite's core is quasi-linear: transfers add to utilities and cancel
    out of welfare. A genuinely risk-averse agent (concave utility of wealth)
    would value insurance itself (coverage reduces the variance of its wealth),
    which a quasi-linear core cannot express. Instead each agent is charged a
    mean-variance certainty-equivalent on its OWN loss exposure,
    ``(risk_aversion / 2) * loss**2 * Var(1[loss]) = (risk_aversion / 2) *
    loss**2 * pi (1 - pi)``, in expectation every period (the simulator
    charges this deterministic premium, not a random one). Consequences: (i)
    lowering ``pi`` also lowers the risk premium when ``pi < 1/2`` (and raises it
    above 1/2), which counts as part of the private benefit of prevention;
    (ii) contracts here only shift INCENTIVES: coverage does not reduce the
    charged risk premium (the premium is on the uninsured exposure), so the
    classic insurance-versus-incentives trade-off (full coverage kills
    incentives but is what a risk-averse agent wants) is NOT modelled; only
    the incentive side is. (iii) The premium depends on the others' risk levels
    (through ``pi_i``), which makes the agents' continuation values interact.
The externality
    Each loss also costs ``public_cost`` to society (public emergency and
    health costs borne by no agent); and an agent that shirks raises its own
    future risk level, which raises the OTHER agents' loss probabilities
    through ``contagion``. Neither is in the agent's private utility.
Exact model
    The state is ``(type_0..type_{N-1}, risk_0..risk_{N-1})``:
    ``(2 * n_risk_levels) ** N`` states (216 at the defaults with N = 3), and
    ``2 ** N`` joint actions, each its own transition class; the product law of
    the risk moves is held as :class:`~pa_envs.core.transitions.GatheredTransitions`
    (each agent moves or stays: ``2 ** N`` successors). Agents differ by type
    within a state, so there is no count model; the model refuses more than
    about N = 5 at the defaults (see :data:`MAX_TRANSITION_ENTRIES`): N = 5
    (7776 states) fits, N = 6 raises a ``ValueError`` naming ``n_agents`` and
    ``n_risk_levels`` (the env itself runs for any N). State names: ``type_i``,
    ``risk_i``.
Noise
    ``noise_size = 2N`` uniforms: at reset the first ``N`` draw the types
    (``u < high_risk_share`` is high); in a period uniform ``i`` draws agent
    ``i``'s loss (``u < pi_i``) and uniform ``N + i`` its risk move.

Why the defaults are inefficient (N = 3)
    ``loss = 10``, ``effort_effect = 0.1``: prevention lowers this period's
    expected loss by 1.0 and the risk premium (``risk_aversion / 2 * loss**2 =
    2.5`` times ``pi (1 - pi)``) by ``2.5 * 0.1 * (1.1 - 2 pi)``, from 0.225
    (``pi = 0.1``) down to 0.065 (``pi = 0.42``, the highest shirking ``pi``);
    so a myopic agent's benefit is 1.065 .. 1.225 < ``effort_cost = 1.6``: it
    shirks in every state. Society also saves ``public_cost * 0.1 = 1.0`` this
    period (2.07 .. 2.23 > 1.6), and shirking drifts every risk level up to the
    top, where each agent's ``pi`` is ``2 * (risk_step + contagion) = 0.22``
    higher, costing society ``0.22 * (10 + 10) = 4.4`` per agent and period.
    Forward-looking agents weigh only their own ``risk_step = 0.01`` per level
    (about ``0.1`` per level and period, plus 0.02 of premium), and a period of
    prevention moves the expected level by only ``risk_up + risk_down = 0.4``
    for a few periods: at ``agent_discount = 0.99`` that is worth 0.10 .. 0.32
    (exact, over all states and periods while everyone shirks), less than the
    static shortfall of 0.375 .. 0.535, so they shirk too. The contagion, ten
    times the own effect, and the public cost are what they ignore. The
    optimum has everyone prevent in every state and period.
    The implementing transfer is a no-claim bonus: preventing raises the
    probability of ``no_claim`` by exactly ``effort_effect``, so a bonus ``b``
    on ``no_claim`` is worth ``0.1 * b`` to a preventer; the myopic minimum is
    ``(effort_cost - benefit) / effort_effect``, 3.75 .. 5.35 (plus
    ``epsilon / effort_effect``), within the default ``max_transfer = 15``
    (raised from the suite's 5: a margin ``epsilon`` costs ``epsilon /
    effort_effect`` of bonus). Type-blind, a flat no-claim bonus or a flat
    deductible (a tax on ``claim``) above 4.25 does the same in every state the
    optimum visits (all risk levels stay at 0, where the shortfall is 0.375 for
    a low and 0.425 for a high type).

Parameters
----------
See :class:`InsuranceParams` (and :class:`~pa_envs.core.game.GameParams` for
``n_agents``, ``max_cycles``, ``max_transfer``, ``principal_objective``,
``cost_of_public_funds``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pa_envs.core.factories import define_env
from pa_envs.core.game import FLOAT32_EXACT, Dynamics, Game, GameParams
from pa_envs.core.tabular import TabularModel, enumerate_joint_actions
from pa_envs.core.transitions import GatheredTransitions

_sum = np.add.reduce  # ndarray.sum without its Python wrapper: the same numbers

# S * G * K entries of the gathered transitions ((2 L)^N * 2^N * 2^N): N = 5 at L = 3 fits.
MAX_TRANSITION_ENTRIES = 10_000_000
# S * A * N * (1 + n_signals) payoff and signal entries.
MAX_MODEL_ENTRIES = 50_000_000

SHIRK, PREVENT = 0, 1
LOW, HIGH = 0, 1


@dataclasses.dataclass(frozen=True)
class InsuranceParams(GameParams):
    """Parameters of insurance_v0 (validated at construction).

    Attributes
    ----------
    high_risk_share : float
        ``P(theta_i = high)`` at reset, in [0, 1].
    n_risk_levels : int
        Risk (bonus-malus) levels ``0 .. n_risk_levels - 1``, in ``1 .. 2**24`` (1: no dynamics).
    initial_risk : int
        Every agent's risk level at reset, in ``0 .. n_risk_levels - 1``.
    base_low, base_high : float
        Base loss probability of a low and a high type, in [0, 1], ``base_low <= base_high``.
    risk_step : float
        Added loss probability per own risk level, at least 0.
    contagion : float
        Added loss probability per unit of the mean risk level of the OTHER agents, at least 0.
    effort_effect : float
        Loss probability removed by prevention this period, at least 0.
    effort_cost : float
        Cost of prevention, in ``[0, 1e12]``.
    loss : float
        Size of a loss, in ``(0, 1e6]``.
    risk_aversion : float
        Coefficient of the mean-variance risk premium ``(risk_aversion / 2) * loss**2 * pi (1 - pi)``,
        in ``[0, 8e12 / loss**2]``.
    risk_up : float
        Probability that shirking raises the own risk level by one, in [0, 1].
    risk_down : float
        Probability that preventing lowers the own risk level by one, in [0, 1].
    public_cost : float
        Cost of each loss borne by no agent (the principal's), in ``[0, 1e12]``.

    Notes
    -----
    The loss probability must lie in [0, 1] in every state and for every
    action: ``min(base) - effort_effect >= 0`` and
    ``max(base) + (risk_step + contagion) * (n_risk_levels - 1) <= 1``
    (the contagion term only with ``n_agents >= 2``).
    """

    max_transfer: float = 15.0
    high_risk_share: float = 0.5
    n_risk_levels: int = 3
    initial_risk: int = 0
    base_low: float = 0.1
    base_high: float = 0.2
    risk_step: float = 0.01
    contagion: float = 0.1
    effort_effect: float = 0.1
    effort_cost: float = 1.6
    loss: float = 10.0
    risk_aversion: float = 0.05
    risk_up: float = 0.2
    risk_down: float = 0.2
    public_cost: float = 10.0

    def validate(self) -> None:
        super().validate()
        n = self.n_agents
        # An agent observes its type, its risk and every other agent's risk: N + 1 numbers.
        self._check_step_size(n + 1 + 2 * 2, f"n_agents + 1 + 2 x 2 signals = {n + 5}")
        self._real("high_risk_share", 0.0, 1.0)
        # Risk levels are observed as float32: exact up to 2**24.
        levels = self._int(
            "n_risk_levels", 1, FLOAT32_EXACT, why="FLOAT32_EXACT: risk levels are observed as float32"
        )
        self._int("initial_risk", 0, levels - 1, why="below n_risk_levels")
        self._real("base_low", 0.0, 1.0)
        self._real("base_high", 0.0, 1.0)
        if self.base_low > self.base_high:
            raise ValueError(
                f"base_low must be <= base_high (a low type is the safer one), got "
                f"base_low={self.base_low!r} > base_high={self.base_high!r}"
            )
        for name in ("risk_step", "contagion", "effort_effect"):
            self._real(name, 0.0, 1.0)
        self._payoff_scale("effort_cost", 0.0, 1.0, "1")
        loss = self._real("loss", 0.0, 1e6, open_low=True)
        # The risk premium (risk_aversion / 2) * loss**2 * pi (1 - pi) is at most risk_aversion * loss**2 / 8.
        self._payoff_scale("risk_aversion", 0.0, loss**2 / 8, f"loss**2 / 8 = {loss**2 / 8:g}")
        self._real("risk_up", 0.0, 1.0)
        self._real("risk_down", 0.0, 1.0)
        self._payoff_scale("public_cost", 0.0, 1.0, "1")
        low, high = self.loss_probability_range
        if low < 0.0:
            raise ValueError(
                "the loss probability would fall below 0: need base_low - effort_effect >= 0, got "
                f"base_low={self.base_low!r}, effort_effect={self.effort_effect!r} (pi = {low:g})"
            )
        if high > 1.0:
            spread = self.n_risk_levels - 1
            raise ValueError(
                "the loss probability would exceed 1: need base_high + (risk_step + contagion) * "
                f"(n_risk_levels - 1) <= 1, got base_high={self.base_high!r}, risk_step={self.risk_step!r}, "
                f"contagion={self.contagion!r} (counted only for n_agents >= 2), "
                f"n_risk_levels - 1 = {spread} (pi = {high:g})"
            )

    @property
    def loss_probability_range(self) -> tuple[float, float]:
        """The smallest and largest loss probability over all states and actions."""
        spread = self.n_risk_levels - 1
        contagion = self.contagion if self.n_agents >= 2 else 0.0
        return self.base_low - self.effort_effect, self.base_high + (self.risk_step + contagion) * spread


class InsuranceGame(Game):
    """Economics of insurance_v0; see the module docstring."""

    name = "insurance_v0"
    params_class = InsuranceParams
    params: InsuranceParams  # the narrower type, for the type checker

    def __init__(self, params: InsuranceParams) -> None:
        super().__init__(params)
        p = params
        n, top = p.n_agents, p.n_risk_levels - 1
        self.base = np.array([p.base_low, p.base_high])
        self._state_high = np.array([1] * n + [top] * n, dtype=np.int64)
        # Agent i's features: own type, own risk, the others' risks (agent order, skipping i):
        # column c of row i is c, or c + 1 from i on.
        columns = np.arange(n - 1, dtype=np.int64)[None, :]
        self._others = columns + (columns >= np.arange(n, dtype=np.int64)[:, None])
        # The step's constants as (1,) arrays of their dtype: numpy converts a Python scalar
        # operand on every call, the costlier part of a ufunc on one copy's few numbers. The
        # same float64 / int64 values, combined in the same order, so the same numbers.
        self._risk_step = np.array([p.risk_step])
        self._contagion = np.array([p.contagion])
        self._effort_effect = np.array([p.effort_effect])
        self._neg_loss = np.array([-p.loss])
        self._effort_cost = np.array([p.effort_cost])
        self._premium_scale = np.array([0.5 * p.risk_aversion * p.loss**2])
        self._public_cost = np.array([p.public_cost])
        self._zero = np.zeros(1, dtype=np.int64)
        self._top = np.array([top], dtype=np.int64)
        self._ones = np.ones(n, dtype=np.int64)  # counts each copy's losses, an exact int dot

    # -- labels and sizes ---------------------------------------------------
    @property
    def state_names(self) -> tuple[str, ...]:  # type: ignore[override]
        n = self.params.n_agents
        return tuple(f"type_{i}" for i in range(n)) + tuple(f"risk_{i}" for i in range(n))

    @property
    def action_names(self) -> tuple[str, ...]:
        return ("shirk", "prevent")

    @property
    def signal_names(self) -> tuple[str, ...]:
        return ("no_claim", "claim")

    @property
    def state_high(self) -> np.ndarray:
        return self._state_high

    @property
    def noise_size(self) -> int:
        # Reset: one uniform per agent for its type. A period: a loss uniform and a
        # risk-move uniform per agent.
        return 2 * self.params.n_agents

    # -- the economics, shared by the simulator and the model ----------------
    def loss_probability(self, types: np.ndarray, risks: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``pi`` of every agent, ``(..., N)``, from types, risk levels and actions ``(..., N)``."""
        p = self.params
        n = p.n_agents
        risks = risks.astype(np.float64)
        if n >= 2:
            # Sums of a few small integers held as floats: exact in any order.
            others = (_sum(risks, axis=-1, keepdims=True) - risks) / (n - 1)
        else:
            others = np.zeros_like(risks)
        return (
            self.base[types]
            + self._risk_step * risks
            + self._contagion * others
            - self._effort_effect * (actions == PREVENT)
        )

    def risk_premium(self, pi: np.ndarray) -> np.ndarray:
        """The mean-variance certainty-equivalent charge on the own loss exposure."""
        # 0.5 * risk_aversion * loss**2 first, as Python evaluated it left to right before.
        return self._premium_scale * pi * (1.0 - pi)

    def expected_private_utility(self, pi: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Expected private utility given ``pi`` and actions (both ``(..., N)``)."""
        p = self.params
        return -p.loss * pi - p.effort_cost * (actions == PREVENT) - self.risk_premium(pi)

    def _move_probability(self, actions: np.ndarray) -> np.ndarray:
        p = self.params
        return np.where(actions == PREVENT, p.risk_down, p.risk_up)

    def _moved_level(self, risks: np.ndarray, actions: np.ndarray, moved: np.ndarray) -> np.ndarray:
        step = np.where(actions == PREVENT, -1, 1) * moved
        # np.clip's wrapper costs more than the two ufuncs it stands for (the same ints).
        return np.minimum(np.maximum(risks + step, self._zero), self._top)

    # -- the simulator --------------------------------------------------------
    def initial_state(self, noise: np.ndarray) -> np.ndarray:
        p = self.params
        n = p.n_agents
        types = (noise[:, :n] < p.high_risk_share).astype(np.int64)
        risks = np.full((noise.shape[0], n), p.initial_risk, dtype=np.int64)
        return np.concatenate([types, risks], axis=1)

    def step(self, state: np.ndarray, actions: np.ndarray, noise: np.ndarray) -> Dynamics:
        n = self.params.n_agents
        types, risks = state[:, :n], state[:, n:]
        pi = self.loss_probability(types, risks, actions)
        losses = noise[:, :n] < pi
        moved = (noise[:, n:] < self._move_probability(actions)).astype(np.int64)
        next_risks = self._moved_level(risks, actions, moved)
        # float64 already (float parameters times bools and floats): no astype copy.
        private_utility = (
            self._neg_loss * losses - self._effort_cost * (actions == PREVENT) - self.risk_premium(pi)
        )
        public = self._public_cost * losses.dot(self._ones)  # float64: the cost times the count
        # Positional fields (next_state, signals, private_utility, principal_payoff,
        # externality, terminated): keywords cost a step more, for the same tuple.
        return Dynamics(
            np.concatenate([types, next_risks], axis=1),
            losses.astype(np.int64),
            private_utility,
            -public,
            public,
            np.zeros(len(state), dtype=bool),
        )

    # -- what players see -------------------------------------------------------
    def agent_features(self, state: np.ndarray) -> np.ndarray:
        n = self.params.n_agents
        types, risks = state[:, :n], state[:, n:]
        # Filled in place: np.stack and np.concatenate cost more in their Python wrappers than
        # these three assignments of the same ints.
        features = np.empty((len(state), n, n + 1), dtype=state.dtype)
        features[:, :, 0] = types  # own type
        features[:, :, 1] = risks  # own risk
        features[:, :, 2:] = risks[:, self._others]  # (B, N, N - 1): the others' risks
        return features

    def agent_features_high(self) -> np.ndarray:
        top = self.params.n_risk_levels - 1
        return np.array([1] + [top] * self.params.n_agents, dtype=np.int64)

    def principal_features(self, state: np.ndarray) -> np.ndarray:
        return state[:, self.params.n_agents :]

    def principal_features_high(self) -> np.ndarray:
        return self._state_high[self.params.n_agents :]

    # -- the exact model ----------------------------------------------------------
    def model_size(self) -> tuple[int, int, int]:
        """``(states, joint actions, successors per pair)`` of the joint-action model."""
        p = self.params
        return (2 * p.n_risk_levels) ** p.n_agents, 2**p.n_agents, 2**p.n_agents

    def _check_size(self) -> None:
        p = self.params
        n_states, n_joint, n_successors = self.model_size()
        transitions = n_states * n_joint * n_successors
        payoffs = n_states * n_joint * p.n_agents * (1 + self.n_signals)
        if transitions > MAX_TRANSITION_ENTRIES or payoffs > MAX_MODEL_ENTRIES:
            raise ValueError(
                f"the joint-action model of insurance_v0 with n_agents={p.n_agents} and "
                f"n_risk_levels={p.n_risk_levels} has {n_states} states x {n_joint} joint actions x "
                f"{n_successors} successors = {transitions:.2e} transition entries (limit "
                f"{MAX_TRANSITION_ENTRIES:.0e}) and {payoffs:.2e} payoff entries (limit "
                f"{MAX_MODEL_ENTRIES:.0e}); use fewer agents or fewer risk levels (agents differ by "
                "type, so there is no count model)"
            )

    def tabular_model(self) -> TabularModel:
        self._check_size()
        p = self.params
        n, levels = p.n_agents, p.n_risk_levels
        dims = (2,) * n + (levels,) * n
        states = np.indices(dims).reshape(2 * n, -1).T.astype(np.int64)  # (S, 2N), first component slowest
        weights = np.cumprod((1, *dims[::-1]))[:-1][::-1].astype(np.int64)  # mixed radix of `states`
        joint = enumerate_joint_actions(n, 2)  # (A, N)
        types, risks = states[:, :n], states[:, n:]

        pi = self.loss_probability(types[:, None, :], risks[:, None, :], joint[None, :, :])  # (S, A, N)
        private_utility = self.expected_private_utility(pi, joint[None, :, :])
        public = p.public_cost * pi.sum(axis=2)
        signal_probabilities = np.stack([1.0 - pi, pi], axis=3)

        # Transitions: class g = joint action g; outcome k says which agents' risk moved (bit i: agent i).
        moves = enumerate_joint_actions(n, 2)  # (K, N): moved or stayed, per agent
        move_probability = self._move_probability(joint)  # (A, N)
        successors = (types @ weights[:n])[:, None, None] * np.ones((1, len(joint), len(moves)), np.int64)
        probabilities = np.ones((len(states), len(joint), len(moves)))
        for i in range(n):
            moved = moves[None, None, :, i]  # (1, 1, K)
            level = self._moved_level(risks[:, i, None, None], joint[None, :, i, None], moved)  # (S, A, K)
            successors += weights[n + i] * level
            # A level at its cap cannot move: give that outcome probability 0 (not a duplicate
            # successor), so a sure next state has probability exactly 1.
            can_move = level[:, :, -1] != risks[:, i, None]  # (S, A): the all-moved outcome moved it
            q = (move_probability[None, :, i] * can_move)[:, :, None]  # (S, A, 1)
            probabilities *= np.where(moved == 1, q, 1.0 - q)
        initial = np.where(types == HIGH, p.high_risk_share, 1.0 - p.high_risk_share).prod(axis=1)
        initial = initial * np.all(risks == p.initial_risk, axis=1)
        return TabularModel(
            states=states,
            joint_actions=joint,
            initial_distribution=initial,
            transition_class=np.arange(len(joint), dtype=np.int64),
            transitions=GatheredTransitions(successors, probabilities),
            private_utility=private_utility,
            principal_payoff=-public,
            externality=public,
            signal_probabilities=signal_probabilities,
            horizon=p.max_cycles,
            symmetric=False,
        )


raw_env, parallel_env_class, env, parallel_env = define_env(InsuranceGame, __name__)
