"""The benchmark harness: names, resumable sweeps, exact metrics and reports."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from pa_envs import analysis, congestion_v0
from pa_envs.envs.congestion import ROAD
from pa_envs.experiments import harness, train_sb3

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STATIC = {"carry_over": 0.0, "max_cycles": 5}  # congestion without a queue: deterministic


class AllRoad(harness.AgentAlgorithm):
    """A user's agent learner (loaded by 'module:Class'): every commuter always drives."""

    def train(self, venv, steps, seed):
        venv.reset()
        for _ in range(steps // venv.num_envs):
            venv.step(np.full(venv.num_envs, ROAD))


class Shy(harness.Mechanism):
    """A user's mechanism (loaded by 'module:Class'): a flat toll of 0.45 on the road."""

    def contract(self, inputs):
        out = self._zeros(len(inputs.period))
        out[:, :, ROAD] = -0.45
        return out


class Monitored(AllRoad):
    """A user's agent learner that checks the VecEnv it is handed is in SB3's VecMonitor."""

    def train(self, venv, steps, seed):
        from stable_baselines3.common.vec_env import VecMonitor

        assert isinstance(venv, VecMonitor) and venv.unwrapped.n_agents == 4, venv
        super().train(venv, steps, seed)


def spec(**kwargs) -> harness.RunSpec:
    fields = {
        "env": "congestion_v0",
        "principal": "no_transfers",
        "agents": "tests.test_harness:AllRoad",
        "steps": 2 * 4 * 5 * 3,  # 3 episodes of 5 periods, 2 copies of 4 commuters
        "copies": 2,
        "n_agents": 4,
        "env_kwargs": STATIC,
    }
    return harness.RunSpec(**{**fields, **kwargs})


def test_metrics_are_exact_on_a_deterministic_run():
    """Everyone on the road is Pigou's laissez-faire equilibrium: welfare W_LF exactly, share
    1 - (W* - W_LF)/|W*| = 1 - 1/3 / (3/4) ..., and no agent regrets it (rail is no better)."""
    row = harness.run(spec())
    model = congestion_v0.parallel_env(n_agents=4, **STATIC).game.exact_model()
    optimum = analysis.social_optimum(model).social_welfare
    lf = analysis.laissez_faire(model).social_welfare
    assert row["optimum"] == pytest.approx(optimum) and row["laissez_faire"] == pytest.approx(lf)
    assert row["episodes"] == 6 and row["curve"] == [pytest.approx(lf)] * 6
    assert row["final_share"] == pytest.approx(1 - (optimum - lf) / abs(optimum))
    assert row["regret_per_episode"] == pytest.approx(optimum - lf)
    assert row["transfers"] == 0.0 and row["agents_regret"] == pytest.approx(0.0, abs=1e-12)
    assert row["steps"] == 2 * 4 * 15


def test_a_user_mechanism_is_charged_and_regretted():
    """Under a toll of 0.45 driving costs 1.45 > rail's 1: the agents' regret is exact."""
    row = harness.run(spec(principal="tests.test_harness:Shy"))
    assert row["transfers"] == pytest.approx(-0.45 * 4 * 5)
    # Each period every commuter could have saved 1.45 - 1 by taking rail.
    assert row["agents_regret"] == pytest.approx(0.45)


def test_sweep_streams_and_resumes(tmp_path, monkeypatch):
    specs = [spec(seed=s) for s in (0, 1)]
    results = tmp_path / "runs.jsonl"
    rows = harness.sweep(specs[:1], results, progress=False)
    assert len(harness.read_results(results)) == 1 and rows[0]["spec"]["seed"] == 0
    calls = []
    real = harness.run
    monkeypatch.setattr(harness.runner, "run", lambda s, **kw: calls.append(s.seed) or real(s, **kw))
    rows = harness.sweep(specs, results, progress=False)
    assert calls == [1]  # the finished run is not run again
    assert [r["spec"]["seed"] for r in rows] == [0, 1]
    assert len(results.read_text().splitlines()) == 2


def test_reports_are_written(tmp_path):
    rows = [harness.run(spec(seed=s)) for s in (0, 1)] + [harness.run(spec(principal="pigouvian"))]
    paths = harness.write_reports(rows, tmp_path)
    table = (tmp_path / "leaderboard.md").read_text()
    assert "`no_transfers`" in table and "`pigouvian`" in table and " ± " in table
    assert (tmp_path / "leaderboard.csv").read_text().startswith("env,principal,agents,seeds")
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.slow
def test_sb3_and_tabular_agents_and_a_learning_principal_run():
    for agents in ("PPO", "q_learning", "hedge"):
        row = harness.run(spec(agents=agents, principal="pigouvian", agent_kwargs={}))
        assert row["episodes"] > 0 and np.isfinite(row["final_share"])
    row = harness.run(spec(principal="learn:PPO", agent_kwargs={"n_steps": 16, "batch_size": 16}, steps=64))
    assert row["episodes"] > 0 and np.isfinite(row["auc_share"])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("polution_v0",), "pollution_v0"),
        (("congestion_v0", "pigovian"), "pigouvian"),
        (("congestion_v0", "pigouvian", "PP0"), "PPO"),
    ],
)
def test_unknown_names_fail_before_any_run_with_the_closest_match(args, fragment):
    envs, principals, agents = (
        [args[0]],
        [args[1] if len(args) > 1 else "no_transfers"],
        [args[2] if len(args) > 2 else "PPO"],
    )
    with pytest.raises((KeyError, ValueError), match=fragment):
        harness.grid(envs, principals, agents)


def test_harness_command_line(tmp_path, capsys):
    rows = harness.main(
        [
            *(
                "--envs",
                "congestion_v0",
                "--principals",
                "no_transfers",
                "--agents",
                "tests.test_harness:AllRoad",
            ),
            *("--seeds", "0", "--steps", "40", "--copies", "2", "--n-agents", "4"),
            *("--env-kwargs", json.dumps(STATIC), "--out", str(tmp_path), "--no-progress"),
        ]
    )
    assert len(rows) == 1 and "final W/W*" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        harness.main(["--agents", "PP0", "--out", str(tmp_path)])


@pytest.mark.slow
def test_a_users_module_in_the_working_directory_runs_from_the_command_line(tmp_path):
    """As the tutorial does: a learner in ./my_algorithms.py, `python -m
    pa_envs.experiments.harness` run from that folder (not this repository's: the
    repository's `baselines` scripts are not installed)."""
    (tmp_path / "my_algorithms.py").write_text(
        "import numpy as np\n"
        "from pa_envs.experiments.harness import AgentAlgorithm\n\n"
        "class Road(AgentAlgorithm):\n"
        "    def train(self, venv, steps, seed):\n"
        "        venv.reset()\n"
        "        for _ in range(steps // venv.num_envs):\n"
        "            venv.step(np.zeros(venv.num_envs, dtype=int))\n"
    )
    argv = [
        *("--envs", "congestion_v0", "--principals", "no_transfers", "--agents", "my_algorithms:Road"),
        *("--seeds", "0", "--steps", "40", "--copies", "2", "--n-agents", "4", "--no-progress"),
        *("--env-kwargs", json.dumps(STATIC), "--out", "out"),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "pa_envs.experiments.harness", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "`my_algorithms:Road`" in result.stdout and (tmp_path / "out" / "runs.jsonl").exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"envs": "pollution_v0"}, ValueError, "envs must be a non-empty list"),
        ({"envs": []}, ValueError, "envs must be a non-empty list"),
        ({"seeds": [-1]}, ValueError, "seeds"),
        ({"copies": 0}, ValueError, "copies"),
        ({"env_kwargs": {"decay": 7.0}}, ValueError, "decay"),
        ({"principals": ["learn:PPX"]}, ValueError, "PPX"),
        ({"agents": ["nosuch_module:Learner"]}, ValueError, "nosuch_module"),
    ],
)
def test_grid_checks_everything_before_any_run(kwargs, error, fragment):
    arguments = {"envs": ["pollution_v0"], "principals": ["no_transfers"], "agents": ["PPO"], **kwargs}
    envs, principals, agents = arguments.pop("envs"), arguments.pop("principals"), arguments.pop("agents")
    with pytest.raises(error, match=fragment):
        harness.grid(envs, principals, agents, **arguments)


def test_a_learning_principal_gets_one_run_per_seed():
    specs = harness.grid(["pollution_v0"], ["learn:PPO", "no_transfers"], ["PPO", "q_learning"], seeds=[0, 1])
    learning = [s for s in specs if s.principal == "learn:PPO"]
    assert len(learning) == 2 and {s.agents for s in learning} == {"best_response"}
    assert len(specs) == 2 + 2 * 2


# -- honest budgets, progress, logs, reports ---------------------------------------------------

TINY_PPO = {"n_steps": 16, "batch_size": 16, "n_epochs": 1}


def test_a_budget_overrun_is_said_before_the_sweep_and_recorded(tmp_path, capsys):
    """PPO on 2 copies of 4 commuters collects 16 x 8 = 128 agent-steps a rollout: --steps 100
    runs 128, said before the run, recorded, and noted under the leaderboard."""
    runs = [spec(agents="PPO", agent_kwargs=TINY_PPO, steps=100)]
    assert harness.planned_steps(runs[0]) == 128
    (note,) = harness.budget_notices(runs)
    assert "--steps 100 will run 128 steps" in note and "n_steps=16 x 8 envs" in note
    rows = harness.sweep(runs, tmp_path / "runs.jsonl", progress=False)
    assert "warning: 1 run(s) (no_transfers / PPO)" in capsys.readouterr().err
    assert rows[0]["steps"] == 128
    assert "played 128 for a budget of 100" in harness.leaderboard(rows)
    # The tabular learners play whole periods of copies x agents: 100 becomes 96.
    assert harness.planned_steps(spec(agents="q_learning", steps=100)) == 96
    # Exact budgets say nothing.
    assert harness.budget_notices([spec(agents="PPO", agent_kwargs=TINY_PPO, steps=256)]) == []


def test_fit_budget_shrinks_n_steps_to_meet_the_budget():
    runs, changes = harness.fit_budgets([spec(agents="PPO", agent_kwargs=TINY_PPO, steps=100), spec()])
    assert runs[0].agent_kwargs["n_steps"] == 13 and runs[1] == spec()  # 13 x 8 = 104, within 8
    assert changes == ["--fit-budget: PPO n_steps 16 -> 13 (104 agent-steps per run for --steps 100)"]
    assert harness.run(runs[0])["steps"] == 104


def test_progress_is_told_of_every_step_inside_a_run(monkeypatch):
    told = []
    monkeypatch.setattr(harness.Ticker, "interval", 0.0)  # pass on every step, not a few a second
    row = harness.run(spec(), progress=told.append)
    assert told == [2 * 4] * 15 and row["steps"] == 2 * 4 * 15  # each period's agent-steps as played


def test_sweep_in_parallel_processes_reports_progress(tmp_path, capsys):
    runs = [spec(seed=s) for s in (0, 1)]
    rows = harness.sweep(runs, tmp_path / "runs.jsonl", jobs=2, progress=True)
    assert [r["spec"]["seed"] for r in rows] == [0, 1]
    err = capsys.readouterr().err
    assert "run 1/2 done" in err and "run 2/2 done" in err and "agent-steps" in err


def test_agent_learners_get_a_monitored_vec_env():
    assert harness.run(spec(agents="tests.test_harness:Monitored"))["steps"] == 2 * 4 * 15


def test_sb3_runs_log_into_folders_of_their_own(tmp_path):
    run = spec(agents="PPO", agent_kwargs=TINY_PPO, steps=128)
    for _ in range(2):
        harness.run(run, log_dir=tmp_path)
    learning = spec(principal="learn:PPO", agents="best_response", agent_kwargs=TINY_PPO, steps=32)
    harness.run(learning, log_dir=tmp_path)
    names = sorted(folder.name for folder in tmp_path.iterdir())
    assert names == [
        "congestion_v0_learn-PPO_best_response_seed0_1",
        "congestion_v0_no_transfers_PPO_seed0_1",
        "congestion_v0_no_transfers_PPO_seed0_2",
    ]
    header = (tmp_path / names[1] / "progress.csv").read_text().splitlines()[0].split(",")
    assert "rollout/ep_rew_mean" in header and "welfare/episode_social_welfare" in header


def test_a_dqn_principal_is_refused_by_the_grid():
    with pytest.raises(ValueError, match=r"DQN needs a Discrete action space.*Box.*use PPO or A2C"):
        harness.grid(["pollution_v0"], ["learn:DQN"], ["PPO"])


def test_the_leaderboard_defines_its_numbers_and_the_curves_mark_w_lf(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    rows = [harness.run(spec(seed=s)) for s in (0, 1)]
    table = harness.leaderboard(rows)
    assert "± is the half-width of a 95% confidence interval of the mean over seeds" in table
    assert "final gap closed" in table and "| 0.000 ± 0.000 |" in table  # all road is W_LF
    assert "externality/episode is the damage borne by no agent; it is 0 on congestion_v0" in table
    labels = []
    real = Figure.savefig
    monkeypatch.setattr(
        Figure,
        "savefig",
        lambda fig, *a, **k: labels.append(fig.axes[0].get_legend_handles_labels()[1]) or real(fig, *a, **k),
    )
    harness.plots(rows, tmp_path)
    assert any(label.startswith("W_LF = ") for label in labels[0]) and any(
        label.startswith("W* = ") for label in labels[0]
    )


# -- usage errors, budgets and units ---------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--env-kwargs", '{"foo": 1}'], "unknown parameter(s) ['foo']"),
        (["--jobs", "0"], "argument --jobs: must be an int >= 1"),
        (["--jobs", "-3"], "argument --jobs: must be an int >= 1"),
        (["--seeds", "x"], "argument --seeds"),
        (["--env-kwargs", '{"normalize_actions": false}'], "none of the principals"),
    ],
)
def test_bad_command_lines_are_usage_errors(argv, fragment, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        harness.main([*argv, "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and fragment in err and "Traceback" not in err
    assert not (tmp_path / "runs.jsonl").exists()


@pytest.mark.slow
def test_view_keywords_reach_a_learning_principal_and_never_the_base_env():
    specs = harness.grid(
        ["congestion_v0"],
        ["learn:PPO", "no_transfers"],
        ["tests.test_harness:AllRoad"],
        env_kwargs={**STATIC, "normalize_actions": False},
        copies=1,
        n_agents=4,
    )
    assert len(specs) == 2
    learner = next(s for s in specs if s.principal == "learn:PPO")
    assert harness.base_env(learner).params.max_cycles == STATIC["max_cycles"]
    space = harness.principal_action_space("congestion_v0", {"n_agents": 4, "env_kwargs": learner.env_kwargs})
    assert space.high.max() > 1  # the contract in money, not normalized
    row = harness.run(next(s for s in specs if s.principal == "no_transfers"))
    assert row["episodes"] > 0


def test_a_budget_shorter_than_an_episode_is_warned_of_and_noted(tmp_path, capsys):
    short = spec(steps=8, copies=2, n_agents=4)  # an episode of 2 copies: 5 x 4 x 2 = 40 agent-steps
    assert harness.episode_steps(short) == 40
    (notice,) = harness.short_budget_notices([short])
    assert "no episode can finish within --steps 8" in notice and "40 agent-steps" in notice
    rows = harness.sweep([short], tmp_path / "runs.jsonl", progress=False)
    assert "no episode can finish" in capsys.readouterr().err
    assert "finished no episode within their budget" in harness.leaderboard(rows)
    assert harness.short_budget_notices([spec(steps=40, copies=2, n_agents=4)]) == []


def test_steps_are_labelled_by_who_learns():
    assert harness.step_unit(spec()) == "agent-steps"
    principal = spec(principal="learn:PPO", agents="best_response")
    assert harness.step_unit(principal) == "principal steps (periods)"
    assert harness.episode_steps(principal) == STATIC["max_cycles"] * principal.copies
    row = {"spec": dataclasses.asdict(principal), "steps": 64, "seconds": 1.0, "final_share": 0.5}
    assert "64 principal steps (periods)" in harness.runner._finished_line(row, 1, 1)


def test_the_externality_note_explains_only_the_envs_in_the_table():
    rows = [harness.run(spec())]
    table = harness.leaderboard(rows)
    assert "congestion_v0: the road's delay" in table and "commons_v0" not in table
    assert "steps counts agent-steps" in table


def test_sb3_runs_without_a_log_dir_leave_no_folder_in_the_temporary_directory(tmp_path, monkeypatch):
    """SB3's default logger (``configure(None, ...)``, which ``learn`` calls when no logger is
    set) makes an empty ``SB3-<date>`` folder in the temporary directory on every run."""
    import tempfile

    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    harness.run(spec(agents="PPO", agent_kwargs=TINY_PPO, steps=32))
    harness.run(spec(principal="learn:PPO", agents="best_response", agent_kwargs=TINY_PPO, steps=32))
    train_sb3.main(
        [
            "--env",
            "congestion_v0",
            "--timesteps",
            "32",
            "--algo-kwargs",
            json.dumps(TINY_PPO),
            "--eval-episodes",
            "1",
            "--n-agents",
            "2",
        ]
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("SB3-")] == []


def test_an_sb3_models_own_tensorboard_log_is_kept(tmp_path):
    """Without a log folder the harness sets a logger that writes no files, but not over a
    model's own ``tensorboard_log``: SB3 then logs there as it would alone."""
    board = tmp_path / "board"
    harness.run(spec(agents="PPO", agent_kwargs={**TINY_PPO, "tensorboard_log": str(board)}, steps=32))
    assert list(board.rglob("events.out.tfevents.*"))
