"""The two-phase mechanism: its search, its estimates against the truth, and the experiment."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from baselines import experiment
from pa_envs import analysis, pollution_v0
from pa_envs.mechanisms import MechanismEnv, MechanismInput, make_mechanism
from pa_envs.two_phase import TwoPhaseMechanism, _Probe


@pytest.mark.parametrize("truth", [0.0, 0.4, 1.0, 3.3, 4.99])
def test_probe_brackets_the_minimal_transfer(truth):
    """Agents that comply exactly when the bonus reaches ``truth``: doubling then bisection
    ends with ``lo < truth <= hi`` and a bracket of the expected width."""
    probe = _Probe(n_agents=2, action=1, bound=5.0, steps=5)
    blocks = 0
    while not probe.done.all():
        probe.record(probe.bonus >= truth)
        blocks += 1
    assert np.all(probe.hi >= truth) and np.all((probe.lo < truth) | (probe.hi == 0))
    if truth > 0:  # the widest doubling bracket is [2.5, 5]; five bisections cut it 32 times
        assert np.all(probe.hi - probe.lo <= 2.5 / 32 + 1e-12)
    assert blocks <= 1 + 6 + 5


def test_probe_gives_up_beyond_the_bound():
    probe = _Probe(n_agents=1, action=0, bound=5.0, steps=5)
    while not probe.done.all():
        probe.record(np.array([False]))
    assert np.isinf(probe.hi[0]) and probe.lo[0] == 5.0


def test_two_phase_learns_the_firms_costs_and_steers_to_the_optimum():
    """Q-learning firms on pollution_v0: after phase 1 the estimates sit just above the true
    profit gaps (1 for medium, 4 for low, 0 for high), and phase 2 reaches the optimum."""
    env = pollution_v0.parallel_env(n_agents=3)
    game, model = env.game, env.tabular_model()
    episodes = 220
    mechanism = TwoPhaseMechanism(episodes * game.params.max_cycles)
    settings = {"alpha": 0.3, "decay": 0.95, "min_epsilon": 0.01, "initial_q": 15.0}
    results = experiment.run(mechanism, game, model, episodes, [0], settings)
    estimates = mechanism.estimates(0)
    assert int(estimates["phase"]) == 2
    true_gaps = np.array([4.0, 1.0, 0.0])  # profit(high) - profit(level): 9 - (5, 8, 9)
    assert np.all(estimates["tau"] >= true_gaps - 1e-9)
    assert np.all(estimates["tau"] <= true_gaps + 1.0)
    optimum = analysis.social_optimum(model).social_welfare
    assert results["welfare"][0, -20:].mean() >= 0.95 * optimum


def test_two_phase_binds_to_a_mechanism_env_and_passes_pettingzoo():
    env = MechanismEnv(pollution_v0.parallel_env(n_agents=2), make_mechanism("two_phase", total_periods=5000))
    parallel_api_test(env, num_cycles=150)


def test_two_phase_resumes_mid_probe_and_in_phase_2():
    """Save after some probing and after phase 1: a resumed copy posts the same contracts."""
    env = pollution_v0.parallel_env(n_agents=3)
    game, model = env.game, env.tabular_model()
    settings = {"alpha": 0.3, "decay": 0.95, "min_epsilon": 0.01, "initial_q": 15.0}
    inputs = MechanismInput(np.array([[30]]), np.zeros((1, 1), np.float32), np.array([40]))
    for episodes in (60, 200):
        first = TwoPhaseMechanism(200 * game.params.max_cycles)
        experiment.run(first, game, model, episodes, [0], settings)
        second = TwoPhaseMechanism(200 * game.params.max_cycles)
        second.bind(game)
        second.load_state_dict(first.state_dict())
        np.testing.assert_array_equal(first.contract(inputs), second.contract(inputs))
        for key, value in first.estimates(0).items():
            np.testing.assert_array_equal(second.estimates(0)[key], value)
    assert int(second.estimates(0)["phase"]) == 2
    with pytest.raises(ValueError, match="settings"):
        TwoPhaseMechanism(200 * game.params.max_cycles, margin=2.0).load_state_dict(first.state_dict())


def test_two_phase_refuses_a_new_batch_size():
    mechanism = TwoPhaseMechanism(20_000)
    mechanism.bind(pollution_v0.parallel_env(n_agents=2).game)
    mechanism.start_episodes(2)
    with pytest.raises(ValueError, match="batch"):
        mechanism.start_episodes(3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"total_periods": 0}, "total_periods"),
        ({"threshold": 1.5}, "threshold"),
        ({"margin": -1.0}, "margin"),
        ({"warmup_scale": -1.0}, "warmup_scale"),
        ({"replan_every": 0}, "replan_every"),
    ],
)
def test_bad_two_phase_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoPhaseMechanism(**{"total_periods": 1000, **kwargs})


def test_quick_experiment_writes_its_table_and_plots(tmp_path, capsys):
    # 60 episodes are too few for the two-phase mechanism's phase 1, and it says so.
    with pytest.warns(UserWarning, match="will not reach phase 2"):
        table = experiment.main(["--quick", "--no-progress", "--out", str(tmp_path)])
    assert list(table) == list(experiment.MECHANISMS)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["episodes"] == 60 and summary["seeds"] == 2
    assert (tmp_path / "welfare.png").stat().st_size > 0 and (tmp_path / "regret.png").stat().st_size > 0
    lf_share = summary["laissez_faire"] / summary["optimum"]
    # Firms left alone end at the laissez-faire outcome; the coarse tax recovers most of the gap.
    assert abs(table["laissez-faire"]["last_10pct_share_of_optimum"] - lf_share) < 0.03
    assert table["best flat tax"]["last_10pct_share_of_optimum"] > lf_share + 0.8 * (1 - lf_share)
    out = capsys.readouterr().out
    assert "two-phase" in out and "slope" in out
