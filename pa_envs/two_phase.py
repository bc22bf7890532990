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
    """The doubling-then-bisection search of one action for every agent of one copy."""

    def __init__(self, n_agents: int, action: int, bound: float, steps: int) -> None:
        self.action = action
        self.bound = bound
        self.lo = np.zeros(n_agents)  # largest bonus that failed (0: none tried yet)
        self.hi = np.full(n_agents, np.inf)  # smallest bonus that worked
        self.bonus = np.zeros(n_agents)  # the bonus of the current block
        self.bisections_left = np.full(n_agents, steps)
        self.done = np.zeros(n_agents, dtype=bool)

    def record(self, complied: np.ndarray) -> None:
        """One block ended: ``complied[i]`` says whether agent ``i`` chose the action enough."""
        for i in np.flatnonzero(~self.done):
            if complied[i]:
                self.hi[i] = self.bonus[i]
            else:
                self.lo[i] = self.bonus[i]
            if np.isinf(self.hi[i]):  # still doubling
                if self.bonus[i] >= self.bound:
                    self.done[i] = True  # not implementable within the bound
                    continue
                self.bonus[i] = min(self.bound, max(self.bound / 2 ** (_DOUBLINGS - 1), 2 * self.bonus[i]))
            elif self.hi[i] == 0.0 or self.bisections_left[i] == 0:
                self.done[i] = True
            else:
                self.bisections_left[i] -= 1
                self.bonus[i] = 0.5 * (self.lo[i] + self.hi[i])


class _CopyState:
    """Everything one copy's principal has learned."""

    def __init__(self, n_agents: int, n_actions: int, n_states: int, n_classes: int) -> None:
        self.phase = 1
        self.probes: list[_Probe] = []
        self.next_action = 0
        # A first block without transfers finds each agent's favourite action (tau = 0).
        self.baseline_counts: np.ndarray | None = np.zeros((n_agents, n_actions))
        self.warmup_left = 0
        self.favourite = np.full(n_agents, -1)
        self.tau = np.full((n_agents, n_actions), np.nan)
        self.block_count = 0
        self.block_hits = np.zeros(n_agents)
        self.block_seen = 0
        # Observations for the planner: welfare and the actions taken, per state.
        self.welfare_sum = np.zeros(n_states)
        self.welfare_seen = np.zeros(n_states)
        self.actions_seen = np.zeros((n_states, n_agents, n_actions))
        self.transitions = np.zeros((n_states, n_classes, n_states))
        self.policy: np.ndarray | None = None
        # Phase 2 compliance per (agent, action).
        self.since_plan = 0
        self.phase2_from = -1  # periods played when phase 2 began
        self.asked = np.zeros((n_agents, n_actions))
        self.obeyed = np.zeros((n_agents, n_actions))


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
        self.copies: list[_CopyState] = []

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
        if self.copies and len(self.copies) != batch_size:
            raise ValueError(
                f"TwoPhaseMechanism learns per copy: it has {len(self.copies)} copies, got a batch of "
                f"{batch_size}; use a new mechanism for another batch size"
            )
        if not self.copies:
            model = self.structure
            self.copies = [
                _CopyState(game.n_agents, game.n_actions, model.n_states, model.n_transition_classes)
                for _ in range(batch_size)
            ]
            for copy in self.copies:
                copy.warmup_left = self.warmup_periods

    # -- acting ------------------------------------------------------------------------
    def contract(self, inputs: MechanismInput) -> np.ndarray:
        game = self._bound_game()
        out = self._zeros(len(inputs.period))
        states = self.structure.state_index(inputs.state)
        for b, copy in enumerate(self.copies):
            if copy.baseline_counts is not None:
                continue  # the baseline block: no transfers
            if copy.phase == 1:
                probe = self._current_probe(copy)
                if probe is not None:
                    out[b, :, probe.action] = probe.bonus
                    continue
                self._plan(copy)
            t = min(int(inputs.period[b]), copy.policy.shape[0] - 1)
            targets = self.structure.joint_actions[copy.policy[t, states[b]]]
            paid = copy.tau[np.arange(game.n_agents), targets]
            bonus = np.where(paid > 0, np.minimum(paid + self.margin, self.bound), 0.0)
            out[b, np.arange(game.n_agents), targets] = bonus
        return out

    def _current_probe(self, copy: _CopyState) -> _Probe | None:
        game = self._bound_game()
        while True:
            if copy.probes and not copy.probes[-1].done.all():
                return copy.probes[-1]
            if copy.probes:
                finished = copy.probes[-1]
                copy.tau[:, finished.action] = finished.hi
            if copy.next_action >= game.n_actions:
                return None
            probe = _Probe(game.n_agents, copy.next_action, self.bound, self.bisection_steps)
            # Agents for whom this is the favourite action need no bonus: their search is over.
            favourite = copy.favourite == copy.next_action
            probe.hi[favourite], probe.done[favourite] = 0.0, True
            copy.next_action += 1
            if not probe.done.all():
                copy.probes.append(probe)
            else:
                copy.tau[:, probe.action] = probe.hi

    # -- learning ----------------------------------------------------------------------
    def update(self, feedback: PeriodFeedback) -> None:
        game = self._bound_game()
        states = self.structure.state_index(feedback.state)
        following = self.structure.state_index(feedback.next_state)
        joint = self.structure.joint_action_index(feedback.signals, game.n_actions)
        classes = self.structure.transition_class[joint]
        rows = np.arange(game.n_agents)
        for b, copy in enumerate(self.copies):
            copy.welfare_sum[states[b]] += feedback.social_welfare[b]
            copy.welfare_seen[states[b]] += 1
            copy.actions_seen[states[b], rows, feedback.signals[b]] += 1
            copy.transitions[states[b], classes[b], following[b]] += 1
            if copy.phase == 1:
                self._count_probe(copy, feedback.signals[b])
            else:
                self._count_compliance(copy, feedback.contract[b], feedback.signals[b])
                copy.since_plan += 1
                if copy.since_plan >= self.replan_every and feedback.done[b]:
                    self._plan(copy)  # what phase 2 has seen refines the model

    def _count_probe(self, copy: _CopyState, signals: np.ndarray) -> None:
        if copy.warmup_left > 0:  # the learners settle before anything is measured
            copy.warmup_left -= 1
            return
        if copy.baseline_counts is not None:
            copy.block_count += 1
            if copy.block_count > self.block // 2:
                copy.baseline_counts[np.arange(len(signals)), signals] += 1
            if copy.block_count >= self.block:
                copy.favourite = copy.baseline_counts.argmax(axis=1)
                copy.baseline_counts, copy.block_count = None, 0
            return
        probe = copy.probes[-1] if copy.probes else None
        if probe is None:
            return
        copy.block_count += 1
        if copy.block_count > self.block // 2:  # the second half: after the learners adapted
            copy.block_hits += signals == probe.action
            copy.block_seen += 1
        if copy.block_count >= self.block:
            probe.record(copy.block_hits / max(copy.block_seen, 1) >= self.threshold)
            copy.block_count, copy.block_seen = 0, 0
            copy.block_hits[:] = 0

    def _count_compliance(self, copy: _CopyState, contract: np.ndarray, signals: np.ndarray) -> None:
        game = self._bound_game()
        asked = contract.argmax(axis=1)
        paid = contract.max(axis=1) > 0
        rows = np.arange(game.n_agents)
        copy.asked[rows[paid], asked[paid]] += 1
        copy.obeyed[rows[paid], asked[paid]] += signals[paid] == asked[paid]
        full = copy.asked >= self.block
        if full.any():
            failing = full & (copy.obeyed < self.threshold * copy.asked)
            copy.tau[failing] = np.minimum(copy.tau[failing] + self.margin, self.bound)
            copy.asked[full], copy.obeyed[full] = 0, 0

    # -- planning ----------------------------------------------------------------------
    def _plan(self, copy: _CopyState) -> None:
        """Plan the welfare-optimal policy on the estimated model (and be in phase 2)."""
        model = self.structure
        tau = np.where(np.isfinite(copy.tau), copy.tau, 1e6)  # never plan an unimplementable action
        # c(s): observed welfare plus what the observed actions cost the agents (their tau),
        # smoothed by a least-squares fit on the state vector (weighted by visits) so that
        # states seen rarely, or never, get a sensible level too.
        seen = copy.welfare_seen
        visited = np.flatnonzero(seen)
        level_seen = (
            copy.welfare_sum[visited] + np.einsum("snk,nk->s", copy.actions_seen[visited], tau)
        ) / seen[visited]
        features = np.column_stack([np.ones(model.n_states), model.states.astype(np.float64)])
        weights = np.sqrt(seen[visited])
        coefficients, *_ = np.linalg.lstsq(
            features[visited] * weights[:, None], level_seen * weights, rcond=None
        )
        level = features @ coefficients
        estimated = self._estimated_model(copy, level, tau)
        copy.policy = analysis.social_optimum(estimated).policy
        if copy.phase == 1:
            copy.phase2_from = int(copy.welfare_seen.sum())
        copy.phase = 2
        copy.since_plan = 0

    def _estimated_model(self, copy: _CopyState, level: np.ndarray, tau: np.ndarray) -> TabularModel:
        model = self.structure
        game = self._bound_game()
        counts = copy.transitions  # (S, G, S)
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
        search (its confidence), the phase, and the planned policy."""
        state = self.copies[copy]
        lo = np.full_like(state.tau, np.nan)
        hi = np.full_like(state.tau, np.nan)
        favourite = state.tau == 0
        lo[favourite], hi[favourite] = 0.0, 0.0
        for probe in state.probes:
            lo[:, probe.action], hi[:, probe.action] = probe.lo, probe.hi
        return {
            "tau": state.tau.copy(),
            "lo": lo,
            "hi": hi,
            "phase": np.array(state.phase),
            "phase2_from": np.array(state.phase2_from),
        }

    def info(self) -> dict[str, np.ndarray]:
        return {"phase": np.array([c.phase for c in self.copies])}

    def _settings(self) -> dict[str, float]:
        names = ("total_periods", "probe_scale", "min_block", "threshold", "bisection_steps", "margin")
        return {name: getattr(self, name) for name in (*names, "warmup_scale", "replan_every")}

    def state_dict(self) -> dict[str, Any]:
        """Settings and every copy's state, as plain values and arrays."""

        def plain(obj: object) -> dict[str, Any]:
            return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(obj).items()}

        copies = []
        for copy in self.copies:
            record = plain(copy)
            record["probes"] = [plain(probe) for probe in copy.probes]
            copies.append(record)
        return {"settings": self._settings(), "copies": copies}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["settings"] != self._settings():
            raise ValueError(
                f"this state was saved with settings {state['settings']}; this mechanism has "
                f"{self._settings()}"
            )
        self.copies = []
        for record in state["copies"]:
            copy = _CopyState.__new__(_CopyState)
            for key, value in record.items():
                if key != "probes":
                    setattr(copy, key, value.copy() if isinstance(value, np.ndarray) else value)
            copy.probes = []
            for fields in record["probes"]:
                probe = _Probe.__new__(_Probe)
                for key, value in fields.items():
                    setattr(probe, key, value.copy() if isinstance(value, np.ndarray) else value)
                copy.probes.append(probe)
            self.copies.append(copy)
