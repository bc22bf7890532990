"""The harness plays the runs of a grid cell as one batch: each run's result is the one it
has alone, bit for bit; the results store, progress and failures keep their meaning."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecEnvWrapper

from pa_envs.experiments import harness
from pa_envs.experiments.harness import cli, runner, store

PRINCIPALS = [
    ("pigouvian", {}),
    ("two_phase", {}),
    ("flat_tax", {"amount": 0.5}),
    ("flat_tax", {"amount": 1.0}),
]
CELLS = [  # (env, its settings, agents): 10-period episodes, 2 copies of 2 agents, 10 episodes
    ("pollution_v0", {"max_cycles": 10}, "q_learning"),
    ("commons_v0", {"max_cycles": 10}, "hedge"),
    ("congestion_v0", {"max_cycles": 10}, "contract_q_learning"),
]


def cell(env: str, env_kwargs: dict, agents: str, seeds=(0, 1)) -> list[harness.RunSpec]:
    return [
        harness.RunSpec(
            env=env,
            principal=principal,
            agents=agents,
            seed=seed,
            steps=400,
            copies=2,
            n_agents=2,
            env_kwargs=env_kwargs,
            principal_kwargs=kwargs,
        )
        for principal, kwargs in PRINCIPALS
        for seed in seeds
    ]


def without_seconds(row: dict) -> dict:
    return {key: value for key, value in row.items() if key != "seconds"}


@pytest.mark.parametrize(("env", "env_kwargs", "agents"), CELLS)
def test_a_batch_gives_every_run_the_result_it_has_alone(env, env_kwargs, agents, monkeypatch):
    specs = cell(env, env_kwargs, agents)
    alone = [harness.run(spec) for spec in specs]
    monkeypatch.setattr(runner, "run", None)  # a batch plays its runs together, never one by one
    batched = harness.run_batch(specs)
    assert [row["key"] for row in batched] == [spec.key for spec in specs]
    for one, together in zip(alone, batched, strict=True):
        assert without_seconds(together) == without_seconds(one), one["spec"]
    # Not vacuous: every run has episodes, and the seeds and principals play differently.
    assert all(row["episodes"] == 2 * 10 for row in alone)
    assert all(alone[k]["curve"] != alone[k + 1]["curve"] for k in range(0, len(alone), 2))  # seeds 0, 1
    assert len({(tuple(row["curve"]), tuple(row["curve_transfers"])) for row in alone}) == len(alone)


class Rows(harness.Mechanism):
    """Agent ``k`` is paid ``amounts[k]`` for the last signal from period ``start`` on."""

    def __init__(self, amounts: tuple[float, ...], start: int) -> None:
        super().__init__()
        self.amounts, self.start = amounts, start

    def contract(self, inputs):
        out = self._zeros(len(inputs.period))
        on = np.asarray(inputs.period) >= self.start
        for agent, amount in enumerate(self.amounts):
            out[on, agent, -1] = amount
        return out


def situations_shown(monkeypatch) -> list[np.ndarray]:
    """Keep every ``(copies, agents)`` array of situations the tabular learners are shown."""
    import pa_envs.learning_loop as loop

    shown: list[np.ndarray] = []
    real = loop.make_agents

    def spy(game, seeds, agents):
        learners, situation, observations = real(game, seeds, agents)
        return learners, lambda *args: shown.append(situation(*args)) or shown[-1], observations

    monkeypatch.setattr(loop, "make_agents", spy)
    return shown


def test_each_copy_numbers_its_situations_as_alone(monkeypatch):
    """Beyond the results: every agent learns under the situation index it has alone. Run 1
    shows at once two rows new to it, one of which run 0 showed before: numbered in one
    table with run 0's rows, they would come in the other order (the learners would play
    alike all the same, their tables permuted: the results cannot tell)."""
    from pa_envs.mechanisms import Stacked
    from pa_envs.sb3 import MechanismVecEnv

    shown = situations_shown(monkeypatch)
    settings = {"n_agents": 2, "max_cycles": 10}
    members = [lambda: Rows((1.0, 1.0), 0), lambda: Rows((0.5, 1.0), 1)]
    alone = []
    for seed, member in enumerate(members):
        shown.clear()
        venv = MechanismVecEnv("pollution_v0", member(), 2, seed=seed, **settings)
        harness.make_agents("q_learning", {}).train(venv, 200, seed)
        alone.append(np.stack(shown))  # (calls, copies, agents)
    shown.clear()
    stacked = Stacked([(member(), 2) for member in members])
    venv = MechanismVecEnv("pollution_v0", stacked, 4, seed=[0, 1, 1, 2], **settings)
    harness.make_agents("q_learning", {}).train_runs(venv, 200, [0, 1])
    together = np.stack(shown)
    for k, mine in enumerate(alone):
        assert np.array_equal(together[:, 2 * k : 2 * k + 2], mine), k
    # Run 1's row ids: 0 (no pay), then 1 for 0.5 and 2 for 1.0 (new together: by value).
    assert (mine[1] % 1024).tolist() == [[1, 2], [1, 2]]


def test_the_order_of_a_batch_does_not_change_its_runs():
    specs = cell(*CELLS[0])
    forward = harness.run_batch(specs)
    backward = harness.run_batch(specs[::-1])[::-1]
    assert [without_seconds(row) for row in backward] == [without_seconds(row) for row in forward]


def test_progress_counts_the_agent_steps_of_every_run_of_a_batch(monkeypatch):
    monkeypatch.setattr(harness.Ticker, "interval", 0.0)  # pass on every step
    specs = cell(*CELLS[0])
    told: list = []
    rows = harness.run_batch(specs, progress=told.append)
    per_period = len(specs) * 2 * 2  # runs x copies x agents
    assert told == [per_period] * 100 and sum(told) == sum(row["steps"] for row in rows)


def test_only_tabular_agents_under_bundled_principals_are_grouped():
    spec = cell(*CELLS[0])[0]
    assert harness.groupable(spec)
    for change in ({"agents": "PPO"}, {"principal": "learn:PPO"}, {"principal": "tests.test_harness:Shy"}):
        other = harness.RunSpec(**{**spec.__dict__, **change})
        assert not harness.groupable(other) and harness.batch_cell(other) is None
    # A cell is every field but the principal, its keyword arguments and the seed.
    same = harness.RunSpec(
        **{**spec.__dict__, "principal": "no_transfers", "principal_kwargs": {}, "seed": 9}
    )
    assert harness.batch_cell(same) == harness.batch_cell(spec)
    for change in ({"steps": 800}, {"copies": 3}, {"env_kwargs": {"max_cycles": 5}}, {"agents": "hedge"}):
        assert harness.batch_cell(harness.RunSpec(**{**spec.__dict__, **change})) != harness.batch_cell(spec)
    with pytest.raises(ValueError, match="not of the grid cell"):
        harness.run_batch([spec, harness.RunSpec(**{**spec.__dict__, "steps": 800})])
    with pytest.raises(ValueError, match="cannot be batched"):
        harness.run_batch([harness.RunSpec(**{**spec.__dict__, "agents": "PPO"})])


class EndsRunZeroEarly(VecEnvWrapper):
    """Says the episodes of run 0's copies (the first two) ended after the third period."""

    def reset(self):
        self.periods = 0
        return self.venv.reset()

    def step_wait(self):
        observations, rewards, dones, infos = self.venv.step_wait()
        self.periods += 1
        if self.periods == 3:
            dones = dones.copy()
            dones[: 2 * self.venv.unwrapped.n_agents] = True
        return observations, rewards, dones, infos


def test_runs_whose_episodes_end_apart_are_not_trained_together():
    from pa_envs.sb3 import MechanismVecEnv

    venv = MechanismVecEnv("pollution_v0", "no_transfers", 4, seed=0, n_agents=2, max_cycles=10)
    learner = harness.make_agents("q_learning", {})
    with pytest.raises(harness.CopiesOutOfStep, match=r"of 2 runs .* the episodes of seed 0 ended"):
        learner.train_runs(EndsRunZeroEarly(venv), 400, [0, 1])
    learner.train_runs(EndsRunZeroEarly(venv), 400, [0])  # one run: as alone, whatever its copies do


# -- the sweep -----------------------------------------------------------------------------------


def batches_seen(monkeypatch) -> list[list[int]]:
    """Record the seeds of every batch the sweep plays (and play it)."""
    seen: list[list[int]] = []
    real = runner.run_batch

    def spy(specs, **kwargs):
        seen.append([spec.seed for spec in specs])
        return real(specs, **kwargs)

    monkeypatch.setattr(runner, "run_batch", spy)
    return seen


def test_a_sweep_batches_each_cell_and_records_every_run_as_alone(tmp_path, monkeypatch, capsys):
    pollution, commons = cell(*CELLS[0], seeds=(0,)), cell(*CELLS[1], seeds=(0,))
    specs = [*pollution, *commons]
    alone = {spec.key: without_seconds(harness.run(spec)) for spec in specs}
    seen = batches_seen(monkeypatch)
    results = tmp_path / "runs.jsonl"
    rows = harness.sweep(specs, results, progress=True)
    assert seen == [[0] * len(pollution), [0] * len(commons)]  # one batch per cell
    assert [row["key"] for row in rows] == [spec.key for spec in specs]
    assert {row["key"]: without_seconds(row) for row in store.read_results(results)} == alone
    found = store.read(results)
    assert found.claims == {} and found.damaged == []
    err = capsys.readouterr().err
    assert all(f"run {k}/{len(specs)} done" in err for k in range(1, len(specs) + 1))
    # Resumed: nothing is played again.
    assert harness.sweep(specs, results, progress=False) == rows and len(seen) == 2


def test_no_batch_runs_every_run_alone(tmp_path, monkeypatch):
    specs = cell(*CELLS[0], seeds=(0,))[:2]
    seen = batches_seen(monkeypatch)
    harness.sweep(specs, tmp_path / "runs.jsonl", progress=False, batch=False)
    assert seen == []
    assert cli.build_parser().parse_args(["--no-batch"]).no_batch
    told = {}
    monkeypatch.setattr(cli, "sweep", lambda specs, path, **kwargs: told.update(kwargs) or [])
    monkeypatch.setattr(cli, "write_reports", lambda rows, out: [])
    monkeypatch.setattr(cli, "leaderboard", lambda rows: "")
    for argv, batch in ((["--no-batch"], False), ([], True)):
        cli.main([*argv, "--agents", "q_learning", "--steps", "30", "--out", str(tmp_path)])
        assert told["batch"] is batch


def test_a_cell_whose_tables_outgrow_a_batch_is_split(tmp_path, monkeypatch):
    from pa_envs.sb3 import MechanismVecEnv

    specs = cell(*CELLS[0], seeds=(0,))  # 4 runs
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=2, max_cycles=10)
    per_run = harness.make_agents("q_learning", {}).table_bytes(venv, 0)
    # q and the regret sums: copies x agents x (1,024 rows per observed state) x actions, in float64
    assert per_run >= 2 * (2 * 2 * 1024 * venv.game.n_actions * 8)
    monkeypatch.setattr(runner, "BATCH_BYTES", int(2.5 * per_run))
    assert runner.batch_size(specs[0]) == 2 and runner.batch_size(specs[0], jobs=4, runs=4) == 1
    assert runner.batch_size(specs[0], runs=3) == 2 and runner.batch_size(specs[0], runs=5) == 2  # 2+1, 2+2+1
    seen = batches_seen(monkeypatch)
    rows = harness.sweep(specs, tmp_path / "runs.jsonl", progress=False)
    assert seen == [[0, 0], [0, 0]]
    assert [without_seconds(row) for row in rows] == [without_seconds(harness.run(spec)) for spec in specs]


def test_with_jobs_a_cell_is_shared_by_the_processes(tmp_path):
    specs = cell(*CELLS[0], seeds=(0,))  # 4 runs, 2 processes: 2 batches of 2
    results = tmp_path / "runs.jsonl"
    rows = harness.sweep(specs, results, jobs=2, progress=False)
    alone = [without_seconds(harness.run(spec)) for spec in specs]
    assert [without_seconds(row) for row in rows] == alone
    assert store.read(results).claims == {}
    shares = [row["seconds"] for row in rows]  # a batch's runs share its time equally
    assert sorted(shares.count(share) for share in set(shares)) == [2, 2]


def sweep_while_another_holds(specs, held, results, monkeypatch, look=lambda group: None) -> list[dict]:
    """Sweep ``specs`` while another live harness holds ``held``; it dies as this one's first
    batch ends (``look(group)`` sees each batch before it is played)."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        with store.claims_path(results).open("a") as f:
            for spec in held:
                claim = {"claimed": spec.key, "pid": other.pid, "host": store.HOST}
                f.write(json.dumps({**claim, "started": store.start_time(other.pid)}) + "\n")
        real = runner.run_batch

        def then_the_other_dies(group, **kwargs):
            look(group)
            out = real(group, **kwargs)
            other.kill()  # the other harness dies while the batch runs
            other.wait()
            return out

        monkeypatch.setattr(runner, "run_batch", then_the_other_dies)
        return harness.sweep(specs, results, progress=False, poll=0.05)
    finally:
        other.kill()
        other.wait()


def test_a_batch_claims_what_is_free_and_a_dead_holders_run_is_run_after(tmp_path, monkeypatch):
    """Another live harness holds one run of the cell: the batch is the others; when that
    harness dies, its run is run (alone) too."""
    specs = cell(*CELLS[0], seeds=(0,))
    held = specs[1].key
    seen: list[int] = []

    def look(group):
        seen.append(len(group))
        assert held not in {spec.key for spec in group}

    results = tmp_path / "runs.jsonl"
    rows = sweep_while_another_holds(specs, [specs[1]], results, monkeypatch, look)
    assert seen == [len(specs) - 1]
    assert [without_seconds(row) for row in rows] == [without_seconds(harness.run(spec)) for spec in specs]
    assert store.read(results).claims == {}


def test_claim_with_takes_the_companions_nobody_else_has(tmp_path):
    results = tmp_path / "runs.jsonl"
    keys = ["a", "b", "c", "d"]
    mine = store.Store(results)
    with store.claims_path(results).open("a") as f:  # another host's claim counts as alive
        f.write(json.dumps({"claimed": "c", "pid": 1, "host": "another-host"}) + "\n")
    mine.finish({"key": "b", "spec": {}})
    claimed, _ = mine.claim_with(keys, lambda first: keys)
    assert claimed == ["a", "d"]
    assert set(store.read(results).claims) == {"a", "c", "d"}
    mine.release_all(claimed)
    assert set(store.read(results).claims) == {"c"}


def test_a_failed_batch_runs_its_runs_one_by_one(tmp_path, monkeypatch, capsys):
    specs = cell(*CELLS[0], seeds=(0,))[:3]

    def fails(group, progress=None):
        progress(12)  # steps played before it fell over: taken back
        raise RuntimeError("the batch fell over")

    monkeypatch.setattr(runner, "run_batch", fails)
    results = tmp_path / "runs.jsonl"
    rows = harness.sweep(specs, results, progress=False)
    assert "the batch of 3 runs" in capsys.readouterr().err
    assert [without_seconds(row) for row in rows] == [without_seconds(harness.run(spec)) for spec in specs]
    assert store.read(results).claims == {}
    told: list = []
    with pytest.raises(RuntimeError, match="fell over"):
        runner._run_batch_counted(specs, told.append)
    assert told == [12, -12]


def test_a_run_failing_alone_after_its_batch_failed_gives_every_claim_back(tmp_path, monkeypatch):
    specs = cell(*CELLS[0], seeds=(0,))[:3]
    real = harness.run

    def batch_fails(group, progress=None):
        raise RuntimeError("the batch fell over")

    def second_fails(spec, **kwargs):
        if spec == specs[1]:
            raise RuntimeError("the learner fell over")
        return real(spec, **kwargs)

    monkeypatch.setattr(runner, "run_batch", batch_fails)
    monkeypatch.setattr(runner, "run", second_fails)
    results = tmp_path / "runs.jsonl"
    with pytest.raises(RuntimeError, match="learner fell over"):
        harness.sweep(specs, results, progress=False)
    found = store.read(results)
    assert found.claims == {} and list(found.rows) == [specs[0].key]  # the run before it is kept


def test_an_interrupted_batch_gives_every_claim_back(tmp_path, monkeypatch):
    specs = cell(*CELLS[0], seeds=(0,))

    def interrupted(group, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_batch", interrupted)
    results = tmp_path / "runs.jsonl"
    with pytest.raises(KeyboardInterrupt):
        harness.sweep(specs, results, progress=False)
    found = store.read(results)
    assert found.claims == {} and found.rows == {}


# -- review fixes: caps, dead workers, names -------------------------------------------------------


def groups_seen(monkeypatch, specs) -> list[list[int]]:
    """Record what the sweep plays, batches and runs alone, as indices of ``specs``."""
    seen: list[list[int]] = []
    real_batch, real_run = runner.run_batch, runner.run

    def batch(group, **kwargs):
        seen.append([specs.index(spec) for spec in group])
        return real_batch(group, **kwargs)

    def alone(spec, **kwargs):
        seen.append([specs.index(spec)])
        return real_run(spec, **kwargs)

    monkeypatch.setattr(runner, "run_batch", batch)
    monkeypatch.setattr(runner, "run", alone)
    return seen


def test_the_runs_another_harness_holds_leave_room_in_a_batch_for_the_free_ones(tmp_path, monkeypatch):
    """Another harness holds the first two runs of a cell whose batches hold two: this one
    plays the last two as one batch (the cap cuts the free runs, not the cell's list)."""
    from pa_envs.sb3 import MechanismVecEnv

    specs = cell(*CELLS[0], seeds=(0,))  # 4 runs
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=2, max_cycles=10)
    per_run = harness.make_agents("q_learning", {}).table_bytes(venv, 0)
    monkeypatch.setattr(runner, "BATCH_BYTES", int(2.5 * per_run))  # 2 runs a batch
    seen = groups_seen(monkeypatch, specs)
    results = tmp_path / "runs.jsonl"
    rows = sweep_while_another_holds(specs, specs[:2], results, monkeypatch)  # then its runs are free
    assert seen == [[2, 3], [0, 1]]
    assert [without_seconds(row) for row in rows] == [without_seconds(harness.run(spec)) for spec in specs]
    assert store.read(results).claims == {}


def test_claim_with_cuts_to_its_most_after_leaving_out_the_held_runs(tmp_path):
    results = tmp_path / "runs.jsonl"
    keys = ["a", "b", "c", "d", "e"]
    mine = store.Store(results)
    with store.claims_path(results).open("a") as f:
        f.write(json.dumps({"claimed": "b", "pid": 1, "host": "another-host"}) + "\n")
    claimed, _ = mine.claim_with(keys, lambda first: keys, lambda first: 3)
    assert claimed == ["a", "c", "d"]
    claimed, _ = mine.claim_with(keys, lambda first: keys, lambda first: 3)
    assert claimed == ["a", "c", "d"]  # this process's own claims stay its own
    assert mine.claim_with(["e"], lambda first: keys, lambda first: 0)[0] == ["e"]  # the first, always


def test_a_batch_holds_batch_runs_runs_at_most(tmp_path, monkeypatch):
    from pa_envs.sb3 import MechanismVecEnv

    # contract_q_learning's tables are small: by their bytes, thousands of runs would fit.
    spec = harness.RunSpec(env="pollution_v0", principal="two_phase", agents="contract_q_learning")
    venv = MechanismVecEnv(harness.base_env(spec), "no_transfers", spec.copies, seed=0)
    per_run = harness.make_agents(spec.agents, {}).table_bytes(venv, 0)
    assert runner.BATCH_BYTES // per_run > 100 * runner.BATCH_RUNS == 3200
    assert runner.batch_size(spec) == 32 and runner.batch_size(spec, runs=40) == 20  # 20 + 20
    specs = cell(*CELLS[2], seeds=(0,))  # 4 runs
    monkeypatch.setattr(runner, "BATCH_RUNS", 3)
    assert runner.batch_size(specs[0]) == 3
    seen = groups_seen(monkeypatch, specs)
    rows = harness.sweep(specs, tmp_path / "runs.jsonl", progress=False)
    assert seen == [[0, 1], [2, 3]]  # 3 at most: two batches of even size
    assert [without_seconds(row) for row in rows] == [without_seconds(harness.run(spec)) for spec in specs]


def dies(*args, **kwargs):
    os._exit(137)  # what the OOM killer does to a worker


def test_a_batch_whose_worker_dies_is_run_again_run_by_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "_START_METHOD", "fork")  # the workers inherit the patch below
    monkeypatch.setattr(runner, "run_batch", dies)
    specs = cell(*CELLS[0], seeds=(0,))  # 4 runs, 2 processes: 2 batches of 2
    results = tmp_path / "runs.jsonl"
    rows = harness.sweep(specs, results, jobs=2, progress=False)
    assert "a worker process died" in capsys.readouterr().err
    assert [without_seconds(row) for row in rows] == [without_seconds(harness.run(spec)) for spec in specs]
    found = store.read(results)
    assert found.claims == {} and len(found.rows) == 4


def test_a_run_whose_worker_dies_stops_the_sweep_with_every_claim_given_back(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_START_METHOD", "fork")
    monkeypatch.setattr(runner, "run", dies)
    specs = cell(*CELLS[0], seeds=(0,))[:3]
    results = tmp_path / "runs.jsonl"
    with pytest.raises(BrokenProcessPool, match=r"worker process died .* seed 0"):
        harness.sweep(specs, results, jobs=2, progress=False, batch=False)
    found = store.read(results)
    assert found.claims == {} and found.rows == {}


def test_a_group_the_pool_refuses_is_given_back(tmp_path, monkeypatch):
    def refuses(self, *args, **kwargs):
        raise RuntimeError("the pool refused it")

    monkeypatch.setattr(concurrent.futures.ProcessPoolExecutor, "submit", refuses)
    results = tmp_path / "runs.jsonl"
    with pytest.raises(RuntimeError, match="refused"):
        harness.sweep(cell(*CELLS[0], seeds=(0,)), results, jobs=2, progress=False)
    assert store.read(results).claims == {}


def test_the_recorder_gives_every_episode_by_default():
    from pa_envs.sb3 import MechanismVecEnv

    base = harness.base_env(cell(*CELLS[0])[0])
    venv = MechanismVecEnv(base, "no_transfers", 2, seed=0)
    recorded = runner.recorder(venv, base.game.exact_model())
    harness.make_agents("q_learning", {}).train(recorded, 2 * 2 * 20, 0)  # 2 episodes a copy
    assert len(recorded.episodes) == 4 and recorded.owners == [0, 1, 0, 1]
    assert recorded.episodes_of() == recorded.episodes_of(slice(None)) == recorded.episodes
    assert recorded.episodes_of(slice(1, 2)) == recorded.episodes[1::2]
    assert np.isfinite(recorded.agents_regret())


def test_errors_name_the_runs_and_the_field_that_differs():
    from pa_envs.sb3 import MechanismVecEnv

    venv = MechanismVecEnv("pollution_v0", "no_transfers", 4, seed=0, n_agents=2, max_cycles=10)
    learner = harness.make_agents("q_learning", {})
    with pytest.raises(harness.CopiesOutOfStep, match=r"episodes of seed 3 ended .* those of seed 7 went"):
        learner.train_runs(EndsRunZeroEarly(venv), 400, [3, 7])
    with pytest.raises(harness.CopiesOutOfStep, match=r"episodes of early ended .* those of late went on"):
        learner.train_runs(EndsRunZeroEarly(venv), 400, [3, 7], ["early", "late"])
    spec = cell(*CELLS[0])[0]
    with pytest.raises(ValueError, match=r"not of the grid cell .*: steps=800 \(not 400\)"):
        harness.run_batch([spec, harness.RunSpec(**{**spec.__dict__, "steps": 800})])
    flat = cell(*CELLS[0])[4]
    assert runner._name(flat) == "run pollution_v0 / flat_tax / q_learning seed 0 (amount=0.5)"


def test_tabular_runs_make_no_log_folders_alone_or_batched(tmp_path):
    specs = cell(*CELLS[0], seeds=(0,))[:2]
    harness.run(specs[0], log_dir=tmp_path / "alone")
    for batch in (True, False):
        harness.sweep(
            specs, tmp_path / f"{batch}.jsonl", progress=False, batch=batch, log_dir=tmp_path / "logs"
        )
    assert not (tmp_path / "logs").exists() and not (tmp_path / "alone").exists()
