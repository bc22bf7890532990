"""congestion_v0 against Pigou's network and its queue dynamics by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import PRINCIPAL, analysis, congestion_v0
from pa_envs.core import rng
from pa_envs.envs.congestion import RAIL, ROAD
from pa_envs.mechanisms import FlatSchedule


def static_models(n_agents: int, horizon: int = 5):
    game = congestion_v0.parallel_env(n_agents=n_agents, carry_over=0.0, max_cycles=horizon).game
    return game, (game.tabular_model(), game.count_model())


def drivers(model, policy: np.ndarray) -> np.ndarray:
    """Number of road users of each joint action of a policy."""
    return (model.joint_actions[policy] == ROAD).sum(axis=-1)


@pytest.mark.parametrize("n_agents", [2, 4, 6])
def test_pigou_price_of_anarchy_is_four_thirds(n_agents):
    horizon = 5
    _, models = static_models(n_agents, horizon)
    for model in models:
        optimum = analysis.social_optimum(model)
        lf = analysis.laissez_faire(model)
        assert optimum.social_welfare == pytest.approx(-horizon * 3 * n_agents / 4, abs=1e-12)
        assert lf.social_welfare == pytest.approx(-horizon * n_agents, abs=1e-12)
        assert np.all(drivers(model, optimum.policy[:, 0]) == n_agents // 2)
        assert np.all(drivers(model, lf.policy[:, 0]) == n_agents)
        poa = analysis.price_of_anarchy(optimum.social_welfare, lf.social_welfare)
        assert poa == pytest.approx(4 / 3, abs=1e-12)


@pytest.mark.parametrize("n_agents", [2, 4, 6])
def test_optimal_toll_implements_the_optimum_from_any_start(n_agents):
    game, models = static_models(n_agents)
    toll = congestion_v0.pigou_toll(n_agents)
    contract = FlatSchedule.tax(game, toll).transfers  # taxes the road by default
    assert contract[ROAD] == -toll and contract[RAIL] == 0.0
    for model in models:
        optimum = analysis.social_optimum(model)
        all_road = np.full(model.n_states, model.joint_action_index(np.full(n_agents, ROAD)))
        all_rail = np.full(model.n_states, model.joint_action_index(np.full(n_agents, RAIL)))
        for start in (all_road, all_rail):
            tolled = analysis.equilibrium(model, contract=np.tile(contract, (n_agents, 1)), start=start)
            assert np.all(drivers(model, tolled.policy[:, 0]) == n_agents // 2)
            assert tolled.social_welfare == pytest.approx(optimum.social_welfare, abs=1e-12)
            # The toll is a transfer: welfare is the optimum's, the authority collects it.
            assert tolled.transfers == pytest.approx(-toll * (n_agents // 2) * model.horizon)


@pytest.mark.parametrize("n_agents", [4, 6])
def test_tolls_outside_the_window_miss_the_optimum(n_agents):
    _, (model, _) = static_models(n_agents)
    low, high = 0.5 - 1.0 / n_agents, 0.5
    # Too low a toll leaves one driver too many; too high a toll drives one too many away.
    for toll, expected in ((low - 0.01, n_agents // 2 + 1), (high + 0.01, n_agents // 2 - 1)):
        row = np.zeros(2)
        row[ROAD] = -toll
        outcome = analysis.equilibrium(model, contract=np.tile(row, (n_agents, 1)))
        assert np.all(drivers(model, outcome.policy[:, 0]) == expected)
        assert outcome.social_welfare < analysis.social_optimum(model).social_welfare - 1e-9


def test_pigou_toll_needs_an_even_number_of_commuters():
    assert congestion_v0.pigou_toll(4) == pytest.approx(0.375)
    with pytest.raises(ValueError, match="even number"):
        congestion_v0.pigou_toll(3)
    with pytest.raises(ValueError, match="n_agents"):
        congestion_v0.pigou_toll(1)


def test_static_game_never_queues():
    env = congestion_v0.parallel_env(n_agents=4, carry_over=0.0, max_cycles=30)
    env.reset(seed=3)
    contract = np.zeros(env.action_space(PRINCIPAL).shape, dtype=np.float32)
    while env.agents:
        _, rewards, _, _, infos = env.step({PRINCIPAL: contract, **{a: ROAD for a in env.agents[1:]}})
        assert infos[PRINCIPAL]["queue"] == 0
        assert rewards["agent_0"] == pytest.approx(-1.0)  # 4 drivers of 4, no backlog


@pytest.mark.parametrize(
    ("queue", "road_users", "expected_queue", "road_cost"),
    [(0, 3, 1, 3 / 4), (2, 4, 4, 6 / 4), (4, 4, 4, 8 / 4), (0, 1, 0, 1 / 4), (3, 0, 1, 3 / 4)],
)
def test_queue_and_travel_time_by_hand(queue, road_users, expected_queue, road_cost):
    """carry_over = 1: every vehicle beyond capacity stays; queue' = min(cap, n + q - capacity)."""
    game = congestion_v0.parallel_env(n_agents=4, carry_over=1.0, capacity=2, max_queue=4, rail_cost=0.7).game
    actions = np.array([[ROAD] * road_users + [RAIL] * (4 - road_users)])
    d = game.step(np.array([[queue]]), actions, np.array([[0.5]]))
    assert d.next_state[0, 0] == expected_queue
    expected = np.where(actions[0] == ROAD, -road_cost, -0.7)
    np.testing.assert_allclose(d.private_utility[0], expected)


def test_spillover_is_the_externality_borne_by_the_authority():
    game = congestion_v0.parallel_env(n_agents=2, spillover_cost=0.3).game
    d = game.step(np.array([[2], [0]]), np.array([[ROAD, ROAD], [RAIL, RAIL]]), np.full((2, 1), 0.1))
    np.testing.assert_allclose(d.externality, [0.6, 0.0])
    np.testing.assert_allclose(d.principal_payoff, -d.externality)


def test_carried_vehicles_follow_the_binomial_law():
    game = congestion_v0.parallel_env(n_agents=4, carry_over=0.3, capacity=1, max_queue=8).game
    draws = 40_000
    noise = rng.batch_uniforms(np.full(draws, rng.key_from_seed(7)), np.arange(draws), 1)
    d = game.step(np.full((draws, 1), 2), np.zeros((draws, 4), dtype=np.int64), noise)
    # 4 drivers + 2 queued - capacity 1 = 5 in excess: Binomial(5, 0.3) remain, mean 1.5.
    assert d.next_state.mean() == pytest.approx(1.5, abs=6 * np.sqrt(5 * 0.3 * 0.7 / draws))


def test_queue_makes_drivers_adapt():
    """Myopic commuters drive while the road is no worse than rail: n <= N - queue."""
    game = congestion_v0.parallel_env(n_agents=4, carry_over=0.5, capacity=2).game
    model = game.count_model()
    stage = analysis.stage_equilibrium(model)
    for state, joint in enumerate(stage):
        assert drivers(model, joint) == max(0, 4 - int(model.states[state, 0]))


def test_default_inefficiency_is_real():
    model = congestion_v0.parallel_env().game.exact_model()
    for discount in (0.0, 0.99):
        refs = analysis.exact_references(model, agent_discount=discount)
        assert refs.welfare_gap > 0.1 * abs(refs.optimum.social_welfare)
        assert refs.pigouvian_outcome.social_welfare == pytest.approx(refs.optimum.social_welfare)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"road_slope": 0.0}, ValueError, "road_slope"),
        ({"rail_cost": -1.0}, ValueError, "rail_cost"),
        ({"capacity": -1}, ValueError, "capacity"),
        ({"capacity": 1.5}, TypeError, "capacity"),
        ({"carry_over": 1.2}, ValueError, "carry_over"),
        ({"max_queue": 5000}, ValueError, "max_queue"),
        ({"initial_queue": 4, "max_queue": 3}, ValueError, "initial_queue"),
        ({"spillover_cost": float("nan")}, ValueError, "spillover_cost"),
        ({"n_agents": 5000}, ValueError, "max_queue"),
    ],
)
def test_bad_params_name_the_field(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        congestion_v0.CongestionParams(**kwargs)


def test_model_size_guard():
    with pytest.raises(ValueError, match="n_agents=20"):
        congestion_v0.parallel_env(n_agents=20).game.tabular_model()
    assert congestion_v0.parallel_env(n_agents=20).game.exact_model().symmetric
