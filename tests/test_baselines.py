"""The baseline scripts connect end to end (tiny budgets; training quality lives in docs/)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baselines import demo, references, train_sb3

TINY_ENV = json.dumps({"max_cycles": 8})
TINY_ALGO = json.dumps({"n_steps": 16, "batch_size": 16, "n_epochs": 1})


def tiny(*args: str) -> list[str]:
    """Command-line arguments of a tiny run: 2 agents, 1 copy, 8-period episodes."""
    return ["--n-agents", "2", "--n-envs", "1", "--env-kwargs", TINY_ENV, "--no-progress", *args]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("mechanism", ["no_transfers", "pigouvian", "best_flat_tax"])
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
        lines = (tmp_path / form / "progress.csv").read_text().splitlines()
        header = lines[0].split(",")
        for key in (
            "welfare/step_social_welfare",
            "welfare/step_externality",
            "welfare/step_total_transfers",
        ):
            assert key in header
        # 64 steps of 2 agents finish 4 episodes of 8 periods.
        column = header.index("welfare/episode_social_welfare")
        logged[form] = [float(line.split(",")[column]) for line in lines[1:] if line.split(",")[column]]
        assert list((tmp_path / form).glob("events.out.tfevents.*"))  # TensorBoard too (dev extra)
    # Same trajectories in the first rollout, but SuperSuit replaces the infos of an
    # episode's last step by the reset's, so its log misses each episode's last period;
    # the vector form's arrays keep it.
    assert logged["vector"][0] != logged["supersuit"][0]
    assert all(value != 0.0 for value in logged["vector"] + logged["supersuit"])


def test_vector_form_logs_each_episodes_whole_welfare():
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
    logger = configure(None, ["csv"])
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


def test_demo_runs(capsys):
    demo.main(["--max-cycles", "12"])
    out = capsys.readouterr().out
    assert "episode totals" in out and "flat tax" in out


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


def test_benchmark_suite_smoke_run_prints_every_table(capsys):
    from baselines import bench_speed

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


def test_benchmark_suite_rejects_unknown_sections():
    from baselines import bench_speed

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
