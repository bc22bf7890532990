"""What consumers do with our envs beyond PettingZoo's checks: pickle, copy, convert."""

from __future__ import annotations

import copy
import pickle

import numpy as np
from pettingzoo.utils.conversions import aec_to_parallel, parallel_to_aec

from pa_envs import PRINCIPAL


def _play(env, steps: int, seed: int = 0) -> list:
    """Step a parallel env with seeded sampled actions; return (obs, rewards) per step."""
    for i, p in enumerate(env.possible_agents):
        env.action_space(p).seed(seed + i)
    out = []
    for _ in range(steps):
        obs, rewards, *_ = env.step({p: env.action_space(p).sample() for p in env.agents})
        out.append(({p: o.tolist() for p, o in obs.items()}, rewards))
    return out


def test_pickle_and_deepcopy_continue_the_same_trajectory(env_module):
    env = env_module.parallel_env(n_agents=2, max_cycles=50)
    env.reset(seed=5)
    _play(env, 10)
    clones = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env)]
    expected = _play(env, 20, seed=1)
    for clone in clones:
        assert _play(clone, 20, seed=1) == expected


def test_aec_pickles(env_module):
    env = env_module.env(n_agents=2)
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    assert np.array_equal(clone.observe("agent_0"), env.observe("agent_0"))


def test_aec_to_parallel_conversion_runs_whole_episodes(env_module):
    parallel = aec_to_parallel(env_module.env(n_agents=3, max_cycles=12))
    parallel.reset(seed=0)
    steps = 0
    while parallel.agents:
        _, rewards, _, _, infos = parallel.step(
            {p: parallel.action_space(p).sample() for p in parallel.agents}
        )
        assert np.isclose(sum(rewards.values()), infos[PRINCIPAL]["social_welfare"])
        steps += 1
    assert steps == 12


def test_parallel_to_aec_conversion_runs_whole_episodes(env_module):
    aec = parallel_to_aec(env_module.parallel_env(n_agents=3, max_cycles=12))
    aec.reset(seed=0)
    moves = 0
    for player in aec.agent_iter():
        _, _, terminated, truncated, _ = aec.last()
        aec.step(None if terminated or truncated else aec.action_space(player).sample())
        moves += 1
    assert moves == 12 * 4 + 4  # every player each period, then once more to leave
