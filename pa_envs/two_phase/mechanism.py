"""The two-phase mechanism: a principal that learns what incentives cost and what they buy, then steers.

See :mod:`pa_envs.two_phase` for the method; this module binds its parts
(:mod:`~pa_envs.two_phase.schedule`, :mod:`~pa_envs.two_phase.pricing`,
:mod:`~pa_envs.two_phase.estimator`) into a batch-first
:class:`~pa_envs.core.mechanism.Mechanism`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from pa_envs.core import rng as counter_rng
from pa_envs.core.game import Game, check_int, check_real
from pa_envs.core.mechanism import Mechanism, MechanismInput, PeriodFeedback
from pa_envs.core.numerics import ObservationIndex, place_values
from pa_envs.two_phase.estimator import EmpiricalModel, plan
from pa_envs.two_phase.pricing import PriceSearch
from pa_envs.two_phase.schedule import Schedule

_all, _any, _max = np.logical_and.reduce, np.logical_or.reduce, np.maximum.reduce

WARMUP, PRICING, EXPLORE, STEER = 0, 1, 2, 3
STAGES = ("warm-up", "pricing", "exploring", "steering")
# Entries of one copy's transition counts (observed states x labels x observed states) at most.
MAX_MODEL_ENTRIES = 50_000_000
REPLAN_GROWTH = 0.4  # phase 2 plans again once the periods seen have grown by this share
REPLAN_SOON = 0.05  # ... or by this share, after a target turned out not to be implementable
COMPLIANCE = 0.5  # share of asked periods an agent must obey in phase 2 before its price is raised


class TwoPhaseMechanism(Mechanism):
    """A principal that learns from play, not the model: phase 1 prices incentives, phase 2 steers.

    Phase 1 learns the prices of incentives and what they buy; phase 2 plans and steers.

    It reads nothing from the env's exact model: only the spaces (players,
    actions and signals, the principal's observation grid, the horizon,
    ``max_transfer``) and, each period, what a principal observes: its
    observation of the state, the contract it posted, the agents' contractible
    signals, the realized social welfare and the next observation.

    Parameters
    ----------
    total_periods : int or sequence of int
        Periods the run lasts (episodes x ``max_cycles``), or one value per copy:
        sets the schedule (:mod:`pa_envs.two_phase.schedule`).
    phase1_scale, warmup_share, pricing_share, tolerance_scale, margin_scale
        The schedule's constants.
    min_block : int, optional
        Fewest periods in a price search's block: what the learners need to answer
        a new contract (default: one episode, ``max_cycles``).
    threshold : float
        Share of the largest bonus's effect that counts as working (see
        :mod:`pa_envs.two_phase.pricing`).
    min_label_periods : int
        Periods a label (joint signal, or joint option) must have been seen before
        the planner may choose it.
    compliance_check : int
        In phase 2, periods an agent is asked for a signal in a state before its
        compliance there is judged (signals that are actions only).
    transition_classes : array_like, optional
        Structure the principal is told instead of learning it: for each joint
        signal (index ``sum_i k_i * K**(N-1-i)``) its transition class (joint
        signals of one class move the state alike). Only where signals are
        actions. Default: one law per joint signal, learned.
    seed : int
        Seeds the exploration stage's random contract options (copy ``b`` uses
        ``seed + b``).
    """

    name = "two_phase"

    def __init__(
        self,
        total_periods: int | Sequence[int] = 100_000,
        *,
        phase1_scale: float = 3.0,
        warmup_share: float = 0.15,
        pricing_share: float = 0.55,
        min_block: int | None = None,
        threshold: float = 0.8,
        tolerance_scale: float = 0.05,
        margin_scale: float = 0.02,
        min_label_periods: int = 10,
        compliance_check: int = 10,
        transition_classes: np.ndarray | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        periods = np.atleast_1d(np.asarray(total_periods, dtype=object))
        if periods.ndim != 1 or len(periods) == 0:
            raise ValueError(
                f"total_periods must be a positive int or a sequence of them, got {total_periods!r}"
            )
        for value in periods:
            check_int("total_periods", value, 1)
        self.total_periods = [int(v) for v in periods] if np.ndim(total_periods) else int(periods[0])
        check_real("phase1_scale", phase1_scale, 0.0, 1e6, open_low=True)
        check_real("warmup_share", warmup_share, 0.0, 1.0)
        check_real("pricing_share", pricing_share, 0.0, 1.0)
        if warmup_share + pricing_share > 1.0:
            raise ValueError(
                f"warmup_share + pricing_share must be at most 1, got {warmup_share} + {pricing_share}"
            )
        if min_block is not None:
            check_int("min_block", min_block, 2)
        check_real("threshold", threshold, 0.0, 1.0, open_low=True)
        check_real("tolerance_scale", tolerance_scale, 0.0, 1.0, open_low=True)
        check_real("margin_scale", margin_scale, 0.0, 1.0)
        check_int("min_label_periods", min_label_periods, 1)
        check_int("compliance_check", compliance_check, 1)
        check_int("seed", seed, 0)
        self.phase1_scale, self.warmup_share = float(phase1_scale), float(warmup_share)
        self.pricing_share, self.min_block = float(pricing_share), min_block
        self.threshold, self.tolerance_scale = float(threshold), float(tolerance_scale)
        self.margin_scale, self.min_label_periods = float(margin_scale), int(min_label_periods)
        self.compliance_check, self.seed = int(compliance_check), int(seed)
        self.transition_classes = None if transition_classes is None else np.asarray(transition_classes)
        self.n_copies = 0

    # -- binding ------------------------------------------------------------------------
    def bind(self, game: Game) -> None:
        super().bind(game)
        n, k = game.n_agents, game.n_signals
        self.choices_visible = tuple(game.signal_names) == tuple(game.action_names)
        # A choice per agent: a target signal where signals are actions; else an option,
        # 0 = no transfer or 1 + k = a bonus on signal k.
        self.n_choices = k if self.choices_visible else k + 1
        self.n_labels = self.n_choices**n
        self.observations = ObservationIndex(game.principal_features_high())
        n_states = self.observations.size
        classes = self.transition_classes
        if classes is not None:
            if not self.choices_visible:
                raise ValueError(
                    f"transition_classes are per joint signal, which only tells the joint action where "
                    f"signals are actions; {game.name}'s signals {game.signal_names} are not"
                )
            if (
                classes.shape != (self.n_labels,)
                or not np.issubdtype(classes.dtype, np.integer)
                or classes.min() < 0
            ):
                raise ValueError(
                    f"transition_classes must be {self.n_labels} non-negative ints (one per joint signal), "
                    f"got shape {classes.shape}"
                )
        kinds = self.n_labels if classes is None else int(classes.max()) + 1
        # The transition counts, and the residual histograms of a plan (up to max_bins per pair).
        entries = n_states * kinds * max(n_states, EmpiricalModel.max_bins)
        if entries > MAX_MODEL_ENTRIES:
            raise ValueError(
                f"TwoPhaseMechanism on {game.name}: its empirical model needs {n_states} observed states "
                f"x {kinds} labels x {max(n_states, EmpiricalModel.max_bins)} = {entries:.2e} numbers per "
                "copy, above "
                f"{MAX_MODEL_ENTRIES:.0e}; use fewer agents or a smaller state space, or pass "
                "transition_classes"
            )
        self.radix = place_values(np.full(n, self.n_choices))  # label = choices @ radix
        self.label_choices = np.arange(self.n_labels)[:, None] // self.radix % self.n_choices
        self.coordinates = self.observations.features(np.arange(n_states))
        self.horizon = game.params.max_cycles
        self.bound = float(game.params.max_transfer)
        if isinstance(self.total_periods, int):
            self._check_length(self._schedule(np.array([self.total_periods])), game)
        self.n_copies = 0  # allocated at the first start_episodes

    def _schedule(self, totals: np.ndarray) -> Schedule:
        game = self._bound_game()
        return Schedule.of(
            totals, self.horizon, self.bound, game.n_signals,
            phase1_scale=self.phase1_scale, warmup_share=self.warmup_share,
            pricing_share=self.pricing_share,
            min_block=self.min_block if self.min_block is not None else self.horizon,
            tolerance_scale=self.tolerance_scale, margin_scale=self.margin_scale,
        )  # fmt: skip

    @staticmethod
    def _check_length(schedule: Schedule, game: Game) -> None:
        longest = schedule.longest_phase1()
        short = np.flatnonzero(longest > schedule.total)
        if len(short):
            warnings.warn(
                f"TwoPhaseMechanism on {game.name}: phase 1 needs up to {int(longest[short[0]])} periods but "
                f"the run lasts total_periods={int(schedule.total[short[0]])}: it may not reach phase 2",
                stacklevel=3,
            )

    @property
    def phase1_periods_expected(self) -> int:
        """The longest phase 1 of copy 0 (every search running every block)."""
        totals = np.atleast_1d(self.total_periods)[:1]
        return int(self._schedule(totals).longest_phase1()[0])

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
        totals = np.atleast_1d(self.total_periods)
        if len(totals) not in (1, b):
            raise ValueError(
                f"TwoPhaseMechanism has total_periods for {len(totals)} copies, got a batch of {b}"
            )
        self.schedule = self._schedule(np.broadcast_to(totals, (b,)).copy())
        if len(totals) > 1:
            self._check_length(self.schedule, game)
        n, k, s = game.n_agents, game.n_signals, self.observations.size
        self.n_copies = b
        self._every, self._none = np.arange(b), np.zeros(0, dtype=np.int64)
        self._agents = np.arange(n)[None, :]
        for shared in (self._every, self._none, self._agents):  # handed to every stage: read-only
            shared.flags.writeable = False
        self.stage = np.zeros(b, dtype=np.int64)
        self.played = np.zeros(b, dtype=np.int64)
        self.position = np.zeros(b, dtype=np.int64)  # periods into the warm-up or the current block
        self.signal = np.zeros(b, dtype=np.int64)  # the signal being priced
        self.hits = np.zeros((b, n))  # the level arm's periods with the signal, this block
        self.offered = np.zeros((b, n))  # the level arm's periods, this block
        self.pricing = PriceSearch(
            (b, n), k, self.bound, self.schedule.steps, self.threshold, self.choices_visible
        )
        self.explore_left = np.zeros(b, dtype=np.int64)
        self.model = EmpiricalModel(
            b, self.coordinates, self.n_labels, self.transition_classes, self.label_choices
        )
        self.price = np.full((b, n, s, k), np.inf)  # phase 2's prices per state
        # What posting each target pays (its price plus the margin, capped; 0 where unpaid),
        # kept with the prices (_reprice): phase 2 posts every period, prices change rarely.
        self.offer = np.zeros((b, n, s, k))
        # Every copy's flat base in the (B, N, S, K) tables and in a (B, N, K) contract.
        self._table_every = (self._every[:, None] * n + self._agents) * s
        self._contract_every = (self._every[:, None] * n + self._agents) * k
        self.failures = np.zeros((b, n, s, k), dtype=np.int64)
        self.asked = np.zeros((b, n, s, k))
        self.obeyed = np.zeros((b, n, s, k))
        self.policy = np.zeros((b, self.horizon, s), dtype=np.int64)
        self.next_plan = np.zeros(b, dtype=np.int64)
        self.plans = np.zeros(b, dtype=np.int64)
        self.phase2_from = np.full(b, -1, dtype=np.int64)
        self.choices = np.zeros((b, n), dtype=np.int64)  # what was posted: the period's choices
        self.posted = np.full(b, -1, dtype=np.int64)  # the joint option label posted (-1: none)
        # A stream of its own (never an env's or a learner's): seeds offset by 2 * 2**64.
        self.keys = np.array(
            [counter_rng.key_from_seed(counter_rng.MECHANISM_STREAM + self.seed + c) for c in range(b)],
            dtype=np.uint64,
        )

    # -- acting ---------------------------------------------------------------------------
    def contract(self, inputs: MechanismInput) -> np.ndarray:
        game = self._bound_game()
        batch = len(inputs.period)
        out = self._zeros(batch)
        obs = self.observations(np.asarray(inputs.observation).astype(np.int64))
        self.posted[:] = -1
        present = np.bincount(self.stage, minlength=len(STAGES))  # most periods have one or two stages
        pricing = self._rows_in(PRICING, present)
        if len(pricing):
            draws = counter_rng.batch_uniforms(
                self.keys[pricing], self.played[pricing].astype(np.uint64), game.n_agents
            )
            out[pricing, :, self.signal[pricing]] = self.pricing.bonus(pricing, self.signal[pricing], draws)
        exploring = self._rows_in(EXPLORE, present)
        if len(exploring):
            draws = counter_rng.batch_uniforms(
                self.keys[exploring], self.played[exploring].astype(np.uint64), game.n_agents
            )
            allowed = self._admissible(exploring, obs[exploring])  # (R, N, C)
            count = allowed.sum(axis=2)
            pick = np.minimum((draws * count).astype(np.int64), count - 1)
            order = np.cumsum(allowed, axis=2) - 1  # rank of each allowed choice
            choices = (allowed & (order == pick[:, :, None])).argmax(axis=2)
            self._post(out, exploring, obs[exploring], choices)
        steering = self._rows_in(STEER, present)
        if len(steering):
            t = np.minimum(inputs.period[steering], self.horizon - 1)
            labels = self.policy[steering, t, obs[steering]]
            self._post(out, steering, obs[steering], self.label_choices[labels])
        return out

    def _rows_in(self, stage: int, present: np.ndarray) -> np.ndarray:
        """The copies in ``stage`` (``present``: how many copies are in each stage)."""
        if present[stage] == self.n_copies:
            return self._every
        return self._none if not present[stage] else np.flatnonzero(self.stage == stage)

    def _admissible(self, rows: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """``(R, N, C)`` which choices each agent can be offered in its copy's state."""
        finite = np.isfinite(self.price[rows, :, obs, :])  # (R, N, K)
        if self.choices_visible:
            return finite
        return np.concatenate([np.ones((*finite.shape[:2], 1), dtype=bool), finite], axis=2)

    def _post(self, out: np.ndarray, rows: np.ndarray, obs: np.ndarray, choices: np.ndarray) -> None:
        """Post ``choices`` ``(R, N)`` in copies ``rows``: the price (plus the margin) on each target."""
        self.choices[rows] = choices
        signal = choices if self.choices_visible else np.maximum(choices - 1, 0)
        bonus = self.offer.take(self._price_index(rows, obs, signal))
        if not self.choices_visible:  # option 0 posts nothing
            bonus = np.where(choices > 0, bonus, 0.0)
            self.posted[rows] = choices @ self.radix
        if rows is self._every:
            out.put(self._contract_every + signal, bonus)
        else:
            n, k = out.shape[1:]
            out.put((rows[:, None] * n + self._agents) * k + signal, bonus)

    def _price_index(self, rows: np.ndarray, obs: np.ndarray, signal: np.ndarray) -> np.ndarray:
        """``(R, N)`` flat index of ``[row, agent, obs[row], signal[row, agent]]`` in the
        ``(B, N, S, K)`` tables (price, offer, failures, asked, obeyed): one gather, not four
        index arrays."""
        _, n, s, k = self.price.shape
        if rows is self._every:
            return (self._table_every + obs[:, None]) * k + signal
        return ((rows[:, None] * n + self._agents) * s + obs[:, None]) * k + signal

    def _offer_of(self, price: np.ndarray, margin: np.ndarray) -> np.ndarray:
        """What posting targets of ``price`` pays: the price plus ``margin`` (broadcast), at
        most the bound; 0 for a target not priced (inf) or free (0)."""
        return np.where(np.isfinite(price) & (price > 0), np.minimum(price + margin, self.bound), 0.0)

    def _reprice(self, rows: np.ndarray) -> None:
        """Copies ``rows``' offers from their prices (after the prices changed)."""
        self.offer[rows] = self._offer_of(self.price[rows], self.schedule.margin[rows, None, None, None])

    # -- learning -------------------------------------------------------------------------
    def update(self, feedback: PeriodFeedback) -> None:
        game = self._bound_game()
        if feedback.active is None:  # every copy played: no copy to pick out (the learning loop)
            copies = self._every
            signals, state, next_state = map(
                np.asarray, (feedback.signals, feedback.state, feedback.next_state)
            )
            welfare, done = np.asarray(feedback.social_welfare), np.asarray(feedback.done)
            stage = self.stage.copy()  # as it was when the period was played
        else:
            copies = np.flatnonzero(np.asarray(feedback.active))
            if not len(copies):
                return
            signals = np.asarray(feedback.signals)[copies]
            state, next_state = np.asarray(feedback.state)[copies], np.asarray(feedback.next_state)[copies]
            welfare, done = np.asarray(feedback.social_welfare)[copies], np.asarray(feedback.done)[copies]
            stage = self.stage[copies]
        obs = self.observations(game.principal_features(state))
        following = self.observations(game.principal_features(next_state))
        if self.choices_visible:
            labels = signals @ self.radix
        else:  # what was posted; the warm-up posts nothing (all free), pricing is not recorded
            labels = np.where(stage == WARMUP, 0, self.posted[copies])
        kept = None if self.choices_visible else labels >= 0  # seen choices are always labels
        if kept is None or _all(kept, axis=None):
            self.model.record(copies, obs, labels, welfare, following)
        else:
            self.model.record(copies[kept], obs[kept], labels[kept], welfare[kept], following[kept])
        if copies is self._every:  # every copy: in place, no index arrays
            self.played += 1
            self.position += 1
        else:
            self.played[copies] += 1
            self.position[copies] += 1
        present = np.bincount(stage, minlength=len(STAGES))
        alone = not len(stage) or present[stage[0]] == len(stage)  # one stage: no picking
        if present[WARMUP]:
            self._warm_up(copies if alone else copies[stage == WARMUP])
        if present[PRICING]:
            at = None if alone else stage == PRICING
            self._price(copies if alone else copies[at], signals if alone else signals[at])
        if present[EXPLORE]:
            self.explore_left[copies if alone else copies[stage == EXPLORE]] -= 1
        if present[STEER] and self.choices_visible:
            at = None if alone else stage == STEER
            self._count_compliance(
                copies if alone else copies[at], obs if alone else obs[at], signals if alone else signals[at]
            )
        if not done.any():
            return
        ready = copies[done & (((stage == EXPLORE) & (self.explore_left[copies] <= 0)) | (stage == STEER))]
        for b in ready:
            if self.stage[b] == EXPLORE or self.played[b] >= self.next_plan[b]:
                self._plan(int(b))

    def _warm_up(self, rows: np.ndarray) -> None:
        ended = rows[self.position[rows] >= self.schedule.warmup[rows]]
        if len(ended):
            self._start_search(ended, np.zeros(len(ended), dtype=np.int64))

    def _start_search(self, rows: np.ndarray, signal: np.ndarray) -> None:
        self.stage[rows], self.signal[rows], self.position[rows] = PRICING, signal, 0
        self.hits[rows], self.offered[rows] = 0.0, 0.0
        self.pricing.open(rows, signal)

    def _price(self, rows: np.ndarray, signals: np.ndarray) -> None:
        if not len(rows):
            return
        block = self.schedule.block[rows]
        late = self.position[rows] > block // 2  # the first half lets the learners adapt
        sent = signals == self.signal[rows, None]
        hits, offered = self.pricing.observe(rows, self.signal[rows], sent, late)
        self.hits[rows] += hits
        self.offered[rows] += offered
        ended = rows[self.position[rows] >= block]
        if not len(ended):
            return
        self.pricing.close_block(ended, self.signal[ended], self.hits[ended], self.offered[ended])
        self.position[ended], self.hits[ended], self.offered[ended] = 0, 0.0, 0.0
        finished = ended[self.pricing.done(ended)]
        following = self.signal[finished] + 1
        last = following >= self._bound_game().n_signals
        self._start_search(finished[~last], following[~last])
        self._start_exploring(finished[last])

    def _start_exploring(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        tau = np.where(np.isnan(self.pricing.tau[rows]), np.inf, self.pricing.tau[rows])  # (R, N, K)
        self.price[rows] = tau[:, :, None, :]
        self._reprice(rows)
        self.stage[rows], self.position[rows] = EXPLORE, 0
        self.explore_left[rows] = self.schedule.explore[rows]

    def _count_compliance(self, rows: np.ndarray, obs: np.ndarray, signals: np.ndarray) -> None:
        target = self.choices[rows]
        where = self._price_index(rows, obs, target)  # distinct per row and agent
        asked = self.asked.take(where) + 1.0
        obeyed = self.obeyed.take(where) + (signals == target)
        judged = asked >= self.compliance_check
        if _any(judged, axis=None):
            failing = judged & (obeyed < COMPLIANCE * asked)
            if _any(failing, axis=None):  # most judgements pass: nothing to raise
                self._raise_prices(rows, where, failing)
            asked[judged] = 0.0  # a judged target starts a new count
            obeyed[judged] = 0.0
        self.asked.put(where, asked)
        self.obeyed.put(where, obeyed)

    def _raise_prices(self, rows: np.ndarray, where: np.ndarray, failing: np.ndarray) -> None:
        """Raise the price of every ``failing`` target (flat indices ``where``, ``(R, N)``)."""
        price, failures = self.price.take(where), self.failures.take(where)
        # Halfway to the largest bonus (from 0: a tolerance's worth first); at the bound: not here.
        tolerance = self.schedule.tolerance[rows, None]
        halfway = np.where(price > 0, 0.5 * (price + self.bound), tolerance)
        raised = np.where(
            price >= self.bound - tolerance, np.where(price >= self.bound, np.inf, self.bound), halfway
        )
        price = np.where(failing, raised, price)
        self.price.put(where, price)
        self.offer.put(where, self._offer_of(price, self.schedule.margin[rows, None]))
        self.failures.put(where, failures + failing)
        # A target no price reaches: plan again soon (after a twentieth more data), not at once.
        lost = rows[(failing & ~np.isfinite(raised)).any(axis=1)]
        if not len(lost):
            return
        soon = self.played[lost] + np.maximum(
            self.horizon, (self.played[lost] * REPLAN_SOON).astype(np.int64)
        )
        self.next_plan[lost] = np.minimum(self.next_plan[lost], soon)

    # -- planning -------------------------------------------------------------------------
    def _plan(self, b: int) -> None:
        """Plan copy ``b``'s policy on everything it has seen (and be in phase 2)."""
        # Small matrices: one BLAS thread (several cost 4x on a busy 2-core machine).
        with threadpool_limits(limits=1, user_api="blas"):
            self._plan_now(b)

    def _plan_now(self, b: int) -> None:
        labels = np.flatnonzero(self.model.visits[b].sum(axis=0) >= self.min_label_periods)
        if not len(labels):
            labels = np.flatnonzero(self.model.visits[b].sum(axis=0) > 0)
        if not len(labels):  # nothing seen at all: keep exploring
            return
        welfare = self.model.welfare(b, labels)
        transitions = self.model.transitions(b, labels)
        choices = self.label_choices[labels]  # (J', N)
        admissible = self._admissible(np.full(self.observations.size, b), np.arange(self.observations.size))
        allowed = admissible[:, np.arange(choices.shape[1])[None, :], choices].all(axis=2)  # (S, J')
        assert isinstance(allowed, np.ndarray)  # a 3-D reduction (numpy's stubs allow a scalar)
        self.policy[b] = labels[plan(welfare, transitions, allowed, self.horizon)]
        if self.stage[b] != STEER:
            self.stage[b] = STEER
            self.phase2_from[b] = self.played[b]
        # Plan again once the data have grown by 40% (at least an episode's worth later).
        self.next_plan[b] = self.played[b] + max(self.horizon, int(REPLAN_GROWTH * self.played[b]))
        self.plans[b] += 1

    # -- reporting ------------------------------------------------------------------------
    def estimates(self, copy: int = 0) -> dict[str, np.ndarray]:
        """What copy ``copy`` has learned: the prices ``tau`` (N, K) of phase 1 (``inf``:
        not implementable, ``nan``: not searched yet) with their brackets ``[lo, hi]``,
        the stage, phase, the period phase 2 began and the plans made."""
        self._check_copy(copy)
        tau = self.pricing.tau[copy].copy()
        lo, hi = self.pricing.lo[copy].copy(), self.pricing.hi[copy].copy()
        lo[tau == 0], hi[tau == 0] = 0.0, 0.0
        return {
            "tau": tau,
            "lo": lo,
            "hi": hi,
            "stage": np.array(STAGES[self.stage[copy]]),
            "phase": np.array(2 if self.stage[copy] == STEER else 1),
            "phase2_from": np.array(self.phase2_from[copy]),
            "plans": np.array(self.plans[copy]),
        }

    def assumptions(self, copy: int = 0) -> dict[str, Any]:
        """Which of the theory's assumptions copy ``copy`` found to fail, and what it did instead.

        The guarantee assumes signals that show the agents' actions, prices that do not
        depend on the state or on the others' play, and every action implementable.
        """
        self._check_copy(copy)
        game = self._bound_game()
        tau = self.pricing.tau[copy]
        raised = self.failures[copy] > 0
        blocked = [
            f"agent_{i}: {game.signal_names[k]}" for i, k in zip(*np.nonzero(np.isinf(tau)), strict=True)
        ]
        return {
            "signals_are_actions": bool(self.choices_visible),
            "prices_depend_on_state": bool(raised.any()),
            "states_with_raised_prices": int(raised.any(axis=(0, 2)).sum()),
            "not_implementable": blocked,
            "notes": [
                note
                for flag, note in (
                    (
                        not self.choices_visible,
                        "signals are outcomes, not actions: prices are bonuses that shift the signal's "
                        "frequency, and the planner works per posted contract option",
                    ),
                    (
                        bool(raised.any()),
                        "an agent's price depends on the state or on the others: phase 2 raised prices "
                        "where agents did not comply",
                    ),
                    (
                        bool(blocked),
                        "no bonus within max_transfer moved some signals (the agent cannot be made to "
                        "send them, or already sends them as often as it can): they are never targeted",
                    ),
                )
                if flag
            ],
        }

    def info(self) -> dict[str, np.ndarray]:
        if not self.n_copies:
            return {"phase": np.zeros(0, dtype=np.int64)}
        return {"phase": np.where(self.stage == STEER, 2, 1)}

    def _check_copy(self, copy: int) -> None:
        if not self.n_copies:
            raise RuntimeError("the mechanism has not played yet (call start_episodes first)")
        check_int("copy", copy, 0, self.n_copies - 1)

    # -- saving ---------------------------------------------------------------------------
    _ARRAYS = (
        "stage", "played", "position", "signal", "hits", "offered", "explore_left",
        "price", "failures", "asked", "obeyed", "policy", "next_plan", "plans", "phase2_from",
        "choices", "posted",
    )  # fmt: skip

    def _settings(self) -> dict[str, Any]:
        names = (
            "total_periods", "phase1_scale", "warmup_share", "pricing_share", "min_block", "threshold",
            "tolerance_scale", "margin_scale", "min_label_periods", "compliance_check", "seed",
        )  # fmt: skip
        settings = {name: getattr(self, name) for name in names}
        settings["total_periods"] = [int(v) for v in np.atleast_1d(self.total_periods)]
        classes = self.transition_classes
        settings["transition_classes"] = None if classes is None else [int(v) for v in classes]
        return settings

    def state_dict(self) -> dict[str, Any]:
        """Settings and every copy's state, as plain values and arrays."""
        if not self.n_copies:
            return {"settings": self._settings(), "n_copies": 0}
        return {
            "settings": self._settings(),
            "n_copies": self.n_copies,
            "arrays": {name: getattr(self, name).copy() for name in self._ARRAYS},
            "pricing": {name: value.copy() for name, value in self.pricing.arrays().items()},
            "model": {name: value.copy() for name, value in self.model.arrays().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or "settings" not in state or "n_copies" not in state:
            raise ValueError("a TwoPhaseMechanism state needs 'settings' and 'n_copies'")
        if state["settings"] != self._settings():
            raise ValueError(
                f"this state was saved with settings {state['settings']}; this mechanism has "
                f"{self._settings()}"
            )
        game = self._bound_game()
        copies = state["n_copies"]
        check_int("n_copies", copies, 0)
        self.n_copies = 0
        if not copies:
            return
        self._allocate(int(copies), game)
        parts = (
            ("arrays", self, self._ARRAYS),
            ("pricing", self.pricing, tuple(self.pricing.arrays())),
            ("model", self.model, tuple(self.model.arrays())),
        )
        for part, owner, names in parts:
            saved = state.get(part)
            if not isinstance(saved, dict):
                raise ValueError(f"a TwoPhaseMechanism state needs {part!r}")
            for name in names:
                current = getattr(owner, name)
                if name not in saved:
                    raise ValueError(f"the saved state lacks {part}.{name}")
                value = np.asarray(saved[name], dtype=current.dtype)
                if value.shape != current.shape:
                    raise ValueError(f"saved {part}.{name} has shape {value.shape}, expected {current.shape}")
                setattr(owner, name, value.copy())
        self._reprice(self._every)  # the offers follow the loaded prices
