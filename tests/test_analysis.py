"""Exact welfare analysis (:mod:`pa_envs.analysis`) checked against independent numbers.

Every expected value here is either a closed form worked out by hand (one-state
games: prisoner's dilemma, Pigou congestion, matching pennies) or the result of
a brute force written in this file from the *documented* economics of
pollution_v0 (its env card), never from the model arrays or from the function
under test called another way. The exceptions say so: the Bellman check of the
infinite-horizon optimum uses ``model.expected_next``, and the count model is
compared with the joint model (both are the library's; agreeing is the point).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import numpy as np
import pytest

from pa_envs import analysis, pollution_v0
from pa_envs.core.tabular import TabularModel, enumerate_count_profiles, enumerate_joint_actions
from pa_envs.core.transitions import GatheredTransitions

INF = float("inf")
EPS = 1e-3

# -- one-state games built by hand ---------------------------------------------------------


def one_state_model(
    payoff, n_agents: int, n_actions: int, horizon: int, signal_probabilities=None
) -> TabularModel:
    """A repeated stage game: one state that always returns to itself.

    ``payoff(actions)`` gives each agent's payoff of a joint action (a tuple).
    Signals are each agent's own action unless ``signal_probabilities(action)``
    (the ``(n_signals,)`` law of the signal of an agent taking ``action``) says otherwise.
    """
    joint = enumerate_joint_actions(n_agents, n_actions)
    utility = np.array([payoff(tuple(int(x) for x in row)) for row in joint], dtype=np.float64)
    if signal_probabilities is None:
        laws = np.eye(n_actions)[joint]  # (A, N, L): the signal is the action
    else:
        laws = np.array([[signal_probabilities(int(x)) for x in row] for row in joint], dtype=np.float64)
    return stage_game(joint, utility, laws, horizon)


def stage_game(profiles, utility, laws, horizon: int, symmetric: bool = False) -> TabularModel:
    """The one-state model of a stage game: ``utility`` and signal ``laws`` per row of
    ``profiles`` (joint actions, or count profiles when ``symmetric``), no externality."""
    n_profiles = len(profiles)
    return TabularModel(
        states=np.zeros((1, 1), dtype=np.int64),
        joint_actions=profiles,
        initial_distribution=np.ones(1),
        transition_class=np.zeros(n_profiles, dtype=np.int64),
        transitions=GatheredTransitions(np.zeros((1, 1, 1), dtype=np.int64), np.ones((1, 1, 1))),
        private_utility=utility[None],
        principal_payoff=np.zeros((1, n_profiles)),
        externality=np.zeros((1, n_profiles)),
        signal_probabilities=laws[None],
        horizon=horizon,
        symmetric=symmetric,
    )


def actions_of(model: TabularModel, value: analysis.PolicyValue) -> list[tuple[int, ...]]:
    """The joint action (as a tuple) of every period in state 0."""
    return [tuple(int(x) for x in model.joint_actions[a]) for a in value.policy[:, 0]]


def index_of(model: TabularModel, actions: tuple[int, ...]) -> int:
    """Row of ``model.joint_actions`` holding ``actions`` (found by search, not by formula)."""
    (rows,) = np.nonzero((model.joint_actions == np.array(actions)).all(axis=1))
    assert len(rows) == 1
    return int(rows[0])


# Prisoner's dilemma: action 0 cooperates, 1 defects.
C, D = 0, 1
REWARD, TEMPTATION, SUCKER, PUNISHMENT = 3.0, 5.0, 0.0, 1.0
PD_TABLE = {
    (C, C): (REWARD, REWARD),
    (C, D): (SUCKER, TEMPTATION),
    (D, C): (TEMPTATION, SUCKER),
    (D, D): (PUNISHMENT, PUNISHMENT),
}
PIGOU_BONUS = TEMPTATION - REWARD  # what cooperating against a cooperator forgoes


def prisoners_dilemma(horizon: int, signal_probabilities=None) -> TabularModel:
    return one_state_model(PD_TABLE.__getitem__, 2, 2, horizon, signal_probabilities)


def geometric(discount: float, periods: float) -> float:
    """``sum_{t < periods} discount**t``."""
    if periods == INF:
        return 1.0 / (1.0 - discount)
    return float(periods) if discount == 1.0 else (1.0 - discount**periods) / (1.0 - discount)


@pytest.mark.parametrize("horizon", [1, 5])
def test_prisoners_dilemma_optimum_and_laissez_faire(horizon):
    model = prisoners_dilemma(horizon)
    optimum = analysis.social_optimum(model)
    assert actions_of(model, optimum) == [(C, C)] * horizon
    assert optimum.social_welfare == pytest.approx(horizon * 2 * REWARD, abs=1e-12)
    np.testing.assert_allclose(optimum.agent_values, [horizon * REWARD] * 2, atol=1e-12)
    assert optimum.transfers == 0.0 and optimum.externality == 0.0
    np.testing.assert_allclose(optimum.welfare_to_go[:, 0], 2 * REWARD * np.arange(horizon, 0, -1))

    w_lf = horizon * 2 * PUNISHMENT
    for agent_discount in (0.0, 0.5, 1.0):  # one state: the future does not depend on the action
        lf = analysis.equilibrium(model, agent_discount=agent_discount)
        assert actions_of(model, lf) == [(D, D)] * horizon
        assert lf.social_welfare == pytest.approx(w_lf, abs=1e-12)
        np.testing.assert_allclose(lf.agent_values, [horizon * PUNISHMENT] * 2, atol=1e-12)
    # Defecting is dominant: the iteration finds it from any start.
    for start in itertools.product((C, D), repeat=2):
        lf = analysis.laissez_faire(model, start=[index_of(model, start)])
        assert actions_of(model, lf) == [(D, D)] * horizon

    w_star = optimum.social_welfare
    assert analysis.price_of_anarchy(w_star, lf.social_welfare) == pytest.approx(REWARD / PUNISHMENT)
    assert analysis.welfare_gap(w_star, lf.social_welfare) == pytest.approx(
        horizon * 2 * (REWARD - PUNISHMENT)
    )
    references = analysis.exact_references(model, epsilon=EPS)
    assert references.price_of_anarchy == pytest.approx(REWARD / PUNISHMENT)
    assert references.welfare_gap == pytest.approx(horizon * 2 * (REWARD - PUNISHMENT))
    assert actions_of(model, references.pigouvian_outcome) == [(C, C)] * horizon


def test_prisoners_dilemma_discounted_objectives():
    model = prisoners_dilemma(5)
    for horizon, discount in [(5, 0.9), (3, 0.5), (INF, 0.9), (INF, 0.0)]:
        optimum = analysis.social_optimum(model, horizon=horizon, discount=discount)
        lf = analysis.equilibrium(model, horizon=horizon, discount=discount)
        factor = geometric(discount, horizon)
        assert optimum.social_welfare == pytest.approx(2 * REWARD * factor, rel=1e-9)
        assert lf.social_welfare == pytest.approx(2 * PUNISHMENT * factor, rel=1e-9)
        assert actions_of(model, optimum)[0] == (C, C)
        assert actions_of(model, lf)[0] == (D, D)
    stationary = analysis.social_optimum(model, horizon=INF, discount=0.9)
    assert stationary.stationary and stationary.policy.shape == (1, 1)
    assert tuple(stationary.joint_action(model, 7, 0)) == (C, C)  # any period: the one row
    assert tuple(analysis.equilibrium(model, horizon=5).joint_action(model, 4, 0)) == (D, D)


def test_price_of_anarchy_needs_welfare_of_one_sign():
    assert analysis.price_of_anarchy(6.0, 2.0) == 3.0
    assert analysis.price_of_anarchy(6.0, 0.0) is None
    assert analysis.price_of_anarchy(6.0, -1.0) is None
    # Costs (routing games): the ratio of the equilibrium's cost to the optimum's.
    assert analysis.price_of_anarchy(-3.0, -4.0) == pytest.approx(4.0 / 3.0)
    assert analysis.price_of_anarchy(0.0, -4.0) is None
    assert analysis.welfare_gap(-3.0, -4.0) == 1.0


@pytest.mark.parametrize("agent_discount", [0.0, 0.9])
@pytest.mark.parametrize("horizon", [1, 5])
def test_prisoners_dilemma_pigouvian_bonus(horizon, agent_discount):
    model = prisoners_dilemma(horizon)
    target = analysis.social_optimum(model).policy
    contract = analysis.implementing_transfers(model, target, epsilon=EPS, agent_discount=agent_discount)
    expected = np.zeros((horizon, 1, 2, 2))
    expected[..., C] = PIGOU_BONUS + EPS  # on "cooperate", for both agents, every period
    assert contract.shape == expected.shape
    np.testing.assert_allclose(contract, expected, atol=1e-12)

    # Under the contract the agents cooperate, even starting from mutual defection.
    for start in [(D, D), (C, D), (C, C)]:
        outcome = analysis.equilibrium(
            model, contract=contract, agent_discount=agent_discount, start=[index_of(model, start)]
        )
        assert actions_of(model, outcome) == [(C, C)] * horizon
    paid = analysis.evaluate(model, target, contract=contract)
    assert paid.transfers == pytest.approx(horizon * 2 * (PIGOU_BONUS + EPS), abs=1e-12)
    np.testing.assert_allclose(paid.agent_values, [horizon * (TEMPTATION + EPS)] * 2, atol=1e-12)
    assert paid.social_welfare == pytest.approx(horizon * 2 * REWARD)  # transfers are not welfare
    assert outcome.transfers == pytest.approx(paid.transfers, abs=1e-12)

    # Lowering one agent's bonus by 2 epsilon: that agent defects, the other still cooperates
    # (it gets SUCKER + bonus > PUNISHMENT). Lowering it by epsilon / 2 keeps the target.
    for agent in (0, 1):
        lower = contract.copy()
        lower[:, :, agent, C] -= 2 * EPS
        broken = analysis.equilibrium(
            model, contract=lower, agent_discount=agent_discount, start=[index_of(model, (C, C))]
        )
        defects = tuple(D if i == agent else C for i in range(2))
        assert actions_of(model, broken) == [defects] * horizon
        slightly = contract.copy()
        slightly[:, :, agent, C] -= EPS / 2
        kept = analysis.equilibrium(
            model, contract=slightly, agent_discount=agent_discount, start=[index_of(model, (C, C))]
        )
        assert actions_of(model, kept) == [(C, C)] * horizon


def test_contract_forms_are_equivalent():
    model = prisoners_dilemma(3)
    bonus = PIGOU_BONUS + EPS
    matrix = np.array([[bonus, 0.0], [bonus, 0.0]])
    for contract in [matrix, matrix.reshape(-1), matrix[None], np.broadcast_to(matrix, (3, 1, 2, 2))]:
        outcome = analysis.equilibrium(model, contract=contract, start=[index_of(model, (D, D))])
        assert actions_of(model, outcome) == [(C, C)] * 3
        assert outcome.transfers == pytest.approx(3 * 2 * bonus)
    # A per-period contract that pays only in period 1: agents cooperate then only.
    per_period = np.zeros((3, 1, 2, 2))
    per_period[1] = matrix
    outcome = analysis.equilibrium(model, contract=per_period)
    assert actions_of(model, outcome) == [(D, D), (C, C), (D, D)]
    assert outcome.transfers == pytest.approx(2 * bonus)


def test_noisy_signal_bonus_and_uninformative_signal():
    accuracy = 0.8  # the signal reports the action taken with probability 0.8

    def noisy(action):
        return [accuracy, 1 - accuracy] if action == C else [1 - accuracy, accuracy]

    model = prisoners_dilemma(2, noisy)
    target = analysis.social_optimum(model).policy
    contract = analysis.implementing_transfers(model, target, epsilon=EPS)
    # A bonus b on signal "C" raises cooperation's payoff by (0.8 - 0.2) b over defection's.
    bonus = (PIGOU_BONUS + EPS) / (2 * accuracy - 1)
    expected = np.zeros((2, 1, 2, 2))
    expected[..., C] = bonus
    np.testing.assert_allclose(contract, expected, atol=1e-12)
    outcome = analysis.equilibrium(model, contract=contract, start=[index_of(model, (D, D))])
    assert actions_of(model, outcome) == [(C, C)] * 2
    assert outcome.transfers == pytest.approx(2 * 2 * accuracy * bonus)

    blind = prisoners_dilemma(2, lambda action: [0.5, 0.5])
    with pytest.raises(analysis.NotImplementable, match="agent_0"):
        analysis.implementing_transfers(blind, analysis.social_optimum(blind).policy)
    with pytest.raises(ValueError, match="epsilon"):
        analysis.implementing_transfers(model, target, epsilon=-1.0)


def test_best_flat_transfer_on_prisoners_dilemma():
    model = prisoners_dilemma(4)
    # A tax t on "defect" (the last signal) makes cooperation dominant when TEMPTATION + t < REWARD
    # (and PUNISHMENT + t < SUCKER): t < -2. The best is then the smallest such |t| on the grid.
    amount, outcome = analysis.best_flat_transfer(model, amounts=np.array([1.0, 0.0, -1.0, -2.5, -3.0]))
    assert amount == -2.5
    assert actions_of(model, outcome) == [(C, C)] * 4
    assert outcome.social_welfare == pytest.approx(4 * 2 * REWARD)
    assert outcome.transfers == 0.0  # nobody defects, nobody is taxed
    # Neither a subsidy of 1 nor a tax of 0.5 on "defect" stops it (a tax of 1 would leave a
    # defector's partner indifferent): both give (D, D); the tie goes to the smallest |amount|.
    amount, outcome = analysis.best_flat_transfer(model, amounts=np.array([1.0, -0.5]))
    assert actions_of(model, outcome) == [(D, D)] * 4
    assert outcome.social_welfare == pytest.approx(4 * 2 * PUNISHMENT)
    assert amount == -0.5


# -- Pigou congestion -------------------------------------------------------------------------

ROAD, BYPASS = 0, 1  # the road's cost is its load / N; the bypass always costs 1


def pigou_cost(action: int, load: int, n_agents: int) -> float:
    return load / n_agents if action == ROAD else 1.0


def pigou_joint(n_agents: int, horizon: int) -> TabularModel:
    def payoff(actions):
        load = actions.count(ROAD)
        return tuple(-pigou_cost(a, load, n_agents) for a in actions)

    return one_state_model(payoff, n_agents, 2, horizon)


def pigou_counts(n_agents: int, horizon: int) -> TabularModel:
    profiles = enumerate_count_profiles(n_agents, 2)
    utility = np.array(
        [[-pigou_cost(k, int((row == ROAD).sum()), n_agents) for k in (ROAD, BYPASS)] for row in profiles]
    )
    laws = np.broadcast_to(np.eye(2), (len(profiles), 2, 2)).copy()
    return stage_game(profiles, utility, laws, horizon, symmetric=True)


def is_pure_nash(actions: tuple[int, ...], n_agents: int) -> bool:
    """No agent lowers its cost by switching route (brute force)."""
    for i, own in enumerate(actions):
        other = 1 - own
        moved = (*actions[:i], other, *actions[i + 1 :])
        if pigou_cost(other, moved.count(ROAD), n_agents) < pigou_cost(own, actions.count(ROAD), n_agents):
            return False
    return True


@pytest.mark.parametrize("horizon", [1, 3])
def test_pigou_congestion(horizon):
    n = 4
    joint, counts = pigou_joint(n, horizon), pigou_counts(n, horizon)
    # Total cost with k on the road: (n - k) + k**2 / n, least at k = n / 2: 3n/4 = 3.
    w_star, w_eq = -horizon * 3 * n / 4, -horizon * n
    for model in (joint, counts):
        optimum = analysis.social_optimum(model)
        assert optimum.social_welfare == pytest.approx(w_star, abs=1e-12)
        for a in optimum.policy[:, 0]:
            assert (model.joint_actions[a] == ROAD).sum() == n // 2
        lf = analysis.equilibrium(model)  # starts with everyone on the road (action 0)
        for a in lf.policy[:, 0]:
            assert (model.joint_actions[a] == ROAD).all()
        assert lf.social_welfare == pytest.approx(w_eq, abs=1e-12)
        assert analysis.price_of_anarchy(optimum.social_welfare, lf.social_welfare) == pytest.approx(4 / 3)
        assert analysis.welfare_gap(optimum.social_welfare, lf.social_welfare) == pytest.approx(
            horizon * n / 4
        )
        assert lf.social_welfare / optimum.social_welfare == pytest.approx(4 / 3)  # ratio of costs
        # From everyone on the bypass, three move to the road (costs 1/4, 2/4, 3/4 < 1) and the
        # last is indifferent (cost 1 either way), so it stays: the iteration stops at another
        # (weak) pure equilibrium, which the brute force confirms, worth -(3 * 3/4 + 1) a period.
        other = analysis.equilibrium(model, start=[index_of(model, (BYPASS,) * n)])
        for a in other.policy[:, 0]:
            assert (model.joint_actions[a] == ROAD).sum() == n - 1
            assert is_pure_nash(tuple(int(x) for x in model.joint_actions[a]), n)
        assert other.social_welfare == pytest.approx(-horizon * ((n - 1) ** 2 / n + 1), abs=1e-12)
    assert is_pure_nash((ROAD,) * n, n)


def test_pigou_count_model_evaluates_like_joint_model():
    n, horizon = 4, 3
    joint, counts = pigou_joint(n, horizon), pigou_counts(n, horizon)
    assert counts.n_joint_actions == math.comb(n + 1, 1)
    rng = np.random.default_rng(1)
    policy = rng.integers(joint.n_joint_actions, size=(horizon, 1))
    same = counts.joint_action_index(joint.joint_actions[policy])
    a, b = analysis.evaluate(joint, policy), analysis.evaluate(counts, same)
    assert a.social_welfare == pytest.approx(b.social_welfare, abs=1e-12)
    assert a.agent_values.sum() == pytest.approx(b.agent_values.sum(), abs=1e-12)
    expected = sum(
        -sum(pigou_cost(x, list(joint.joint_actions[p]).count(ROAD), n) for x in joint.joint_actions[p])
        for p in policy[:, 0]
    )
    assert a.social_welfare == pytest.approx(expected, abs=1e-12)


# -- equilibria that do not exist, bad arguments ---------------------------------------------


def matching_pennies_payoff(actions):
    match = 1.0 if actions[0] == actions[1] else -1.0
    return (match, -match)


def two_state_model(horizon: int) -> TabularModel:
    """State 0 plays the prisoner's dilemma, state 1 matching pennies; each state keeps itself."""
    joint = enumerate_joint_actions(2, 2)
    rows = [tuple(int(x) for x in row) for row in joint]
    utility = np.array([[PD_TABLE[r] for r in rows], [matching_pennies_payoff(r) for r in rows]])
    return TabularModel(
        states=np.array([[0], [1]]),
        joint_actions=joint,
        initial_distribution=np.array([1.0, 0.0]),
        transition_class=np.zeros(4, dtype=np.int64),
        transitions=GatheredTransitions(np.array([[[0]], [[1]]]), np.ones((2, 1, 1))),
        private_utility=utility,
        principal_payoff=np.zeros((2, 4)),
        externality=np.zeros((2, 4)),
        signal_probabilities=np.broadcast_to(np.eye(2)[joint], (2, 4, 2, 2)).copy(),
        horizon=horizon,
    )


def test_matching_pennies_has_no_pure_equilibrium():
    pennies = one_state_model(matching_pennies_payoff, 2, 2, 5)
    with pytest.raises(analysis.EquilibriumNotFound, match=r"in period 4 .*200 rounds.*states \[0\]"):
        analysis.equilibrium(pennies)
    with pytest.raises(analysis.EquilibriumNotFound, match=r"in period 4 .*7 rounds"):
        analysis.laissez_faire(pennies, max_rounds=7)
    with pytest.raises(analysis.EquilibriumNotFound, match=r"\(stationary\)"):
        analysis.equilibrium(pennies, horizon=INF, discount=0.9, agent_discount=0.5)
    # With two states, the message names the one that cycles.
    with pytest.raises(analysis.EquilibriumNotFound, match=r"states \[1\]"):
        analysis.equilibrium(two_state_model(3))
    # The social optimum exists all the same (any matching or mismatching pair: welfare 0).
    assert analysis.social_optimum(pennies).social_welfare == 0.0


def test_best_flat_transfer_skips_amounts_without_a_pure_equilibrium():
    """Both agents lean to action 0 by 3; a transfer of 3 on signal 1 cancels the leans and
    leaves matching pennies (no pure equilibrium); 0 and 6 each leave one."""

    def payoff(actions):
        match, mismatch = matching_pennies_payoff(actions)
        return (match + 3.0 * (actions[0] == 0), mismatch + 3.0 * (actions[1] == 0))

    model = one_state_model(payoff, 2, 2, 1)
    with pytest.warns(RuntimeWarning, match=r"skipped 1 of 3 candidate amount.*on signal 1: \+3[):]"):
        amount, outcome = analysis.best_flat_transfer(model, 1, amounts=np.array([0.0, 3.0, 6.0]))
    assert amount in (0.0, 6.0)
    assert outcome.social_welfare == max(
        analysis.equilibrium(model, contract=np.array([[0.0, a], [0.0, a]])).social_welfare
        for a in (0.0, 6.0)
    )
    with pytest.raises(analysis.EquilibriumNotFound, match="no candidate amount"):
        analysis.best_flat_transfer(model, 1, amounts=np.array([3.0]))


def test_stationary_equilibrium_iteration_limit():
    model = pollution_v0.parallel_env(n_agents=2, max_stock=8).tabular_model()
    with pytest.raises(analysis.EquilibriumNotFound, match="2 iterations"):
        analysis.equilibrium(model, horizon=INF, discount=0.9, agent_discount=0.9, max_iterations=2)


@pytest.mark.parametrize("horizon", [0, -1, 2.5, True, "3", float("nan")])
def test_invalid_horizon(horizon):
    model = prisoners_dilemma(3)
    policy = np.zeros((1, 1), dtype=np.int64)
    for call in (
        lambda: analysis.social_optimum(model, horizon=horizon),
        lambda: analysis.equilibrium(model, horizon=horizon),
        lambda: analysis.evaluate(model, policy, horizon=horizon),
        lambda: analysis.implementing_transfers(model, policy, horizon=horizon),
        lambda: analysis.exact_references(model, horizon=horizon),
    ):
        with pytest.raises(ValueError):
            call()


def test_negative_infinite_horizon_is_a_value_error():
    with pytest.raises(ValueError):
        analysis.social_optimum(prisoners_dilemma(3), horizon=-INF)


@pytest.mark.parametrize("discount", [-0.1, 1.5, float("nan")])
def test_invalid_discount(discount):
    model = prisoners_dilemma(3)
    for call in (
        lambda: analysis.social_optimum(model, discount=discount),
        lambda: analysis.equilibrium(model, discount=discount),
        lambda: analysis.evaluate(model, np.zeros((1, 1), dtype=np.int64), discount=discount),
        lambda: analysis.equilibrium(model, agent_discount=discount),
        lambda: analysis.implementing_transfers(model, np.zeros((1, 1)), agent_discount=discount),
    ):
        with pytest.raises(ValueError, match="discount"):
            call()


def test_infinite_horizon_needs_discounting():
    model = prisoners_dilemma(3)
    policy = np.zeros((1, 1), dtype=np.int64)
    for call in (
        lambda: analysis.social_optimum(model, horizon=INF),
        lambda: analysis.social_optimum(model, horizon=INF, discount=1.0),
        lambda: analysis.evaluate(model, policy, horizon=INF),
        lambda: analysis.equilibrium(model, horizon=INF),
        lambda: analysis.implementing_transfers(model, policy, horizon=INF),
        lambda: analysis.equilibrium(model, horizon=INF, discount=0.9, agent_discount=1.0),
    ):
        with pytest.raises(ValueError, match="infinite horizon"):
            call()


def test_implementing_transfers_infinite_horizon_rejects_agent_discount_one():
    model = prisoners_dilemma(3)
    with pytest.raises(ValueError):
        analysis.implementing_transfers(
            model, np.zeros((1, 1)), horizon=INF, discount=0.9, agent_discount=1.0, max_iterations=20
        )


@pytest.mark.parametrize(
    "shape",
    [(3, 2), (2, 3), (3,), (2, 2, 2), (2, 1, 2, 2), (4, 1, 2, 2), (3, 2, 2, 2), (3, 1, 2, 2, 1)],
)
def test_contract_of_wrong_shape(shape):
    model = prisoners_dilemma(3)  # 1 state, 2 agents, 2 signals, 3 periods
    policy = np.zeros((1, 1), dtype=np.int64)
    contract = np.zeros(shape)
    with pytest.raises(ValueError, match="contract"):
        analysis.equilibrium(model, contract=contract)
    with pytest.raises(ValueError, match="contract"):
        analysis.evaluate(model, policy, contract=contract)


def test_bad_contract_values_and_policies():
    model = prisoners_dilemma(3)
    policy = np.zeros((1, 1), dtype=np.int64)
    with pytest.raises(ValueError, match="NaN or infinite"):
        analysis.equilibrium(model, contract=np.array([[np.nan, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="stationary"):  # a per-period contract, infinite horizon
        analysis.equilibrium(model, contract=np.zeros((3, 1, 2, 2)), horizon=INF, discount=0.9)
    with pytest.raises(ValueError, match="policy"):
        analysis.evaluate(model, np.zeros((2, 1), dtype=np.int64))  # 2 periods of 3
    with pytest.raises(ValueError, match="policy"):
        analysis.evaluate(model, np.zeros((1, 2), dtype=np.int64))  # 2 states of 1
    with pytest.raises(ValueError, match="outside"):
        analysis.evaluate(model, np.full((1, 1), 4))
    with pytest.raises(ValueError, match="target"):
        analysis.implementing_transfers(model, np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(TypeError, match="contract"):
        analysis.laissez_faire(model, contract=None)
    assert analysis.evaluate(model, policy).social_welfare == pytest.approx(3 * 2 * REWARD)


def test_stationary_evaluation_rejects_a_per_period_policy():
    model = prisoners_dilemma(3)
    policy = np.array([[index_of(model, (C, C))], [index_of(model, (D, D))]])
    with pytest.raises(ValueError):
        analysis.evaluate(model, policy, horizon=INF, discount=0.9)


# -- pollution_v0: brute force from the env card ------------------------------------------------


@functools.cache
def _next_law(decay: float, cap: int, stock: int, emitted: int) -> tuple[tuple[int, float], ...]:
    return tuple(
        (min(cap, stock - k + emitted), math.comb(stock, k) * decay**k * (1 - decay) ** (stock - k))
        for k in range(stock + 1)
    )


@dataclasses.dataclass(frozen=True)
class Economics:
    """pollution_v0 as its env card describes it (emission_per_unit = 1)."""

    n_agents: int
    n_levels: int = 3
    price: float = 6.0
    production_cost: float = 1.0
    decay: float = 0.2
    firm_damage: float = 0.1
    social_damage: float = 0.1
    max_stock: int = 8
    initial_stock: int = 0
    max_cycles: int = 3

    def env(self):
        return pollution_v0.parallel_env(**dataclasses.asdict(self))

    def profit(self, level: int) -> float:
        q = level + 1
        return self.price * q - self.production_cost * q**2

    def firm_payoff(self, stock: int, actions: tuple[int, ...], i: int) -> float:
        return self.profit(actions[i]) - self.firm_damage * stock

    def welfare(self, stock: int, actions: tuple[int, ...]) -> float:
        damage = (self.n_agents * self.firm_damage + self.social_damage) * stock
        return sum(self.profit(a) for a in actions) - damage

    def next_law(self, stock: int, emitted: int) -> tuple[tuple[int, float], ...]:
        """``(next stock, probability)``: Binomial(stock, decay) units decay, then emissions, capped."""
        return _next_law(self.decay, self.max_stock, stock, emitted)

    def expect(self, values, stock: int, actions: tuple[int, ...]) -> float:
        emitted = sum(a + 1 for a in actions)
        return sum(p * values[s] for s, p in self.next_law(stock, emitted))

    @property
    def stocks(self) -> range:
        return range(self.max_stock + 1)

    @property
    def joint(self) -> list[tuple[int, ...]]:
        return list(itertools.product(range(self.n_levels), repeat=self.n_agents))


def brute_optimum(econ: Economics) -> list[list[float]]:
    """``V[t][s]``: the best expected welfare from period t in stock s (expectimax)."""
    values = [[0.0] * len(econ.stocks) for _ in range(econ.max_cycles + 1)]
    for t in reversed(range(econ.max_cycles)):
        for s in econ.stocks:
            values[t][s] = max(econ.welfare(s, a) + econ.expect(values[t + 1], s, a) for a in econ.joint)
    return values


def brute_equilibrium(econ: Economics, agent_discount: float, select=None):
    """Markov perfect equilibrium by backward induction over (period, stock).

    In every period and stock, the pure equilibria of the stage game are the joint actions
    from which no firm gains (more than 1e-9) by deviating alone, counting its continuation
    value (weighted by ``agent_discount``) under the equilibrium of the later periods. With
    ``select=None`` there must be exactly one; otherwise ``select(t, s)`` names the joint action
    to follow, which must be one of them. Returns (actions[t][s], welfare-to-go[t][s]).
    """
    n = econ.n_agents
    stocks = list(econ.stocks)
    own = [[0.0] * n for _ in stocks]  # each firm's discounted value from the next period on
    welfare = [0.0] * len(stocks)
    plan, to_go = [], []
    for t in reversed(range(econ.max_cycles)):
        row, new_own, new_welfare = [], [], []
        for s in stocks:
            futures = [[econ.expect([own[x][i] for x in stocks], s, a) for i in range(n)] for a in econ.joint]
            future = dict(zip(econ.joint, futures, strict=True))

            def payoff(actions, i, s=s, future=future):
                return econ.firm_payoff(s, actions, i) + agent_discount * future[actions][i]

            equilibria = [
                a
                for a in econ.joint
                if all(
                    payoff((*a[:i], k, *a[i + 1 :]), i) <= payoff(a, i) + 1e-9
                    for i in range(n)
                    for k in range(econ.n_levels)
                )
            ]
            if select is None:
                assert len(equilibria) == 1, f"period {t}, stock {s}: pure equilibria {equilibria}"
                a = equilibria[0]
            else:
                a = select(t, s)
                assert a in equilibria, f"period {t}, stock {s}: {a} is not among {equilibria}"
            row.append(a)
            new_own.append([payoff(a, i) for i in range(n)])
            new_welfare.append(econ.welfare(s, a) + econ.expect(welfare, s, a))
        own, welfare = new_own, new_welfare
        plan.append(row)
        to_go.append(welfare)
    return plan[::-1], to_go[::-1]


POLLUTION_CONFIGS = [
    Economics(n_agents=2, max_cycles=3, max_stock=8),
    Economics(n_agents=2, max_cycles=4, max_stock=8, initial_stock=5),
    Economics(n_agents=2, n_levels=2, max_cycles=4, max_stock=6),
    # Firms that bear most of the damage: forward-looking ones cut back early on (and in some
    # periods and stocks the stage game has two pure equilibria: both low or both high).
    Economics(n_agents=2, n_levels=2, price=4.0, firm_damage=0.7, decay=0.3, max_cycles=4, max_stock=10),
    Economics(n_agents=3, n_levels=2, max_cycles=3, max_stock=5, initial_stock=2),
]


def _config_id(econ: Economics) -> str:
    return f"N{econ.n_agents}-L{econ.n_levels}-T{econ.max_cycles}-cap{econ.max_stock}-fd{econ.firm_damage}"


@pytest.mark.parametrize("econ", POLLUTION_CONFIGS, ids=_config_id)
def test_pollution_optimum_matches_expectimax(econ):
    model = econ.env().tabular_model()
    values = brute_optimum(econ)
    optimum = analysis.social_optimum(model)
    assert optimum.social_welfare == pytest.approx(values[0][econ.initial_stock], abs=1e-9)
    np.testing.assert_allclose(optimum.welfare_to_go, np.array(values[:-1]), atol=1e-9)
    # The optimal policy attains the optimum in every period and stock (ties aside).
    for t in range(econ.max_cycles):
        for s in econ.stocks:
            a = tuple(int(x) for x in model.joint_actions[optimum.policy[t, s]])
            assert econ.welfare(s, a) + econ.expect(values[t + 1], s, a) == pytest.approx(
                values[t][s], abs=1e-9
            )


@pytest.mark.parametrize("agent_discount", [0.0, 0.9, 1.0])
@pytest.mark.parametrize("econ", POLLUTION_CONFIGS, ids=_config_id)
def test_pollution_equilibrium_matches_backward_induction(econ, agent_discount):
    model = econ.env().tabular_model()
    found = analysis.equilibrium(model, agent_discount=agent_discount)
    got = [[tuple(int(x) for x in model.joint_actions[a]) for a in row] for row in found.policy]
    # The library's choice is a pure equilibrium of every stage game (the only one where there
    # is just one), given the continuation values of its own later choices, recomputed here.
    _, to_go = brute_equilibrium(econ, agent_discount, select=lambda t, s: got[t][s])
    assert found.social_welfare == pytest.approx(to_go[0][econ.initial_stock], abs=1e-9)
    np.testing.assert_allclose(found.welfare_to_go, np.array(to_go), atol=1e-9)
    if econ.firm_damage <= 0.1 or agent_discount == 0.0:
        # Here the equilibrium is unique in every period and stock.
        unique, unique_to_go = brute_equilibrium(econ, agent_discount)
        assert got == unique
        assert found.social_welfare == pytest.approx(unique_to_go[0][econ.initial_stock], abs=1e-9)
    if agent_discount == 0.0:  # myopic firms: the top level is dominant
        top = econ.n_levels - 1
        assert max(range(econ.n_levels), key=econ.profit) == top
        assert all(a == (top,) * econ.n_agents for row in got for a in row)


def test_forward_looking_firms_cut_back():
    """In the fourth config the firms bear most of the damage (0.7 a unit a period, about 1.2 over
    the rest of the episode against 1 of extra profit): looking ahead, they produce low at low
    stocks in the first periods, and high in the last two (a unit then costs a firm at most
    0.7 * 0.7 < 1). The brute force above confirms these are equilibria."""
    econ = POLLUTION_CONFIGS[3]
    model = econ.env().tabular_model()
    myopic = analysis.equilibrium(model)
    for agent_discount in (0.9, 1.0):
        found = analysis.equilibrium(model, agent_discount=agent_discount)
        got = [[tuple(int(x) for x in model.joint_actions[a]) for a in row] for row in found.policy]
        assert got[0][:4] == [(0, 0)] * 4
        assert got[0][-1] == (1, 1)
        assert got[-2:] == [[(1, 1)] * model.n_states] * 2
        assert found.social_welfare > myopic.social_welfare


@pytest.mark.parametrize("econ", POLLUTION_CONFIGS[:3], ids=_config_id)
def test_pollution_expected_next_matches_brute_force(econ):
    model = econ.env().tabular_model()
    rng = np.random.default_rng(7)
    values = rng.normal(size=(model.n_states, 2))
    expected = np.array(
        [
            [
                [econ.expect(values[:, m], s, tuple(int(x) for x in row)) for m in range(2)]
                for row in model.joint_actions
            ]
            for s in econ.stocks
        ]
    )
    np.testing.assert_allclose(model.expected_next(values), expected, atol=1e-12)
    np.testing.assert_allclose(model.expected_next(values[:, 0]), expected[:, :, 0], atol=1e-12)
    joint = rng.integers(model.n_joint_actions, size=model.n_states)
    np.testing.assert_allclose(
        model.expected_next_under(values, joint), expected[np.arange(model.n_states), joint], atol=1e-12
    )
    # Payoffs too, from the env card.
    for s in econ.stocks:
        for a, row in enumerate(model.joint_actions):
            actions = tuple(int(x) for x in row)
            assert model.social_welfare[s, a] == pytest.approx(econ.welfare(s, actions), abs=1e-12)
            for i in range(econ.n_agents):
                assert model.private_utility[s, a, i] == pytest.approx(econ.firm_payoff(s, actions, i))


def test_count_model_agrees_with_joint_model():
    env = pollution_v0.parallel_env(n_agents=3)
    joint, counts = env.tabular_model(), env.game.count_model()
    assert counts.symmetric and counts.n_joint_actions == math.comb(3 + 2, 2)
    opt_joint, opt_counts = analysis.social_optimum(joint), analysis.social_optimum(counts)
    assert opt_joint.social_welfare == pytest.approx(opt_counts.social_welfare, rel=1e-12)
    for agent_discount in (0.0, 0.9):
        a = analysis.equilibrium(joint, agent_discount=agent_discount)
        b = analysis.equilibrium(counts, agent_discount=agent_discount)
        assert a.social_welfare == pytest.approx(b.social_welfare, rel=1e-12)
    tax = np.zeros((3, 3))
    tax[:, 2] = -1.5
    a, b = analysis.equilibrium(joint, contract=tax), analysis.equilibrium(counts, contract=tax)
    assert a.social_welfare == pytest.approx(b.social_welfare, rel=1e-12)
    assert a.transfers == pytest.approx(b.transfers, rel=1e-12)

    # The same joint policies, evaluated in both (agents are anonymous in the count model).
    rng = np.random.default_rng(3)
    random_policy = rng.integers(joint.n_joint_actions, size=(joint.horizon, joint.n_states))
    per_state_tax = np.broadcast_to(np.linspace(-2, 1, joint.n_states)[:, None, None], (joint.n_states, 3, 3))
    for policy in (opt_joint.policy, random_policy):
        same = counts.joint_action_index(joint.joint_actions[policy])
        for contract in (None, tax, per_state_tax):
            a = analysis.evaluate(joint, policy, contract=contract)
            b = analysis.evaluate(counts, same, contract=contract)
            assert a.social_welfare == pytest.approx(b.social_welfare, rel=1e-12)
            assert a.transfers == pytest.approx(b.transfers, rel=1e-12, abs=1e-9)
            assert a.externality == pytest.approx(b.externality, rel=1e-12)
            assert a.agent_values.sum() == pytest.approx(b.agent_values.sum(), rel=1e-12)
            np.testing.assert_allclose(a.welfare_to_go, b.welfare_to_go, rtol=1e-12, atol=1e-9)


# -- pollution_v0 defaults: Pigouvian transfers, flat tax, infinite horizon ----------------------


@pytest.fixture(scope="module")
def default_model() -> TabularModel:
    return pollution_v0.parallel_env().tabular_model()  # n_agents=3, 100 periods, cap 90


@pytest.mark.parametrize("agent_discount", [0.0, 0.9])
@pytest.mark.slow
def test_pigouvian_transfers_implement_the_optimum_minimally(default_model, agent_discount):
    model = default_model
    refs = analysis.exact_references(model, agent_discount=agent_discount, epsilon=EPS)
    target = refs.optimum.policy
    assert np.array_equal(refs.pigouvian_outcome.policy, target)
    assert refs.pigouvian_outcome.social_welfare == pytest.approx(refs.optimum.social_welfare, rel=1e-12)
    assert refs.laissez_faire.social_welfare < refs.optimum.social_welfare
    pigouvian = refs.pigouvian
    assert pigouvian.shape == (model.horizon, model.n_states, 3, 3)
    assert np.all(pigouvian >= 0)
    # Only the target action's signal is ever paid.
    target_actions = model.joint_actions[target]  # (T, S, N)
    paid_on = np.eye(3, dtype=bool)[target_actions]
    assert np.all(pigouvian[~paid_on] == 0)
    if agent_discount == 0.0:
        # Myopic firms: the bonus tops the target's profit up to the best profit, plus epsilon.
        profit = np.array([6.0 * q - q**2 for q in (1, 2, 3)])
        gap = profit.max() - profit[target_actions]
        expected = np.where(gap > 0, gap + EPS, 0.0)
        np.testing.assert_allclose(pigouvian[paid_on].reshape(expected.shape), expected, atol=1e-9)

    positive = np.argwhere(pigouvian > 0)
    assert len(positive) > 0
    rng = np.random.default_rng(11)
    picks = [positive[0], positive[-1], *positive[rng.choice(len(positive), 6, replace=False)]]
    for t, s, i, k in picks:
        lower = pigouvian.copy()
        lower[t, s, i, k] -= 2 * EPS
        broken = analysis.equilibrium(model, contract=lower, agent_discount=agent_discount, start=target[-1])
        assert broken.policy[t, s] != target[t, s], (t, s, i)
        assert np.array_equal(broken.policy[t + 1 :], target[t + 1 :])  # later periods are untouched


@pytest.mark.slow
def test_best_flat_tax_closes_most_of_the_gap(default_model):
    refs = analysis.exact_references(default_model)
    amount, outcome = analysis.best_flat_transfer(default_model, amounts=np.linspace(-4, 0, 41))
    gap = refs.optimum.social_welfare - refs.laissez_faire.social_welfare
    assert gap > 0
    closed = (outcome.social_welfare - refs.laissez_faire.social_welfare) / gap
    assert closed >= 0.8
    assert -3.0 <= amount <= -1.0  # the env card: a tax between 1 and 3 on high


def _dense_stationary_value(model: TabularModel, policy: np.ndarray, discount: float) -> np.ndarray:
    """Solve ``V = r + discount * P V`` for a stationary policy with dense matrices built state by state."""
    n = model.n_states
    transition = np.array([model.next_state_distribution(s, int(policy[s])) for s in range(n)])
    reward = np.array(
        [model.private_utility[s, policy[s]].sum() + model.principal_payoff[s, policy[s]] for s in range(n)]
    )
    return np.linalg.solve(np.eye(n) - discount * transition, reward)


def test_infinite_horizon_optimum_satisfies_bellman(default_model):
    model, discount = default_model, 0.9
    optimum = analysis.social_optimum(model, horizon=INF, discount=discount)
    assert optimum.stationary and optimum.policy.shape == (1, model.n_states)
    values = optimum.welfare_to_go[0]
    reward = model.private_utility.sum(axis=2) + model.principal_payoff
    lookahead = reward + discount * model.expected_next(values)
    np.testing.assert_allclose(lookahead.max(axis=1), values, atol=1e-7)
    chosen = lookahead[np.arange(model.n_states), optimum.policy[0]]
    np.testing.assert_allclose(chosen, values, atol=1e-7)
    assert optimum.social_welfare == pytest.approx(values[0], abs=1e-12)  # the stock starts at 0

    again = analysis.evaluate(model, optimum.policy, horizon=INF, discount=discount)
    assert again.social_welfare == pytest.approx(optimum.social_welfare, abs=1e-7)
    dense = _dense_stationary_value(model, optimum.policy[0], discount)
    np.testing.assert_allclose(values, dense, atol=1e-7)

    # Myopic laissez-faire, stationary: everyone on high, worth the dense solution of that policy.
    lf = analysis.equilibrium(model, horizon=INF, discount=discount)
    high = int(np.flatnonzero((model.joint_actions == 2).all(axis=1))[0])
    assert np.all(lf.policy == high)
    dense_lf = _dense_stationary_value(model, lf.policy[0], discount)
    assert lf.social_welfare == pytest.approx(dense_lf[0], abs=1e-7)
    assert lf.social_welfare < optimum.social_welfare


# -- regret --------------------------------------------------------------------------------------


def test_welfare_and_cumulative_regret():
    welfare = [1.0, 2.0, 3.0, 6.0]
    np.testing.assert_array_equal(analysis.welfare_regret(welfare, 5.0), [4.0, 3.0, 2.0, -1.0])
    np.testing.assert_array_equal(analysis.cumulative_regret(welfare, 5.0), [4.0, 7.0, 9.0, 8.0])
    assert analysis.cumulative_regret([], 1.0).shape == (0,)


def test_regret_slope_recovers_exponents():
    n = np.arange(1, 1001, dtype=np.float64)
    assert analysis.regret_slope(3.0 * n**0.5) == pytest.approx(0.5, abs=1e-9)
    assert analysis.regret_slope(0.7 * n) == pytest.approx(1.0, abs=1e-9)
    assert analysis.regret_slope(2.0 * n**0.25, start_fraction=0.0) == pytest.approx(0.25, abs=1e-9)
    # Only the last part counts: linear up to 400 episodes, then 20 sqrt(n) (continuous at 400).
    bent = np.where(n < 400, n, 20.0 * np.sqrt(n))
    assert analysis.regret_slope(bent, start_fraction=0.5) == pytest.approx(0.5, abs=1e-9)
    assert analysis.regret_slope(bent, start_fraction=0.0) > 0.6
    # Episodes with no positive cumulative regret are left out of the fit.
    with_zeros = np.concatenate([np.zeros(10), 5.0 * n[10:] ** 0.5])
    assert analysis.regret_slope(with_zeros, start_fraction=0.0) == pytest.approx(0.5, abs=1e-9)


def test_regret_slope_errors():
    with pytest.raises(ValueError, match="two episodes"):
        analysis.regret_slope([1.0])
    with pytest.raises(ValueError, match="two episodes"):
        analysis.regret_slope([])
    with pytest.raises(ValueError, match="two episodes"):
        analysis.regret_slope(np.zeros(50))
    with pytest.raises(ValueError, match="two episodes"):
        analysis.regret_slope([-1.0, -2.0, -3.0, 4.0])
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="start_fraction"):
            analysis.regret_slope(np.arange(1.0, 10.0), start_fraction=bad)


@pytest.mark.parametrize("agent_discount", [0.0, 0.9])
def test_count_model_implementing_transfers_implement_the_optimum(agent_discount):
    """On the count model too, the Pigouvian transfers make the optimum the equilibrium."""
    game = pollution_v0.parallel_env(n_agents=3, max_cycles=15).game
    joint, counts = game.tabular_model(), game.count_model()
    refs = analysis.exact_references(counts, agent_discount=agent_discount)
    assert np.array_equal(refs.pigouvian_outcome.policy, refs.optimum.policy)
    assert refs.pigouvian_outcome.social_welfare == pytest.approx(
        analysis.social_optimum(joint).social_welfare, abs=1e-9
    )
    assert refs.pigouvian_outcome.transfers > 0


def test_pigouvian_outcome_is_the_optimum_even_when_another_equilibrium_survives():
    """Forward-looking firms with a strong own-damage motive: under the minimal transfers
    both the optimum and the laissez-faire profile are equilibria. The reference reports
    the optimum (started there) and flags that the implementation is only weak."""
    env = pollution_v0.parallel_env(
        n_agents=2, price=7.5, firm_damage=2, social_damage=0.5, decay=0.3, initial_stock=3, max_cycles=4
    )
    refs = analysis.exact_references(env.tabular_model(), agent_discount=0.9)
    assert refs.pigouvian_outcome.social_welfare == pytest.approx(refs.optimum.social_welfare, abs=1e-9)
    assert np.array_equal(refs.pigouvian_outcome.policy, refs.optimum.policy)
    assert refs.pigouvian_unique is False
    assert analysis.exact_references(pollution_v0.parallel_env(n_agents=3).tabular_model()).pigouvian_unique


@pytest.mark.parametrize("n_agents", [3, 8])
def test_best_responses_keep_each_agents_own_contract_row(n_agents):
    """Myopic pollution firms have a dominant action: argmax of profit + own contract row.
    best_responses must find it on the joint model and on the count model alike, with
    contracts that differ between agents."""
    env = pollution_v0.parallel_env(n_agents=n_agents)
    game = env.game
    quantity = np.arange(1, 4)
    profit = 6.0 * quantity - 1.0 * quantity**2  # the env card's defaults
    generator = np.random.default_rng(n_agents)
    models = [game.count_model()] + ([game.tabular_model()] if n_agents <= 4 else [])
    for _ in range(5):
        contract = generator.uniform(-5, 5, size=(n_agents, 3))
        expected = np.argmax(profit[None, :] + contract, axis=1)
        for model in models:
            state = int(generator.integers(model.n_states))
            assert np.array_equal(analysis.best_responses(model, state, contract), expected)


def test_count_model_forward_looking_agents_average_their_roles():
    """Sellers who invest and sellers who do not: by place in the sorted profile the count
    model's continuation values would swap owners every period and best responses cycle;
    averaged over places (anonymous roles) the equilibrium exists, and where every agent
    plays alike (pollution) it is the joint model's."""
    from pa_envs import platform_v0

    game = platform_v0.parallel_env(n_agents=3, max_cycles=30).game
    lf = analysis.laissez_faire(game.count_model(), agent_discount=0.99)
    assert np.isfinite(lf.social_welfare)
    pollution = pollution_v0.parallel_env(n_agents=3, max_cycles=30).game
    joint = analysis.laissez_faire(pollution.tabular_model(), agent_discount=0.99)
    counts = analysis.laissez_faire(pollution.count_model(), agent_discount=0.99)
    assert counts.social_welfare == pytest.approx(joint.social_welfare, abs=1e-9)


def test_a_pure_equilibrium_off_the_best_reply_cycle_is_found():
    """Actions 0 and 1 play matching pennies (best replies cycle there for ever); (2, 2) is a
    pure equilibrium that no best reply from the cycle reaches: the exhaustive search finds it."""

    def payoff(actions):
        if actions == (2, 2):
            return (1.0, 1.0)
        if actions[0] == 2:
            return (-5.0, 0.0)
        if actions[1] == 2:
            return (0.0, -5.0)
        match, mismatch = matching_pennies_payoff(actions)
        return (2 * match, 2 * mismatch)

    model = one_state_model(payoff, 2, 3, 4)
    lf = analysis.laissez_faire(model)
    assert actions_of(model, lf) == [(2, 2)] * 4
    assert lf.social_welfare == pytest.approx(8.0)
