"""commons_v0: closed-form and economic checks of the fishery (catch, regrowth, the sole
owner, rent dissipation under open access), params validation and the exact models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pa_envs import analysis, commons_v0
from pa_envs.commons_v0 import CommonsGame, CommonsParams


def game(**kwargs) -> CommonsGame:
    return CommonsGame(CommonsParams(**kwargs))


def one_step(g: CommonsGame, stock: int, actions: list[int], uniform: float = 0.5):
    return g.step(
        np.array([[stock]], dtype=np.int64),
        np.array([actions], dtype=np.int64),
        np.array([[uniform]]),
    )


def stock_laws(model, policy: np.ndarray) -> np.ndarray:
    """``(T + 1, S)``: the law of the stock at the start of each period (and after the last)
    when the joint policy ``(T, S)`` or ``(1, S)`` is played from the initial distribution."""
    law = model.initial_distribution.copy()
    laws = [law]
    for t in range(model.horizon):
        row = policy[0 if policy.shape[0] == 1 else t]
        nxt = np.zeros(model.n_states)
        for s in np.flatnonzero(law):
            nxt += law[s] * model.next_state_distribution(s, row[s])
        law = nxt
        laws.append(law)
    return np.array(laws)


# -- 3. catch, escapement and regrowth on hand-computed cases ------------------------------


def test_unscaled_catch_escapement_and_regrowth_by_hand():
    g = game()  # K = 20, q = 0.1, r = 0.3, price 1, effort_cost 0.5
    # x = 20, efforts (2, 1, 0): catches 4, 2, 0; escapement 14;
    # z = 14 + 0.3 * 14 * (1 - 14 / 20) = 15.26: 16 with probability 0.26, else 15.
    d = one_step(g, 20, [2, 1, 0], uniform=0.25)
    np.testing.assert_allclose(d.private_utility[0], [4 - 1.0, 2 - 0.5, 0.0], rtol=0, atol=1e-12)
    assert d.next_state[0, 0] == 16
    assert one_step(g, 20, [2, 1, 0], uniform=0.27).next_state[0, 0] == 15
    per_effort, escapement = g.harvest(np.array([20]), np.array([3]))
    assert per_effort[0] == pytest.approx(2.0) and escapement[0] == pytest.approx(14.0)
    assert g.regrowth(np.array([14.0]))[0] == pytest.approx(15.26)
    model = g.tabular_model()
    law = model.next_state_distribution(20, int(model.joint_action_index(np.array([2, 1, 0]))))
    assert law[15] == pytest.approx(0.74) and law[16] == pytest.approx(0.26)
    assert law.sum() == pytest.approx(1.0) and np.count_nonzero(law) == 2


def test_desired_catch_beyond_the_stock_is_scaled_down_to_the_stock():
    # q = 0.4, x = 15, efforts (2, 1, 0): desired 12 + 6 = 18 > 15, scaled by 15/18 to 10 and 5.
    g = game(catchability=0.4, price=2.0, effort_cost=0.5)
    d = one_step(g, 15, [2, 1, 0])
    catch = (d.private_utility[0] + 0.5 * np.array([2, 1, 0])) / 2.0
    np.testing.assert_allclose(catch, [10.0, 5.0, 0.0], rtol=0, atol=1e-12)
    assert catch.sum() == 15.0
    # No escapement: nothing regrows, the stock is extinct whatever the uniform.
    assert one_step(g, 15, [2, 1, 0], uniform=0.999).next_state[0, 0] == 0
    _, escapement = g.harvest(np.array([15]), np.array([3]))
    assert escapement[0] == 0.0


def test_total_catch_never_exceeds_the_stock_and_equals_it_when_scaled():
    g = game(n_agents=4, catchability=0.35, n_efforts=4, carrying_capacity=30, effort_cost=0.2)
    generator = np.random.default_rng(0)
    batch = 5000
    stock = generator.integers(0, 31, size=batch)
    actions = generator.integers(0, 4, size=(batch, 4))
    d = g.step(stock[:, None], actions, generator.random((batch, 1)))
    catch = (d.private_utility + 0.2 * actions) / g.params.price
    total, effort = catch.sum(axis=1), actions.sum(axis=1)
    assert np.all(total <= stock + 1e-12)
    scaled = 0.35 * effort >= 1
    assert scaled.any() and (~scaled & (effort > 0)).any()
    np.testing.assert_allclose(total[scaled], stock[scaled], rtol=1e-14, atol=0)
    desired = 0.35 * effort[~scaled] * stock[~scaled]
    np.testing.assert_allclose(total[~scaled], desired, rtol=1e-12, atol=1e-12)
    # Catch shared in proportion to effort.
    busy = effort > 0
    shares = actions[busy] / effort[busy, None]
    np.testing.assert_allclose(catch[busy], total[busy, None] * shares, atol=1e-12)


def test_regrowth_is_capped_at_capacity_and_mean_next_stock_is_z():
    g = game(growth_rate=3.0)
    # y = 15: 15 + 3 * 15 * 0.25 = 26.25, capped at 20 (no rounding left).
    assert g.regrowth(np.array([15.0]))[0] == 20.0
    model = g.tabular_model()
    assert model.next_state_distribution(15, 0)[20] == 1.0
    # Mean of the rounded stock is exactly z for every (x, E).
    g = game()
    model = g.tabular_model()
    stock = np.arange(model.n_states)
    for total in range(g.max_total_effort + 1):
        _, y = g.harvest(stock, np.full_like(stock, total))
        mean = model.transitions.expected_by_class(stock.astype(float))[:, total]
        np.testing.assert_allclose(mean, g.regrowth(y), atol=1e-12)


def test_extinct_stock_stays_extinct_and_pays_nothing():
    g = game()
    d = one_step(g, 0, [2, 2, 2], uniform=0.999)
    assert d.next_state[0, 0] == 0
    np.testing.assert_allclose(d.private_utility[0], [-1.0, -1.0, -1.0])


# -- 1. the sole owner: no externality ---------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"growth_rate": 0.8, "initial_stock": 7}, {"catchability": 0.6, "max_cycles": 30}],
)
def test_a_sole_owner_fishes_the_social_optimum(kwargs):
    model = commons_v0.parallel_env(n_agents=1, **kwargs).tabular_model()
    optimum = analysis.social_optimum(model)
    owner = analysis.equilibrium(model, agent_discount=1.0)
    assert owner.social_welfare == pytest.approx(optimum.social_welfare, abs=1e-9)
    # A myopic sole owner does not: it fishes the stock down as open access does.
    myopic = analysis.equilibrium(model, agent_discount=0.0)
    assert myopic.social_welfare < optimum.social_welfare - 1.0


def test_a_non_use_value_makes_even_a_sole_owner_overfish():
    model = commons_v0.parallel_env(n_agents=1, stock_value=0.2).tabular_model()
    optimum = analysis.social_optimum(model)
    owner = analysis.equilibrium(model, agent_discount=1.0)
    assert owner.social_welfare < optimum.social_welfare - 1.0
    assert owner.externality > optimum.externality > 0


# -- 2. open access overfishes ------------------------------------------------------------


@pytest.mark.parametrize("agent_discount", [0.0, 0.99])
def test_open_access_keeps_the_stock_below_the_optimum_and_dissipates_the_rent(agent_discount):
    model = commons_v0.parallel_env().tabular_model()  # the defaults, 3 fishers
    optimum = analysis.social_optimum(model)
    lf = analysis.laissez_faire(model, agent_discount=agent_discount)
    stock = model.states[:, 0].astype(float)
    optimal_path = stock_laws(model, optimum.policy) @ stock
    lf_path = stock_laws(model, lf.policy) @ stock
    assert optimal_path[0] == lf_path[0] == 20
    # Over the episode (start of each period), and in the last period: the open-access
    # stock is far below the optimum's. (After the last harvest the optimum has
    # liquidated the stock, which has no value beyond the episode.)
    assert lf_path[:-1].mean() < 0.5 * optimal_path[:-1].mean()
    assert lf_path[-2] < optimal_path[-2]
    assert lf_path[10:-1].max() < 6.0 < optimal_path[10:-1].min()
    gap = optimum.social_welfare - lf.social_welfare
    assert gap >= 0.1 * abs(optimum.social_welfare)
    assert gap >= 0.5 * abs(optimum.social_welfare)


def test_open_access_stock_hovers_at_the_zero_rent_level():
    """Myopic fishers fish high exactly while effort pays, price * q * x > effort_cost."""
    model = commons_v0.parallel_env().tabular_model()
    lf = analysis.laissez_faire(model)
    effort = model.joint_actions[lf.policy].sum(axis=2)  # (T, S)
    stock = model.states[:, 0]
    assert np.all(effort[:, stock > 5] == 6) and np.all(effort[:, stock < 5] == 0)


# -- 4. validation, size guard, implementing transfers -----------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("carrying_capacity", 0, ValueError),
        ("carrying_capacity", 100_001, ValueError),
        ("carrying_capacity", 20.0, TypeError),
        ("initial_stock", 21, ValueError),
        ("initial_stock", -1, ValueError),
        ("n_efforts", 1, ValueError),
        ("catchability", 0.0, ValueError),
        ("catchability", 1.5, ValueError),
        ("growth_rate", -0.1, ValueError),
        ("growth_rate", math.inf, ValueError),
        ("price", 0.0, ValueError),
        ("effort_cost", -1.0, ValueError),
        ("effort_cost", float("nan"), ValueError),
        ("stock_value", -0.5, ValueError),
        ("stock_value", "high", TypeError),
    ],
)
def test_bad_parameter_is_named(field, value, error):
    with pytest.raises(error, match=field):
        CommonsParams(**{field: value})


def test_fishing_must_pay_on_an_unfished_stock():
    with pytest.raises(ValueError, match="effort_cost") as caught:
        CommonsParams(effort_cost=2.0)  # price * q * K = 2
    assert "carrying_capacity" in str(caught.value) and "catchability" in str(caught.value)
    CommonsParams(effort_cost=1.99)


def test_initial_stock_defaults_to_capacity():
    assert CommonsParams().start_stock == 20
    assert CommonsParams(carrying_capacity=7).start_stock == 7
    assert CommonsParams(initial_stock=3).start_stock == 3
    state = game(initial_stock=3).initial_state(np.zeros((4, 1)))
    assert state.tolist() == [[3]] * 4


def test_joint_model_is_guarded_and_the_count_model_takes_over():
    g = game(n_agents=12)
    with pytest.raises(ValueError, match="n_agents=12") as caught:
        g.tabular_model()
    assert "count_model" in str(caught.value) and "carrying_capacity=20" in str(caught.value)
    model = g.exact_model()
    assert model.symmetric and model.n_joint_actions == math.comb(14, 2)
    with pytest.raises(ValueError, match="carrying_capacity"):
        game(n_agents=200, carrying_capacity=100_000).count_model()


def test_count_model_agrees_with_the_joint_model():
    g = game()
    joint, count = g.tabular_model(), g.count_model()
    idle_payment = np.array([1.5, 0.0, 0.0])
    for contract in (None, np.tile(idle_payment, (3, 1))):
        a = analysis.equilibrium(joint, contract=contract).social_welfare
        b = analysis.equilibrium(count, contract=contract).social_welfare
        assert a == pytest.approx(b, abs=1e-9)
    assert analysis.social_optimum(joint).social_welfare == pytest.approx(
        analysis.social_optimum(count).social_welfare, abs=1e-9
    )


@pytest.mark.parametrize("agent_discount", [0.0, 0.99])
def test_implementing_transfers_make_the_optimum_an_equilibrium(agent_discount):
    env = commons_v0.parallel_env()
    model = env.tabular_model()
    refs = analysis.exact_references(model, agent_discount=agent_discount)
    assert refs.pigouvian_outcome.social_welfare == pytest.approx(refs.optimum.social_welfare, abs=1e-9)
    assert np.array_equal(refs.pigouvian_outcome.policy, refs.optimum.policy)
    # They fit in max_transfer even with the mechanism's margin of 0.25.
    wide = analysis.implementing_transfers(
        model, refs.optimum.policy, agent_discount=agent_discount, epsilon=0.25
    )
    assert np.abs(wide).max() <= env.params.max_transfer
    assert refs.pigouvian_outcome.transfers > 0  # the optimum costs the regulator restraint payments


def test_a_flat_payment_for_idling_closes_most_of_the_gap():
    model = commons_v0.parallel_env().tabular_model()
    refs = analysis.exact_references(model)
    amount, outcome = analysis.best_flat_transfer(model, 0, amounts=np.linspace(0, 5, 26))
    lf, best = refs.laissez_faire.social_welfare, refs.optimum.social_welfare
    assert amount == pytest.approx(2.0)
    assert (outcome.social_welfare - lf) / (best - lf) > 0.9


def test_non_use_value_is_the_principals_loss_in_the_model_and_the_simulator():
    g = game(stock_value=0.25)
    d = one_step(g, 12, [1, 0, 2])
    assert d.externality[0] == pytest.approx(0.25 * 8)
    assert d.principal_payoff[0] == -d.externality[0]
    model = g.tabular_model()
    np.testing.assert_allclose(model.externality[12], 2.0)
    np.testing.assert_allclose(model.principal_payoff, -model.externality)
    assert np.all(game().tabular_model().externality == 0)


def test_names():
    g = game()
    assert g.action_names == g.signal_names == ("idle", "low", "high")
    assert game(n_efforts=4).action_names == ("effort_0", "effort_1", "effort_2", "effort_3")
    assert g.state_names == ("stock",) and g.state_high.tolist() == [20]
    assert g.taxed_signal == 2
