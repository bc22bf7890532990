"""Property tests (hypothesis) over every env of the registry ``pa_envs.ENVS``.

A *plan* is drawn per example: the shared parameters (n_agents, max_cycles,
max_transfer), a seed, and one joint action per period (agents' actions as
integers in range, contracts as float32-exact floats within ±max_transfer).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
from helpers import assert_identical
from hypothesis import given, settings
from hypothesis import strategies as st

from pa_envs import ENVS, PRINCIPAL

NAMES = sorted(ENVS)
# 30 examples per property and env; fewer under the "fast" hypothesis profile (tests/conftest.py),
# which `make test` loads: `make test-all`, as CI runs it, draws all 30.
FEW = settings(max_examples=min(30, settings.default.max_examples), deadline=None)


class Plan(NamedTuple):
    kwargs: dict[str, Any]
    seed: int
    actions: list[dict[str, Any]]


@st.composite
def plans(draw, name: str, **fixed: Any) -> Plan:
    """Parameters, a seed and max_cycles joint actions for env ``name``."""
    kwargs = {
        "n_agents": draw(st.integers(1, 4)),
        "max_cycles": draw(st.integers(1, 30)),
        "max_transfer": draw(st.sampled_from([0.1, 1.0, 5.0])),
        **fixed,
    }
    probe = ENVS[name].parallel_env(**kwargs)
    contract_space = probe.action_space(PRINCIPAL)
    bound = float(contract_space.high[0])
    size = contract_space.shape[0]
    joint = st.fixed_dictionaries(
        {
            PRINCIPAL: st.lists(st.floats(-bound, bound, width=32), min_size=size, max_size=size),
            **{a: st.integers(0, probe.action_space(a).n - 1) for a in probe.possible_agents[1:]},
        }
    )
    actions = draw(st.lists(joint, min_size=kwargs["max_cycles"], max_size=kwargs["max_cycles"]))
    return Plan(kwargs, draw(st.integers(0, 2**64)), actions)


def every_env(test: Callable[..., None]) -> Callable[..., None]:
    """Run the property ``test(name, data)`` on every env of the registry, FEW examples each."""
    return pytest.mark.parametrize("name", NAMES)(FEW(given(data=st.data())(test)))


def drawn_env(data: st.DataObject, name: str) -> tuple[Plan, Any]:
    """A plan drawn for env ``name`` and a parallel env built with its parameters."""
    plan = data.draw(plans(name))
    return plan, ENVS[name].parallel_env(**plan.kwargs)


def as_env_actions(joint: dict[str, Any]) -> dict[str, Any]:
    return {p: np.array(a, dtype=np.float32) if p == PRINCIPAL else a for p, a in joint.items()}


def play(env, plan: Plan, seed: int | str | None = "plan") -> list[tuple]:
    """Reset (with the plan's seed unless told) and play the plan; return every step's output.

    The first element is the reset's ``(observations, infos)``, each later one
    a step's ``(observations, rewards, terminations, truncations, infos)``.
    """
    steps = [env.reset(seed=plan.seed if seed == "plan" else seed)]
    for joint in plan.actions:
        if not env.agents:
            break
        steps.append(env.step(as_env_actions(joint)))
    return steps


def top_level_stock_path(env, seed: int | None, steps: int) -> list[int]:
    """Stock after each of ``steps`` periods with every agent at its top level and no transfers."""
    env.reset(seed=seed)
    joint = {a: env.action_space(a).n - 1 for a in env.possible_agents[1:]}
    joint[PRINCIPAL] = np.zeros(env.action_space(PRINCIPAL).shape, np.float32)
    return [env.step(joint)[4][PRINCIPAL]["stock"] for _ in range(steps)]


# -- (a) types of rewards and flags -------------------------------------------------


@every_env
def test_rewards_floats_and_flags_bools(name, data):
    """Every reward is a finite Python float; every termination and truncation a Python bool."""
    plan, env = drawn_env(data, name)
    for _, rewards, terminations, truncations, _ in play(env, plan)[1:]:
        assert set(rewards) == set(terminations) == set(truncations) == set(env.possible_agents)
        for reward in rewards.values():
            assert type(reward) is float
            assert math.isfinite(reward)
        for flag in (*terminations.values(), *truncations.values()):
            assert type(flag) is bool


# -- (b) observations and state in their spaces -------------------------------------


@every_env
def test_observations_and_state_in_spaces(name, data):
    """Every observation lies in its space with the space's dtype; so does state()."""
    plan, env = drawn_env(data, name)
    outputs = [env.reset(seed=plan.seed)]
    states = [env.state()]
    for joint in plan.actions:
        if not env.agents:
            break
        outputs.append(env.step(as_env_actions(joint)))
        states.append(env.state())
    for output in outputs:
        observations = output[0]
        assert set(observations) == set(env.possible_agents)
        for player, observation in observations.items():
            space = env.observation_space(player)
            assert observation.dtype == space.dtype
            assert space.contains(observation), (player, observation)
    for state in states:
        assert state.dtype == env.state_space.dtype
        assert env.state_space.contains(state), state


# -- (c) the reported state stays within its bounds ----------------------------------


@every_env
def test_reported_state_within_bounds(name, data):
    """Each state component in the principal's infos is an int in [0, state_high] and matches state()."""
    plan, env = drawn_env(data, name)
    high = env.game.state_high
    names = env.game.state_names
    infos = [output[-1][PRINCIPAL] for output in play(env, plan)]
    for info in infos:
        for k, key in enumerate(names):
            assert type(info[key]) is int
            assert 0 <= info[key] <= high[k], (key, info[key], high[k])
    assert [infos[-1][key] for key in names] == env.state()[: len(names)].tolist()


def test_pollution_stock_capped_at_max_stock():
    """With no decay and top production the stock reaches max_stock and stays there."""
    env = ENVS["pollution_v0"].parallel_env(n_agents=2, max_cycles=10, decay=0.0, max_stock=7)
    path = top_level_stock_path(env, seed=0, steps=10)
    assert int(env.game.state_high[0]) == 7
    assert path[0] == 6
    assert path[1:] == [7] * 9


# -- (d) payoff objective: rewards add up to welfare ----------------------------------


@every_env
def test_payoff_rewards_sum_to_welfare_and_transfers_cancel(name, data):
    """Rewards sum to social welfare; the transfers agents get are what the principal pays."""
    plan, env = drawn_env(data, name)
    agents = env.possible_agents[1:]
    for _, rewards, _, _, infos in play(env, plan)[1:]:
        principal = infos[PRINCIPAL]
        total = math.fsum(rewards.values())
        assert math.isclose(total, principal["social_welfare"], rel_tol=1e-9, abs_tol=1e-9)
        assert principal["transfers"].tolist() == [infos[a]["transfer"] for a in agents]
        received = math.fsum(rewards[a] - infos[a]["private_utility"] for a in agents)
        paid = rewards[PRINCIPAL] - principal["principal_payoff"]
        assert math.isclose(received, -paid, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(received, principal["total_transfers"], rel_tol=1e-9, abs_tol=1e-9)


@every_env
def test_posted_contract_in_force_next_step(name, data):
    """The contract posted at step t is in force at t+1 (zero at the first step) and sets the transfers."""
    plan, env = drawn_env(data, name)
    n_signals = env.action_space(PRINCIPAL).shape[0] // len(env.possible_agents[1:])
    expected = np.zeros((len(env.possible_agents) - 1, n_signals))
    steps = play(env, plan)[1:]  # shorter than the plan only if the episode terminates early
    for joint, (observations, _, _, _, infos) in zip(plan.actions, steps, strict=False):
        principal = infos[PRINCIPAL]
        assert np.array_equal(principal["contract"], expected)
        rows = np.arange(len(expected))
        assert np.array_equal(principal["transfers"], expected[rows, principal["signals"]])
        expected = np.array(joint[PRINCIPAL], dtype=np.float32).astype(np.float64).reshape(expected.shape)
        for i, agent in enumerate(env.possible_agents[1:]):
            assert np.array_equal(observations[agent][-n_signals:], expected[i].astype(np.float32))


# -- (e) welfare objective ------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@FEW
@given(data=st.data(), lam=st.floats(0.0, 3.0))
def test_welfare_objective_reward(name, data, lam):
    """With principal_objective="welfare" the principal earns welfare - lambda * sum(|transfers|)."""
    plan = data.draw(plans(name, principal_objective="welfare", cost_of_public_funds=lam))
    env = ENVS[name].parallel_env(**plan.kwargs)
    for _, rewards, _, _, infos in play(env, plan)[1:]:
        principal = infos[PRINCIPAL]
        expected = principal["social_welfare"] - lam * math.fsum(abs(t) for t in principal["transfers"])
        assert math.isclose(rewards[PRINCIPAL], expected, rel_tol=1e-9, abs_tol=1e-9)
        for agent in env.possible_agents[1:]:
            assert rewards[agent] == infos[agent]["private_utility"] + infos[agent]["transfer"]


# -- (f) seeding: same seed, same trajectory ------------------------------------------


@every_env
def test_same_seed_same_trajectory(name, data):
    """Two envs reset with the same seed and fed the same actions give identical trajectories."""
    plan = data.draw(plans(name))
    first = play(ENVS[name].parallel_env(**plan.kwargs), plan)
    second = play(ENVS[name].parallel_env(**plan.kwargs), plan)
    assert len(first) == len(second)
    assert_identical(first, second)


def test_pollution_different_seeds_differ():
    """Different seeds give different stock paths (the decay is random)."""
    paths = {
        seed: top_level_stock_path(ENVS["pollution_v0"].parallel_env(n_agents=3, max_cycles=60), seed, 60)
        for seed in (0, 1, 2, 3)
    }
    assert all(min(path[10:]) > 0 for path in paths.values())
    assert len({tuple(path) for path in paths.values()}) > 1


# -- (g) seeding: reseeding restarts the stream, no seed continues it ------------------


@every_env
def test_reset_same_seed_twice_same_trajectory(name, data):
    """reset(seed=s) on the same env object replays the same trajectory."""
    plan, env = drawn_env(data, name)
    first = play(env, plan)
    play(env, plan, seed=None)  # move the stream on in between
    assert_identical(play(env, plan), first)


@every_env
def test_unseeded_reset_continues_stream_deterministically(name, data):
    """reset() without a seed after a seeded episode continues that seed's stream (no fresh entropy)."""
    plan = data.draw(plans(name))
    runs = []
    for _ in range(2):
        env = ENVS[name].parallel_env(**plan.kwargs)
        play(env, plan)
        runs.append(play(env, plan, seed=None))
    assert_identical(runs[0], runs[1])


def test_pollution_unseeded_reset_gives_new_episode():
    """For pollution_v0 the unseeded second episode differs from the seeded first one."""
    for seed in (0, 1, 2):
        env = ENVS["pollution_v0"].parallel_env(n_agents=3, max_cycles=60)
        seeded = top_level_stock_path(env, seed, 60)
        continued = top_level_stock_path(env, None, 60)
        assert seeded != continued
        assert top_level_stock_path(env, seed, 60) == seeded


# -- the AEC form -------------------------------------------------------------------


@every_env
def test_aec_outputs_and_dynamics_match_parallel(name, data):
    """AEC: spaces, reward types and welfare hold, the posted contract pays this period, and the
    state path equals the parallel env's for the same seed and agents' actions."""
    plan = data.draw(plans(name))
    env = ENVS[name].raw_env(**plan.kwargs)
    env.reset(seed=plan.seed)
    agents = env.possible_agents[1:]
    n_signals = env.action_space(PRINCIPAL).shape[0] // len(agents)
    aec_states = []
    for joint in plan.actions:
        if not env.agents or any(env.terminations.values()) or any(env.truncations.values()):
            break
        contract = np.array(joint[PRINCIPAL], dtype=np.float32)
        for player in env.possible_agents:
            assert env.agent_selection == player
            observation = env.observe(player)
            space = env.observation_space(player)
            assert observation.dtype == space.dtype
            assert space.contains(observation)
            env.step(contract if player == PRINCIPAL else joint[player])
        assert env.state_space.contains(env.state())
        principal = env.infos[PRINCIPAL]
        assert all(type(r) is float and math.isfinite(r) for r in env.rewards.values())
        assert math.isclose(
            math.fsum(env.rewards.values()), principal["social_welfare"], rel_tol=1e-9, abs_tol=1e-9
        )
        matrix = contract.astype(np.float64).reshape(len(agents), n_signals)
        assert np.array_equal(principal["transfers"], matrix[np.arange(len(agents)), principal["signals"]])
        aec_states.append(env.state()[: len(env.game.state_names)].tolist())
    parallel = ENVS[name].parallel_env(**plan.kwargs)
    parallel_states = []
    parallel.reset(seed=plan.seed)
    for joint in plan.actions[: len(aec_states)]:
        parallel.step(as_env_actions(joint))
        parallel_states.append(parallel.state()[: len(parallel.game.state_names)].tolist())
    assert aec_states == parallel_states
