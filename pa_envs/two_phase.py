"""The two-phase mechanism: a principal that learns what incentives cost, then steers.

The principal does not know the agents' payoffs. It sees the state, each
agent's contractible signal (here: its action), the period's realized social
welfare (a benevolent planner measuring surplus) and its own payoff.

Phase 1: estimate implementable transfers. After a warm-up without transfers
(the learners' exploration settles) and a baseline block that finds each
agent's favourite action (its minimal transfer is 0), it probes each other
action ``k``: it posts a bonus on ``k`` (the same in every state) for a block
of periods and watches how often the learning agents then choose ``k``.
Starting from no bonus it doubles the bonus until ``k`` is chosen in at least
``threshold`` of the block's second half, then bisects between the last bonus
that failed and the first that worked. The estimate ``tau[i, k]`` is the
smallest bonus that worked; its bracket ``[lo, hi]`` is its confidence
(:meth:`TwoPhaseMechanism.estimates`). All agents are probed at once.

Phase 2: steer. Social welfare is taken to be separable,
``W(s, a) = c(s) + sum_i v_i(a_i)``: an agent's action is worth to it (and so
to welfare) the transfer it takes to make it choose it, ``v_i(k) = -tau[i, k]``
relative to its favourite, and ``c(s)`` is fitted (least squares, linear in
the state vector, an assumption: linear damages make it exact in
pollution_v0) to the welfare observed in each state. With the transition
law estimated from the transitions it has seen, it plans the welfare-optimal
policy for the episode (:func:`pa_envs.analysis.social_optimum` on its
estimated model) and posts ``tau + margin`` on each agent's target action. It
keeps counting compliance and raises an estimate by ``margin`` whenever an
agent stops complying over a block (re-probing upwards), and plans again
every ``replan_every`` periods with everything it has seen so far.

Assumptions this rests on (true of pollution_v0): signals are actions; an
agent's ranking of its own actions does not depend on the state or on the
others' actions; the principal's payoff depends on the state only; the
joint-action model fits in memory. From the env's model it reads only the
structure (the states, the joint actions, which joint actions move the state
alike, the signal layout), never payoffs or transition probabilities.

Parameters and defaults: ``total_periods`` (T, the run's length) sets the
probing budget, about ``probe_scale * T**(2/3)`` periods (the theory's
``T^(2/3)`` exploration), split into blocks of at least ``min_block``
periods; the warm-up is ``warmup_scale * T**(2/3)`` periods too. So phase 1
grows like ``T^(2/3)`` once its blocks are longer than ``min_block`` (the
learners' adaptation time, which floors them); below that, a run too short
for phase 1 warns at binding.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from pa_envs import analysis
from pa_envs.core.game import Game
from pa_envs.core.tabular import TabularModel
from pa_envs.core.transitions import GatheredTransitions
from pa_envs.mechanisms import Mechanism, MechanismInput, PeriodFeedback

_DOUBLINGS = 6  # bonuses tried before bisection: max_transfer / 2**5 ... max_transfer


class _Probe:
    """Doubling-then-bisection searches for a minimal bonus, one per entry of ``shape``
    (every agent of every copy), stepped together one block at a time."""

    def __init__(self, n_agents: int | tuple[int, ...], action: int, bound: float, steps: int) -> None:
        shape = (n_agents,) if isinstance(n_agents, int) else tuple(n_agents)
        self.action = action
        self.bound = bound
        self.steps = steps
        self.lo = np.zeros(shape)  # largest bonus that failed (0: none tried yet)
        self.hi = np.full(shape, np.inf)  # smallest bonus that worked
        self.bonus = np.zeros(shape)  # the bonus of the current block
        self.bisections_left = np.full(shape, steps)
        self.done = np.zeros(shape, dtype=bool)

    def record(self, complied: np.ndarray, rows: np.ndarray | slice = slice(None)) -> None:
        """A block ended for ``rows``: ``complied`` says who chose the action enough."""
        lo, hi, bonus = self.lo[rows], self.hi[rows], self.bonus[rows]
        left, done = self.bisections_left[rows], self.done[rows]
        moving = ~done
        hi = np.where(moving & complied, bonus, hi)
        lo = np.where(moving & ~complied, bonus, lo)
        doubling = moving & np.isinf(hi)
        give_up = doubling & (bonus >= self.bound)  # not implementable within the bound
        doubled = np.minimum(self.bound, np.maximum(self.bound / 2 ** (_DOUBLINGS - 1), 2 * bonus))
        settled = moving & ~doubling & ((hi == 0.0) | (left == 0))
        bisecting = moving & ~doubling & ~settled
        self.lo[rows], self.hi[rows] = lo, hi
        self.bonus[rows] = np.where(doubling & ~give_up, doubled, np.where(bisecting, 0.5 * (lo + hi), bonus))
        self.bisections_left[rows] = left - bisecting
        self.done[rows] = done | give_up | settled


class TwoPhaseMechanism(Mechanism):
    """Phase 1 estimates the minimal implementing transfers by probing; phase 2 steers.

    See the module docstring for the method and its assumptions.

    Parameters
    ----------
    total_periods : int
        Periods the run will last (episodes x max_cycles): sets phase 1's budget.
    probe_scale : float
        Phase 1 lasts about ``probe_scale * total_periods**(2/3)`` periods.
    min_block : int
        Fewest periods in one probing block.
    threshold : float
        Share of a block's second half in which an agent must choose the
        probed action for the bonus to count as enough.
    bisection_steps : int
        Bisection steps after doubling.
    margin : float
        Added to each estimate when posting it, and to an estimate an agent
        stops complying with.
    warmup_scale : float
        The warm-up without transfers before probing (while the learners'
        exploration settles) lasts ``warmup_scale * total_periods**(2/3)`` periods.
    replan_every : int
        In phase 2, plan again (at the end of an episode) after this many
        periods, with the transitions and welfare seen since.
    """

    name = "two_phase"

    def __init__(
        self,
        total_periods: int = 100_000,
        *,
        probe_scale: float = 4.0,
        min_block: int = 500,
        threshold: float = 0.6,
        bisection_steps: int = 5,
        margin: float = 0.25,
        warmup_scale: float = 2.0,
        replan_every: int = 2_000,
    ) -> None:
        super().__init__()
        if (
            isinstance(total_periods, bool)
            or not isinstance(total_periods, (int, np.integer))
            or total_periods < 1
        ):
            raise ValueError(f"total_periods must be a positive int, got {total_periods!r}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        if not margin >= 0 or not np.isfinite(margin):
            raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
        if isinstance(bisection_steps, bool) or not isinstance(bisection_steps, (int, np.integer)):
            raise ValueError(f"bisection_steps must be an int, got {bisection_steps!r}")
        self.total_periods = int(total_periods)
        self.probe_scale = float(probe_scale)
        self.min_block = int(min_block)
        self.threshold = float(threshold)
        self.bisection_steps = int(bisection_steps)
        self.margin = float(margin)
        if not 0.0 <= warmup_scale < np.inf:
            raise ValueError(f"warmup_scale must be a finite number >= 0, got {warmup_scale!r}")
        self.warmup_scale = float(warmup_scale)
        if (
            isinstance(replan_every, bool)
            or not isinstance(replan_every, (int, np.integer))
            or replan_every < 1
        ):
            raise ValueError(f"replan_every must be a positive int, got {replan_every!r}")
        self.replan_every = int(replan_every)
        self.n_copies = 0  # copies are allocated at the first start_episodes

    # -- binding -----------------------------------------------------------------------
    def bind(self, game: Game) -> None:
        super().bind(game)
        model = game.exact_model()
        self.structure = model  # states, transition classes, signal layout: no payoffs are read
        budget = self.probe_scale * self.total_periods ** (2 / 3)
        self.block = max(self.min_block, int(budget / self._blocks(game)))
        self.bound = float(game.params.max_transfer)
        if self.phase1_periods_expected > self.total_periods:
            warnings.warn(
                f"TwoPhaseMechanism: phase 1 needs up to {self.phase1_periods_expected} periods but the run "
                f"lasts total_periods={self.total_periods}: it will not reach phase 2",
                stacklevel=2,
            )

    def _blocks(self, game: Game) -> int:
        """Blocks of a full phase 1: the baseline, then per probed action the no-bonus block,
        the doublings and the bisections."""
        return 1 + (game.n_actions - 1) * (1 + _DOUBLINGS + self.bisection_steps)

    @property
    def warmup_periods(self) -> int:
        return int(self.warmup_scale * self.total_periods ** (2 / 3))

    @property
    def phase1_periods_expected(self) -> int:
        """The longest phase 1 can last: warm-up plus every block of every search."""
        return self.warmup_periods + self.block * self._blocks(self._bound_game())

    def start_episodes(self, batch_size: int, which: np.ndarray | None = None) -> None:
        game = self._bound_game()
        if self.n_copies and self.n_copies != batch_size:
            raise ValueError(
                f"TwoPhaseMechanism learns per copy: it has {self.n_copies} copies, got a batch of "
                f"{batch_size}; use a new mechanism for another batch size"
            )
        if not self.n_copies:
            self._allocate(batch_size, game)

    def _allocate(self, b: int, game: Game) -> None:
        """Every copy's principal, as arrays with a leading copy axis."""
        n, actions = game.n_agents, game.n_actions
        model = self.structure
        s, g = model.n_states, model.n_transition_classes
        self.n_copies = b
        self.phase = np.ones(b, dtype=np.int64)
        self.warmup_left = np.full(b, self.warmup_periods, dtype=np.int64)
        # A first block without transfers finds each agent's favourite action (tau = 0).
        self.in_baseline = np.ones(b, dtype=bool)
        self.baseline_counts = np.zeros((b, n, actions))
        self.favourite = np.full((b, n), -1, dtype=np.int64)
        self.tau = np.full((b, n, actions), np.nan)
        self.block_count = np.zeros(b, dtype=np.int64)
        self.block_hits = np.zeros((b, n))
        self.block_seen = np.zeros(b, dtype=np.int64)
        # The search under way in each copy (-1: none), and the brackets of every search so far.
        self.probe = _Probe((b, n), 0, self.bound, self.bisection_steps)
        self.probe_action = np.full(b, -1, dtype=np.int64)
        self.next_action = np.zeros(b, dtype=np.int64)
        self.bracket_lo = np.full((b, n, actions), np.nan)
        self.bracket_hi = np.full((b, n, actions), np.nan)
        # Observations for the planner: welfare and the actions taken, per state.
        self.welfare_sum = np.zeros((b, s))
        self.welfare_seen = np.zeros((b, s))
        self.actions_seen = np.zeros((b, s, n, actions))
        self.transitions = np.zeros((b, s, g, s))
        self.policy = np.zeros((b, model.horizon, s), dtype=np.int64)
        # Phase 2 compliance per (agent, action).
        self.since_plan = np.zeros(b, dtype=np.int64)
        self.phase2_from = np.full(b, -1, dtype=np.int64)  # periods played when phase 2 began
        self.asked = np.zeros((b, n, actions))
        self.obeyed = np.zeros((b, n, actions))

    # -- acting ------------------------------------------------------------------------
    def contract(self, inputs: MechanismInput) -> np.ndarray:
        game = self._bound_game()
        n = game.n_agents
        out = self._zeros(len(inputs.period))
        states = self.structure.state_index(inputs.state)
        probing = (self.phase == 1) & ~self.in_baseline  # the baseline block posts no transfers
        # A copy whose search ended moves on to its next action, or plans and steers (rare events).
        for b in np.flatnonzero(probing & ((self.probe_action < 0) | self.probe.done.all(axis=1))):
            if not self._advance(b):
                self._plan(b)
        probing &= self.phase == 1
        rows = np.flatnonzero(probing)
        out[rows[:, None], np.arange(n), self.probe_action[rows, None]] = self.probe.bonus[rows]
        steering = np.flatnonzero(self.phase == 2)
        t = np.minimum(inputs.period[steering], self.policy.shape[1] - 1)
        targets = self.structure.joint_actions[self.policy[steering, t, states[steering]]]  # (R, N)
        paid = self.tau[steering[:, None], np.arange(n), targets]
        bonus = np.where(paid > 0, np.minimum(paid + self.margin, self.bound), 0.0)
        out[steering[:, None], np.arange(n), targets] = bonus
        return out

    def _advance(self, b: int) -> bool:
        """Copy ``b``: close the finished search, open the next one; ``False`` when none is left."""
        game = self._bound_game()
        probe = self.probe
        while True:
            action = self.probe_action[b]
            if action >= 0 and not probe.done[b].all():
                return True
            if action >= 0:
                self.tau[b, :, action] = probe.hi[b]
            if self.next_action[b] >= game.n_actions:
                return False
            action = int(self.next_action[b])
            self.next_action[b] += 1
            probe.lo[b], probe.hi[b], probe.bonus[b] = 0.0, np.inf, 0.0
            probe.bisections_left[b], probe.done[b] = self.bisection_steps, False
            # Agents for whom this is the favourite action need no bonus: their search is over.
            favourite = self.favourite[b] == action
            probe.hi[b, favourite], probe.done[b, favourite] = 0.0, True
            self.bracket_lo[b, :, action], self.bracket_hi[b, :, action] = probe.lo[b], probe.hi[b]
            if probe.done[b].all():
                self.tau[b, :, action] = probe.hi[b]
                self.probe_action[b] = -1
            else:
                self.probe_action[b] = action

    # -- learning ----------------------------------------------------------------------
    def update(self, feedback: PeriodFeedback) -> None:
        game = self._bound_game()
        n = game.n_agents
        # Copies that sat the period out (restarting in a vector form) learn nothing from it.
        live = np.ones(self.n_copies, dtype=bool) if feedback.active is None else np.asarray(feedback.active)
        copies = np.flatnonzero(live)
        signals = feedback.signals
        states = self.structure.state_index(feedback.state[copies])
        following = self.structure.state_index(feedback.next_state[copies])
        joint = self.structure.joint_action_index(signals[copies], game.n_actions)
        classes = self.structure.transition_class[joint]
        self.welfare_sum[copies, states] += feedback.social_welfare[copies]
        self.welfare_seen[copies, states] += 1
        self.actions_seen[copies[:, None], states[:, None], np.arange(n), signals[copies]] += 1
        self.transitions[copies, states, classes, following] += 1
        learning = (self.phase == 1) & live
        self._count_probe(learning, signals)
        steering = (self.phase != 1) & live
        self._count_compliance(steering, feedback.contract, signals)
        self.since_plan += steering
        # What phase 2 has seen refines the model, at the end of an episode.
        for b in np.flatnonzero(steering & (self.since_plan >= self.replan_every) & feedback.done):
            self._plan(b)

    def _count_probe(self, learning: np.ndarray, signals: np.ndarray) -> None:
        n = signals.shape[1]
        warming = learning & (self.warmup_left > 0)  # the learners settle before anything is measured
        self.warmup_left -= warming
        counting = learning & ~warming
        baseline = counting & self.in_baseline
        self.block_count += baseline
        late = np.flatnonzero(baseline & (self.block_count > self.block // 2))
        self.baseline_counts[late[:, None], np.arange(n), signals[late]] += 1
        ended = np.flatnonzero(baseline & (self.block_count >= self.block))
        self.favourite[ended] = self.baseline_counts[ended].argmax(axis=2)
        self.in_baseline[ended], self.block_count[ended] = False, 0
        probing = counting & ~baseline & (self.probe_action >= 0)
        self.block_count += probing
        late = probing & (self.block_count > self.block // 2)  # after the learners adapted
        self.block_hits += late[:, None] & (signals == self.probe_action[:, None])
        self.block_seen += late
        ended = np.flatnonzero(probing & (self.block_count >= self.block))
        if len(ended):
            share = self.block_hits[ended] / np.maximum(self.block_seen[ended], 1)[:, None]
            self.probe.record(share >= self.threshold, ended)
            for action in np.unique(self.probe_action[ended]):
                rows = ended[self.probe_action[ended] == action]
                self.bracket_lo[rows, :, action] = self.probe.lo[rows]
                self.bracket_hi[rows, :, action] = self.probe.hi[rows]
            self.block_count[ended], self.block_seen[ended] = 0, 0
            self.block_hits[ended] = 0.0

    def _count_compliance(self, steering: np.ndarray, contract: np.ndarray, signals: np.ndarray) -> None:
        rows = np.flatnonzero(steering)
        if not len(rows):
            return
        n = signals.shape[1]
        asked = contract[rows].argmax(axis=2)  # (R, N)
        paid = contract[rows].max(axis=2) > 0
        where = (rows[:, None], np.arange(n), asked)
        self.asked[where] += paid
        self.obeyed[where] += paid & (signals[rows] == asked)
        full = np.zeros_like(self.asked, dtype=bool)
        full[rows] = self.asked[rows] >= self.block
        failing = full & (self.obeyed < self.threshold * self.asked)
        self.tau[failing] = np.minimum(self.tau[failing] + self.margin, self.bound)
        self.asked[full], self.obeyed[full] = 0, 0

    # -- planning ----------------------------------------------------------------------
    def _plan(self, b: int) -> None:
        """Plan copy ``b``'s welfare-optimal policy on its estimated model (and be in phase 2)."""
        model = self.structure
        tau = np.where(np.isfinite(self.tau[b]), self.tau[b], 1e6)  # never plan an unimplementable action
        # c(s): observed welfare plus what the observed actions cost the agents (their tau),
        # smoothed by a least-squares fit on the state vector (weighted by visits) so that
        # states seen rarely, or never, get a sensible level too.
        seen = self.welfare_seen[b]
        visited = np.flatnonzero(seen)
        level_seen = (
            self.welfare_sum[b, visited] + np.einsum("snk,nk->s", self.actions_seen[b, visited], tau)
        ) / seen[visited]
        features = np.column_stack([np.ones(model.n_states), model.states.astype(np.float64)])
        weights = np.sqrt(seen[visited])
        coefficients, *_ = np.linalg.lstsq(
            features[visited] * weights[:, None], level_seen * weights, rcond=None
        )
        level = features @ coefficients
        estimated = self._estimated_model(self.transitions[b], level, tau)
        self.policy[b] = analysis.social_optimum(estimated).policy
        if self.phase[b] == 1:
            self.phase2_from[b] = int(seen.sum())
        self.phase[b] = 2
        self.since_plan[b] = 0

    def _estimated_model(self, counts: np.ndarray, level: np.ndarray, tau: np.ndarray) -> TabularModel:
        model = self.structure
        game = self._bound_game()
        n_states, n_classes = model.n_states, model.n_transition_classes
        # Unseen (state, class) pairs borrow the class's average displacement.
        law = np.zeros_like(counts)
        seen = counts.sum(axis=2)
        for g in range(n_classes):
            moves = np.zeros(2 * n_states - 1)
            for s in np.flatnonzero(seen[:, g]):
                moves[np.arange(n_states) - s + n_states - 1] += counts[s, g]
            for s in range(n_states):
                if seen[s, g]:
                    law[s, g] = counts[s, g] / seen[s, g]
                elif moves.sum():
                    shifted = np.zeros(n_states)
                    targets = np.clip(np.arange(2 * n_states - 1) - (n_states - 1) + s, 0, n_states - 1)
                    np.add.at(shifted, targets, moves)
                    law[s, g] = shifted / shifted.sum()
                else:
                    law[s, g, s] = 1.0
        successors = np.broadcast_to(np.arange(n_states), (n_states, n_classes, n_states)).copy()
        joint = model.joint_actions
        values = -tau[np.arange(game.n_agents)[None, :], joint]  # (A, N)
        utility = level[:, None, None] / game.n_agents + values[None, :, :]
        if model.symmetric:
            raise NotImplementedError("the two-phase planner works on the joint-action model")
        return TabularModel(
            states=model.states,
            joint_actions=joint,
            initial_distribution=model.initial_distribution,
            transition_class=model.transition_class,
            transitions=GatheredTransitions(successors, law),
            private_utility=np.ascontiguousarray(utility),
            principal_payoff=np.zeros((n_states, len(joint))),
            externality=np.zeros((n_states, len(joint))),
            signal_probabilities=model.signal_probabilities,
            horizon=model.horizon,
        )

    # -- reporting ---------------------------------------------------------------------
    def estimates(self, copy: int = 0) -> dict[str, np.ndarray]:
        """What copy ``copy`` has learned: ``tau`` (N, L), the bracket ``[lo, hi]`` of each
        search (its confidence), the phase, and when phase 2 began."""
        tau = self.tau[copy].copy()
        lo, hi = self.bracket_lo[copy].copy(), self.bracket_hi[copy].copy()
        favourite = tau == 0
        lo[favourite], hi[favourite] = 0.0, 0.0
        return {
            "tau": tau,
            "lo": lo,
            "hi": hi,
            "phase": np.array(self.phase[copy]),
            "phase2_from": np.array(self.phase2_from[copy]),
        }

    def info(self) -> dict[str, np.ndarray]:
        return {"phase": self.phase.copy() if self.n_copies else np.zeros(0, dtype=np.int64)}

    def _settings(self) -> dict[str, float]:
        names = ("total_periods", "probe_scale", "min_block", "threshold", "bisection_steps", "margin")
        return {name: getattr(self, name) for name in (*names, "warmup_scale", "replan_every")}

    def state_dict(self) -> dict[str, Any]:
        """Settings and every copy's state, as plain values and arrays."""
        arrays = {name: getattr(self, name).copy() for name in _STATE} if self.n_copies else {}
        probe = {name: getattr(self.probe, name).copy() for name in _PROBE_STATE} if self.n_copies else {}
        return {"settings": self._settings(), "n_copies": self.n_copies, "arrays": arrays, "probe": probe}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["settings"] != self._settings():
            raise ValueError(
                f"this state was saved with settings {state['settings']}; this mechanism has "
                f"{self._settings()}"
            )
        self.n_copies = int(state["n_copies"])
        if not self.n_copies:
            return
        self.probe = _Probe((1, 1), 0, float(self.bound), self.bisection_steps)
        for name in _STATE:
            setattr(self, name, np.array(state["arrays"][name]))
        for name in _PROBE_STATE:
            setattr(self.probe, name, np.array(state["probe"][name]))


# What a run needs to resume: every per-copy array of the mechanism and of its searches.
_STATE = (
    "phase", "warmup_left", "in_baseline", "baseline_counts", "favourite", "tau", "block_count",
    "block_hits", "block_seen", "probe_action", "next_action", "bracket_lo", "bracket_hi",
    "welfare_sum", "welfare_seen", "actions_seen", "transitions", "policy", "since_plan",
    "phase2_from", "asked", "obeyed",
)  # fmt: skip
_PROBE_STATE = ("lo", "hi", "bonus", "bisections_left", "done")
