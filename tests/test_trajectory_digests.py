"""Same seed, same trajectory, bit for bit, across refactors of the step path.

Each env's parallel and AEC forms are played for a few hundred steps (resets included) with
seeded random actions; every observation, reward, termination, truncation and info (values,
dtypes, shapes and Python types) is hashed. The expected digests were measured on main
(commit dfecfac) BEFORE the single-copy speed work of issue 15, so any change to the
dynamics, the random stream or the bookkeeping (an info key, a float that became a numpy
scalar, a float32 observation that became float64) changes a digest and fails here.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from pa_envs import ENVS, pollution_v0
from pa_envs.core import distributions

STEPS = 300

# Measured on main at dfecfac (before issue 15's changes) with this very file.
PARALLEL_DIGESTS = {
    "pollution_v0": "445e24abe6ab537fe85cf3615a26a19bcb5773081f1759c7d044b34cb8b46273",
    "commons_v0": "893e7b85362a16cd4524c505253d042ec4f01893867b16ade992f75288ca6cae",
    "congestion_v0": "75ea52b9503ab41d44f8d4fc1b79188293255c293db5c47a8671be2603164a33",
    "insurance_v0": "9bb0f2e7cc3abf890d5294f94dfe0d850bcc285bea67bd13e9b30ac16c7c75fc",
    "platform_v0": "419f60014a3ce313ecff8ef4325c1675779e4bd4d36eae73a6f0d605d671fdc0",
    "grid_v0": "80222acc70d1db5ddf0aff6f5f0e7743f73c9de841f6004415bdc330c3cc5c4e",
}
AEC_DIGESTS = {
    "pollution_v0": "7081fbd848655cbc5a59d1a63c09940a614c7ed015009fe3538927bba18eb878",
    "commons_v0": "de5d65285b113905f3dd1ae28ff6d366844cd945592a62a59e90befe72b6fefa",
    "congestion_v0": "731e823a5b2328debc3f5331443e2b75502325590937f275d5465b5c2121e079",
    "insurance_v0": "d579f0e89611b213074a49e4b94c60323c0335af97d5127562d6276457323f79",
    "platform_v0": "8bb7ebea03c7d45978b856059a877bb21b4f22b0d881b84d2b78a46dd6c4a507",
    "grid_v0": "0ec73e990f46b542c79e80b2b5318b207174663533fc6bb56a23121b83ecd526",
}


def _feed(digest: Any, value: object) -> None:
    """Hash ``value`` with its type, so a float that became a numpy scalar changes the digest."""
    digest.update(type(value).__name__.encode())
    if isinstance(value, dict):
        for key in value:  # insertion order is part of the API a user sees
            digest.update(repr(key).encode())
            _feed(digest, value[key])
    elif isinstance(value, np.ndarray):
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple)):
        for item in value:
            _feed(digest, item)
    else:
        digest.update(repr(value).encode())


def _actions(env, rng: np.random.Generator, players: list[str]) -> dict:
    actions = {}
    for p in players:
        space = env.action_space(p)
        if p.startswith("principal"):
            # Within the bound, float32 as a policy sends; every few steps a float64 list.
            flat = rng.uniform(space.low, space.high).astype(np.float32)
            actions[p] = flat.astype(np.float64).tolist() if rng.random() < 0.2 else flat
        else:
            actions[p] = int(rng.integers(space.n))
    return actions


def parallel_digest(name: str, steps: int = STEPS) -> str:
    """The digest of ``steps`` parallel steps of env ``name`` (N = 3, seed 7)."""
    env = ENVS[name].parallel_env(n_agents=3, max_cycles=40)
    rng = np.random.default_rng(11)
    digest = hashlib.sha256()
    _feed(digest, env.reset(seed=7))
    for _ in range(steps):
        if not env.agents:
            _feed(digest, env.reset())
        out = env.step(_actions(env, rng, list(env.agents)))
        _feed(digest, out)
        _feed(digest, env.state())
    return digest.hexdigest()


def aec_digest(name: str, steps: int = STEPS) -> str:
    """The digest of ``steps`` AEC moves of env ``name`` (N = 3, seed 7)."""
    env = ENVS[name].env(n_agents=3, max_cycles=40)
    rng = np.random.default_rng(11)
    digest = hashlib.sha256()
    env.reset(seed=7)
    for _ in range(steps):
        if not env.agents:
            env.reset()
        player = env.agent_selection
        observation, reward, terminated, truncated, info = env.last()
        _feed(digest, (player, observation, reward, terminated, truncated, info))
        for other in env.possible_agents:
            _feed(digest, env.observe(other))
        _feed(digest, (env.rewards, env.infos))
        action = None if terminated or truncated else _actions(env, rng, [player])[player]
        env.step(action)
    return digest.hexdigest()


@pytest.mark.parametrize("name", sorted(PARALLEL_DIGESTS))
def test_parallel_trajectory_is_unchanged(name: str) -> None:
    assert parallel_digest(name) == PARALLEL_DIGESTS[name]


@pytest.mark.parametrize("name", sorted(AEC_DIGESTS))
def test_aec_trajectory_is_unchanged(name: str) -> None:
    assert aec_digest(name) == AEC_DIGESTS[name]


# -- the cheaper paths of issue 15 give what the plain ones give ---------------------------


def test_a_single_cdf_draw_counts_the_row_as_the_gather_does() -> None:
    """``draw_from_cdf_table`` with one row (a binary search) equals the comparison count, ties
    and uniforms that hit a table value exactly included."""
    rng = np.random.default_rng(3)
    steps = rng.integers(0, 4, size=(40, 30)).astype(np.float64)  # zeros make ties
    table = np.cumsum(steps, axis=1)
    table = table / table[:, -1:]
    for row in range(len(table)):
        for u in [*rng.random(5), *table[row, :-1:3]]:
            rows, uniforms = np.array([row]), np.array([u])
            expected = distributions.draw_from_cdf(table[rows], uniforms)
            got = distributions.draw_from_cdf_table(table, rows, uniforms)
            assert got.dtype == expected.dtype and got.shape == (1,)
            assert got[0] == expected[0], (row, u)


def test_render_on_demand_matches_a_rendering_env() -> None:
    """Without a render mode the record is filled only when render(mode) asks; what it shows
    (actions, transfers, the welfare summed over the episode) is what an ansi env shows."""
    plain = pollution_v0.parallel_env(n_agents=3, max_cycles=30)
    shown = pollution_v0.parallel_env(n_agents=3, max_cycles=30, render_mode="ansi")
    rng = np.random.default_rng(5)
    plain.reset(seed=2)
    shown.reset(seed=2)
    for t in range(70):
        if not plain.agents:
            plain.reset()
            shown.reset()
        actions = _actions(plain, rng, list(plain.agents))
        plain.step(actions)
        shown.step(actions)
        if t % 9 == 0 or not plain.agents:
            assert plain.render("ansi") == shown.render()


def test_aec_observations_are_built_once_per_period(monkeypatch: pytest.MonkeyPatch) -> None:
    """AEC observe() is O(N) per period: every player observing every move builds the agents'
    features twice a period (after the principal posts, after the period resolves), not N
    times; and each call returns its own copy."""
    env = pollution_v0.env(n_agents=40)
    game = env.unwrapped.game
    calls = []
    original = type(game).agent_features
    monkeypatch.setattr(type(game), "agent_features", lambda self, s: calls.append(1) or original(self, s))
    env.reset(seed=0)
    first = env.observe("agent_3")
    first[:] = -1.0  # a caller's copy: mutating it changes nothing the env returns later
    assert not np.array_equal(env.observe("agent_3"), first)
    periods = 3
    for _ in range(periods * (len(env.possible_agents))):
        for player in env.possible_agents:
            env.observe(player)
        player = env.agent_selection
        env.step(np.zeros(40 * 3) if player == "principal_0" else env.action_space(player).sample())
    assert len(calls) <= 2 * periods + 1
