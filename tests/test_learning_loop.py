"""The batched learning loop: seeds per copy, principals side by side, what agents see."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import analysis, get_env_module, pollution_v0
from pa_envs.learners import ContractQLearner, QLearner
from pa_envs.learning_loop import ObservationIndex, Situations, make_agents, play
from pa_envs.mechanisms import FlatSchedule, MechanismInput, NoTransfers, Pigouvian, Stacked

ENV = pollution_v0.parallel_env(n_agents=2, max_cycles=20)
GAME, MODEL = ENV.game, ENV.tabular_model()


def test_a_copy_plays_the_same_alone_or_in_a_batch():
    """Each copy draws from its own streams: its run does not depend on its neighbours."""
    alone = play(GAME, MODEL, Pigouvian(), [7], 6)
    together = play(GAME, MODEL, Pigouvian(), [3, 7, 11], 6)
    np.testing.assert_array_equal(alone.welfare[0], together.welfare[1])
    np.testing.assert_array_equal(alone.agent_regret[0], together.agent_regret[1])


def test_same_seeds_same_run_bit_for_bit():
    first = play(GAME, MODEL, NoTransfers(), [0, 1], 5, "situations")
    second = play(GAME, MODEL, NoTransfers(), [0, 1], 5, "situations")
    np.testing.assert_array_equal(first.welfare, second.welfare)
    assert not np.array_equal(first.welfare[0], first.welfare[1])  # different seeds differ


def test_stacked_members_play_as_they_would_alone():
    flat = FlatSchedule.tax(GAME, 2.0)
    stacked = play(GAME, MODEL, Stacked([(NoTransfers(), 2), (flat, 1)]), [0, 1, 0], 4)
    apart = play(GAME, MODEL, FlatSchedule.tax(GAME, 2.0), [0], 4)
    alone = play(GAME, MODEL, NoTransfers(), [0, 1], 4)
    np.testing.assert_array_equal(stacked.welfare[2], apart.welfare[0])
    np.testing.assert_array_equal(stacked.transfers[2], apart.transfers[0])
    np.testing.assert_array_equal(stacked.welfare[:2], alone.welfare)
    assert np.all(stacked.transfers[:2] == 0)


def test_stacked_routes_restarts_and_checks_its_batch():
    class Counting(NoTransfers):
        def __init__(self):
            super().__init__()
            self.started = []

        def start_episodes(self, batch_size, which=None):
            self.started.append((batch_size, None if which is None else list(which)))

    first, second = Counting(), Counting()
    stacked = Stacked([(first, 2), (second, 3)])
    stacked.bind(GAME)
    stacked.start_episodes(5, np.array([1, 3]))
    assert first.started == [(2, [1])] and second.started == [(3, [1])]
    inputs = MechanismInput(np.zeros((4, 1), np.int64), np.zeros((4, 1), np.float32), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="5 copies"):
        stacked.contract(inputs)
    with pytest.raises(ValueError, match="positive int"):
        Stacked([(first, 0)])
    with pytest.raises(TypeError, match="Mechanisms"):
        Stacked([("no_transfers", 1)])
    with pytest.raises(ValueError, match="distinct"):
        Stacked([(first, 1), (first, 1)])
    with pytest.raises(ValueError, match=r"outside 0\.\.4"):
        stacked.start_episodes(5, np.array([5]))
    restored = Stacked([(Counting(), 3), (Counting(), 2)])
    with pytest.raises(ValueError, match="copies"):
        restored.load_state_dict(stacked.state_dict())


def test_stacked_reports_what_every_member_reports_per_copy():
    from pa_envs.two_phase import TwoPhaseMechanism

    stacked = Stacked([(TwoPhaseMechanism(1000), 2), (TwoPhaseMechanism(2000), 3)])
    stacked.bind(GAME)
    stacked.start_episodes(5)
    assert stacked.info()["phase"].tolist() == [1, 1, 1, 1, 1]
    assert Stacked([(NoTransfers(), 1), (TwoPhaseMechanism(1000), 1)]).info() == {}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"episodes": 0}, ValueError, "episodes"),
        ({"seeds": []}, ValueError, "seeds must be a non-empty"),
        ({"seeds": [-1]}, ValueError, "seeds"),
        ({"agents": "theroy"}, ValueError, "did you mean"),
        ({"agents": 3}, TypeError, "agents must be"),
        ({"checkpoints": (5,)}, ValueError, "checkpoints"),
    ],
)
def test_play_names_bad_arguments(kwargs, error, match):
    call = {"seeds": [0], "episodes": 2, **kwargs}
    with pytest.raises(error, match=match):
        play(GAME, MODEL, NoTransfers(), **call)


def test_checkpoints_keep_the_agents_regret_as_it_grows():
    result = play(GAME, MODEL, NoTransfers(), [0], 8, checkpoints=(2, 4, 8))
    assert result.agent_regret_at.shape == (3, 1, 2)
    np.testing.assert_array_equal(result.agent_regret_at[-1], result.agent_regret)


@pytest.mark.slow
def test_under_the_oracle_the_theory_agents_end_near_the_optimum():
    """Their exploration vanishes, so under the implementing transfers welfare approaches W*."""
    w_star = analysis.social_optimum(MODEL).social_welfare
    theory = play(GAME, MODEL, Pigouvian(), [0, 1, 2], 150, "theory")
    assert theory.welfare[:, -20:].mean() / w_star > 0.97


def test_observation_index_round_trips():
    index = ObservationIndex(np.array([2, 0, 3]))
    assert index.size == 12
    grid = index.features(np.arange(index.size))
    np.testing.assert_array_equal(index(grid), np.arange(index.size))
    assert grid.max(axis=0).tolist() == [2, 0, 3]


def test_situations_number_rows_per_copy_and_say_when_full():
    situations = Situations(n_states=5, batch=2, rows=2)
    a = np.array([[[0.0, 1.0]], [[0.0, 2.0]]])  # copy 0 shows (0, 1), copy 1 shows (0, 2)
    np.testing.assert_array_equal(situations.row_ids(a), [[0], [0]])  # each copy's first row is id 0
    b = np.array([[[0.0, 2.0]], [[0.0, 2.0]]])
    np.testing.assert_array_equal(situations.row_ids(b), [[1], [0]])
    np.testing.assert_array_equal(situations(np.array([3, 4]), b), [[3 * 2 + 1], [4 * 2 + 0]])
    with pytest.raises(RuntimeError, match="more than 2 distinct"):
        situations.row_ids(np.array([[[5.0, 5.0]], [[0.0, 2.0]]]))


@pytest.mark.parametrize("name", ["insurance_v0", "grid_v0"])
def test_agents_condition_on_what_they_observe(name):
    game = get_env_module(name).parallel_env(n_agents=2).game
    learners, _, observations = make_agents(game, [0], "theory")
    assert isinstance(learners, ContractQLearner) and learners.n_signals == game.n_signals
    assert observations.size == int(np.prod(game.agent_features_high() + 1))
    situation_learners, situations, _ = make_agents(game, [0], "situations")
    assert isinstance(situation_learners, QLearner) and isinstance(situations, Situations)
    with pytest.raises(ValueError, match="no learner named"):
        make_agents(game, [0], {"learner": "nope"})
