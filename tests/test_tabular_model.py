"""The exact tabular model agrees with the simulator (statistically, fixed seed).

Tolerance: with B draws an empirical frequency may stray from its probability
``p`` by at most ``6 * sqrt(p (1 - p) / B) + 1e-4``; an outcome of probability 0
must never occur. Expected payoffs within the same number of standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import PRINCIPAL
from pa_envs.core import rng

DRAWS = 20_000
SIGMAS = 6.0


def _small_env(env_module):
    return env_module.parallel_env(n_agents=2, max_cycles=20)


def _check_frequencies(counts: np.ndarray, probabilities: np.ndarray, what: str) -> None:
    draws = counts.sum()
    freq = counts / draws
    tolerance = SIGMAS * np.sqrt(probabilities * (1 - probabilities) / draws) + 1e-4
    assert np.all(counts[probabilities == 0] == 0), f"{what}: an impossible outcome occurred"
    worst = np.argmax(np.abs(freq - probabilities) - tolerance)
    assert np.all(np.abs(freq - probabilities) <= tolerance), (
        f"{what}: outcome {worst} frequency {freq[worst]:.4f} vs probability {probabilities[worst]:.4f}"
    )


def _pairs(model) -> list[tuple[int, int]]:
    """A spread of (state, joint action) pairs, including the extremes."""
    s_max, a_max = model.n_states - 1, model.n_joint_actions - 1
    picks = {(0, 0), (0, a_max), (s_max, 0), (s_max, a_max), (s_max // 2, a_max // 2)}
    generator = np.random.default_rng(0)
    for _ in range(5):
        picks.add((int(generator.integers(model.n_states)), int(generator.integers(model.n_joint_actions))))
    return sorted(picks)


def test_model_is_well_formed(env_module):
    env = _small_env(env_module)
    model = env.tabular_model()
    assert model.n_agents == env.game.n_agents
    assert model.joint_actions.shape == (env.game.n_actions**env.game.n_agents, env.game.n_agents)
    for s, a in _pairs(model):
        law = model.next_state_distribution(s, a)
        assert np.all(law >= 0) and np.isclose(law.sum(), 1.0, atol=1e-12)
    np.testing.assert_allclose(model.signal_probabilities.sum(axis=3), 1.0, atol=1e-12)
    assert model.horizon == env.params.max_cycles
    index = model.joint_action_index(model.joint_actions, env.game.n_actions)
    assert np.array_equal(index, np.arange(model.n_joint_actions))


def test_simulated_transitions_and_payoffs_match_model(env_module):
    game = _small_env(env_module).game
    model = game.tabular_model()
    for s, a in _pairs(model):
        state = np.repeat(model.states[s][None, :], DRAWS, axis=0)
        actions = np.repeat(model.joint_actions[a][None, :], DRAWS, axis=0)
        noise = rng.batch_uniforms(
            np.full(DRAWS, rng.key_from_seed(12345 + s)), np.arange(DRAWS), game.noise_size
        )
        d = game.step(state, actions, noise)
        index = {tuple(row): k for k, row in enumerate(model.states)}
        next_index = np.array([index[tuple(row)] for row in d.next_state])
        counts = np.bincount(next_index, minlength=model.n_states)
        _check_frequencies(counts, model.next_state_distribution(s, a), f"next state from ({s}, {a})")
        for i in range(model.n_agents):
            signal_counts = np.bincount(d.signals[:, i], minlength=game.n_signals)
            _check_frequencies(signal_counts, model.signal_probabilities[s, a, i], f"signal of agent {i}")
        for name, simulated, expected in [
            ("private_utility", d.private_utility, model.private_utility[s, a]),
            ("principal_payoff", d.principal_payoff, model.principal_payoff[s, a]),
            ("externality", d.externality, model.externality[s, a]),
        ]:
            mean = simulated.mean(axis=0)
            error = simulated.std(axis=0) / np.sqrt(DRAWS)
            assert np.all(np.abs(mean - expected) <= SIGMAS * error + 1e-9), (name, s, a, mean, expected)


@pytest.mark.slow
def test_env_rollouts_match_model_propagation(env_module):
    """Through the parallel env itself (its own random stream): the law of the
    state after a few periods of a fixed joint action matches the model."""
    env = _small_env(env_module)
    model = env.tabular_model()
    joint = model.joint_actions[-1]
    a = model.n_joint_actions - 1
    periods, episodes = 3, 4000
    law = model.initial_distribution.copy()
    for _ in range(periods):
        nxt = np.zeros(model.n_states)
        for s in np.flatnonzero(law):
            nxt += law[s] * model.next_state_distribution(s, a)
        law = nxt
    index = {tuple(row): k for k, row in enumerate(model.states)}
    counts = np.zeros(model.n_states, dtype=np.int64)
    contract = np.zeros(env.action_space(PRINCIPAL).shape, dtype=np.float32)
    actions = {PRINCIPAL: contract, **{f"agent_{i}": int(x) for i, x in enumerate(joint)}}
    for seed in range(episodes):
        env.reset(seed=seed)
        for _ in range(periods):
            env.step(actions)
        state = env.state()[: model.states.shape[1]]  # the state vector leads state()
        counts[index[tuple(state.astype(np.int64))]] += 1
    _check_frequencies(counts, law, f"state after {periods} periods")


@pytest.mark.parametrize("decay", [0.0, 1.0])
def test_pollution_extreme_decay_is_deterministic(decay):
    from pa_envs import pollution_v0

    model = pollution_v0.parallel_env(n_agents=2, decay=decay, max_stock=12).tabular_model()
    laws = [model.next_state_distribution(s, a) for s in range(13) for a in range(model.n_joint_actions)]
    assert all(law.max() == 1.0 for law in laws)
    s, a = 5, model.n_joint_actions - 1  # both firms high: 3 + 3 units
    expected = min(12, (0 if decay == 1.0 else 5) + 6)
    assert model.next_state_distribution(s, a)[expected] == 1.0


def test_pollution_model_guards_size():
    from pa_envs import pollution_v0

    with pytest.raises(ValueError, match="n_agents=9"):
        pollution_v0.parallel_env(n_agents=9).tabular_model()
