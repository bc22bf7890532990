"""Exact welfare analysis of an env's tabular model, by dynamic programming.

Everything here works on a :class:`~pa_envs.core.tabular.TabularModel` (from
``env.tabular_model()``) with its gathered transitions, never a dense
transition matrix.

Objectives
----------
Each function takes ``horizon`` and ``discount``. ``horizon=None`` (the
default) uses the model's episode length, ``max_cycles``, undiscounted unless
``discount`` says otherwise: the number an episode of the env adds up.
``horizon=float("inf")`` asks for the stationary infinite-horizon problem,
which needs ``discount < 1``.

Policies
--------
A joint policy is an int array ``(T, S)`` of joint-action indices (rows of
``model.joint_actions``), one row per period; a stationary policy has ``T = 1``
and applies in every period.

Contracts
---------
A contract for the analysis is an array of transfers that broadcasts to
``(T, S, N, n_signals)``: one ``(N, n_signals)`` matrix for all states and
periods, ``(S, N, n_signals)`` per state, or ``(T, S, N, n_signals)`` per
period and state. Agent ``i`` is paid ``contract[..., i, k]`` when its signal
is ``k``.

Agents
------
Self-interested agents play a Markov perfect equilibrium in pure strategies,
found by best-response iteration: in each period and state every agent in
turn switches to its best reply (payoff plus transfer plus
``agent_discount`` times its continuation value) until nobody wants to.
``agent_discount=0`` gives myopic agents. When the iteration cycles,
:class:`EquilibriumNotFound` says where.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are strings here (3.10 runs)
    from typing_extensions import Unpack

import numpy as np

from pa_envs.core.game import check_unit
from pa_envs.core.numerics import single_blas_thread
from pa_envs.core.tabular import TabularModel

INFINITE = float("inf")


class EquilibriumNotFound(RuntimeError):
    """Best-response iteration did not settle (it cycles or did not converge)."""


class NotImplementable(ValueError):
    """No transfer on a single signal makes the target action a best response."""


@dataclasses.dataclass(frozen=True, eq=False)
class PolicyValue:
    """A joint policy and what it is worth.

    Attributes
    ----------
    policy : ndarray, shape (T, S)
        Joint-action index per period and state (``T = 1``: stationary).
    social_welfare : float
        Expected total (discounted) social welfare from the initial distribution.
    agent_values : ndarray, shape (N,)
        Expected total reward of each agent (private utility plus transfers).
    transfers : float
        Expected total transfers paid by the principal (negative: net taxes).
    externality : float
        Expected total damage borne by no agent.
    welfare_to_go : ndarray, shape (T, S)
        Expected social welfare from each period and state on.
    """

    policy: np.ndarray
    social_welfare: float
    agent_values: np.ndarray
    transfers: float
    externality: float
    welfare_to_go: np.ndarray

    @property
    def stationary(self) -> bool:
        return self.policy.shape[0] == 1

    def joint_action(self, model: TabularModel, period: int, state: int) -> np.ndarray:
        """Each agent's action at ``period`` (0-based) in state index ``state``."""
        row = 0 if self.stationary else period
        return model.joint_actions[self.policy[row, state]]


# -- objective and contract plumbing ---------------------------------------------


MAX_POLICY_ENTRIES = 100_000_000
"""The most (period, state) entries a finite-horizon analysis may keep (a policy and values of
each: about 1.6 GB at the limit)."""


def _periods(model: TabularModel, horizon: float | None, discount: float) -> int | None:
    """Number of periods of a finite objective, or ``None`` for the stationary one."""
    check_unit("discount", discount)
    if horizon is None:
        periods = model.horizon
    elif horizon == INFINITE:
        if discount >= 1.0:
            raise ValueError("an infinite horizon needs discount < 1")
        return None
    else:
        valid = isinstance(horizon, (int, float, np.integer, np.floating)) and not isinstance(horizon, bool)
        if not valid or not np.isfinite(horizon) or int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a positive int, None or inf, got {horizon!r}")
        periods = int(horizon)
    # Backward induction keeps a policy and values per (period, state): refuse before allocating.
    if periods * model.n_states > MAX_POLICY_ENTRIES:
        raise ValueError(
            f"a {periods}-period analysis over {model.n_states} states keeps periods x states = "
            f"{periods * model.n_states:.2e} policy entries, more than MAX_POLICY_ENTRIES = "
            f"{MAX_POLICY_ENTRIES:.0e}; use a shorter horizon (max_cycles) or horizon=float('inf') "
            "with discount < 1"
        )
    return periods


def _start_profiles(model: TabularModel, start: np.ndarray | None, periods: int | None) -> np.ndarray:
    """Where best-response iteration starts: ``(T, S)`` (one row per period, or one for all)."""
    if start is None:
        return np.zeros((1, model.n_states), dtype=np.int64)
    return _check_policy(model, start, periods, "start")


def _check_policy(model: TabularModel, policy: np.ndarray, periods: int | None, what: str) -> np.ndarray:
    """A policy as ``(T, S)`` int64: ``T = 1``, or one row per period of a finite objective."""
    policy = np.atleast_2d(np.asarray(policy, dtype=np.int64))
    rows = (1,) if periods is None else (1, periods)
    if policy.ndim != 2 or policy.shape[1] != model.n_states or policy.shape[0] not in rows:
        expected = "(1, S)" if periods is None else f"(1, S) or ({periods}, S)"
        raise ValueError(f"{what} has shape {policy.shape}; expected {expected} with S={model.n_states}")
    if policy.min() < 0 or policy.max() >= model.n_joint_actions:
        raise ValueError(f"{what} holds a joint-action index outside the model")
    return policy


def _contract_table(model: TabularModel, contract: np.ndarray | None, periods: int | None) -> np.ndarray:
    """The contract as ``(T, S, N, n_signals)`` (``T = 1`` when it does not vary over periods)."""
    n_signals = model.signal_probabilities.shape[3]
    shape = (model.n_states, model.n_agents, n_signals)
    if contract is None:
        return np.zeros((1, *shape))
    table = np.asarray(contract, dtype=np.float64)
    if not np.all(np.isfinite(table)):
        raise ValueError("contract contains NaN or infinite transfers")
    if table.shape == (model.n_agents * n_signals,):
        table = table.reshape(model.n_agents, n_signals)
    if table.ndim == 2:
        table = table[None, None]
    elif table.ndim == 3:
        table = table[None]
    if table.ndim != 4 or table.shape[1:] not in (shape, (1, *shape[1:])):
        raise ValueError(
            f"contract has shape {np.shape(contract)}; expected (N, n_signals)={shape[1:]}, "
            f"(S, N, n_signals)={shape} or (T, S, N, n_signals)"
        )
    if periods is not None and table.shape[0] not in (1, periods):
        raise ValueError(f"a per-period contract needs {periods} periods, got {table.shape[0]}")
    if periods is None and table.shape[0] != 1:
        raise ValueError("a stationary (infinite-horizon) analysis needs a contract that does not vary")
    return np.broadcast_to(table, (table.shape[0], *shape))


def _unilateral(
    model: TabularModel, profile: np.ndarray, agent: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``agent`` alone can change in ``profile`` (one joint action per state, ``(S,)``).

    Returns ``(candidates, own, columns)``: the ``(S, L)`` joint actions it can
    reach (candidate ``k``: it takes action ``k``), its current action ``(S,)``,
    and the ``(S, L)`` columns of the per-agent arrays that hold its payoffs
    there (its index; for a symmetric model, the action it takes).
    """
    n_actions = model.n_actions
    actions = np.arange(n_actions)
    if model.symmetric:
        own = model.joint_actions[profile, agent]
        counts = model.counts[profile][:, None, :] - np.eye(n_actions, dtype=np.int64)[own][:, None, :]
        counts = counts + np.eye(n_actions, dtype=np.int64)[None, :, :]
        candidates = model.profile_index(counts)
        return candidates, own, np.broadcast_to(actions, candidates.shape)
    step = n_actions ** (model.n_agents - 1 - agent)
    own = (profile // step) % n_actions
    candidates = (profile - own * step)[:, None] + actions[None, :] * step
    return candidates, own, np.full(candidates.shape, agent)


# -- social optimum ------------------------------------------------------------------


@single_blas_thread
def social_optimum(
    model: TabularModel,
    *,
    horizon: float | None = None,
    discount: float = 1.0,
    tol: float = 1e-10,
    max_iterations: int = 100_000,
) -> PolicyValue:
    """The joint policy that maximizes expected social welfare, and its value ``W*``.

    Finite horizon: backward induction. Infinite horizon: value iteration to
    ``tol``, then the greedy policy.
    """
    periods = _periods(model, horizon, discount)
    if periods is not None and model.reads_law_once_for_two:
        # A banded kernel (a long stock): one pass a period serves the induction and the
        # evaluation. A dense law gains nothing from it, and loses its cache: two sweeps.
        return _backward_optimum(model, periods, discount)

    def greedy(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # max and argmax over joint actions of welfare + discount * E[values | s, class]
        return model.best_joint_actions(discount * model.expected_next_by_class(values))

    if periods is None:
        values = _fixed_point(
            lambda v: greedy(v)[0], np.zeros(model.n_states), discount, tol, max_iterations, "value iteration"
        )
        policy = greedy(values)[1][None, :]
    else:
        policy = np.empty((periods, model.n_states), dtype=np.int64)
        values = np.zeros(model.n_states)
        for t in reversed(range(periods)):
            values, policy[t] = greedy(values)
    return evaluate(model, policy, horizon=horizon, discount=discount, tol=tol)


def _fixed_point(
    step: Callable[[np.ndarray], np.ndarray],
    start: np.ndarray,
    discount: float,
    tol: float,
    max_iterations: int,
    what: str,
) -> np.ndarray:
    """Apply ``step`` from ``start`` until a step moves the values by at most
    ``tol * (1 - discount)`` (sup norm): within ``tol`` of the fixed point. Raises
    ``RuntimeError`` naming ``what`` after ``max_iterations`` steps."""
    values = start
    for _ in range(max_iterations):
        updated = step(values)
        change = np.abs(updated - values).max()
        values = updated
        if change <= tol * (1 - discount):
            return values
    raise RuntimeError(f"{what} did not reach tol={tol} in {max_iterations} iterations")


def _backward_optimum(model: TabularModel, periods: int, discount: float) -> PolicyValue:
    """:func:`social_optimum` over a finite horizon: backward induction, with the policy's
    evaluation (:func:`evaluate`'s, the same sums) one period behind it, so that each
    period's two expectations take one pass over the transition law (a long stock's
    banded kernel is read once a period, not twice)."""
    s_index = np.arange(model.n_states)
    policy = np.empty((periods, model.n_states), dtype=np.int64)
    values = np.zeros(model.n_states)  # W*: the optimum's welfare to go
    totals = np.zeros((model.n_states, 3 + model.n_agents))  # the evaluation's, a period later
    to_go = np.empty((periods, model.n_states))
    for t in reversed(range(periods)):
        if t == periods - 1:
            by_class = model.expected_next_by_class(values)
        else:  # evaluate period t + 1, whose policy is known, in the same pass
            by_class, later = model.expected_next_by_class_and_under(values, totals, policy[t + 1])
            totals = _period_totals(model, policy[t + 1], None, s_index) + discount * later
            to_go[t + 1] = totals[:, 0]
        values, policy[t] = model.best_joint_actions(discount * by_class)
    later = model.expected_next_under(totals, policy[0])
    totals = _period_totals(model, policy[0], None, s_index) + discount * later
    to_go[0] = totals[:, 0]
    return _policy_value(model, policy, totals, to_go)


# -- evaluating a policy --------------------------------------------------------------


@single_blas_thread
def evaluate(
    model: TabularModel,
    policy: np.ndarray,
    *,
    contract: np.ndarray | None = None,
    horizon: float | None = None,
    discount: float = 1.0,
    tol: float = 1e-10,
    max_iterations: int = 100_000,
) -> PolicyValue:
    """Expected totals of a joint policy: social welfare, each agent's reward, transfers, externality."""
    periods = _periods(model, horizon, discount)
    policy = _check_policy(model, policy, periods, "policy")
    table = _contract_table(model, contract, periods)
    s_index = np.arange(model.n_states)

    def step_back(values: np.ndarray, t: int) -> np.ndarray:
        """One period back: ``(S, 3 + N)`` welfare, transfers, externality, each agent's reward."""
        a = policy[0 if policy.shape[0] == 1 else t]
        paid = None if contract is None else table[0 if table.shape[0] == 1 else t]
        now = _period_totals(model, a, paid, s_index)
        return now + discount * model.expected_next_under(values, a)

    if periods is None:
        start = np.zeros((model.n_states, 3 + model.n_agents))
        values = _fixed_point(
            lambda v: step_back(v, 0), start, discount, tol, max_iterations, "policy evaluation"
        )
        to_go = values[None, :, 0]
    else:
        values = np.zeros((model.n_states, 3 + model.n_agents))
        to_go = np.empty((periods, model.n_states))
        for t in reversed(range(periods)):
            values = step_back(values, t)
            to_go[t] = values[:, 0]
    return _policy_value(model, policy, values, to_go)


def _period_totals(
    model: TabularModel, a: np.ndarray, contract: np.ndarray | None, s_index: np.ndarray
) -> np.ndarray:
    """``(S, 3 + N)`` what one period of joint actions ``a`` (``(S,)``) yields under ``contract``
    (``(S, N, n_signals)``; ``None``: no transfers): welfare, transfers, externality, each
    agent's reward."""
    columns = model.agent_columns(a)
    # Each agent's private utility by one flat gather (three index arrays cost more).
    flat = (s_index * model.n_joint_actions + a)[:, None] * model.private_utility.shape[2] + columns
    utility = model.flat_private_utility[flat]
    totals = np.empty((model.n_states, 3 + model.n_agents))
    totals[:, 0] = model.social_welfare[s_index, a]
    totals[:, 2] = model.externality[s_index, a]
    if contract is None:
        # What zero transfers added (their expectation is +0.0), without gathering signal laws.
        totals[:, 1] = 0.0
        np.add(utility, 0.0, out=totals[:, 3:])
        return totals
    laws = model.signal_probabilities[s_index[:, None], a[:, None], columns]
    paid = np.einsum("snk,snk->sn", laws, contract)
    totals[:, 1] = paid.sum(axis=1)
    np.add(utility, paid, out=totals[:, 3:])
    return totals


def _policy_value(
    model: TabularModel, policy: np.ndarray, values: np.ndarray, to_go: np.ndarray
) -> PolicyValue:
    """The :class:`PolicyValue` of ``policy`` from its first period's ``(S, 3 + N)`` totals."""
    start = model.initial_distribution @ values
    return PolicyValue(
        policy=policy,
        social_welfare=float(start[0]),
        agent_values=start[3:],
        transfers=float(start[1]),
        externality=float(start[2]),
        welfare_to_go=to_go,
    )


# -- equilibria -------------------------------------------------------------------------


class _StagePayoffs:
    """Payoffs of one period's stage game, computed only where they are looked at.

    ``value(candidates, i)``: agent ``i``'s payoff, ``(S, L)``, of the joint
    actions ``candidates`` (``(S, L)``): private utility, plus the expected
    transfer under ``contract`` (``(S, N, n_signals)``), plus ``weight`` times
    its expected continuation ``values`` (``(S, N)``).
    """

    def __init__(self, model: TabularModel, contract: np.ndarray, weight: float, values: np.ndarray) -> None:
        self.model = model
        self.contract = contract
        self.weight = weight
        self.s = np.arange(model.n_states)[:, None]
        self.pays = bool(np.any(contract))
        if model.symmetric and weight > 0:
            # Anonymous agents: nobody knows which place of next period's sorted profile it
            # will hold, so each expects the average over places (a random assignment of roles).
            values = np.repeat(values.mean(axis=1, keepdims=True), values.shape[1], axis=1)
        # Continuation by transition class, once per period: (S, G, N).
        self.continuation = model.expected_next_by_class(values) if weight > 0 else None

    def value(self, candidates: np.ndarray, i: int, columns: np.ndarray) -> np.ndarray:
        model, s = self.model, self.s
        out = model.private_utility[s, candidates, columns]
        if self.pays:
            laws = model.signal_probabilities[s, candidates, columns]  # (S, L, K)
            out = out + np.einsum("slk,sk->sl", laws, self.contract[:, i])
        if self.continuation is not None:
            out = out + self.weight * self.continuation[s, model.transition_class[candidates], i]
        return out

    def at(self, profile: np.ndarray) -> np.ndarray:
        """``(S, N)`` payoffs of one joint action per state."""
        where = self.model.agent_columns(profile)  # (S, N)
        values = [
            self.value(profile[:, None], i, where[:, i : i + 1])[:, 0] for i in range(self.model.n_agents)
        ]
        return np.column_stack(values)


def _improves(value: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Whether ``value`` beats ``keep`` strictly, beyond a relative 1e-12 (so ties never
    make best replies cycle): the one rule every best-response search here follows."""
    return value > keep + 1e-12 * np.maximum(1.0, np.abs(keep))


def _stage_equilibrium(
    model: TabularModel, payoffs: _StagePayoffs, start: np.ndarray, max_rounds: int, where: str
) -> np.ndarray:
    """Pure Nash equilibrium of the stage game of every state, by best-response iteration.

    An agent keeps its action unless another is strictly better (beyond a
    relative 1e-12), so ties cannot make it cycle.
    """
    profile = start.copy()
    rows = np.arange(model.n_states)
    for _ in range(max_rounds):
        moved = np.zeros(model.n_states, dtype=bool)
        for i in range(model.n_agents):
            candidates, own, columns = _unilateral(model, profile, i)
            values = payoffs.value(candidates, i, columns)
            best = values.argmax(axis=1)
            keep = values[rows, own]
            switch = _improves(values[rows, best], keep)
            profile = np.where(switch, candidates[rows, best], profile)
            moved |= switch
        if not moved.any():
            return profile
    # Best replies cycle in some states; a pure equilibrium may still exist off the cycle.
    stuck = np.flatnonzero(moved)
    found = _pure_equilibria(model, payoffs)[stuck] if model.n_joint_actions <= MAX_EXHAUSTIVE else None
    if found is not None and np.all(found >= 0):
        profile[stuck] = found
        return profile
    missing = stuck if found is None else stuck[found < 0]
    why = (
        "and no joint action is a pure equilibrium there"
        if found is not None
        else f"(too many joint actions, {model.n_joint_actions}, to search them all)"
    )
    raise EquilibriumNotFound(
        f"best-response iteration {where} did not settle in {max_rounds} rounds "
        f"(still moving in states {missing[:5].tolist()}), {why}; the stage game may have no pure "
        "equilibrium"
    )


# Up to this many joint actions (or count profiles), states where best replies cycle are
# searched exhaustively for a pure equilibrium.
MAX_EXHAUSTIVE = 4096


def _pure_equilibria(model: TabularModel, payoffs: _StagePayoffs) -> np.ndarray:
    """For every state, the lowest-indexed joint action that is a pure equilibrium of the
    stage game (no agent gains by a unilateral deviation), or -1 where none is."""
    rows = np.arange(model.n_states)
    found = np.full(model.n_states, -1)
    for joint in range(model.n_joint_actions):
        profile = np.full(model.n_states, joint)
        stable = found < 0
        for i in range(model.n_agents):
            if not stable.any():
                break
            candidates, own, columns = _unilateral(model, profile, i)
            values = payoffs.value(candidates, i, columns)
            keep = values[rows, own]
            stable &= ~_improves(values.max(axis=1), keep)
        found[stable] = joint
    return found


@single_blas_thread
def stage_equilibrium(
    model: TabularModel,
    contract: np.ndarray | None = None,
    *,
    start: np.ndarray | None = None,
    max_rounds: int = 200,
) -> np.ndarray:
    """Myopic agents' pure equilibrium of one period, in every state, under ``contract``.

    ``contract`` is one period's ``(N, n_signals)`` or ``(S, N, n_signals)``
    transfers. Returns ``(S,)`` joint-action indices (best-response iteration
    from ``start``, default every agent's action 0).
    """
    table = _contract_table(model, contract, 1)[0]
    profile = _start_profiles(model, start, None)[0]
    payoffs = _StagePayoffs(model, table, 0.0, np.zeros((model.n_states, model.n_agents)))
    return _stage_equilibrium(model, payoffs, profile, max_rounds, "in one period")


def best_responses(
    model: TabularModel,
    state: int,
    contract: np.ndarray,
    *,
    start: np.ndarray | None = None,
    players: list[int] | np.ndarray | None = None,
    max_rounds: int = 200,
) -> np.ndarray:
    """Myopic agents' pure equilibrium of one period in one state, agent by agent.

    Unlike :func:`stage_equilibrium` this keeps each agent's identity, so on a
    count model too every agent is paid by its own row of ``contract``
    (``(N, n_signals)``). Only ``players`` (default: all) best-respond; the
    others keep their ``start`` actions. Returns each agent's action, ``(N,)``.
    """
    n_agents, n_actions = model.n_agents, model.n_actions
    contract = np.asarray(contract, dtype=np.float64)
    n_signals = model.signal_probabilities.shape[3]
    if contract.shape != (n_agents, n_signals) or not np.all(np.isfinite(contract)):
        raise ValueError(
            f"contract must be finite, shaped ({n_agents}, {n_signals}), got {contract.tolist()}"
        )
    if isinstance(state, bool) or not isinstance(state, (int, np.integer)) or not 0 <= state < model.n_states:
        raise ValueError(f"state must be an int index in 0..{model.n_states - 1}, got {state!r}")
    actions = np.zeros(n_agents, dtype=np.int64) if start is None else np.asarray(start)
    if (
        actions.shape != (n_agents,)
        or not np.issubdtype(actions.dtype, np.integer)
        or actions.min() < 0
        or actions.max() >= n_actions
    ):
        raise ValueError(f"start must be {n_agents} int actions in 0..{n_actions - 1}, got {start!r}")
    actions = actions.astype(np.int64).copy()
    movers = range(n_agents) if players is None else [int(i) for i in players]
    if any(not 0 <= i < n_agents for i in movers):
        raise ValueError(f"players must be agent indices in 0..{n_agents - 1}, got {players!r}")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, (int, np.integer)) or max_rounds < 1:
        raise ValueError(f"max_rounds must be a positive int, got {max_rounds!r}")
    joint = batch_best_responses(
        model, np.array([state]), contract[None], actions[None], players=movers, max_rounds=max_rounds
    )
    return joint[0]


def unilateral_rewards(
    model: TabularModel,
    states: np.ndarray,
    actions: np.ndarray,
    contracts: np.ndarray,
    agent: int | None = None,
) -> np.ndarray:
    """``(B, L)``: the expected reward (private utility plus transfer) that each of
    ``agent``'s actions earns in B copies, the others' actions fixed; ``(B, N, L)``
    for every agent at once when ``agent`` is ``None``.

    ``states``: ``(B,)`` state indices; ``actions``: ``(B, N)`` joint actions (the
    others' are read from them); ``contracts``: ``(B, N, n_signals)`` in force, finite
    (where each signal is the agent's own action, an action's reward reads only its own
    entry: a non-finite entry spoils that action's reward alone).
    """
    if agent is not None:
        return unilateral_rewards(model, states, actions, contracts)[:, agent]
    n_actions = model.n_actions
    utility, signals = model.unilateral_tables
    width = model.private_utility.shape[2]
    if model.symmetric:
        choices = np.arange(n_actions)
        counts = np.stack([(actions == k).sum(axis=1) for k in range(n_actions)], axis=1)  # (B, L)
        eye = np.eye(n_actions, dtype=np.int64)
        # Agent i moves from its action to k: counts - e_own + e_k, (B, N, L, L).
        moved = counts[:, None, None, :] - eye[actions][:, :, None, :] + eye[None, None, :, :]
        joint = model.profile_index(moved)  # (B, N, L)
        # One flat index into (S, A, L) instead of three broadcast ones: the same entries.
        where = (states[:, None, None] * model.private_utility.shape[1] + joint) * width + choices
    else:
        # One flat index into (S, A, N), from ints computed once (unilateral_moves).
        step, step_wide, offsets = model.unilateral_moves
        row = (states * model.private_utility.shape[1] + actions @ step) * width  # (B,)
        where = (row[:, None] - actions * step_wide)[:, :, None] + offsets
    if model.signals_are_own_actions:
        # Each law is one-hot on the action: the weighted sum is that action's entry, exactly.
        return utility[where] + contracts
    return utility[where] + np.einsum("bnlk,bnk->bnl", signals[where], contracts)


def batch_best_responses(
    model: TabularModel,
    states: np.ndarray,
    contracts: np.ndarray,
    start: np.ndarray,
    *,
    players: list[int] | range | None = None,
    max_rounds: int = 200,
) -> np.ndarray:
    """:func:`best_responses` for B copies at once (the vector forms' behaviour).

    ``states``: ``(B,)`` state indices; ``contracts``: ``(B, N, n_signals)``;
    ``start``: ``(B, N)`` actions where iteration starts. Only ``players``
    (default: all) best-respond, each keeping its action unless another is
    strictly better (beyond a relative 1e-12). Inputs are trusted (the vector
    forms check them); returns ``(B, N)`` actions.
    """
    n_agents = model.n_agents
    actions = np.array(start, dtype=np.int64)
    states = np.asarray(states, dtype=np.int64)
    rows = np.arange(len(states))
    movers = range(n_agents) if players is None else players
    for _ in range(max_rounds):
        moved = np.zeros(len(states), dtype=bool)
        for i in movers:
            values = unilateral_rewards(model, states, actions, contracts, i)
            best = values.argmax(axis=1)
            keep = values[rows, actions[:, i]]
            switch = _improves(values[rows, best], keep)
            actions[:, i] = np.where(switch, best, actions[:, i])
            moved |= switch
        if not moved.any():
            return actions
    stuck = np.flatnonzero(moved)[:5].tolist()
    raise EquilibriumNotFound(
        f"best-response iteration did not settle in {max_rounds} rounds (copies {stuck}, states "
        f"{states[stuck].tolist()}); the period's game may have no pure equilibrium"
    )


class _RangeOptions(TypedDict, total=False):
    """The keywords of :func:`equilibrium` that :func:`laissez_faire_range` passes on."""

    agent_discount: float
    horizon: float | None
    discount: float
    max_rounds: int
    tol: float
    max_iterations: int


class _LaissezFaireOptions(_RangeOptions, total=False):
    """The keywords of :func:`equilibrium` that :func:`laissez_faire` passes on."""

    start: np.ndarray | None


@single_blas_thread
def equilibrium(
    model: TabularModel,
    *,
    contract: np.ndarray | None = None,
    agent_discount: float = 0.0,
    horizon: float | None = None,
    discount: float = 1.0,
    start: np.ndarray | None = None,
    max_rounds: int = 200,
    tol: float = 1e-10,
    max_iterations: int = 10_000,
) -> PolicyValue:
    """The Markov perfect equilibrium that self-interested agents reach under ``contract``.

    On a count model (``model.symmetric``) agents are anonymous: a forward-looking
    agent does not know which place of next period's sorted profile it will take, so
    its continuation value is the average over places (roles assigned at random each
    period). The joint-action model, which keeps identities, can differ from it when
    the equilibrium gives agents different roles.

    Parameters
    ----------
    model : TabularModel
    contract : array_like, optional
        Transfers (see the module docstring); ``None`` is laissez-faire.
    agent_discount : float
        How much agents weigh their own future, in [0, 1]; 0 is myopic.
    horizon, discount
        The objective the returned welfare is measured by; agents share the horizon.
    start : array_like, optional
        Joint actions where best-response iteration starts: ``(S,)`` (or
        ``(1, S)``) for every period, or ``(T, S)`` one row per period
        (default: every agent's action 0; each period then starts from the
        equilibrium of the period after it). When several equilibria exist the
        start selects among them.
    max_rounds, tol, max_iterations
        Limits of the iterations; exceeding them raises :class:`EquilibriumNotFound`.
    """
    check_unit("agent_discount", agent_discount)
    periods = _periods(model, horizon, discount)
    if periods is None and agent_discount >= 1.0:
        raise ValueError("an infinite horizon needs agent_discount < 1")
    table = _contract_table(model, contract, periods)
    starts = _start_profiles(model, start, periods)
    profile = starts[0]
    agent_values = np.zeros((model.n_states, model.n_agents))

    def stage(t: int, agent_values: np.ndarray, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        contract = table[0 if table.shape[0] == 1 else t]
        payoffs = _StagePayoffs(model, contract, agent_discount, agent_values)
        where = f"in period {t}" if periods is not None else "(stationary)"
        profile = _stage_equilibrium(model, payoffs, profile, max_rounds, where)
        return profile, payoffs.at(profile)

    if periods is None:
        for _ in range(max_iterations):
            updated_profile, updated = stage(0, agent_values, profile)
            change = np.abs(updated - agent_values).max()
            settled = np.array_equal(updated_profile, profile) and change <= tol * (1 - agent_discount)
            profile, agent_values = updated_profile, updated
            if settled:
                break
        else:
            raise EquilibriumNotFound(
                f"the stationary equilibrium did not converge in {max_iterations} iterations"
            )
        policy = profile[None, :]
    elif agent_discount == 0 and table.shape[0] == 1 and starts.shape[0] == 1:
        # Myopic agents under a contract that does not vary: every period's stage game is the
        # same, and each period starts from the next one's equilibrium, where it stays.
        profile, _ = stage(periods - 1, agent_values, profile)
        policy = np.broadcast_to(profile, (periods, model.n_states)).copy()
    else:
        policy = np.empty((periods, model.n_states), dtype=np.int64)
        for t in reversed(range(periods)):
            if starts.shape[0] > 1:
                profile = starts[t]
            profile, agent_values = stage(t, agent_values, profile)
            policy[t] = profile
    return evaluate(model, policy, contract=contract, horizon=horizon, discount=discount, tol=tol)


@single_blas_thread
def laissez_faire(model: TabularModel, **kwargs: Unpack[_LaissezFaireOptions]) -> PolicyValue:
    """The equilibrium with no transfers (see :func:`equilibrium` for the keywords).

    Selection: best-response iteration that starts from every agent at action 0 in
    the last period, and in each earlier period from the equilibrium of the period
    after it. Where several equilibria exist this picks one of them, which may be
    the best or the worst by welfare depending on the env's action order;
    :func:`laissez_faire_range` reports both ends.
    """
    if "contract" in kwargs:
        raise TypeError("laissez_faire takes no contract")
    return equilibrium(model, **kwargs)


@single_blas_thread
def laissez_faire_range(model: TabularModel, **kwargs: Unpack[_RangeOptions]) -> tuple[float, float]:
    """``(worst, best)`` welfare over the laissez-faire equilibria that best-response
    iteration reaches from each uniform start (every agent at action ``k``, for each
    ``k``, and the default selection of :func:`laissez_faire`). Starts that do not
    settle are left out. A single value twice means the selection does not matter
    among these starts (it does not prove the equilibrium unique)."""
    if "contract" in kwargs or "start" in kwargs:
        raise TypeError("laissez_faire_range takes no contract and no start")
    found = [laissez_faire(model, **kwargs).social_welfare]
    for action in range(model.n_actions):
        profile = np.full((1, model.n_agents), action)
        start = np.full(model.n_states, model.joint_action_index(profile, model.n_actions)[0])
        try:
            found.append(equilibrium(model, start=start, **kwargs).social_welfare)
        except EquilibriumNotFound:
            continue
    return min(found), max(found)


# -- implementing a target ------------------------------------------------------------


@single_blas_thread
def implementing_transfers(
    model: TabularModel,
    target: np.ndarray,
    *,
    agent_discount: float = 0.0,
    epsilon: float = 1e-3,
    horizon: float | None = None,
    discount: float = 1.0,
    tol: float = 1e-10,
    max_iterations: int = 100_000,
) -> np.ndarray:
    """The minimal transfers that make ``target`` every agent's best response.

    Per period, state and agent, given that the others follow ``target``
    (now and later, with these transfers), pay the smallest bonus ``b >= 0``
    on one signal such that the target action beats every deviation by at
    least ``epsilon``, counting the agent's continuation value when
    ``agent_discount > 0``. The signal is the one with the lowest expected
    payment; when signals are actions that is the target action itself, and
    ``b = max(0, best deviation - target + epsilon)``.

    Returns
    -------
    ndarray, shape (T, S, N, n_signals)
        The contract (``T = 1`` for the stationary problem).

    Raises
    ------
    NotImplementable
        When no single-signal bonus separates the target from a deviation.
    """
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, (int, float, np.integer, np.floating))
        or not (0 <= epsilon < np.inf)
    ):
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    check_unit("agent_discount", agent_discount)
    periods = _periods(model, horizon, discount)
    if periods is None and agent_discount >= 1.0:
        raise ValueError("an infinite horizon needs agent_discount < 1")
    target = _check_policy(model, target, periods, "target")
    n_signals = model.signal_probabilities.shape[3]
    s_index = np.arange(model.n_states)

    def stage(t: int, agent_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        profile = target[0 if target.shape[0] == 1 else t]
        no_contract = np.zeros((model.n_states, model.n_agents, n_signals))
        payoffs = _StagePayoffs(model, no_contract, agent_discount, agent_values)
        contract = np.zeros((model.n_states, model.n_agents, n_signals))
        for i in range(model.n_agents):
            candidates, own, columns = _unilateral(model, profile, i)
            values = payoffs.value(candidates, i, columns)  # (S, L), without transfers
            laws = model.signal_probabilities[s_index[:, None], candidates, columns]  # (S, L, K)
            need = values - values[s_index, own][:, None] + epsilon  # what each deviation must lose
            need[s_index, own] = -np.inf
            lift = laws[s_index, own][:, None, :] - laws  # (S, L, K): signal k's edge over a deviation
            binding = need[:, :, None] > 0
            feasible = ~np.any(binding & (lift <= 0), axis=1)  # (S, K)
            ratio = np.where(binding & (lift > 0), need[:, :, None] / np.where(lift > 0, lift, 1), 0.0)
            bonus = np.maximum(ratio.max(axis=1), 0.0)  # (S, K)
            cost = np.where(feasible, bonus * laws[s_index, own], np.inf)
            # Among equally cheap signals prefer the target's most likely one.
            cost = cost - 1e-15 * laws[s_index, own]
            pick = cost.argmin(axis=1)
            if not np.all(np.isfinite(cost[s_index, pick])):
                bad = int(np.flatnonzero(~np.isfinite(cost[s_index, pick]))[0])
                raise NotImplementable(
                    f"agent_{i}: in state {bad} (period {t}) no bonus on a single signal makes the "
                    "target action a best response: every signal is as likely under some deviation"
                )
            contract[s_index, i, pick] = bonus[s_index, pick]
        laws = model.signal_probabilities[s_index[:, None], profile[:, None], model.agent_columns(profile)]
        received = np.einsum("snk,snk->sn", laws, contract)
        return contract, payoffs.at(profile) + received

    agent_values = np.zeros((model.n_states, model.n_agents))
    if periods is None:
        for _ in range(max_iterations):
            contract, updated = stage(0, agent_values)
            change = np.abs(updated - agent_values).max()
            agent_values = updated
            if agent_discount == 0 or change <= tol * (1 - agent_discount):
                return contract[None]
        raise RuntimeError(f"implementing transfers did not converge in {max_iterations} iterations")
    table = np.empty((periods, model.n_states, model.n_agents, n_signals))
    for t in reversed(range(periods)):
        table[t], agent_values = stage(t, agent_values)
    return table


# -- references --------------------------------------------------------------------------


def price_of_anarchy(optimum: float, equilibrium_welfare: float) -> float | None:
    """``W* / W_eq`` when both are positive; when both are negative (welfare is a
    cost, as in routing games) the ratio of costs ``W_eq / W*``; else ``None``
    (use :func:`welfare_gap`). Either way it is at least 1 when ``W* >= W_eq``."""
    if optimum > 0 and equilibrium_welfare > 0:
        return optimum / equilibrium_welfare
    if optimum < 0 and equilibrium_welfare < 0:
        return equilibrium_welfare / optimum
    return None


def welfare_gap(optimum: float, equilibrium_welfare: float) -> float:
    """``W* - W_eq``: the welfare an equilibrium leaves on the table."""
    return optimum - equilibrium_welfare


def share_of_gap(welfare: float, optimum: float, laissez_faire: float) -> float:
    """The share of the gap ``W* - W_LF`` that ``welfare`` closes: 0 at laissez-faire, 1 at the
    optimum, negative below laissez-faire (``nan`` when there is no gap). Unlike a share of
    ``W*`` it reads the same for costs (negative welfare) and for an optimum near 0."""
    gap = welfare_gap(optimum, laissez_faire)
    return (welfare - laissez_faire) / gap if gap > 1e-9 else float("nan")


@dataclasses.dataclass(frozen=True, eq=False)
class ExactReferences:
    """The exact benchmarks of one env configuration.

    Attributes
    ----------
    optimum : PolicyValue
        The social optimum; ``optimum.social_welfare`` is ``W*``.
    laissez_faire : PolicyValue
        The equilibrium without transfers; its welfare is ``W_LF``.
    pigouvian : ndarray
        The minimal transfers implementing the optimum (``(T, S, N, n_signals)``).
    pigouvian_outcome : PolicyValue
        The optimum played under those transfers, with their cost: the
        transfers make the optimum an equilibrium (best-response iteration
        started there stays there).
    laissez_faire_range : (float, float)
        The worst and the best laissez-faire welfare over the equilibria reached from
        each uniform start (:func:`laissez_faire_range`): ``laissez_faire`` is one of
        them, by the selection :func:`laissez_faire` documents.
    pigouvian_unique : bool
        Whether best-response iteration started from the laissez-faire
        outcome also reaches the optimum. When ``False`` the transfers
        implement the optimum only weakly: another equilibrium (for
        forward-looking agents, often the laissez-faire one) survives them.
    agent_discount : float
        The agents' discount the equilibria assume.
    """

    optimum: PolicyValue
    laissez_faire: PolicyValue
    pigouvian: np.ndarray
    pigouvian_outcome: PolicyValue
    pigouvian_unique: bool
    agent_discount: float
    laissez_faire_range: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def price_of_anarchy(self) -> float | None:
        return price_of_anarchy(self.optimum.social_welfare, self.laissez_faire.social_welfare)

    @property
    def welfare_gap(self) -> float:
        return welfare_gap(self.optimum.social_welfare, self.laissez_faire.social_welfare)


@single_blas_thread
def exact_references(
    model: TabularModel,
    *,
    agent_discount: float = 0.0,
    epsilon: float = 1e-3,
    horizon: float | None = None,
    discount: float = 1.0,
) -> ExactReferences:
    """``W*``, ``W_LF``, the implementing transfers and their outcome, in one call."""
    optimum = social_optimum(model, horizon=horizon, discount=discount)
    lf = equilibrium(model, agent_discount=agent_discount, horizon=horizon, discount=discount)
    transfers = implementing_transfers(
        model,
        optimum.policy,
        agent_discount=agent_discount,
        epsilon=epsilon,
        horizon=horizon,
        discount=discount,
    )
    implemented = functools.partial(
        equilibrium,
        model,
        contract=transfers,
        agent_discount=agent_discount,
        horizon=horizon,
        discount=discount,
    )
    outcome = implemented(start=optimum.policy)
    try:
        from_laissez_faire = implemented(start=lf.policy)
        unique = bool(np.array_equal(from_laissez_faire.policy, outcome.policy))
    except EquilibriumNotFound:
        unique = False  # from laissez-faire the agents do not even settle: not uniquely implemented
    lf_range = laissez_faire_range(model, agent_discount=agent_discount, horizon=horizon, discount=discount)
    return ExactReferences(optimum, lf, transfers, outcome, unique, agent_discount, lf_range)


@single_blas_thread
def best_flat_transfer(
    model: TabularModel,
    signal: int = -1,
    *,
    amounts: np.ndarray | None = None,
    agent_discount: float = 0.0,
    horizon: float | None = None,
    discount: float = 1.0,
    prefer: str = "smallest",
    progress: Callable[[], object] | None = None,
) -> tuple[float, PolicyValue]:
    """The single transfer on one signal, the same for every agent, state and period,
    whose equilibrium has the highest social welfare (a grid search, exact at each point).

    Parameters
    ----------
    signal : int
        The signal it is paid on (default: the last one, e.g. ``high`` production).
    amounts : array_like, optional
        Candidate transfers (negative: taxes); default 201 points in ``[-10, 10]``.
    prefer : {"smallest", "middle"}
        Among amounts of equal welfare: the smallest ``|amount|`` (often one at which the
        agents are exactly indifferent: the analysis keeps their current action on a tie,
        learning agents may not), or the one nearest the middle of them (robust to noisy
        learners: what the experiments post).
    progress : callable, optional
        Called with no argument after each candidate amount is solved (a progress bar's tick).

    Returns
    -------
    (amount, outcome)
        The best transfer and the equilibrium it induces. Amounts at which the agents
        have no pure equilibrium are skipped, with a ``RuntimeWarning`` that lists them.
    """
    best, skipped, tried = _flat_transfer_search(
        model, signal, amounts, agent_discount, horizon, discount, prefer, progress
    )
    if skipped:
        warnings.warn(f"best_flat_transfer: {_skipped_text({signal: skipped}, tried)}", RuntimeWarning, 2)
    return best


def _flat_transfer_search(
    model: TabularModel,
    signal: int,
    amounts: np.ndarray | None,
    agent_discount: float,
    horizon: float | None,
    discount: float,
    prefer: str,
    progress: Callable[[], object] | None,
) -> tuple[tuple[float, PolicyValue], list[float], int]:
    """:func:`best_flat_transfer`'s search: the best ``(amount, outcome)``, the amounts skipped
    (no pure equilibrium) and how many were tried."""
    if prefer not in ("smallest", "middle"):
        raise ValueError(f"prefer must be 'smallest' or 'middle', got {prefer!r}")
    n_signals = model.signal_probabilities.shape[3]
    if (
        isinstance(signal, bool)
        or not isinstance(signal, (int, np.integer))
        or not -n_signals <= signal < n_signals
    ):
        raise ValueError(f"signal must be an index in -{n_signals}..{n_signals - 1}, got {signal!r}")
    amounts = np.linspace(-10.0, 10.0, 201) if amounts is None else np.asarray(amounts, np.float64)
    if amounts.ndim != 1 or len(amounts) == 0 or not np.all(np.isfinite(amounts)):
        raise ValueError(f"amounts must be a non-empty 1-D array of finite numbers, got {amounts!r}")
    best: tuple[float, PolicyValue] | None = None
    unsettled: list[float] = []
    found: list[tuple[float, PolicyValue]] = []
    for amount in sorted(amounts.tolist(), key=abs):
        row = np.zeros((model.n_agents, n_signals))
        row[:, signal] = amount
        try:
            outcome = equilibrium(
                model, contract=row, agent_discount=agent_discount, horizon=horizon, discount=discount
            )
        except EquilibriumNotFound:
            # At a knife-edge amount forward-looking agents may have no pure equilibrium:
            # that candidate has no outcome to compare, the others still do.
            unsettled.append(amount)
            continue
        finally:
            if progress is not None:
                progress()
        found.append((amount, outcome))
        if best is None or outcome.social_welfare > best[1].social_welfare + 1e-9:
            best = (amount, outcome)
    if best is None:
        raise EquilibriumNotFound(f"no candidate amount on signal {signal} has a pure equilibrium")
    if prefer == "middle":
        tied = sorted((a, o) for a, o in found if o.social_welfare >= best[1].social_welfare - 1e-9)
        middle = 0.5 * (tied[0][0] + tied[-1][0])
        best = min(tied, key=lambda pair: abs(pair[0] - middle))
    return best, sorted(unsettled), len(amounts)


def _skipped_text(skipped: dict[int, list[float]], tried: int) -> str:
    """What a flat-transfer search skipped and why, its amounts rounded for reading."""
    count = sum(len(amounts) for amounts in skipped.values())
    where = "; ".join(
        f"on signal {signal}: {', '.join(f'{a:+.4g}' for a in amounts[:8])}"
        + (", ..." if len(amounts) > 8 else "")
        for signal, amounts in skipped.items()
        if amounts
    )
    return (
        f"skipped {count} of {tried} candidate amount(s) ({where}): at these transfers the agents "
        "have no pure-strategy equilibrium (their best responses cycle), so there is no outcome to "
        "score; the best transfer is chosen among the other amounts"
    )


@single_blas_thread
def best_flat_incentive(
    model: TabularModel,
    bound: float,
    *,
    points: int = 101,
    agent_discount: float = 0.0,
    prefer: str = "smallest",
    progress: Callable[[], object] | None = None,
) -> tuple[int, float, PolicyValue]:
    """The best single flat transfer on any one signal, a tax or a subsidy within ``bound``:
    ``(signal, amount, equilibrium outcome)`` (a grid of ``points`` amounts in
    ``[-bound, bound]`` per signal, exact at each point; see :func:`best_flat_transfer`,
    whose ``prefer`` picks among amounts of equal welfare, and whose ``progress`` is
    called after each of the ``points * n_signals`` amounts)."""
    n_signals = model.signal_probabilities.shape[3]
    best: tuple[int, float, PolicyValue] | None = None
    skipped: dict[int, list[float]] = {}
    for signal in range(n_signals):
        (amount, outcome), skipped[signal], _ = _flat_transfer_search(
            model, signal, np.linspace(-bound, bound, points), agent_discount, None, 1.0, prefer, progress
        )
        if best is None or outcome.social_welfare > best[2].social_welfare + 1e-9:
            best = (signal, amount, outcome)
    if any(skipped.values()):
        warnings.warn(f"best_flat_incentive: {_skipped_text(skipped, points * n_signals)}", RuntimeWarning, 2)
    assert best is not None
    return best


# -- regret -------------------------------------------------------------------------------


def welfare_regret(episode_welfare: np.ndarray, optimum: float) -> np.ndarray:
    """Per-episode social-welfare regret ``W* - W_episode``."""
    return optimum - np.asarray(episode_welfare, dtype=np.float64)


def cumulative_regret(episode_welfare: np.ndarray, optimum: float) -> np.ndarray:
    """Running sum of :func:`welfare_regret` over episodes."""
    return np.cumsum(welfare_regret(episode_welfare, optimum))


def regret_slope(cumulative: np.ndarray, start_fraction: float = 0.5) -> float:
    """Log-log slope of cumulative regret against episode count over the last part of a run.

    A slope below 1 means regret grows sublinearly (per-episode regret vanishes).
    Fits ``log R(n) = a + slope * log n`` by least squares over episodes
    ``n >= start_fraction * len(cumulative)`` (counting from 1) where ``R(n) > 0``.
    """
    cumulative = np.asarray(cumulative, dtype=np.float64)
    if cumulative.ndim != 1:
        raise ValueError(
            f"cumulative regret must be 1-D (one value per episode), got shape {cumulative.shape}"
        )
    if not 0.0 <= start_fraction < 1.0:
        raise ValueError(f"start_fraction must be in [0, 1), got {start_fraction!r}")
    n = np.arange(1, len(cumulative) + 1)
    keep = (n >= start_fraction * len(cumulative)) & (cumulative > 0)
    if keep.sum() < 2:
        raise ValueError("need at least two episodes with positive cumulative regret to fit a slope")
    slope, _ = np.polyfit(np.log(n[keep]), np.log(cumulative[keep]), 1)
    return float(slope)
