"""The exact finite model of an env over (state, joint action).

Transitions are never a dense ``S x A x S`` matrix. Joint actions that move the
state the same way share one *transition class* (in pollution_v0, all joint
actions with the same total emissions), and the law of the next state given
``(s, g = transition_class[a])`` is held in gathered or two-stage form (see
:mod:`pa_envs.core.transitions`). Payoffs are expectations given ``(s, a)``.

Symmetric agents (``symmetric=True``): the model runs over *count profiles*
(how many agents take each action) instead of joint actions, so it stays small
for many agents. Each profile is stored as its canonical joint action (agents
sorted by action: the first ``c_0`` take action 0, the next ``c_1`` action 1,
...), and per-agent arrays are indexed by *action* instead of by agent: entry
``[s, c, k]`` is what an agent taking action ``k`` gets in profile ``c``.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from pa_envs.core.numerics import dot_ints
from pa_envs.core.transitions import Transitions

_min, _max, _all = np.minimum.reduce, np.maximum.reduce, np.logical_and.reduce

WELFARE_BLOCK = 1 << 18
"""Entries of ``social_welfare`` grouped by class at a time (:attr:`TabularModel._welfare_by_class`)."""


@dataclasses.dataclass(frozen=True, eq=False)
class TabularModel:
    """Exact transition law and payoffs of one env.

    Attributes
    ----------
    states : ndarray, shape (S, state_dim)
        State vector of each state index.
    joint_actions : ndarray, shape (A, N)
        Each agent's action in each joint action (agent 0 most significant);
        for a symmetric model, the canonical joint action of each count profile.
    initial_distribution : ndarray, shape (S,)
        Law of the state at reset.
    transition_class : ndarray, shape (A,), int64
        The transition law each joint action follows (``G`` classes).
    transitions : GatheredTransitions or ShockThenMap
        The law of the next state given ``(s, g)``.
    private_utility : ndarray, shape (S, A, N), or (S, A, L) if symmetric
        Expected private utility of each agent (of an agent taking each action).
    principal_payoff : ndarray, shape (S, A)
        Expected payoff of the principal (before transfers).
    externality : ndarray, shape (S, A)
        Expected damage borne by no agent.
    signal_probabilities : ndarray, shape (S, A, N, n_signals), or (S, A, L, n_signals)
        Law of each agent's (each action's) contractible signal.
    horizon : int
        Periods in an episode (the env's ``max_cycles``).
    symmetric : bool
        Whether this is the count model of symmetric agents.
    """

    states: np.ndarray
    joint_actions: np.ndarray
    initial_distribution: np.ndarray
    transition_class: np.ndarray
    transitions: Transitions
    private_utility: np.ndarray
    principal_payoff: np.ndarray
    externality: np.ndarray
    signal_probabilities: np.ndarray
    horizon: int
    symmetric: bool = False

    def __post_init__(self) -> None:
        s, a = self.n_states, self.n_joint_actions
        n = self.n_actions if self.symmetric else self.n_agents
        g = self.n_transition_classes
        expected = {
            "initial_distribution": (s,),
            "transition_class": (a,),
            "private_utility": (s, a, n),
            "principal_payoff": (s, a),
            "externality": (s, a),
            "signal_probabilities": (s, a, n, self.signal_probabilities.shape[3]),
        }
        for name, shape in expected.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ValueError(f"TabularModel.{name} has shape {got}, expected {shape}")
        if self.transitions.n_states != s:
            raise ValueError(f"TabularModel.transitions cover {self.transitions.n_states} states, not {s}")
        self.transitions.check_states(s)
        if not np.isclose(self.initial_distribution.sum(), 1.0, atol=1e-12):
            raise ValueError("TabularModel.initial_distribution does not sum to 1")
        if self.transition_class.min() < 0 or self.transition_class.max() >= g:
            raise ValueError("TabularModel.transition_class holds an index outside the classes")

    @property
    def n_states(self) -> int:
        return self.states.shape[0]

    @property
    def n_joint_actions(self) -> int:
        return self.joint_actions.shape[0]

    @property
    def n_agents(self) -> int:
        return self.joint_actions.shape[1]

    @functools.cached_property
    def n_actions(self) -> int:
        return int(self.joint_actions.max()) + 1

    @functools.cached_property
    def unilateral_moves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint models' unilateral deviations in the flat ``(S * A * N,)`` tables: the
        place value of each agent's action in a joint-action index ``(N,)``, the same times
        ``N``, and ``(N, L)`` the flat offset of agent ``n`` moving to action ``l`` (its
        place value times ``l``, times ``N``, plus ``n``). The entry of agent ``n`` moving
        to ``l`` in state ``s`` from joint action ``j`` is then
        ``(s * A + j) * N - actions[n] * step[n] * N + moved[n, l]``."""
        n = self.n_agents
        step = self.n_actions ** (n - 1 - np.arange(n))
        moved = np.arange(self.n_actions)[None, :] * step[:, None] * n + np.arange(n)[:, None]
        step_wide = step * n
        for table in (step, step_wide, moved):  # cached: shared by every call
            table.flags.writeable = False
        return step, step_wide, moved

    @functools.cached_property
    def signals_are_own_actions(self) -> bool:
        """Whether each agent's signal is its own action, surely (every law one-hot on it):
        a contract then pays an agent exactly its entry for the action it takes."""
        probabilities = self.signal_probabilities
        n_signals = probabilities.shape[-1]
        if n_signals != self.n_actions:
            return False
        # The action each (joint action or profile, agent or action) column stands for.
        taken = np.arange(self.n_actions)[None, :] if self.symmetric else self.joint_actions
        one_hot = taken[:, :, None] == np.arange(n_signals)
        return bool(np.array_equal(probabilities, np.broadcast_to(one_hot, probabilities.shape)))

    @functools.cached_property
    def counts(self) -> np.ndarray:
        """``(A, L)``: how many agents take each action in each joint action (or profile)."""
        return np.stack([(self.joint_actions == k).sum(axis=1) for k in range(self.n_actions)], axis=1)

    def agent_columns(self, joint: np.ndarray) -> np.ndarray:
        """Where each agent's payoffs sit in the per-agent arrays, for joint actions ``joint`` (any shape).

        Returns ``joint.shape + (N,)``: the agent index itself, or, for a
        symmetric model, the agent's action in the canonical joint action.
        """
        joint = np.asarray(joint)
        if self.symmetric:
            return self.joint_actions[joint]
        return np.broadcast_to(np.arange(self.n_agents), (*joint.shape, self.n_agents))

    @property
    def n_transition_classes(self) -> int:
        return self.transitions.n_classes

    @property
    def n_pairs(self) -> int:
        """Number of (state, joint action) pairs: the model's size."""
        return self.n_states * self.n_joint_actions

    def expected_next_by_class(self, values: np.ndarray) -> np.ndarray:
        """``E[values[s'] | s, g]`` per state and transition class: ``(S, G)``, or ``(S, G, M)``."""
        return self.transitions.expected_by_class(values)

    def expected_next(self, values: np.ndarray) -> np.ndarray:
        """``E[values[s'] | s, a]`` for every pair: ``(S, A)``, or ``(S, A, M)`` for ``(S, M)`` values."""
        return self.expected_next_by_class(values)[:, self.transition_class]

    @property
    def reads_law_once_for_two(self) -> bool:
        """Whether :meth:`expected_next_by_class_and_under` takes one pass over the law (a
        banded kernel), not two."""
        return bool(getattr(self.transitions, "banded", False))

    def expected_next_by_class_and_under(
        self, values: np.ndarray, other: np.ndarray, joint: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(expected_next_by_class(values), expected_next_under(other, joint))`` at once (one
        pass over a long stock's banded kernel instead of two)."""
        classes = self.transition_class[joint]
        fused = getattr(self.transitions, "expected_by_class_and_under", None)
        if fused is None:
            return self.transitions.expected_by_class(values), self.transitions.expected_under(other, classes)
        return fused(values, other, classes)

    def expected_next_under(self, values: np.ndarray, joint: np.ndarray) -> np.ndarray:
        """``E[values[s'] | s, joint[s]]`` for one joint action per state: ``(S,)`` or ``(S, M)``."""
        return self.transitions.expected_under(values, self.transition_class[joint])

    @functools.cached_property
    def social_welfare(self) -> np.ndarray:
        """Expected social welfare of each ``(s, a)``: private utilities plus principal payoff."""
        if self.symmetric:
            return np.einsum("sak,ak->sa", self.private_utility, self.counts) + self.principal_payoff
        return self.private_utility.sum(axis=2) + self.principal_payoff

    @functools.cached_property
    def _welfare_by_class(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Per state and transition class, ``(S, G)`` each: the best ``social_welfare`` of the
        class's joint actions, the first joint action reaching it, and the best welfare below
        it (``-inf``: none). ``None`` where grouping does not pay (classes are not at least
        four times fewer than joint actions) or a class's best welfare is not finite."""
        welfare, classes = self.social_welfare, self.transition_class
        n_states, n_classes, n_joint = self.n_states, self.n_transition_classes, self.n_joint_actions
        if 4 * n_classes > n_joint:
            return None
        order = np.argsort(classes, kind="stable")  # within a class, joint actions stay in order
        sizes = np.bincount(classes, minlength=n_classes)
        present = np.flatnonzero(sizes)
        counts = sizes[present]
        starts = np.cumsum(counts) - counts
        best = np.full((n_states, n_classes), -np.inf)
        first = np.zeros((n_states, n_classes), dtype=np.int64)
        below = np.full((n_states, n_classes), -np.inf)
        rows = max(1, WELFARE_BLOCK // n_joint)  # a block's temporaries stay in cache
        for r0 in range(0, n_states, rows):
            grouped = np.take(welfare[r0 : r0 + rows], order, axis=1)
            top = np.maximum.reduceat(grouped, starts, axis=1)
            if not np.isfinite(top).all():
                return None
            at_best = grouped == np.repeat(top, counts, axis=1)
            # Positions in class order of the best entries: the smallest is the first joint action.
            position = np.where(at_best, np.arange(n_joint), n_joint)
            first[r0 : r0 + rows, present] = order[np.minimum.reduceat(position, starts, axis=1)]
            grouped[at_best] = -np.inf
            below[r0 : r0 + rows, present] = np.maximum.reduceat(grouped, starts, axis=1)
            best[r0 : r0 + rows, present] = top
        return best, first, below

    def best_joint_actions(self, continuation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The greedy step of backward induction on ``q[s, a] = social_welfare[s, a] +
        continuation[s, transition_class[a]]`` (``continuation``: ``(S, G)``).

        Returns ``(q.max(axis=1), q.argmax(axis=1))``, bit for bit, without forming the
        ``(S, A)`` ``q``: a class's joint actions share their continuation, so the class's
        best is its best welfare plus it (rounding is monotone), reached first at the
        class's first best joint action. A state takes its full ``(A,)`` row where that may
        not decide: another class ties the best one, or rounding ties the class's next best
        welfare with its best (or the value is not finite).
        """
        s_index = np.arange(self.n_states)
        tables = self._welfare_by_class
        if tables is None:
            policy = np.argmax(self.social_welfare + continuation[:, self.transition_class], axis=1)
        else:
            best, first, below = tables
            q = best + continuation  # (S, G)
            choice = q.argmax(axis=1)
            top = q[s_index, choice]
            policy = first[s_index, choice]
            unsure = np.count_nonzero(q == top[:, None], axis=1) != 1  # a tie, or NaN
            unsure |= below[s_index, choice] + continuation[s_index, choice] == top
            unsure |= ~np.isfinite(top)
            if unsure.any():
                rows = np.flatnonzero(unsure)
                policy[rows] = np.argmax(
                    self.social_welfare[rows] + continuation[rows][:, self.transition_class], axis=1
                )
        # The value as q's own entry (the same sum as q's), bit for bit, signed zeros too.
        value = self.social_welfare[s_index, policy] + continuation[s_index, self.transition_class[policy]]
        return value, policy

    @functools.cached_property
    def _profile_keys(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _sorted_profile_keys(self.counts)

    def profile_index(self, counts: np.ndarray) -> np.ndarray:
        """Index of each count vector ``counts`` (``(..., L)``) among the model's profiles
        (:func:`profile_index` of :attr:`counts`, their keys sorted once)."""
        return _find_profiles(self._profile_keys, counts)

    def joint_action_index(self, actions: np.ndarray, n_actions: int | None = None) -> np.ndarray:
        """Index of each joint action (``actions``: ``(..., N)``) in ``joint_actions``.

        For a symmetric model, the index of its count profile.
        """
        actions = np.asarray(actions, dtype=np.int64)
        n_actions = self.n_actions if n_actions is None else n_actions
        if self.symmetric:
            counts = np.stack([(actions == k).sum(axis=-1) for k in range(n_actions)], axis=-1)
            return self.profile_index(counts)
        radix = n_actions ** np.arange(self.n_agents - 1, -1, -1, dtype=np.int64)
        return actions @ radix

    @functools.cached_property
    def _state_keys(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        weights = np.cumprod(np.concatenate([[1], self.states.max(axis=0)[:-1] + 1])).astype(np.int64)
        keys = self.states.astype(np.int64) @ weights
        order = np.argsort(keys)
        return weights, keys[order], order

    @functools.cached_property
    def _state_lookup(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The largest value of each state feature, and the state index of every key of the
        grid up to it (``-1``: not a state) where that grid is small: one gather per lookup."""
        _, keys, order = self._state_keys
        high = self.states.max(axis=0).astype(np.int64)
        size = int(np.prod(high + 1, dtype=np.float64)) if len(high) else 1
        if size > max(4 * len(keys), 1 << 20) or self.states.min() < 0:  # sparse grid, or keys below 0
            return high, None
        table = np.full(size, -1, dtype=np.int64)
        table[keys] = order
        return high, table

    @functools.cached_property
    def flat_private_utility(self) -> np.ndarray:
        """``private_utility`` viewed flat, ``(S * A * N,)`` (a C-ordered copy if needed)."""
        return np.ascontiguousarray(self.private_utility).reshape(-1)

    @functools.cached_property
    def unilateral_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """``private_utility`` and ``signal_probabilities`` viewed flat, ``(S * A * N,)`` and
        ``(S * A * N, n_signals)`` (a C-ordered copy if needed): one-index gathers per lookup."""
        return (
            self.flat_private_utility,
            np.ascontiguousarray(self.signal_probabilities).reshape(-1, self.signal_probabilities.shape[-1]),
        )

    def state_index(self, states: np.ndarray) -> np.ndarray:
        """Index of each state vector (``(..., state_dim)``) among ``states``.

        Raises
        ------
        ValueError
            If a state vector is not one of the model's states.
        """
        states = np.asarray(states, dtype=np.int64)
        weights, sorted_keys, order = self._state_keys
        high, table = self._state_lookup
        wanted = states @ weights
        if table is not None:
            # One comparison for both ends: a negative feature viewed as uint64 is above every
            # bound. Ufunc reductions called directly: this runs twice a period in the learning
            # loop, on a few dozen states, where np.all's wrapper costs more than the comparison.
            inside = _all(states.view(np.uint64) <= high.view(np.uint64), axis=None)
            found = table[wanted] if inside else None
            if found is None or (found.size and _min(found, axis=None) < 0):
                raise ValueError(f"state(s) {states.tolist()} are not states of this model")
            return found
        position = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
        if not np.all(sorted_keys[position] == wanted) or np.any(states > high):
            raise ValueError(f"state(s) {states.tolist()} are not states of this model")
        return order[position]

    def next_state_distribution(self, state: int, joint_action: int) -> np.ndarray:
        """Dense ``(S,)`` law of the next state from one ``(state, joint action)``."""
        return self.transitions.distribution(state, int(self.transition_class[joint_action]))


def enumerate_joint_actions(n_agents: int, n_actions: int) -> np.ndarray:
    """All ``n_actions ** n_agents`` joint actions, ``(A, N)``, agent 0 most significant."""
    grids = np.indices((n_actions,) * n_agents).reshape(n_agents, -1)
    return grids.T.astype(np.int64)


def enumerate_count_profiles(n_agents: int, n_actions: int) -> np.ndarray:
    """All ways ``n_agents`` anonymous agents split over ``n_actions`` actions, as canonical
    joint actions ``(C, N)`` (agents sorted by action); ``C = binom(N + L - 1, L - 1)``."""
    profiles: list[list[int]] = []

    def split(left: int, action: int, prefix: list[int]) -> None:
        if action == n_actions - 1:
            profiles.append([*prefix, left])
            return
        for count in range(left, -1, -1):
            split(left - count, action + 1, [*prefix, count])

    split(n_agents, 0, [])
    counts = np.array(profiles, dtype=np.int64)
    return np.stack([np.repeat(np.arange(n_actions), row) for row in counts]).astype(np.int64)


def profile_index(profiles: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Index of each count vector ``counts`` (``(..., L)``) among ``profiles`` (``(C, L)``)."""
    return _find_profiles(_sorted_profile_keys(profiles), counts)


def _sorted_profile_keys(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place values of a count vector's key, the profiles' keys in order, and that order."""
    base = int(profiles.max()) + 1
    weights = base ** np.arange(profiles.shape[1], dtype=np.int64)
    keys = profiles @ weights
    order = np.argsort(keys)
    return weights, keys[order], order


def _find_profiles(keys: tuple[np.ndarray, np.ndarray, np.ndarray], counts: np.ndarray) -> np.ndarray:
    """:func:`profile_index` given the profiles' :func:`_sorted_profile_keys`."""
    weights, sorted_keys, order = keys
    wanted = dot_ints(np.asarray(counts), weights)
    position = np.minimum(np.searchsorted(sorted_keys, wanted), len(order) - 1)
    if not np.all(sorted_keys[position] == wanted):
        raise ValueError("a count vector does not match any profile of the model")
    return order[position]
