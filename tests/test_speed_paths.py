"""The fast paths of the learning loop and the exact layer: the same results as the plain ones."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings

import numpy as np
import pytest

from pa_envs import ENVS, analysis, pollution_v0, presets
from pa_envs.core import distributions, numerics, transitions
from pa_envs.learning_loop import Situations, play
from pa_envs.mechanisms import FlatSchedule, NoTransfers, Pigouvian, Stacked
from pa_envs.two_phase import TwoPhaseMechanism

# Regression guard, not a derived value: these digests were measured by running this very
# play() set-up on main at 378ac4a (before the learning loop was vectorized), x86-64 Linux,
# numpy's OpenBLAS. Same seeds must give the same trajectories, rewards and regret bit for
# bit; a different BLAS or CPU could move the last bits of a planning sum and so the digest.
FINGERPRINTS = {
    ("pollution_v0", "situations"): "5f4a378f424de837",
    ("pollution_v0:hard", "theory"): "e40c098a63f7bebb",
    ("insurance_v0:hard", "floor"): "c297797e94f59250",
}


def _digest(result) -> str:
    digest = hashlib.sha256()
    for array in (result.welfare, result.transfers, result.agent_regret, result.agent_regret_at):
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize(("env_name", "agents"), sorted(FINGERPRINTS))
def test_play_reproduces_mains_runs_bit_for_bit(env_name, agents):
    """Four principals side by side, the two-phase one reaching phase 2 and planning several times."""
    episodes, length = 16, 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the preset's length is overridden: a smaller, quicker run
        game = presets.parallel_env(env_name, max_cycles=length).game
        model = game.exact_model()
        two_phase = TwoPhaseMechanism([episodes * length] * 2, phase1_scale=0.05, min_block=4)
        row = np.zeros(game.n_signals)
        row[-1] = 0.5
        mechanism = Stacked([(NoTransfers(), 2), (FlatSchedule(row), 2), (Pigouvian(), 2), (two_phase, 2)])
        result = play(game, model, mechanism, [0, 1] * 4, episodes, agents, checkpoints=(8, 16))
    assert two_phase.stage.tolist() == [3, 3] and two_phase.plans.min() >= 3  # phase 2 was played
    assert _digest(result) == FINGERPRINTS[(env_name, agents)]


def test_situations_fast_path_numbers_rows_as_the_general_one():
    """Integer keys (contracts within the bound) give the ids, in the order, of the row bytes."""
    rng = np.random.default_rng(3)
    fast = Situations(n_states=4, batch=3, rows=256, bound=2.0)
    general = Situations(n_states=4, batch=3, rows=256)
    levels = np.array([-2.0, -0.0004, 0.0, 0.0004, 0.5, 1.2345, 2.0])  # -0.0004 rounds to -0.0: one row
    for period in range(40):
        contract = rng.choice(levels, size=(3, 2, 3))
        if period == 30:
            contract[0, 0, 0] = 7.5  # beyond the bound: the general path, the same ids
        np.testing.assert_array_equal(fast.row_ids(contract), general.row_ids(contract))
    assert fast._used.tolist() == general._used.tolist() and len(fast._keys) > 5


def test_dense_state_lookup_finds_states_and_names_strangers():
    game = presets.parallel_env("insurance_v0").game
    model = game.exact_model()
    assert model._state_lookup[1] is not None  # the dense table is in use
    np.testing.assert_array_equal(model.state_index(model.states), np.arange(model.n_states))
    np.testing.assert_array_equal(
        model.state_index(model.states[::-1][None]), [np.arange(model.n_states)[::-1]]
    )
    for stranger in (model.states.max(axis=0) + 1, -np.ones(model.states.shape[1], dtype=np.int64)):
        with pytest.raises(ValueError, match="not states of this model"):
            model.state_index(stranger)


def _long_stock(monkeypatch, banded: bool):
    if not banded:
        monkeypatch.setattr(transitions, "BAND_LIMIT", 10**12)
    return pollution_v0.parallel_env(n_agents=2, max_stock=1200).game.tabular_model()


def test_banded_kernel_keeps_the_exact_references(monkeypatch):
    """A long stock's kernel without its 1e-15 tails: W* and W_LF as the dense kernel's, to 1e-9."""
    banded = _long_stock(monkeypatch, banded=True)
    blocks, (rows, _, weights) = banded.transitions._band
    assert max(block.shape[1] for *_, block in blocks) < banded.n_states / 2
    mass = np.concatenate([block.sum(axis=1) for *_, block in blocks])
    np.add.at(mass, rows, weights)  # the CDF table's rounding mass on "all decayed" stays
    assert len(rows) > 0 and np.all(weights < 1e-10)
    np.testing.assert_allclose(mass, 1.0, rtol=0, atol=1e-14)  # renormalized
    dense = _long_stock(monkeypatch, banded=False)
    assert dense.transitions._band is None and dense.transitions._dense_kernel is not None
    values = np.random.default_rng(0).normal(size=(banded.n_states, 2)) * 100
    classes = banded.transition_class[np.arange(banded.n_states) % banded.n_joint_actions]
    for pick in (values[:, 0], values):
        np.testing.assert_allclose(
            banded.transitions.expected_by_class(pick), dense.transitions.expected_by_class(pick), atol=1e-11
        )
        np.testing.assert_allclose(
            banded.transitions.expected_under(pick, classes),
            dense.transitions.expected_under(pick, classes),
            atol=1e-11,
        )
    for reference in (analysis.social_optimum, analysis.laissez_faire):
        assert abs(reference(banded).social_welfare - reference(dense).social_welfare) < 1e-9


def test_analysis_runs_on_one_blas_thread():
    from threadpoolctl import threadpool_info

    seen = []

    def spy(model):
        seen.extend(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")
        return original(model)

    original = analysis.social_optimum.__wrapped__
    limited = analysis.single_blas_thread(spy)
    limited(pollution_v0.parallel_env(n_agents=2).game.tabular_model())
    assert seen and set(seen) == {1}


@pytest.mark.parametrize(("n_max", "p"), [(2500, 0.02), (3000, 0.97)])
def test_banded_binomial_table_is_the_full_one_bit_for_bit(n_max, p):
    """The simulator draws from this table: its window must change no bit of it."""
    banded = distributions._banded_binomial_cdf_table(n_max, p)
    assert banded is not None
    full = distributions._full_binomial_cdf_table(n_max, p)
    np.testing.assert_array_equal(banded.view(np.int64), full.view(np.int64))
    np.testing.assert_array_equal(distributions.binomial_cdf_table(n_max, p), full)


def test_binomial_table_keeps_the_full_computation_where_a_window_saves_little():
    assert distributions._banded_binomial_cdf_table(90, 0.1) is None  # the default stock
    np.testing.assert_array_equal(
        distributions.binomial_cdf_table(90, 0.1), distributions._full_binomial_cdf_table(90, 0.1)
    )


@pytest.mark.parametrize("rows", [5, 999, 1001, 4000])  # both sides of the matmul's cut (3,000 numbers)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_dot_ints_is_the_int64_dot_product_on_both_paths(rows, dtype):
    rng = np.random.default_rng(rows)
    values = rng.integers(0, 100, (rows, 3)).astype(dtype)
    weights = [2**40, 2**20, 1]  # an int32 product of these would overflow
    expected = [sum(int(v) * w for v, w in zip(row, weights, strict=True)) for row in values.tolist()]
    got = numerics.dot_ints(values, weights)
    assert got.dtype == np.int64 and got.tolist() == expected
    with pytest.raises(ValueError, match="2 weights for a last axis of"):
        numerics.dot_ints(values, weights[:2])


def _unilateral_reference(model, states, actions, contracts):
    """Each agent's expected reward for each action, the others' fixed: one entry at a time
    from the model's tables (a joint action, or its count profile)."""
    batch, n_agents = actions.shape
    out = np.zeros((batch, n_agents, model.n_actions))
    for b in range(batch):
        for i in range(n_agents):
            for action in range(model.n_actions):
                moved = actions[b].copy()
                moved[i] = action
                joint = int(model.joint_action_index(moved))
                column = action if model.symmetric else i
                out[b, i, action] = model.private_utility[states[b], joint, column] + (
                    model.signal_probabilities[states[b], joint, column] @ contracts[b, i]
                )
    return out


def _model_kinds() -> list[tuple[str, str]]:
    """Every registered env with its joint model, and its count model where it has one."""
    cases = []
    for name in sorted(ENVS):
        game = ENVS[name].parallel_env(n_agents=3).game
        cases.append((name, "joint"))
        try:
            game.count_model()
        except NotImplementedError:  # agents that are not symmetric
            continue
        cases.append((name, "count"))
    return cases


@pytest.mark.parametrize(("env_name", "kind"), _model_kinds())
def test_unilateral_rewards_are_each_deviations_reward(env_name, kind):
    """The flat-index gather (and, where each signal is the agent's own action, the one-hot
    shortcut) against the model's tables read entry by entry; the shortcut gives what the
    weighted sum gives, bit for bit."""
    game = ENVS[env_name].parallel_env(n_agents=3).game
    model = game.tabular_model() if kind == "joint" else game.count_model()
    rng = np.random.default_rng(7)
    states = rng.integers(0, model.n_states, size=6)
    actions = rng.integers(0, model.n_actions, size=(6, 3))
    contracts = rng.uniform(-2.0, 2.0, size=(6, 3, game.n_signals))
    contracts[0] = 0.0
    got = analysis.unilateral_rewards(model, states, actions, contracts)
    reference = _unilateral_reference(model, states, actions, contracts)
    np.testing.assert_allclose(got, reference, rtol=1e-12, atol=1e-12)
    own = tuple(game.signal_names) == tuple(game.action_names)  # these envs' signals are the actions
    assert model.signals_are_own_actions == own
    model.__dict__["signals_are_own_actions"] = False  # the cached flag: the weighted sum instead
    assert np.array_equal(analysis.unilateral_rewards(model, states, actions, contracts), got)


def test_signals_are_own_actions_only_when_every_law_is_one_hot_on_the_action():
    model = pollution_v0.parallel_env(n_agents=2).game.tabular_model()
    assert model.signals_are_own_actions
    probabilities = model.signal_probabilities.copy()
    probabilities[-1, -1, -1] = [0.5] + [0.5 / (probabilities.shape[-1] - 1)] * (probabilities.shape[-1] - 1)
    blurred = dataclasses.replace(model, signal_probabilities=probabilities)
    assert not blurred.signals_are_own_actions
