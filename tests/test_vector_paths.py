"""The vector form's cheaper paths give what the plain ones give: the noise hashed in chunks
and drawn ahead, the one-reduction action check, contracts checked once, lockstep infos."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import commons_v0, pollution_v0
from pa_envs.core import mechanism as mechanism_module
from pa_envs.core import rng
from pa_envs.core.batch import BatchedEpisodes
from pa_envs.core.episode import agent_observations
from pa_envs.core.mechanism import Mechanism, MechanismInput
from pa_envs.sb3 import MechanismVecEnv


def _scalar(key: int, count: int, n: int) -> np.ndarray:
    return rng.uniforms(int(key), int(count), n)[0]


@pytest.mark.parametrize("n", [1, 3])
def test_grid_uniforms_are_each_streams_own_numbers(n):
    """Entry [p, b] is stream b's draw at counter [p, b], for one counter per stream and for
    one counter shared by every stream (hashed once)."""
    generator = np.random.default_rng(n)
    keys = generator.integers(0, 2**64, 5, dtype=np.uint64)
    counts = generator.integers(0, 2**64, (4, 5), dtype=np.uint64)
    grid = rng.grid_uniforms(keys, counts, n)
    shared = rng.grid_uniforms(keys, counts[:, :1], n)
    assert grid.shape == shared.shape == (4, 5, n)
    for p in range(4):
        for b in range(5):
            assert np.array_equal(grid[p, b], _scalar(keys[b], counts[p, b], n))
            assert np.array_equal(shared[p, b], _scalar(keys[b], counts[p, 0], n))
    with pytest.raises(ValueError, match=r"counts must be shaped \(P, 5\) or \(P, 1\), got \(4, 3\)"):
        rng.grid_uniforms(keys, counts[:, :3], n)


@pytest.mark.parametrize("n", [1, 5])
def test_batch_uniforms_across_hashing_chunks(n):
    """Rows on both sides of every chunk edge (and the last) equal the scalar draws."""
    rows = 2 * rng._CHUNK // n + 3
    generator = np.random.default_rng(7)
    keys = generator.integers(0, 2**64, rows, dtype=np.uint64)
    counts = generator.integers(0, 2**64, rows, dtype=np.uint64)
    draws = rng.batch_uniforms(keys, counts, n)
    assert draws.shape == (rows, n)
    chunk = rng._CHUNK // n
    for row in (0, chunk - 1, chunk, 2 * chunk - 1, 2 * chunk, rows - 1):
        assert np.array_equal(draws[row], _scalar(keys[row], counts[row], n))
    # One key for every counter (a single env's block ahead) broadcasts alike.
    same_key = rng.batch_uniforms(keys[:1], counts, n)
    assert np.array_equal(same_key[-1], _scalar(keys[0], counts[-1], n))


def test_a_block_drawn_ahead_stops_at_the_horizon():
    """A block starting 10 positions before ``last`` holds 11 positions; each row is the
    position's numbers; a position past the block draws a new one."""
    keys = np.array([rng.key_from_seed(s) for s in range(3)], dtype=np.uint64)
    ahead = rng.DrawnAhead(64)
    calls = []

    def counters(positions: np.ndarray) -> np.ndarray:
        calls.append(positions.copy())
        return positions[:, None]

    for position in range(90, 102):
        row = ahead.row(position, keys, counters, 2, last=100)
        assert not row.flags.writeable
        assert np.array_equal(row, rng.batch_uniforms(keys, np.full(3, position), 2))
    assert [c.tolist() for c in calls] == [list(range(90, 101)), [101]]


def _instrumented(game, terminates=None):
    """Make ``game.step`` record the noise each period was played with and the states it ended
    in; ``terminates(terminated)``, if given, rewrites the period's terminated flags."""
    plain_step, seen = game.step, {"noise": [], "ended": []}

    def step(state, actions, noise):
        out = plain_step(state, actions, noise)
        seen["noise"].append(np.array(noise, copy=True))
        seen["ended"].append(out.next_state.copy())
        return out if terminates is None else out._replace(terminated=terminates(out.terminated))

    game.step = step
    return seen


def test_engine_noise_is_each_copys_stream_in_and_out_of_lockstep():
    """The noise of every period is copy b's numbers at (episode, period): copies in lockstep
    in one episode, in lockstep in different episodes (one copy reseeded), across a block edge
    and the horizon, after one copy restarts alone, and with some copies sitting out."""
    horizon = rng.AHEAD + 10
    game = pollution_v0.parallel_env(n_agents=2, max_cycles=horizon).game
    seen = _instrumented(game)["noise"]
    engine = BatchedEpisodes(game, 3)
    generator = np.random.default_rng(0)
    contracts = np.zeros((3, 2, game.n_signals))

    def play_and_check(active=None):
        episodes, before = engine.episodes.copy(), engine.periods.copy()
        actions = generator.integers(0, game.n_actions, (3, 2))
        _, done = engine.play(actions, contracts, active=active)
        played = before + (1 if active is None else np.asarray(active))
        expected = rng.batch_uniforms(engine.keys, rng.batch_counters(episodes, played), game.noise_size)
        rows = slice(None) if active is None else np.asarray(active)
        assert np.array_equal(seen[-1][rows], expected[rows])
        assert np.array_equal(engine.periods, played)
        return done

    for seeds in ([3, 4, 5], [9, None, None]):  # the second: copy 0 in episode 0, the others in 1
        engine.reset(seeds)
        for period in range(1, horizon + 1):
            done = play_and_check()
            assert done.tolist() == [period == horizon] * 3
    assert engine.episodes.tolist() == [0, 1, 1]
    engine.restart(np.array([0, 1, 2]))
    for _ in range(3):
        play_and_check()
    engine.restart(np.array([1]))  # copy 1 alone: periods differ
    for _ in range(3):
        play_and_check()
    play_and_check(np.array([False, True, True]))
    play_and_check(np.array([True, True, True]))


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint64", ">i8", ">i2"])
def test_int_actions_of_any_dtype_are_checked_as_before(dtype):
    """In-range actions of any int dtype (byte-swapped too) come back as the (B, N) int64 array
    of their values; an out-of-range one is a ValueError naming the copy, agent and space."""
    game = pollution_v0.parallel_env(n_agents=2).game
    engine = BatchedEpisodes(game, 3)
    values = np.array([[0, 1], [2, 0], [1, 2]])
    for shaped in (values, values.reshape(-1)):
        checked = engine.check_actions(shaped.astype(dtype))
        assert checked.dtype == np.int64 and np.array_equal(checked, values)
    too_big = values.copy()
    too_big[1, 0] = 3
    with pytest.raises(ValueError, match=r"copy 1, agent_0: action 3 is outside Discrete\(3\)"):
        engine.check_actions(too_big.astype(dtype))
    if np.dtype(dtype).kind == "i":
        negative = values.copy()
        negative[2, 1] = -1
        with pytest.raises(ValueError, match=r"copy 2, agent_1: action -1 is outside Discrete\(3\)"):
            engine.check_actions(negative.astype(dtype))
    if not np.dtype(dtype).isnative:  # zeros and a value whose bytes, read the other way round, are 1
        swapped = np.zeros((3, 2), dtype=dtype)
        swapped[0, 1] = 1 << (8 * (swapped.itemsize - 1))
        with pytest.raises(ValueError, match=rf"copy 0, agent_1: action {int(swapped[0, 1])} is outside"):
            engine.check_actions(swapped)
    with pytest.raises(ValueError, match=r"actions have shape \(5,\)"):
        engine.check_actions(np.zeros(5, dtype=dtype))


class _Posting(Mechanism):
    """Posts the arrays it is given, one a period (the last one again after them)."""

    name = "posting"

    def __init__(self, arrays):
        super().__init__()
        self.arrays = list(arrays)

    def contract(self, inputs: MechanismInput) -> np.ndarray:
        return self.arrays.pop(0) if len(self.arrays) > 1 else self.arrays[0]


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def test_a_read_only_contract_posted_again_is_checked_once(monkeypatch):
    """The same read-only array posted every period is checked at its first posting only;
    a writeable array, a new array and a read-only view of a buffer are checked every time,
    and a bad transfer among them is still a ValueError naming the mechanism."""
    checks = []
    plain = mechanism_module.check_contract_batch

    def counting(contracts, **kwargs):
        checks.append(contracts)
        return plain(contracts, **kwargs)

    monkeypatch.setattr(mechanism_module, "check_contract_batch", counting)
    actions = np.zeros(6, dtype=np.int64)
    venv = MechanismVecEnv(
        "pollution_v0", "flat_tax", 3, seed=0, mechanism_kwargs={"amount": 1.0}, n_agents=2
    )
    venv.reset()
    for _ in range(5):
        venv.step(actions)
    assert len(checks) == 1  # reset's posting; the 5 steps posted the same read-only array

    shape = (3, 2, 3)
    bad = np.zeros(shape)
    bad[2, 1, 0] = np.nan
    writeable = np.zeros(shape)
    buffer = np.zeros(shape)
    view = _read_only(buffer[:])
    cases = [
        [writeable, writeable, writeable],  # a buffer the mechanism may refill: checked each time
        [_read_only(np.zeros(shape)), _read_only(bad.copy())],  # a new read-only array
        [view, view, view],  # read-only, but its buffer can change under it
    ]
    for arrays in cases:
        checks.clear()
        venv = MechanismVecEnv("pollution_v0", _Posting(arrays), 3, seed=0, n_agents=2)
        venv.reset()
        if arrays[0] is writeable:
            venv.step(actions)
            venv.step(actions)
            assert len(checks) == 3
            writeable[0, 0, 0] = np.inf
        elif arrays[0] is view:
            venv.step(actions)
            buffer[2, 1, 0] = np.nan
        with pytest.raises(
            ValueError, match=r"posting posted, in copy \d, a transfer of (nan|inf) to agent_"
        ):
            venv.step(actions)

    # The engine's own check (the learning loop's) keeps the same rule.
    game = pollution_v0.parallel_env(n_agents=2).game
    engine = BatchedEpisodes(game, 3)
    fixed = _read_only(np.zeros(shape))
    assert engine.check_contracts(fixed, "the principal") is fixed
    assert engine.check_contracts(fixed, "the principal") is fixed
    with pytest.raises(ValueError, match=r"the principal posted, in copy 2, a transfer of nan to agent_1"):
        engine.check_contracts(_read_only(bad.copy()), "the principal")


def test_lockstep_episode_end_gives_every_agent_a_fresh_info():
    """When every copy reaches the horizon at once, each sub-environment gets its own dict
    with its final observation (before the restart) and TimeLimit.truncated; a terminated
    copy's agents get False."""
    venv = MechanismVecEnv(
        "pollution_v0", "flat_tax", 3, seed=1, mechanism_kwargs={"amount": 1.0}, n_agents=2, max_cycles=3
    )
    game = venv.game
    # Copy 2 terminates at the horizon's period.
    ended = _instrumented(
        game, lambda terminated: terminated | (venv.engine.periods == 2) & np.array([False, False, True])
    )["ended"]
    venv.reset()
    actions = np.random.default_rng(2).integers(0, game.n_actions, (3, venv.num_envs))
    for t, row in enumerate(actions):
        _, _, dones, infos = venv.step(row)
        if t < 2:
            assert not dones.any() and all(info == {} for info in infos)
    assert dones.all() and venv.engine.periods.tolist() == [0, 0, 0]
    final = agent_observations(game, ended[-1], venv.driver.contracts).reshape(venv.num_envs, -1)
    assert len({id(info) for info in infos}) == venv.num_envs
    for r, info in enumerate(infos):
        assert set(info) == {"terminal_observation", "TimeLimit.truncated"}
        assert np.array_equal(info["terminal_observation"], final[r])
        assert info["TimeLimit.truncated"] is (r < 4)
    infos[0]["extra"] = 1  # each dict is the sub-environment's own
    assert "extra" not in infos[1]


def test_a_users_read_only_contract_is_checked_every_period():
    """Only arrays the library sealed are checked once: a mechanism that unlocks its buffer,
    writes a NaN and locks it again gets the ValueError naming it (review of the third pass)."""
    shape = (3, 2, 3)
    buffer = _read_only(np.zeros(shape))
    venv = MechanismVecEnv("pollution_v0", _Posting([buffer]), 3, seed=0, n_agents=2)
    venv.reset()
    actions = np.zeros(6, dtype=np.int64)
    venv.step(actions)
    buffer.flags.writeable = True
    buffer[1, 0, 2] = 0.75  # a valid refill: the agents' observations show it
    buffer.flags.writeable = False
    observations = venv.step(actions)[0].reshape(3, 2, -1)
    assert observations[1, 0, -1] == np.float32(0.75) and observations[1, 1, -1] == 0.0
    buffer.flags.writeable = True
    buffer[1, 0, 2] = np.nan
    buffer.flags.writeable = False
    with pytest.raises(ValueError, match=r"posting posted, in copy 1, a transfer of nan to agent_0"):
        venv.step(actions)
    engine = BatchedEpisodes(pollution_v0.parallel_env(n_agents=2).game, 3)
    with pytest.raises(TypeError, match="must be real numbers"):
        engine.check_contracts(None, "the principal")  # nothing kept yet: no AttributeError


def test_negative_small_ints_are_refused_when_actions_exceed_their_signed_range():
    """An int8 -128 viewed unsigned is 128: with more than 128 actions the one-reduction
    check must not take it for an action (the full check names it)."""
    engine = BatchedEpisodes(commons_v0.parallel_env(n_agents=3, n_efforts=200).game, 2)
    engine.reset([0, 1])
    with pytest.raises(ValueError, match=r"copy 0, agent_2: action -128 is outside Discrete\(200\)"):
        engine.check_actions(np.array([0, 0, -128, 0, 0, 0], dtype=np.int8))
    assert engine.check_actions(np.array([0, 0, 127, 0, 0, 1], dtype=np.int8)).tolist() == [
        [0, 0, 127],
        [0, 0, 1],
    ]


def test_a_game_without_noise_plays_in_a_batch():
    """A deterministic Game (noise_size 0) draws empty noise blocks, not a division by zero."""
    game = pollution_v0.parallel_env(n_agents=2).game

    class Still(type(game)):
        @property
        def noise_size(self) -> int:
            return 0

        def step(self, state, actions, noise):
            assert noise.shape == (len(state), 0)
            return super().step(state, actions, np.full((len(state), 1), 0.5))

    still = Still(game.params)
    engine = BatchedEpisodes(still, 4)
    engine.reset([0, 1, 2, 3])
    outcome, _ = engine.play(np.zeros((4, 2), dtype=np.int64), np.zeros((4, 2, still.n_signals)))
    assert np.isfinite(outcome.social_welfare).all()
