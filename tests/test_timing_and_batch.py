"""The two timings agree on a fixed contract; the batch axis is real; one random stream."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import PRINCIPAL
from pa_envs.core import resolve_period, rng


def _fixed_contract(env) -> np.ndarray:
    """A nonzero contract: tax the top signal, pay a little on the others."""
    matrix = np.full((env.game.n_agents, env.game.n_signals), 0.25)
    matrix[:, -1] = -1.5
    return matrix


def _action_sequence(env, periods: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, env.game.n_actions, size=(periods, env.game.n_agents))


def test_parallel_and_aec_give_same_welfare_for_fixed_contract(env_module):
    parallel = env_module.parallel_env(n_agents=3, max_cycles=25)
    aec = env_module.env(n_agents=3, max_cycles=25)
    contract = _fixed_contract(parallel)
    flat = parallel.flat_contract(contract)
    plan = _action_sequence(parallel, 25, seed=1)

    parallel.reset(seed=7, options={"contract": contract})
    par_welfare, par_rewards = [], []
    for joint in plan:
        actions = {PRINCIPAL: flat, **{f"agent_{i}": int(a) for i, a in enumerate(joint)}}
        _, rewards, _, _, infos = parallel.step(actions)
        par_welfare.append(infos[PRINCIPAL]["social_welfare"])
        par_rewards.append(rewards)

    aec.reset(seed=7)
    aec_welfare, aec_rewards = [], []
    for joint in plan:
        aec.step(flat)
        for a in joint:
            aec.step(int(a))
        aec_welfare.append(aec.infos[PRINCIPAL]["social_welfare"])
        aec_rewards.append(dict(aec.rewards))
    assert par_welfare == aec_welfare
    assert par_rewards == aec_rewards
    assert len(set(par_welfare)) > 1  # the stock moved, so the comparison means something


def test_aec_agents_see_the_contract_posted_this_period(env_module):
    env = env_module.env(n_agents=2)
    env.reset(seed=0)
    posted = np.arange(2 * env.unwrapped.game.n_signals, dtype=np.float32) / 10
    before = env.observe("agent_0").copy()
    env.step(posted)
    row = env.observe("agent_0")[-env.unwrapped.game.n_signals :]
    assert np.array_equal(row, posted[: env.unwrapped.game.n_signals])
    assert not np.array_equal(before, env.observe("agent_0"))


def test_parallel_contract_takes_effect_next_period(env_module):
    env = env_module.parallel_env(n_agents=2)
    env.reset(seed=0)
    n_signals = env.game.n_signals
    posted = np.full(2 * n_signals, -2.0, dtype=np.float32)
    joint = {"agent_0": 0, "agent_1": 0}
    obs, _, _, _, infos = env.step({PRINCIPAL: posted, **joint})
    assert np.all(infos["agent_0"]["transfer"] == 0.0)  # the zero contract of reset was in force
    assert np.array_equal(obs["agent_0"][-n_signals:], posted[:n_signals])  # agents see what comes
    _, _, _, _, infos = env.step({PRINCIPAL: np.zeros_like(posted), **joint})
    assert infos["agent_0"]["transfer"] == -2.0


@pytest.mark.parametrize("batch", [2, 17])
def test_batch_step_equals_single_copies(env_module, batch):
    game = env_module.parallel_env(n_agents=3).game
    generator = np.random.default_rng(batch)
    high = game.state_high
    state = generator.integers(0, high + 1, size=(batch, len(high)))
    actions = generator.integers(0, game.n_actions, size=(batch, game.n_agents))
    contracts = generator.uniform(-1, 1, size=(batch, game.n_agents, game.n_signals))
    noise = rng.batch_uniforms(np.arange(batch), np.arange(batch) * 3, game.noise_size)
    together = resolve_period(game, state, actions, contracts, noise)
    for b in range(batch):
        alone = resolve_period(
            game, state[b : b + 1], actions[b : b + 1], contracts[b : b + 1], noise[b : b + 1]
        )
        for field in ("transfers", "agent_rewards", "principal_reward", "social_welfare"):
            assert np.array_equal(getattr(together, field)[b], getattr(alone, field)[0]), field
        for field, value in together.dynamics._asdict().items():
            assert np.array_equal(value[b], getattr(alone.dynamics, field)[0]), field
        assert np.all(together.dynamics.next_state[b] <= high)


def test_scalar_and_batch_uniforms_are_identical():
    keys = np.array([rng.key_from_seed(s) for s in (0, 1, 2**70, 123456789)], dtype=np.uint64)
    counts = np.array([rng.counter(e, t) for e, t in ((0, 0), (0, 5), (3, 1), (2**20, 99))], dtype=np.uint64)
    batch = rng.batch_uniforms(keys, counts, 7)
    for b in range(len(keys)):
        assert np.array_equal(batch[b], rng.uniforms(int(keys[b]), int(counts[b]), 7)[0])
    assert np.all((batch >= 0) & (batch < 1))


def test_uniforms_look_uniform():
    draws = rng.batch_uniforms(np.full(50_000, rng.key_from_seed(9)), np.arange(50_000), 2)
    assert abs(draws.mean() - 0.5) < 0.005
    histogram = np.histogram(draws, bins=10, range=(0, 1))[0] / draws.size
    assert np.all(np.abs(histogram - 0.1) < 0.005)
    assert abs(np.corrcoef(draws[:, 0], draws[:, 1])[0, 1]) < 0.02


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_bad_seed(seed):
    with pytest.raises((TypeError, ValueError), match="seed"):
        rng.key_from_seed(seed)
