"""The single copy's cheaper paths (issue 15) compute what the plain ones computed.

Each env's step gathers some terms from per-state tables, sums integers as dot products and
keeps its constants as ``(1,)`` arrays; ``resolve_period`` trusts the checked actions of a Game
whose signals are those actions; the agents' actions are checked with two set inclusions. Here
each such path is held against the plain computation it replaced, and against bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import ENVS, PRINCIPAL, commons_v0, congestion_v0, grid_v0, insurance_v0, pollution_v0
from pa_envs.core import distributions
from pa_envs.core.game import resolve_period


def _played(name: str, steps: int = 60, **params: object):
    """A seeded parallel env of ``name`` after a few random steps, and the last step's output."""
    env = ENVS[name].parallel_env(n_agents=3, **params)
    env.reset(seed=3)
    for player in env.possible_agents:
        env.action_space(player).seed(3)
    out = None
    for _ in range(steps):
        if not env.agents:
            env.reset()
        out = env.step({p: env.action_space(p).sample() for p in env.agents})
    return env, out


def test_pollution_damage_tables_are_the_products_of_the_stock():
    game = pollution_v0.parallel_env(firm_damage=0.37, social_damage=1.3e-3).game
    p = game.params
    stocks = np.arange(p.stock_cap + 1)
    for s in stocks:  # the scalar product of each stock, bit for bit
        assert game._firm_damage_at[s] == p.firm_damage * float(s)
        assert game._social_damage_at[s] == p.social_damage * float(s)
        assert game._social_payoff_at[s] == -(p.social_damage * float(s))
    state = stocks[:, None]
    actions = np.random.default_rng(0).integers(0, p.n_levels, (len(stocks), p.n_agents))
    dynamics = game.step(state, actions, np.full((len(stocks), 1), 0.5))
    assert np.array_equal(dynamics.private_utility, game.profit[actions] - p.firm_damage * state)
    assert np.array_equal(dynamics.externality, p.social_damage * stocks)
    decayed = distributions.draw_from_cdf(game.decay_cdf[stocks], np.full(len(stocks), 0.5))
    expected = np.minimum(stocks - decayed + game.emissions[actions].sum(axis=1), p.stock_cap)
    assert np.array_equal(dynamics.next_state[:, 0], expected) and dynamics.next_state.dtype == np.int64


def test_commons_and_congestion_tables_are_the_plain_formulas():
    game = commons_v0.parallel_env().game
    p = game.params
    stock = np.arange(p.carrying_capacity + 1)
    assert np.array_equal(game._damage_at, p.stock_value * (p.carrying_capacity - stock).astype(np.float64))
    actions = np.random.default_rng(1).integers(0, p.n_efforts, (len(stock), p.n_agents))
    dynamics = game.step(stock[:, None], actions, np.full((len(stock), 1), 0.25))
    per_effort, _ = game.harvest(stock, actions.sum(axis=1))
    assert np.array_equal(
        dynamics.private_utility, p.price * (actions * per_effort[:, None]) - p.effort_cost * actions
    )
    low, up = game._successors(stock, actions.sum(axis=1))
    assert np.array_equal(dynamics.next_state[:, 0], np.minimum(low + (0.25 < up), p.carrying_capacity))
    assert dynamics.next_state.dtype == np.int64

    road = congestion_v0.parallel_env().game
    q = road.params
    queue = np.arange(q.queue_cap + 1)
    assert np.array_equal(road._spillover_at, q.spillover_cost * queue.astype(np.float64))
    actions = np.random.default_rng(2).integers(0, 2, (len(queue), q.n_agents))
    dynamics = road.step(queue[:, None], actions, np.full((len(queue), 1), 0.5))
    drivers = (actions == 0).sum(axis=1)
    expected = -np.where(actions == 0, road.road_time(queue, drivers)[:, None], float(q.rail_cost))
    assert np.array_equal(dynamics.private_utility, expected)


def test_grid_draws_its_recovery_as_the_comparison_count():
    """The table look-up grid now uses gives the comparison count of draw_from_cdf, at B = 1
    (numpy's binary search) and for many copies, every stress and extreme uniforms included."""
    game = grid_v0.parallel_env().game
    table = game.recovery_cdf
    generator = np.random.default_rng(4)
    stress = np.repeat(np.arange(table.shape[0]), 40)
    uniforms = generator.integers(0, 2**53, len(stress)) * 2.0**-53
    uniforms[::7] = 0.0
    uniforms[1::7] = np.nextafter(1.0, 0.0)
    expected = distributions.draw_from_cdf(table[stress], uniforms)
    assert np.array_equal(distributions.draw_from_cdf_table(table, stress, uniforms), expected)
    for row, u, count in zip(stress[:300], uniforms[:300], expected[:300], strict=True):
        assert distributions.draw_from_cdf_table(table, np.array([row]), np.array([u]))[0] == count


def test_insurance_features_are_own_type_own_risk_then_the_others():
    game = insurance_v0.parallel_env(n_agents=4).game
    n = 4
    state = np.random.default_rng(5).integers(0, 3, (6, 2 * n))
    state[:, :n] %= 2
    features = game.agent_features(state)
    types, risks = state[:, :n], state[:, n:]
    for i in range(n):
        others = [risks[:, j] for j in range(n) if j != i]
        assert np.array_equal(features[:, i], np.stack([types[:, i], risks[:, i], *others], axis=1))


@pytest.mark.parametrize("name", sorted(ENVS))
def test_state_high_is_not_the_steps_cap(name):
    """A caller who writes into the array ``state_high`` returns does not move the dynamics."""
    env, _ = _played(name, steps=5)
    before = env.game.step(
        env._episode.state, np.zeros((1, 3), dtype=np.int64), np.full((1, env.game.noise_size), 0.9)
    )
    env.game.state_high[:] = 0
    after = env.game.step(
        env._episode.state, np.zeros((1, 3), dtype=np.int64), np.full((1, env.game.noise_size), 0.9)
    )
    for x, y in zip(before, after, strict=True):
        assert np.array_equal(x, y)


def _echo_game(signals_of):
    """pollution_v0 whose step returns ``signals_of(actions)`` as the signals."""
    game = pollution_v0.parallel_env(n_agents=2).game
    real = game.step

    def step(state, actions, noise):
        return real(state, actions, noise)._replace(signals=signals_of(actions))

    game.step = step
    return game


def test_checked_actions_spare_the_range_check_only_when_they_are_the_signals():
    state, noise = np.array([[4]]), np.array([[0.5]])
    contracts = np.arange(6, dtype=np.float64).reshape(1, 2, 3)
    actions = np.array([[2, 0]])
    same = _echo_game(lambda a: a)
    outcome = resolve_period(same, state, actions, contracts, noise, actions_below=3)
    assert outcome.transfers.tolist() == [[2.0, 3.0]]  # each agent paid from its own row
    # Another array of signals is checked even though the caller vouches for its actions.
    for bad in (-1, 3):
        shifted = _echo_game(lambda a, bad=bad: np.full_like(a, bad))
        with pytest.raises(ValueError, match=r"signals outside 0\.\.2"):
            resolve_period(shifted, state, actions, contracts, noise, actions_below=3)
    # The very actions as signals, but more actions than contract columns: still checked.
    with pytest.raises(ValueError, match=r"signals outside 0\.\.1"):
        resolve_period(same, state, np.array([[2, 0]]), np.zeros((1, 2, 2)), noise, actions_below=3)


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (True, TypeError),
        (1.0, TypeError),
        (np.float64(2.0), TypeError),
        ("1", TypeError),
        ([1], TypeError),
        (-1, ValueError),
        (3, ValueError),
        (np.int64(7), ValueError),
    ],
)
def test_a_bad_action_among_good_ones_is_named(action, error):
    env = pollution_v0.parallel_env(n_agents=3)
    env.reset(seed=0)
    actions = {PRINCIPAL: np.zeros(9, np.float32), "agent_0": 0, "agent_1": np.int64(2), "agent_2": action}
    with pytest.raises(error, match=r"agent_2") as raised:
        env.step(actions)
    assert "Discrete(3)" in str(raised.value) or "0..2" in str(raised.value)
    assert repr(action) in str(raised.value) or str(action) in str(raised.value)
    assert env.period == 0  # rejected before anything moved


def test_other_integer_types_still_pass_the_slow_path():
    env = pollution_v0.parallel_env(n_agents=3)
    env.reset(seed=0)
    observations, *_ = env.step(
        {PRINCIPAL: np.zeros(9), "agent_0": np.int32(1), "agent_1": np.uint8(2), "agent_2": 0}
    )
    assert env._episode.last_actions.tolist() == [1, 2, 0] and env._episode.last_actions.dtype == np.int64
    assert set(observations) == set(env.possible_agents)


@pytest.mark.parametrize("name", sorted(ENVS))
def test_step_outputs_are_fresh_and_unshared(name):
    """Every observation row and every info array is its own: writing into one changes no other
    output and nothing the env returns later (pollution's signals are its actions: two copies)."""
    env, (observations, rewards, _, _, infos) = _played(name)
    rows = [observations[p] for p in env.possible_agents]
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            assert not np.shares_memory(a, b)
    info = infos[PRINCIPAL]
    arrays = [info["transfers"], info["actions"], info["signals"], info["contract"]]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)
    kept = env.last_outcome()
    assert not np.shares_memory(info["transfers"], kept.transfers)
    assert not np.shares_memory(info["signals"], kept.dynamics.signals)
    assert list(rewards) == env.possible_agents and all(type(r) is float for r in rewards.values())
    assert list(observations) == env.possible_agents
    agent_info = infos["agent_0"]
    assert agent_info["signal"] == info["signals"][0] and agent_info["action"] == info["actions"][0]
    assert agent_info["transfer"] == info["transfers"][0]
