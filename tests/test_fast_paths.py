"""The cheaper paths of the vector form and of the long-stock model give what the plain ones give."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import analysis, pollution_v0
from pa_envs.core import distributions, transitions
from pa_envs.core.episode import agent_observations
from pa_envs.core.game import Dynamics
from pa_envs.sb3 import MechanismVecEnv


def _uniforms(generator: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Uniforms of the stream's kind (multiples of 2**-53 in [0, 1)), with its extremes and
    values that hit the table's entries and the guide's bucket edges exactly."""
    uniforms = generator.integers(0, 2**53, len(rows)) * 2.0**-53
    uniforms[:50] = 0.0
    uniforms[50:100] = np.nextafter(1.0, 0.0)
    hit = table[rows[100:400], generator.integers(0, table.shape[1], 300)]
    uniforms[100:400] = np.where(hit < 1.0, hit, 0.5)
    uniforms[400:500] = generator.integers(0, 4096, 100) / 4096
    return uniforms


@pytest.mark.parametrize(
    ("n_max", "p"),
    [
        (240, 0.2),
        (90, 0.1),
        (3000, 0.02),
        (500, 0.5),
        (300, 0.97),
        (12, 0.0),
        (12, 1.0),
        (0, 0.5),
        (253, 0.3),
        (254, 0.3),
    ],
)
def test_guided_draw_equals_the_comparison_count(n_max, p):
    """The guide table's draw is the comparison count's integer, draw for draw: probabilities
    0 and 1, a short and a long stock, the extreme stocks and uniforms included."""
    table = distributions.binomial_cdf_table(n_max, p)
    assert not table.flags.writeable  # what lets a guide be kept for it
    generator = np.random.default_rng(n_max)
    rows = generator.integers(0, n_max + 1, 40_000 if n_max <= 500 else 6_000)
    rows[:20], rows[20:40] = 0, n_max  # the empty stock and the cap
    uniforms = _uniforms(generator, table, rows)
    expected = distributions.draw_from_cdf(table[rows], uniforms)
    got = distributions.draw_from_cdf_table(table, rows, uniforms)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    guide = distributions._guide_for(table)
    assert guide is not None and guide.buckets >= 64
    # The narrowest type that holds the columns and the far mark above them (stocks to 253: uint8).
    assert guide.entries.dtype == (np.uint8 if n_max <= 253 else np.uint16)
    # Every bucket is used, its marked (far-tail) ones too, at a batch's size.
    for start in range(0, len(rows), 1024):
        chunk = slice(start, start + 1024)
        assert np.array_equal(guide.draw(rows[chunk], uniforms[chunk]), expected[chunk])


def test_a_writable_table_gets_no_guide():
    """A table that could change under a guide is searched row by row, with the same result."""
    table = distributions.binomial_cdf_table(240, 0.2).copy()  # writable
    generator = np.random.default_rng(1)
    rows = generator.integers(0, 241, 5_000)
    uniforms = generator.random(5_000)
    assert distributions._guide_for(table) is None
    assert np.array_equal(
        distributions.draw_from_cdf_table(table, rows, uniforms),
        distributions.draw_from_cdf(table[rows], uniforms),
    )


@pytest.mark.parametrize(("n_max", "p"), [(1500, 0.2), (1500, 0.999), (1000, 1e-4), (2500, 0.6)])
def test_windowed_binomial_table_is_the_full_one_bit_for_bit(n_max, p):
    banded = distributions._banded_binomial_cdf_table(n_max, p)
    assert banded is not None
    full = distributions._full_binomial_cdf_table(n_max, p)
    np.testing.assert_array_equal(banded.view(np.int64), full.view(np.int64))


def test_pmf_from_cdf_is_the_difference_bit_for_bit():
    generator = np.random.default_rng(2)
    for cdf in (distributions.binomial_cdf_table(300, 0.3), generator.random((4, 5, 6)).cumsum(axis=-1)):
        expected = np.diff(cdf, axis=-1, prepend=0.0)
        np.testing.assert_array_equal(distributions.pmf_from_cdf(cdf).view(np.int64), expected.view(np.int64))


def test_band_keeps_the_run_of_the_largest_entry_and_the_rest_as_outliers():
    """A kernel whose rows hold a bulk, a second kept run away from it and negligible entries:
    the band's blocks and outliers give back the kept entries, renormalized."""
    n_states = 600
    generator = np.random.default_rng(3)
    probabilities = np.zeros((n_states, n_states))
    for row in range(n_states):
        centre = row // 2
        bulk = np.exp(-0.5 * ((np.arange(n_states) - centre) / 4.0) ** 2)
        bulk[np.abs(np.arange(n_states) - centre) > 20] = 0.0
        probabilities[row] = bulk
        probabilities[row, (centre + 200) % n_states] += 1e-12  # an outlier, kept
        probabilities[row, generator.integers(0, n_states)] += 1e-30  # dropped
        probabilities[row] /= probabilities[row].sum()
    successors = np.broadcast_to(np.arange(n_states), (n_states, n_states))
    law = transitions.ShockThenMap(successors, probabilities, np.arange(n_states)[None, :])
    blocks, (rows, outlier_successors, weights) = law._band
    rebuilt = np.zeros((n_states, n_states))
    for r0, r1, c0, c1, block in blocks:
        rebuilt[r0:r1, c0:c1] += block
    np.add.at(rebuilt, (rows, outlier_successors), weights)
    kept = np.where(probabilities >= transitions.TAIL_MASS / n_states, probabilities, 0.0)
    np.testing.assert_allclose(rebuilt, kept / kept.sum(axis=1, keepdims=True), rtol=0, atol=1e-15)
    assert len(rows) == n_states and np.all(weights < 1e-11)  # one outlier per row, not in the core


def test_vecenv_observations_and_infos_when_some_copies_finish():
    """Observations equal agent_observations of the engine's state (the contracts' float32
    copy reused), and a step where one copy's episode ends gives that copy's agents fresh
    infos with its final observation, the others the shared empty mapping."""
    venv = MechanismVecEnv(
        "pollution_v0", "flat_tax", 3, seed=0, mechanism_kwargs={"amount": 1.0}, n_agents=2
    )
    game = venv.game
    plain_step = game.step
    ended = []  # the states each period ends in, before any restart

    def step(state, actions, noise):  # copy 1 ends its episode at its third period
        out = plain_step(state, actions, noise)
        ended.append(out.next_state.copy())
        terminated = out.terminated.copy()
        terminated[1] = venv.engine.periods[1] == 2
        return Dynamics(**{**out._asdict(), "terminated": terminated})

    game.step = step
    venv.reset()
    actions = np.random.default_rng(4).integers(0, game.n_actions, (6, venv.num_envs))
    earlier = None
    for t, row in enumerate(actions):
        observations, _, dones, infos = venv.step(row)
        expected = agent_observations(game, venv.engine.state, venv.driver.contracts).reshape(
            venv.num_envs, -1
        )
        assert observations.dtype == np.float32 and np.array_equal(observations, expected)
        assert earlier is None or not np.shares_memory(observations, earlier)  # a fresh array each step
        earlier = observations
        if t in (2, 5):  # copy 1's third period, of its first episode and of its second
            assert dones.tolist() == [False, False, True, True, False, False]
            final = agent_observations(game, ended[-1], venv.driver.contracts).reshape(venv.num_envs, -1)
            for r in (2, 3):
                assert set(infos[r]) == {"terminal_observation", "TimeLimit.truncated"}
                assert infos[r]["TimeLimit.truncated"] is False  # terminated, not cut
                assert np.array_equal(infos[r]["terminal_observation"], final[r])
            assert all(infos[r] == {} for r in (0, 1, 4, 5))
            assert venv.engine.periods.tolist() == [t + 1, 0, t + 1]
        else:
            assert all(info == {} for info in infos)


def test_fused_pass_equals_the_two_expectations():
    """One pass over a banded kernel gives both expectations, with blocks that follow one class
    and blocks that follow several."""
    model = pollution_v0.parallel_env(n_agents=2, max_stock=1200).game.tabular_model()
    law = model.transitions
    assert law._band is not None
    generator = np.random.default_rng(5)
    values = generator.normal(size=model.n_states) * 100
    other = generator.normal(size=(model.n_states, 5)) * 100
    uniform = np.repeat(generator.integers(0, model.n_joint_actions, 8), -(-model.n_states // 8))[
        : model.n_states
    ]
    for joint in (uniform, generator.integers(0, model.n_joint_actions, model.n_states)):
        by_class, under = model.expected_next_by_class_and_under(values, other, joint)
        np.testing.assert_allclose(by_class, model.expected_next_by_class(values), rtol=0, atol=1e-10)
        np.testing.assert_allclose(under, model.expected_next_under(other, joint), rtol=0, atol=1e-10)
    assert law._mixed_blocks(
        model.transition_class[uniform]
    )  # segments that start inside a block mix its classes
    assert not law._mixed_blocks(np.zeros(model.n_states, dtype=np.int64))


def test_backward_optimum_carries_evaluate_along():
    """social_optimum's evaluation, one period behind its induction, is evaluate's of its policy."""
    model = pollution_v0.parallel_env(n_agents=2, max_stock=1200).game.tabular_model()
    optimum = analysis.social_optimum(model)
    again = analysis.evaluate(model, optimum.policy)
    assert abs(optimum.social_welfare - again.social_welfare) < 1e-9
    np.testing.assert_allclose(optimum.agent_values, again.agent_values, rtol=0, atol=1e-9)
    assert abs(optimum.externality - again.externality) < 1e-9 and optimum.transfers == again.transfers == 0.0
    np.testing.assert_allclose(optimum.welfare_to_go, again.welfare_to_go, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("n_max", "p"), [(240, 0.2), (90, 0.1), (12, 0.0), (12, 1.0), (0, 0.5), (300, 0.97)])
def test_a_single_draw_is_the_comparison_count(n_max, p):
    """One draw at a time (a single env's path: bisect on the row's list for a small read-only
    table, numpy's search on a writable one) is the comparison count's integer."""
    table = distributions.binomial_cdf_table(n_max, p)
    writable = table.copy()
    generator = np.random.default_rng(n_max + 1)
    rows = generator.integers(0, n_max + 1, 600)
    rows[:20], rows[20:40] = 0, n_max
    uniforms = _uniforms(generator, table, rows)
    expected = distributions.draw_from_cdf(table[rows], uniforms)
    listed = distributions._rows_as_lists(table) is not None  # a small read-only table (n_max 300's is not)
    assert listed == (table.size <= distributions._ROW_LIST_ENTRIES)
    assert distributions._rows_as_lists(writable) is None
    for source in (table, writable):
        got = [
            distributions.draw_from_cdf_table(source, rows[i : i + 1], uniforms[i : i + 1])
            for i in range(600)
        ]
        assert all(g.shape == (1,) and g.dtype == expected.dtype for g in got)
        assert np.array_equal(np.concatenate(got), expected)


def test_only_the_librarys_tables_get_guides_and_row_lists():
    """A caller's read-only table could be unlocked, changed and locked again: it is searched
    as it is, every draw, never through a guide or row lists built from an older content."""
    table = distributions.binomial_cdf_table(240, 0.2).copy()
    table.flags.writeable = False  # read-only, but the caller's
    assert distributions._guide_for(table) is None and distributions._rows_as_lists(table) is None
    rows, uniforms = np.full(2_000, 100), np.full(2_000, 0.5)
    before = distributions.draw_from_cdf_table(table, rows, uniforms)
    one = distributions.draw_from_cdf_table(table, rows[:1], uniforms[:1])
    table.flags.writeable = True
    table[100, : int(before[0]) + 1] = 0.0  # the draw at 0.5 moves up
    table.flags.writeable = False
    expected = distributions.draw_from_cdf(table[rows], uniforms)
    assert expected[0] > before[0]
    assert np.array_equal(distributions.draw_from_cdf_table(table, rows, uniforms), expected)
    assert distributions.draw_from_cdf_table(table, rows[:1], uniforms[:1])[0] == expected[0] != one[0]
