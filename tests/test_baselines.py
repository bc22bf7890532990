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
    train_sb3.main(
        tiny(
            "--eval-episodes",
            "1",
            "--timesteps",
            "64",
            "--algo-kwargs",
            TINY_ALGO,
            "--log-dir",
            str(tmp_path),
        )
    )
    header = (tmp_path / "progress.csv").read_text().splitlines()[0].split(",")
    for key in ("welfare/step_social_welfare", "welfare/step_externality", "welfare/step_total_transfers"):
        assert key in header
    assert "welfare/episode_social_welfare" in header  # 64 steps of 2 agents finish 4 episodes of 8
    assert list(tmp_path.glob("events.out.tfevents.*"))  # TensorBoard too (the dev extra installs it)


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
    references.main(["--agent-discount", "0"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| env |")
    assert any(line.startswith("| pollution_v0 |") for line in lines[2:])


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

    bench_speed.main(["--quick", "--sections", "single,vector,supersuit,ppo"])
    out = capsys.readouterr().out
    for title in ("Single copy", "Vector form", "SuperSuit", "SB3 PPO training"):
        assert f"### {title}" in out
    assert "rps_v2" in out and "env share of wall time" in out


def test_benchmark_suite_rejects_unknown_sections():
    from baselines import bench_speed

    with pytest.raises(SystemExit):
        bench_speed.main(["--sections", "single,warp"])
