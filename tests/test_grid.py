"""grid_v0: closed-form economics, the meter that cannot see batteries, dynamics by hand, params.

Expected values are worked out by hand from the env card (values, stress
dynamics, outage law), never read back from the model arrays under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import analysis, grid_v0
from pa_envs.envs.grid import GridGame, GridParams

OFF_PEAK, SHOULDER, PEAK, BATTERY = range(4)
SIG_OFF_PEAK, SIG_SHOULDER, SIG_PEAK = range(3)


def game(**kwargs) -> GridGame:
    return grid_v0.parallel_env(**kwargs).game


def static_model(n_agents: int = 2, **kwargs):
    """recovery = 1 (stress' = today's load) and the threshold at the cap: no outage ever."""
    cap = n_agents * 2  # the largest load: everyone at peak (peak_stress = 2)
    env = grid_v0.parallel_env(
        n_agents=n_agents, max_cycles=3, recovery=1.0, max_stress=cap, outage_threshold=cap, **kwargs
    )
    return env.game, env.tabular_model()


def everyone(model, action: int) -> int:
    return int(model.joint_action_index(np.full(model.n_agents, action)))


def flat(model, signal: int, amount: float) -> np.ndarray:
    row = np.zeros((model.n_agents, 3))
    row[:, signal] = amount
    return row


# -- 1. the static game: thresholds of a time-of-use tariff ---------------------------------


@pytest.mark.parametrize(
    ("battery_cost", "threshold", "shifted_to"),
    [
        # defaults: shoulder gives up 3 - 2.25 = 0.75 < battery_cost 1.5: the shoulder is cheaper
        (1.5, 0.75, SHOULDER),
        # a cheap battery: it gives up 0.5 < 0.75: peak -> battery at a tax above 0.5
        (0.5, 0.5, BATTERY),
    ],
)
def test_peak_tax_shifts_load_exactly_at_the_cheaper_threshold(battery_cost, threshold, shifted_to):
    g, model = static_model(battery_cost=battery_cost)
    assert np.all(g.outage_probability == 0.0)
    all_peak, all_shifted = everyone(model, PEAK), everyone(model, shifted_to)
    # Laissez-faire: everyone at peak (the highest value) in every state.
    assert np.all(analysis.stage_equilibrium(model) == all_peak)
    below = analysis.stage_equilibrium(model, flat(model, SIG_PEAK, -(threshold - 0.01)))
    above = analysis.stage_equilibrium(model, flat(model, SIG_PEAK, -(threshold + 0.01)))
    assert np.all(below == all_peak)
    assert np.all(above == all_shifted)
    # The same thresholds hold in every period of the myopic equilibrium.
    eq_below = analysis.equilibrium(model, contract=flat(model, SIG_PEAK, -(threshold - 0.01)))
    eq_above = analysis.equilibrium(model, contract=flat(model, SIG_PEAK, -(threshold + 0.01)))
    assert np.all(eq_below.policy == all_peak) and np.all(eq_above.policy == all_shifted)
    # Under the tax the shifted households pay nothing: welfare is the shifted value, 3 periods, 2 agents.
    value = {SHOULDER: 2.25, BATTERY: 3.0 - battery_cost}[shifted_to]
    assert eq_above.social_welfare == pytest.approx(3 * 2 * value)
    assert eq_above.transfers == pytest.approx(0.0)


def test_off_peak_bonus_moves_peak_to_battery_never_to_off_peak():
    """A bonus b on the off_peak signal pays battery and off-peak alike; the battery
    (1.5 + b) beats peak (3) exactly when b > 1.5, and off-peak (0.5 + b) never wins."""
    _, model = static_model()
    below = analysis.stage_equilibrium(model, flat(model, SIG_OFF_PEAK, 1.49))
    above = analysis.stage_equilibrium(model, flat(model, SIG_OFF_PEAK, 1.51))
    assert np.all(below == everyone(model, PEAK))
    assert np.all(above == everyone(model, BATTERY))
    huge = analysis.stage_equilibrium(model, flat(model, SIG_OFF_PEAK, 4.0))
    assert np.all(huge == everyone(model, BATTERY))


# -- 2. the meter cannot tell a battery from an off-peak household --------------------------


def test_battery_reads_off_peak_in_simulator_and_models():
    g = game(n_agents=4)
    actions = np.array([[BATTERY, OFF_PEAK, SHOULDER, PEAK]])
    d = g.step(np.zeros((1, 1), np.int64), actions, np.full((1, g.noise_size), 0.5))
    assert d.signals.tolist() == [[SIG_OFF_PEAK, SIG_OFF_PEAK, SIG_SHOULDER, SIG_PEAK]]
    assert g.signal_names == ("off_peak", "shoulder", "peak")
    assert g.action_names == ("off_peak", "shoulder", "peak", "battery")
    # The battery adds no stress: same next state as off-peak.
    assert d.next_state[0, 0] == 0 + 1 + 2
    joint = g.tabular_model()
    a = int(joint.joint_action_index(actions[0]))
    np.testing.assert_array_equal(
        joint.signal_probabilities[:, a], np.eye(3)[[0, 0, 1, 2]][None].repeat(joint.n_states, 0)
    )
    count = g.count_model()  # per-action laws
    np.testing.assert_array_equal(
        count.signal_probabilities[:, :, BATTERY], count.signal_probabilities[:, :, OFF_PEAK]
    )
    assert np.all(count.signal_probabilities[:, :, BATTERY, SIG_OFF_PEAK] == 1.0)


@pytest.fixture(scope="module")
def default_model():
    return grid_v0.parallel_env().tabular_model()  # n_agents=3, 100 periods, stress cap 24


@pytest.fixture(scope="module")
def myopic_refs(default_model):
    return analysis.exact_references(default_model)


def test_pigouvian_pays_battery_and_off_peak_the_same(default_model, myopic_refs):
    model, refs = default_model, myopic_refs
    table = refs.pigouvian  # (T, S, N, 3): there is no battery column to pay
    assert table.shape == (model.horizon, model.n_states, model.n_agents, 3)
    # Agent 0's signal law, and so its expected transfer in every period and state, is the
    # same whether it runs its battery or draws off-peak (the others at peak).
    battery = int(model.joint_action_index(np.array([BATTERY, PEAK, PEAK])))
    off_peak = int(model.joint_action_index(np.array([OFF_PEAK, PEAK, PEAK])))
    law_battery, law_off_peak = (
        model.signal_probabilities[:, battery, 0],
        model.signal_probabilities[:, off_peak, 0],
    )
    assert np.all(law_battery == np.eye(3)[SIG_OFF_PEAK]) and np.all(law_off_peak == law_battery)
    paid_battery = np.einsum("sk,tsk->ts", law_battery, table[:, :, 0])
    paid_off_peak = np.einsum("sk,tsk->ts", law_off_peak, table[:, :, 0])
    np.testing.assert_array_equal(paid_battery, paid_off_peak)
    # The optimum does use batteries, and pays their households on the off_peak signal.
    uses = model.joint_actions[refs.optimum.policy] == BATTERY  # (T, S, N)
    assert uses.any()
    assert np.all(table[uses][:, SIG_OFF_PEAK] > 0)
    assert np.all(table[uses][:, [SIG_SHOULDER, SIG_PEAK]] == 0)
    # ... it never asks for off-peak, which the battery dominates (1.5 > 0.5) at the same load.
    assert not np.any(model.joint_actions[refs.optimum.policy] == OFF_PEAK)


def test_equal_battery_and_off_peak_values_are_not_implementable():
    """value_off_peak == value_peak - battery_cost: the optimum's off-peak household
    cannot be separated from a battery deviation (same signal, same load, same value)."""
    model = grid_v0.parallel_env(n_agents=2, max_cycles=4, value_off_peak=1.5).tabular_model()
    optimum = analysis.social_optimum(model)
    with pytest.raises(analysis.NotImplementable, match="single signal"):
        analysis.implementing_transfers(model, optimum.policy)
    # A strictly dominated off-peak (1.4 < 1.5) is no obstacle.
    model = grid_v0.parallel_env(n_agents=2, max_cycles=4, value_off_peak=1.4).tabular_model()
    analysis.implementing_transfers(model, analysis.social_optimum(model).policy)


# -- 3. stress dynamics and outages by hand --------------------------------------------------


def step(g, stress, actions, recovery_u=0.5, outage_u=0.5):
    b = len(stress)
    noise = np.column_stack([np.full(b, recovery_u), np.full(b, outage_u)])
    return g.step(np.array(stress, np.int64)[:, None], np.array(actions, np.int64), noise)


def test_outage_probability_is_linear_above_the_threshold_and_capped():
    g = game(outage_threshold=6, outage_probability_per_unit=0.1)
    expected = [0.0] * 7 + [0.1 * k for k in range(1, 10)] + [1.0] * (g.params.stress_cap - 15)
    np.testing.assert_allclose(g.outage_probability, expected, atol=1e-15)


def test_outage_strikes_after_the_load_with_its_probability():
    g = game(recovery=0.0)  # no stress recovers: stress' = stress + load
    # stress 5 + 3 peak draws * 2 = 11 -> probability 0.1 * (11 - 6) = 0.5
    hit = step(g, [5], [[PEAK, PEAK, PEAK]], outage_u=0.4999)
    miss = step(g, [5], [[PEAK, PEAK, PEAK]], outage_u=0.5)
    assert hit.next_state[0, 0] == miss.next_state[0, 0] == 11
    np.testing.assert_allclose(hit.private_utility[0], [3.0 - 0.1] * 3)
    assert hit.principal_payoff[0] == -9.7 and hit.externality[0] == 9.7
    np.testing.assert_allclose(miss.private_utility[0], [3.0] * 3)
    assert miss.principal_payoff[0] == 0.0 and miss.externality[0] == 0.0
    # The outage does not move the state; the pre-load stress alone cannot cause one.
    quiet = step(g, [15], [[OFF_PEAK, BATTERY, OFF_PEAK]], outage_u=0.0)  # stress' = 15: p = 0.9
    assert quiet.next_state[0, 0] == 15 and quiet.principal_payoff[0] == -9.7
    np.testing.assert_allclose(quiet.private_utility[0], [0.5 - 0.1, 1.5 - 0.1, 0.5 - 0.1])


def test_binomial_recovery_and_the_cap():
    g = game(n_agents=1, recovery=0.5, max_stress=5, outage_threshold=5)
    # stress 2: P(recovered = 0, 1, 2) = 1/4, 1/2, 1/4; the CDF is 0.25, 0.75, 1.
    for u, recovered in [(0.1, 0), (0.3, 1), (0.8, 2)]:
        assert step(g, [2], [[SHOULDER]], recovery_u=u).next_state[0, 0] == 2 - recovered + 1
    assert step(g, [5], [[PEAK]], recovery_u=0.0).next_state[0, 0] == 5  # 5 + 2 capped at 5
    assert step(game(recovery=1.0), [9], [[PEAK, SHOULDER, BATTERY]], recovery_u=0.999).next_state[0, 0] == 3


def test_model_expected_outage_by_hand():
    """From stress 2, one peak household, recovery 1/2, threshold 2, 0.25 per unit:
    stress' = 4, 3, 2 with probability 1/4, 1/2, 1/4; outage probability 0.5, 0.25, 0."""
    g = game(n_agents=1, recovery=0.5, max_stress=8, outage_threshold=2, outage_probability_per_unit=0.25)
    model = g.tabular_model()
    a = int(model.joint_action_index(np.array([PEAK])))
    law = model.next_state_distribution(2, a)
    np.testing.assert_allclose(law[[2, 3, 4]], [0.25, 0.5, 0.25])
    outage = 0.25 * 0.5 + 0.5 * 0.25
    assert model.private_utility[2, a, 0] == pytest.approx(3.0 - 0.1 * outage)
    assert model.principal_payoff[2, a] == pytest.approx(-9.7 * outage)
    assert model.externality[2, a] == pytest.approx(9.7 * outage)


# -- 4. the defaults: references, count model, params ---------------------------------------


def test_defaults_laissez_faire_all_peak_and_pigouvian_reaches_the_optimum(default_model, myopic_refs):
    model, params = default_model, grid_v0.parallel_env().params
    for agent_discount, refs in [
        (0.0, myopic_refs),
        (0.99, analysis.exact_references(model, agent_discount=0.99)),
    ]:
        w_star, w_lf = refs.optimum.social_welfare, refs.laissez_faire.social_welfare
        assert np.all(refs.laissez_faire.policy == everyone(model, PEAK)), agent_discount
        assert w_star - w_lf >= 0.1 * abs(w_star), agent_discount
        assert refs.pigouvian_outcome.social_welfare == pytest.approx(w_star, abs=1e-9)
        assert np.array_equal(refs.pigouvian_outcome.policy, refs.optimum.policy)
        assert np.abs(refs.pigouvian).max() <= params.max_transfer
    # The optimum mixes all three of peak, shoulder and battery.
    used = set(np.unique(model.joint_actions[myopic_refs.optimum.policy]).tolist())
    assert used == {SHOULDER, PEAK, BATTERY}


def test_flat_peak_tax_moves_everyone_to_shoulder_and_closes_most_of_the_gap(default_model, myopic_refs):
    amount, outcome = analysis.best_flat_transfer(
        default_model, SIG_PEAK, amounts=[0.0, -0.5, -0.8, -1.2, -1.6]
    )
    assert amount in (-0.8, -1.2)  # between 0.75 and 1.5: everyone at shoulder
    assert np.all(outcome.policy == everyone(default_model, SHOULDER))
    lf, star = myopic_refs.laissez_faire.social_welfare, myopic_refs.optimum.social_welfare
    assert (outcome.social_welfare - lf) / (star - lf) > 0.9
    assert outcome.social_welfare < star - 1.0  # but not the optimum's state-dependent mix


def test_count_model_agrees_with_joint_model():
    g = game(n_agents=3, max_cycles=15)
    joint, count = g.tabular_model(), g.count_model()
    assert count.symmetric and count.n_joint_actions == 20  # C(3 + 3, 3) profiles
    w_star = analysis.social_optimum(joint).social_welfare
    assert analysis.social_optimum(count).social_welfare == pytest.approx(w_star, abs=1e-9)
    for ad in (0.0, 0.99):
        w_lf = analysis.laissez_faire(joint, agent_discount=ad).social_welfare
        assert analysis.laissez_faire(count, agent_discount=ad).social_welfare == pytest.approx(
            w_lf, abs=1e-9
        )


def test_model_size_guard_and_fallback():
    g = game(n_agents=10)
    with pytest.raises(ValueError, match=r"n_agents=10.*max_stress"):
        g.tabular_model()
    model = g.exact_model()
    assert model.symmetric and model.n_states == g.params.stress_cap + 1
    with pytest.raises(ValueError, match="count model of grid_v0"):
        game(n_agents=100, max_stress=1000).count_model()


def test_default_cap_is_twice_the_all_peak_steady_state_but_covers_the_threshold():
    assert GridParams().stress_cap == 24  # 2 * 3 households * 2 units / 0.5
    assert GridParams(n_agents=1, recovery=1.0).stress_cap == 6  # 4, raised to the threshold 6
    assert GridParams(max_stress=9).stress_cap == 9


BAD_PARAMS = [
    ({"value_peak": 2.0}, ValueError, "value_peak"),  # not above value_shoulder 2.25
    ({"value_shoulder": 0.4}, ValueError, "value_shoulder"),  # not above value_off_peak 0.5
    ({"value_off_peak": float("nan")}, ValueError, "value_off_peak"),
    ({"value_shoulder": "2"}, TypeError, "value_shoulder"),
    ({"battery_cost": -0.1}, ValueError, "battery_cost"),
    ({"peak_stress": 0}, ValueError, "peak_stress"),
    ({"peak_stress": 1.5}, TypeError, "peak_stress"),
    ({"shoulder_stress": 3}, ValueError, "shoulder_stress"),  # above peak_stress 2
    ({"shoulder_stress": -1}, ValueError, "shoulder_stress"),
    ({"recovery": 1.5}, ValueError, "recovery"),
    ({"recovery": -0.1}, ValueError, "recovery"),
    ({"max_stress": 10, "outage_threshold": 11}, ValueError, "outage_threshold"),
    ({"outage_threshold": -1}, ValueError, "outage_threshold"),
    ({"outage_probability_per_unit": 1.01}, ValueError, "outage_probability_per_unit"),
    ({"outage_cost": -1.0}, ValueError, "outage_cost"),
    ({"repair_cost": float("inf")}, ValueError, "repair_cost"),
    ({"max_stress": 0}, ValueError, "max_stress"),
    ({"max_stress": 4001}, ValueError, "max_stress"),
    ({"n_agents": 1001}, ValueError, "max_stress"),  # the default cap would pass 4000
    ({"initial_stress": 25}, ValueError, "initial_stress"),  # the default cap is 24
    ({"max_stress": 8, "initial_stress": 9}, ValueError, "initial_stress"),
]


@pytest.mark.parametrize(("kwargs", "error", "field"), BAD_PARAMS, ids=repr)
def test_bad_params_name_the_field(kwargs, error, field):
    with pytest.raises(error, match=field):
        GridParams(**kwargs)
    with pytest.raises(error, match=field):
        grid_v0.parallel_env(**kwargs)


def test_initial_stress_is_the_reset_state():
    env = grid_v0.parallel_env(initial_stress=7)
    env.reset(seed=0)
    assert env.game_state().tolist() == [7]
    assert env.tabular_model().initial_distribution[7] == 1.0
