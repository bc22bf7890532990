"""PettingZoo's own conformance checks, over every registered env."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)
from pettingzoo.test.state_test import state_test as pettingzoo_state_test

from pa_envs import PRINCIPAL


def test_parallel_api(env_module):
    parallel_api_test(env_module.parallel_env(), num_cycles=300)


def test_aec_api(env_module):
    api_test(env_module.env(), num_cycles=300)


def test_raw_aec_api(env_module):
    api_test(env_module.raw_env(), num_cycles=100)


def test_seed(env_module):
    parallel_seed_test(env_module.parallel_env)
    seed_test(env_module.env)


def test_render(env_module, capsys):
    render_test(env_module.env)
    assert "period" in capsys.readouterr().out  # human mode printed the frame text


def test_max_cycles(env_module):
    max_cycles_test(env_module)


def test_state(env_module):
    pettingzoo_state_test(env_module.env(), env_module.parallel_env())


@pytest.mark.parametrize("max_cycles", [1, 7])
def test_truncation_at_horizon(env_module, max_cycles):
    env = env_module.parallel_env(max_cycles=max_cycles)
    env.reset(seed=3)
    for t in range(1, max_cycles + 1):
        assert env.agents == env.possible_agents
        actions = {p: env.action_space(p).sample() for p in env.agents}
        _, _, terminations, truncations, infos = env.step(actions)
        assert infos[PRINCIPAL]["period"] == t
        assert all(truncations.values()) == (t == max_cycles)
        assert not any(terminations.values())
    assert env.agents == []
    assert env.step({}) == ({}, {}, {}, {}, {})


def test_metadata_and_players(env_module):
    env = env_module.parallel_env(n_agents=4)
    assert env.metadata["name"] == env.game.name
    assert set(env.metadata["render_modes"]) == {"ansi", "rgb_array", "human"}
    assert env.metadata["is_parallelizable"] is True
    assert env.possible_agents == [PRINCIPAL, "agent_0", "agent_1", "agent_2", "agent_3"]
    agent_spaces = {id(env.observation_space(f"agent_{i}")) for i in range(4)}
    assert len(agent_spaces) == 1  # one shared space object: SuperSuit and parameter sharing rely on it
    assert env.action_space(PRINCIPAL).shape == (4 * env.game.n_signals,)
    assert env.action_space(PRINCIPAL).dtype == np.float32
    for p in env.possible_agents:
        space = env.observation_space(p)
        assert space.dtype == np.float32
        assert np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))


def test_reset_infos_have_step_keys(env_module):
    env = env_module.parallel_env()
    _, reset_infos = env.reset(seed=0)
    _, _, _, _, step_infos = env.step({p: env.action_space(p).sample() for p in env.agents})
    assert set(reset_infos) == set(step_infos)
    for p in reset_infos:
        assert set(reset_infos[p]) == set(step_infos[p]), p
    for key in ("social_welfare", "externality", "transfers", "contract"):
        assert key in step_infos[PRINCIPAL]
    for name in env.game.state_names:
        assert name in step_infos[PRINCIPAL]
    assert {"private_utility", "transfer"} <= set(step_infos["agent_0"])


def test_rgb_frame(env_module):
    env = env_module.parallel_env(render_mode="rgb_array", n_agents=3)
    env.reset(seed=0)
    env.step({p: env.action_space(p).sample() for p in env.agents})
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] % 2 == 0 and frame.shape[1] % 2 == 0  # video encoders want even sizes
    assert (frame != 255).any()  # something was drawn
