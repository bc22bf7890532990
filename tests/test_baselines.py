"""The baseline scripts connect end to end (tiny budgets; training quality lives in docs/)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baselines import demo
from pa_envs.experiments import references, train_sb3

TINY_ENV = json.dumps({"max_cycles": 8})
TINY_ALGO = json.dumps({"n_steps": 16, "batch_size": 16, "n_epochs": 1})


def tiny(*args: str) -> list[str]:
    """Command-line arguments of a tiny run: 2 agents, 1 copy, 8-period episodes."""
    return ["--n-agents", "2", "--n-envs", "1", "--env-kwargs", TINY_ENV, "--no-progress", *args]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("mechanism", ["no_transfers", "pigouvian", "best_flat_tax"])
@pytest.mark.slow
def test_train_agents_save_and_load(tmp_path, mechanism, capsys):
    common = tiny("--mechanism", mechanism, "--eval-episodes", "2")
    first = train_sb3.main(
        [*common, "--timesteps", "32", "--algo-kwargs", TINY_ALGO, "--save", str(tmp_path / "model")]
    )
    assert (tmp_path / "model.zip").exists()
    again = train_sb3.main([*common, "--timesteps", "0", "--load", str(tmp_path / "model")])
    # The same policy evaluated on the same seeds gives the same welfare.
    assert again.welfare == first.welfare
    assert first.episodes == 2 and np.isfinite(first.welfare)
    assert first.optimum > first.laissez_faire  # the exact references came along
    assert "share of W*" in capsys.readouterr().out


@pytest.mark.slow
def test_train_logs_welfare_to_csv(tmp_path):
    """Both env forms log the same welfare accounting (the vector form from its arrays,
    SuperSuit's from the infos): the runs follow the same trajectories."""
    logged = {}
    for form in ("vector", "supersuit"):
        train_sb3.main(
            tiny(
                *("--eval-episodes", "1", "--timesteps", "64", "--env-form", form),
                *("--log-dir", str(tmp_path / form), "--algo-kwargs", TINY_ALGO),
            )
        )
        # Each run logs into a folder of its own under --log-dir.
        (folder,) = (tmp_path / form).iterdir()
        assert folder.name == "pollution_v0_agents-no_transfers_PPO_seed0_1"
        lines = (folder / "progress.csv").read_text().splitlines()
        header = lines[0].split(",")
        for key in (
            "welfare/step_social_welfare",
            "welfare/step_externality",
            "welfare/step_total_transfers",
            "rollout/ep_rew_mean",  # SB3's own, from the VecMonitor the agents' VecEnv is in
        ):
            assert key in header
        # 64 steps of 2 agents finish 4 episodes of 8 periods.
        column = header.index("welfare/episode_social_welfare")
        logged[form] = [float(line.split(",")[column]) for line in lines[1:] if line.split(",")[column]]
        assert list(folder.glob("events.out.tfevents.*"))  # TensorBoard too (dev extra)
    # Same trajectories in the first rollout, but SuperSuit replaces the infos of an
    # episode's last step by the reset's, so its log misses each episode's last period;
    # the vector form's arrays keep it.
    assert logged["vector"][0] != logged["supersuit"][0]
    assert all(value != 0.0 for value in logged["vector"] + logged["supersuit"])


def test_vector_form_logs_each_episodes_whole_welfare(tmp_path):
    """Replay the first rollout's actions on an identically seeded vector env: the logged
    episode welfare is exactly the mean of the episodes' summed social welfare."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    from pa_envs.sb3 import MechanismVecEnv

    def venv():
        return train_sb3.agents_vec_env(
            "pollution_v0", "no_transfers", {}, {"n_agents": 2, "max_cycles": 8}, 1, 0
        )

    model = PPO("MlpPolicy", venv(), n_steps=16, batch_size=16, n_epochs=1, device="cpu")
    logger = configure(str(tmp_path), ["csv"])
    records = []
    logger.record = lambda key, value, exclude=None: records.append((key, value))  # keep every value
    model.set_logger(logger)
    model.learn(16, callback=train_sb3.make_callback(2))
    logged = [value for key, value in records if key == "welfare/episode_social_welfare"]
    replay: MechanismVecEnv = venv()
    replay.reset()  # the reset SB3 made at the start of learning
    totals, welfare = [], 0.0
    # After training, SB3's rollout buffer holds its arrays flattened env by env.
    for actions in model.rollout_buffer.actions.reshape(2, 16).T.astype(np.int64):
        replay.step(actions)
        welfare += float(replay.last_period.social_welfare[0])
        if replay.last_period.done[0]:
            totals.append(welfare)
            welfare = 0.0
    assert len(totals) == 2 and logged == [pytest.approx(np.mean(totals), abs=1e-12)]


@pytest.mark.parametrize("algo", ["A2C", "DQN"])
def test_other_algorithms_train_agents(algo):
    kwargs = {"n_steps": 8} if algo == "A2C" else {"learning_starts": 8, "buffer_size": 256}
    result = train_sb3.main(
        tiny("--algo", algo, "--timesteps", "32", "--algo-kwargs", json.dumps(kwargs), "--eval-episodes", "1")
    )
    assert np.isfinite(result.welfare)


def test_train_principal_through_its_view():
    result = train_sb3.main(
        tiny(
            "--learner", "principal", "--timesteps", "32", "--algo-kwargs", TINY_ALGO, "--eval-episodes", "1"
        )
    )
    assert np.isfinite(result.welfare) and np.isfinite(result.transfers)


def test_a_learning_principal_has_normalized_actions_and_a_welfare_reward_by_default():
    view = train_sb3.principal_view("pollution_v0", {"n_agents": 2})
    assert (view.action_space.low == -1).all() and (view.action_space.high == 1).all()
    assert view.unwrapped.env.params.principal_objective == "welfare"
    view.reset(seed=0)
    _, reward, _, _, info = view.step(np.ones(view.action_space.shape, np.float32))
    assert reward == pytest.approx(info["social_welfare"])  # the planner's reward, lambda = 0
    # The env's keywords override the defaults.
    raw = train_sb3.principal_view(
        "pollution_v0", {"n_agents": 2, "normalize_actions": False, "principal_objective": "payoff"}
    )
    assert raw.action_space.high[0] == raw.unwrapped.env.params.max_transfer
    assert raw.unwrapped.env.params.principal_objective == "payoff"


def test_demo_runs(capsys):
    demo.main(["--max-cycles", "12"])
    out = capsys.readouterr().out
    assert "episode totals" in out and "flat tax" in out


@pytest.mark.slow
def test_references_table(capsys):
    references.main(["--env", "congestion_v0", "--n-agents", "2", "--agent-discount", "0"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| env |")
    # Two commuters at the defaults, 100 periods: W* = -150, W_LF = -200 (all-road, the worst
    # selection; one driver on rail is an equilibrium too, and the optimum), a toll closes the gap.
    assert lines[2].startswith("| congestion_v0 | 2 | 0.0 | -150.00 | -200.00 | [-200.00, -150.00] | 1.333 |")


def test_train_passes_mechanism_keywords(capsys):
    result = train_sb3.main(
        tiny(
            *("--mechanism", "flat_tax", "--mechanism-kwargs", '{"amount": 1.5}'),
            *("--timesteps", "32", "--algo-kwargs", TINY_ALGO, "--eval-episodes", "1"),
        )
    )
    assert np.isfinite(result.welfare)
    assert "flat_tax" in capsys.readouterr().out


@pytest.mark.slow
def test_benchmark_suite_smoke_run_prints_every_table(capsys):
    from pa_envs.experiments import bench_speed

    bench_speed.main(
        ["--quick", "--sections", "single,profile,vector,supersuit,ppo", "--envs", "congestion_v0"]
    )
    out = capsys.readouterr().out
    for title in (
        "Single copy",
        "Where a single-copy step goes",
        "Vector form",
        "SuperSuit",
        "SB3 PPO training",
    ):
        assert f"### {title}" in out
    assert "rps_v2" in out and "env share of wall time" in out


def test_benchmark_render_section_times_every_frame(capsys):
    from pa_envs.experiments import bench_speed

    bench_speed.main(["--quick", "--sections", "render", "--envs", "congestion_v0,insurance_v0"])
    out = capsys.readouterr().out
    assert "### Rendering, rgb_array, ms per frame (median of 5)" in out
    assert "| `congestion_v0` (N=3) | 224x720 |" in out and "| `insurance_v0` (N=3) | 334x720 |" in out


def test_benchmark_suite_rejects_unknown_sections():
    from pa_envs.experiments import bench_speed

    with pytest.raises(SystemExit):
        bench_speed.main(["--sections", "single,warp"])


def test_both_env_forms_give_ppo_the_same_first_rollout():
    """The vector form and SuperSuit's conversion, built as train_sb3 builds them with the
    same seed, give a PPO learner the same observations, actions and rewards in its first
    rollout, but for the truncation mark only the vector form sets."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    buffers = []
    for form in ("vector", "supersuit"):
        set_random_seed(3)
        venv = train_sb3.agents_vec_env(
            "pollution_v0", "pigouvian", {}, {"n_agents": 2, "max_cycles": 8}, 2, 3, form
        )
        model = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, device="cpu")
        model.learn(16)  # one rollout, then one update, which leaves the buffer's contents as collected
        buffer = model.rollout_buffer
        buffers.append((buffer.observations.copy(), buffer.actions.copy(), buffer.rewards.copy()))
    (obs, actions, rewards), (obs_ss, actions_ss, rewards_ss) = buffers
    assert np.array_equal(obs, obs_ss) and np.array_equal(actions, actions_ss)
    # Equal rewards but at the horizon (periods 8 and 16), where SB3 adds the bootstrapped
    # value to the vector form's, which marks the truncation; SuperSuit's does not.
    inside = np.ones(16, dtype=bool)
    inside[[7, 15]] = False
    assert np.array_equal(rewards[inside], rewards_ss[inside]) and rewards[inside].any()
    assert not np.array_equal(rewards[~inside], rewards_ss[~inside])


# -- honest budgets, run folders, progress -------------------------------------------------


def test_train_says_the_budget_overrun_and_prints_the_steps_run(capsys):
    """PPO collects whole rollouts (16 periods x 2 agents = 32 steps): 100 becomes 128, said
    before training and printed after it; --fit-budget shrinks n_steps to 10 (100 steps)."""
    result = train_sb3.main(tiny("--timesteps", "100", "--algo-kwargs", TINY_ALGO, "--eval-episodes", "1"))
    captured = capsys.readouterr()
    assert "--timesteps 100 will run 128 steps" in captured.err and "--fit-budget" in captured.err
    assert "128 agent-steps (--timesteps 100)" in captured.out and result.trained_steps == 128
    fitted = train_sb3.main(
        tiny("--timesteps", "100", "--algo-kwargs", TINY_ALGO, "--eval-episodes", "1", "--fit-budget")
    )
    captured = capsys.readouterr()
    assert "--fit-budget: n_steps 16 -> 10" in captured.err and "will run" not in captured.err
    assert "100 agent-steps (--timesteps 100)" in captured.out and fitted.trained_steps == 100


def test_train_runs_log_into_folders_of_their_own(tmp_path):
    for _ in range(2):
        train_sb3.main(
            tiny(
                *("--timesteps", "32", "--algo-kwargs", TINY_ALGO, "--eval-episodes", "1"),
                *("--log-dir", str(tmp_path), "--mechanism", "pigouvian"),
            )
        )
    assert sorted(folder.name for folder in tmp_path.iterdir()) == [
        "pollution_v0_agents-pigouvian_PPO_seed0_1",
        "pollution_v0_agents-pigouvian_PPO_seed0_2",
    ]
    assert all((folder / "progress.csv").stat().st_size > 0 for folder in tmp_path.iterdir())


def test_agents_vec_env_is_monitored():
    """Both forms come in one VecMonitor (SB3 logs rollout/ep_rew_mean from it)."""
    from stable_baselines3.common.vec_env import VecMonitor

    for form in ("vector", "supersuit"):
        venv = train_sb3.agents_vec_env("pollution_v0", "no_transfers", {}, {"n_agents": 2}, 1, 0, form)
        assert isinstance(venv, VecMonitor) and not isinstance(venv.venv, VecMonitor), form


def test_one_evaluation_episode_claims_no_spread(capsys):
    result = train_sb3.main(tiny("--timesteps", "0", "--eval-episodes", "1"))
    out = capsys.readouterr().out
    assert "(n=1: one episode, no spread)" in out and "+- 0.00" not in out
    assert np.isnan(result.welfare_ci)


def test_evaluation_matches_the_pettingzoo_env_episode_by_episode():
    """The batched evaluation (evaluate_policy on one copy per episode) plays the very episodes
    a PettingZoo env reset with seed + b plays under the same deterministic policy."""
    from stable_baselines3 import PPO

    from pa_envs.mechanisms import mechanism_env

    kwargs = {"n_agents": 2, "max_cycles": 8}
    venv = train_sb3.agents_vec_env("pollution_v0", "pigouvian", {}, kwargs, 1, 0)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, device="cpu", seed=1)
    batched = train_sb3.evaluate_agents(model, "pollution_v0", "pigouvian", {}, kwargs, 3, 40)
    env = mechanism_env(train_sb3.get_env_module("pollution_v0").parallel_env(**kwargs), "pigouvian")
    for episode, found in enumerate(batched):
        observations, _ = env.reset(seed=40 + episode)
        welfare = 0.0
        while env.agents:
            actions, _ = model.predict(np.stack([observations[a] for a in env.agents]), deterministic=True)
            observations, _, _, _, infos = env.step(dict(zip(env.agents, actions.tolist(), strict=True)))
            welfare += next(iter(infos.values()))["social_welfare"]
        assert found["social_welfare"] == pytest.approx(welfare, abs=1e-9)


def test_a_dqn_principal_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit):
        train_sb3.main(tiny("--learner", "principal", "--algo", "DQN"))
    err = capsys.readouterr().err
    assert "DQN needs a Discrete action space" in err and "Box" in err and "use PPO or A2C" in err


@pytest.mark.slow
def test_references_rows_stream_as_they_are_solved(monkeypatch, capsys):
    """A row is printed before the next one is solved, and the steps within a row are told."""
    solved, printed_before, steps = [], [], []
    real = references.env_references

    def spy(name, n_agents, discount, progress=None):
        printed_before.append(capsys.readouterr().out.count("| congestion_v0 |"))
        solved.append(discount)
        return real(name, n_agents, discount, progress)

    monkeypatch.setattr(references, "env_references", spy)
    rows = references.solved_rows(["congestion_v0"], [0.0, 0.5], 2, lambda *told: steps.append(told))
    first = next(rows)
    assert solved == [0.0] and first["agents look ahead"] == 0.0  # the second is not solved yet
    assert steps[0] == ("congestion_v0", 0.0, "exact references")
    assert steps[-1] == ("congestion_v0", 0.0, "flat incentive 202/202")  # 101 amounts x 2 signals
    references.main(
        ["--env", "congestion_v0", "--n-agents", "2", *("--agent-discount", "0"), "--no-progress"]
    )
    references.main(
        ["--env", "congestion_v0", "--n-agents", "2", *("--agent-discount", "0", "--agent-discount", "0.5")]
    )
    # In the last command the first row was out when the second was being solved.
    assert printed_before[-1] == 1


def test_skipped_flat_amounts_are_rounded_and_explained():
    from pa_envs import analysis

    text = analysis._skipped_text({1: [0.5999999999999996, 0.8000000000000007]}, 202)
    assert "skipped 2 of 202 candidate amount(s) (on signal 1: +0.6, +0.8)" in text
    assert "no pure-strategy equilibrium" in text and "0.59999" not in text


def test_training_progress_counts_steps_and_the_update_minibatch_by_minibatch(monkeypatch):
    """Progress goes on through PPO's update, which plays no step (one epoch of 32 samples
    in minibatches of 16 per rollout here: 2 minibatches)."""
    from stable_baselines3 import PPO

    from pa_envs.experiments import sb3_tools

    monkeypatch.setattr(sb3_tools, "_clock", iter(range(10, 10**6, 10)).__next__)  # no throttling
    said, steps = [], []
    venv = train_sb3.agents_vec_env(
        "pollution_v0", "no_transfers", {}, {"n_agents": 2, "max_cycles": 8}, 1, 0
    )
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, device="cpu")
    model.learn(64, callback=sb3_tools.training_progress(said.append, steps.append))
    assert sum(steps) == 64 and set(steps) == {2}
    assert said[:4] == [
        "PPO collecting",
        "PPO updating its policy: minibatch 0/2",
        "PPO updating its policy: minibatch 1/2",
        "PPO updating its policy: minibatch 2/2",
    ]
    assert said.count("PPO collecting") == 2


# -- train_sb3's usage errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--env", "congestion"], "argument --env: no env named 'congestion'; did you mean 'congestion_v0'?"),
        (["--mechanism", "pigouvan"], "argument --mechanism: no mechanism named 'pigouvan'"),
        (["--env-kwargs", '{"foo": 1}'], "--env-kwargs: unknown parameter(s) ['foo']"),
        (["--n-envs", "0"], "argument --n-envs: must be an int >= 1"),
        (["--n-agents", "0"], "argument --n-agents: must be an int >= 1"),
        (["--timesteps", "-5"], "argument --timesteps: must be an int >= 0"),
        (["--eval-episodes", "0"], "argument --eval-episodes: must be an int >= 1"),
        (["--timesteps", "0", "--load", "/nonexist"], "argument --load: no such file: '/nonexist'"),
        (["--env-kwargs", '{"normalize_actions": false}'], "give them with --learner principal"),
        (["--mechanism", "flat_tax"], "--mechanism flat_tax --mechanism-kwargs: "),
        (["--algo-kwargs", '{"n_step": 5}', "--timesteps", "0"], "--algo-kwargs: PPO: "),
    ],
)
def test_train_refuses_bad_arguments_as_usage_errors(argv, fragment, capsys):
    with pytest.raises(SystemExit) as stop:
        train_sb3.main(["--no-progress", *argv])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and fragment in err and "Traceback" not in err


def test_train_as_a_module_gives_the_same_usage_errors():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "baselines.train_sb3", "--env-kwargs", '{"foo": 1}'],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        "python -m baselines.train_sb3: error: --env-kwargs: unknown parameter(s) ['foo']"
    )


def test_view_keywords_are_split_from_the_envs():
    view, env_only = train_sb3.split_view_kwargs({"n_agents": 2, "normalize_actions": False, "decay": 0.1})
    assert view == {"normalize_actions": False} and env_only == {"n_agents": 2, "decay": 0.1}


def test_a_learning_principal_counts_its_own_steps(capsys):
    train_sb3.main(
        tiny(
            "--learner", "principal", "--timesteps", "32", "--algo-kwargs", TINY_ALGO, "--eval-episodes", "1"
        )
    )
    out = capsys.readouterr().out
    assert "principal steps (periods)" in out and "agent-steps" not in out
    assert "'normalize_actions': True" in out


def test_train_takes_a_preset_name(capsys):
    """``--env pollution_v0:hard`` trains on the preset's parameters (its exact W* is the preset's)."""
    from pa_envs import analysis, presets

    result = train_sb3.main(["--env", "pollution_v0:hard", "--timesteps", "0", "--eval-episodes", "2"])
    model = presets.parallel_env("pollution_v0:hard", n_agents=3).game.exact_model()
    assert result.optimum == pytest.approx(analysis.social_optimum(model).social_welfare)
    assert "pollution_v0" in capsys.readouterr().out


def test_train_rejects_an_unknown_preset(capsys):
    with pytest.raises(SystemExit) as stop:
        train_sb3.main(["--env", "pollution_v0:nosuch", "--timesteps", "0"])
    assert stop.value.code == 2 and "no preset named 'pollution_v0:nosuch'" in capsys.readouterr().err


def test_train_reports_w_over_w_star_of_a_cost_as_the_harness_does():
    """Congestion's welfare is a cost: W = -300 against W* = -233.33 is below the optimum, so
    its share is 1 - (W* - W)/|W*| = 0.714 (the harness's), not W/W* = 1.286."""
    from pa_envs.experiments.harness import share_of_optimum

    evaluation = train_sb3.Evaluation(2, -300.0, 5.0, 0.0, 0.0, -700 / 3, -350.0)
    assert evaluation.share_of_optimum == pytest.approx(1 - (300 - 700 / 3) / (700 / 3))
    assert evaluation.share_of_optimum == pytest.approx(share_of_optimum(-300.0, -700 / 3))
    table = evaluation.table()
    assert "share of W*                 0.714   (costs: 1 - (W* - W)/|W*|)" in table and "1.286" not in table
    assert "share of gap closed         0.429" in table  # (W - W_LF)/(W* - W_LF) = 50/116.67


def test_train_reports_a_t_interval_as_the_harness_does():
    from pa_envs.regret import mean_interval

    results = [{"social_welfare": w, "total_transfers": 0.0, "externality": 0.0} for w in (1.0, 2.0, 6.0)]
    evaluation = train_sb3.summarize(results, 10.0, 0.0)
    assert (evaluation.welfare, evaluation.welfare_ci) == pytest.approx(mean_interval([1.0, 2.0, 6.0]))
    assert "95% t-interval over 3 episodes" in evaluation.table()
