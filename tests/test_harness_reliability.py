"""The harness under damage, concurrency and bad settings: a damaged results file, two
harnesses on one file, a killed parent with workers, every run's settings checked before the
first run; and the packaging of the code the pa-envs command runs."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pa_envs.envs.congestion import ROAD
from pa_envs.experiments import harness, scores
from pa_envs.experiments.harness import store

ROOT = Path(__file__).resolve().parents[1]
STATIC = {"carry_over": 0.0, "max_cycles": 5}  # congestion without a queue: deterministic


class Slow(harness.AgentAlgorithm):
    """Every commuter drives, 0.1 s a period: runs long enough to overlap and to be killed."""

    def train(self, venv, steps, seed):
        venv.reset()
        for _ in range(steps // venv.num_envs):
            time.sleep(0.1)
            venv.step(np.full(venv.num_envs, ROAD))


def spec(**kwargs) -> harness.RunSpec:
    fields = {
        "env": "congestion_v0",
        "principal": "no_transfers",
        "agents": "tests.test_harness:AllRoad",
        "steps": 2 * 4 * 5 * 3,
        "copies": 2,
        "n_agents": 4,
        "env_kwargs": STATIC,
    }
    return harness.RunSpec(**{**fields, **kwargs})


def harness_command(out: Path, *, seeds: str, periods: int, jobs: int = 1) -> list[str]:
    """``python -m baselines.harness`` on congestion with the Slow learner (``periods`` per run)."""
    return [
        *(sys.executable, "-m", "baselines.harness", "--envs", "congestion_v0"),
        *("--principals", "no_transfers", "--agents", "tests.test_harness_reliability:Slow"),
        *("--seeds", seeds, "--steps", str(periods * 2 * 4), "--copies", "2", "--n-agents", "4"),
        *("--env-kwargs", json.dumps(STATIC), "--jobs", str(jobs), "--out", str(out), "--no-progress"),
    ]


# -- a damaged results file ---------------------------------------------------------------


def test_a_damaged_results_file_is_reported_line_by_line_and_the_grid_completes(tmp_path, capsys):
    results = tmp_path / "runs.jsonl"
    good = harness.run(spec(seed=0))
    other = json.dumps({**good, "key": "a run of another grid"})
    written = (
        json.dumps(good) + "\n"  # line 1: good
        "not json at all\n"  # line 2: garbage
        "{}\n"  # line 3: no key
        + json.dumps({"spec": good["spec"]})
        + "\n"  # line 4: a row missing 'key'
        + other
        + "\n"  # line 5: good, another grid's
        + json.dumps(good)[:40]  # line 6: half written, no newline
    )
    results.write_text(written)
    rows = harness.sweep([spec(seed=0), spec(seed=1)], results, progress=False)
    err = capsys.readouterr().err
    assert [row["spec"]["seed"] for row in rows] == [0, 1]
    for line in (2, 3, 4, 6):
        assert f"{results}:{line}: " in err, (line, err)
    assert f"{results}:1:" not in err and f"{results}:5:" not in err
    assert "half written" in err and "without 'key'" in err
    text = results.read_text()
    assert text.startswith(written)  # nothing written before is rewritten
    found = store.read(results)
    assert set(found.rows) == {spec(seed=0).key, spec(seed=1).key, "a run of another grid"}
    assert found.rows[spec(seed=0).key]["curve"] == good["curve"]  # seed 0 was not run again


def test_a_claim_of_a_dead_process_is_taken_over(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead = int(finished.stdout)
    results = tmp_path / "runs.jsonl"
    claim = {"claimed": spec(seed=0).key, "pid": dead, "host": store.HOST}
    store.claims_path(results).write_text(json.dumps(claim) + "\n")
    assert not store.pid_alive(dead)
    rows = harness.sweep([spec(seed=0)], results, progress=False, poll=0.05)
    assert rows[0]["spec"]["seed"] == 0 and len(store.read_results(results)) == 1


def test_a_failed_run_gives_its_claim_back(tmp_path, monkeypatch):
    results = tmp_path / "runs.jsonl"

    def fails(spec, **kwargs):
        raise RuntimeError("the learner fell over")

    monkeypatch.setattr(harness.runner, "run", fails)
    with pytest.raises(RuntimeError, match="fell over"):
        harness.sweep([spec(seed=0)], results, progress=False)
    assert store.read(results).claims == {}  # released: another harness may run it


# -- two harnesses, one file --------------------------------------------------------------


def test_two_harnesses_on_one_file_run_each_run_once(tmp_path):
    out = tmp_path / "out"
    command = harness_command(out, seeds="0,1,2,3", periods=10)
    started = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=240) for process in started]
    for process, (_, err) in zip(started, outputs, strict=True):
        assert process.returncode == 0, err
    keys = [json.loads(line)["key"] for line in (out / "runs.jsonl").read_text().splitlines()]
    assert len(keys) == 4 and len(set(keys)) == 4  # each run once, none twice
    for stdout, _ in outputs:  # both report the whole grid
        assert "| congestion_v0 | `no_transfers` | `tests.test_harness_reliability:Slow` | 4 |" in stdout


# -- workers die with their parent ----------------------------------------------------------


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_workers_exit_when_the_harness_is_killed(tmp_path):
    parent = subprocess.Popen(
        harness_command(tmp_path / "out", seeds="0,1,2,3", periods=600, jobs=2),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = [pid for pid in _children(parent.pid) if store.pid_alive(pid)]
            assert parent.poll() is None, "the harness ended before its workers started"
        assert len(workers) >= 2, "no two workers started"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(store.pid_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if store.pid_alive(pid)], "a worker outlived the harness"
    finally:
        if parent.poll() is None:
            parent.kill()


# -- every run checked before the first ----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (
            ["--principals", "no_transfers", "--principal-kwargs", '{"epsilon": 0.5}'],
            ["--principal-kwargs: run pollution_v0 / no_transfers / q_learning seed 0", "epsilon"],
        ),
        (["--principals", "flat_tax"], ["--principal-kwargs: run pollution_v0 / flat_tax", "amount"]),
        (["--principals", "budgeted"], ["--principal-kwargs: run pollution_v0 / budgeted", "budget"]),
        (
            ["--agent-kwargs", '{"bogus": 1}'],
            ["--agent-kwargs: run pollution_v0 / pigouvian / q_learning seed 0", "bogus"],
        ),
        (["--env-kwargs", '{"bogus": 1}'], ["--env-kwargs: every run on pollution_v0", "bogus"]),
    ],
)
def test_each_runs_settings_fail_before_the_first_run(argv, fragments, tmp_path, capsys):
    base = ["--principals", "pigouvian", "--agents", "q_learning", "--seeds", "0", "--steps", "30"]
    with pytest.raises(SystemExit) as stop:
        harness.main([*base, *argv, "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in last, (fragment, last)
    assert not (tmp_path / "runs.jsonl").exists()


def test_grid_raises_a_grid_error_naming_the_option():
    with pytest.raises(harness.GridError) as error:
        harness.grid(["pollution_v0"], ["no_transfers"], ["q_learning"], principal_kwargs={"epsilon": 0.5})
    assert error.value.option == "principal_kwargs" and "no_transfers" in error.value.run
    assert isinstance(error.value, TypeError) and isinstance(error.value, ValueError)


# -- the final-regret exponent -------------------------------------------------------------


def test_the_final_regret_exponent_is_the_experiments_fit():
    """Regret per episode e^-0.5 (three seeds, scaled) vanishes with exponent -0.5; a constant
    regret (linear cumulative regret) has exponent 0."""
    episodes = np.arange(1, 801)
    vanishing = [10.0 - c * episodes**-0.5 for c in (1.0, 1.1, 0.9)]
    fit = scores.final_regret_growth(vanishing, optimum=10.0)
    assert fit.alpha == pytest.approx(-0.5, abs=0.05) and fit.low <= fit.alpha <= fit.high
    constant = scores.final_regret_growth([np.full(800, 7.0)] * 2, optimum=10.0)
    assert constant.alpha == pytest.approx(0.0, abs=1e-9)
    assert scores.final_regret_growth([np.full(800, 10.0)], optimum=10.0) is None  # at W*: no fit
    assert scores.final_regret_growth([[1.0]], optimum=10.0) is None  # one episode: one length


def test_the_leaderboard_reports_the_exponent_with_its_interval():
    rows = [harness.run(spec(seed=s, steps=2 * 4 * 5 * 16)) for s in (0, 1)]
    table = harness.leaderboard(rows)
    assert "final-regret exponent [95% CI]" in table and "regret slope" not in table
    line = harness.summary_rows(rows)[0]
    # every commuter drives: a constant regret per episode, exponent 0
    assert line["final_regret_exponent"] == pytest.approx(0.0, abs=1e-9)
    assert "0.00 [0.00, 0.00]" in table


# -- packaging ----------------------------------------------------------------------------


def test_the_package_installs_pa_envs_only():
    """pyproject's package list has pa_envs and its subpackages (the code pa-envs runs
    included), and no top-level 'baselines' (OpenAI Baselines' import name)."""
    import tomllib
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(where=str(ROOT), include=config["include"], exclude=config.get("exclude", ()))
    assert "pa_envs.experiments" in packages and "pa_envs.experiments.harness" in packages
    assert not [name for name in packages if name.split(".")[0] != "pa_envs"], packages


def test_the_cli_runs_the_installed_modules():
    from pa_envs import cli

    for command, (module, _) in cli.SCRIPTS.items():
        assert module.startswith("pa_envs.experiments."), command
        __import__(module)


@pytest.fixture
def other_process():
    """A live process of this host that is not this one (``sleep 30``), ended after the test."""
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def _plant_claim(results: Path, key: str, **claim) -> None:
    with store.claims_path(results).open("a") as f:
        f.write(json.dumps({"claimed": key, "host": store.HOST, **claim}) + "\n")


def test_a_claim_whose_pid_was_reused_is_taken_over(tmp_path, other_process):
    """A live process, not this one, with another start time: the claimant died and its pid
    was reused by that process."""
    results, key = tmp_path / "runs.jsonl", spec(seed=0).key
    now = store.start_time(other_process)
    if now is None:
        pytest.skip("no process start times on this system")
    _plant_claim(results, key, pid=other_process, started=now - 1)
    holder = store.read(results).claims[key]
    assert not holder.mine and not holder.alive
    taken, _ = store.Store(results).claim([key])
    assert taken == key and store.read(results).claims[key].mine


def test_a_claim_of_a_live_process_with_its_start_time_is_not_taken(tmp_path, other_process):
    results, key = tmp_path / "runs.jsonl", spec(seed=0).key
    now = store.start_time(other_process)
    if now is None:
        pytest.skip("no process start times on this system")
    _plant_claim(results, key, pid=other_process, started=now)
    holder = store.read(results).claims[key]
    assert not holder.mine and holder.alive
    taken, _ = store.Store(results).claim([key])
    assert taken is None and store.read(results).claims[key] == holder


def test_a_release_drops_only_its_claimants_claim(tmp_path, other_process):
    results, key = tmp_path / "runs.jsonl", spec(seed=0).key
    started = store.start_time(other_process)
    _plant_claim(results, key, pid=other_process, started=started)
    store.Store(results).release(key)  # this process never held it
    with store.claims_path(results).open("a") as f:
        f.write(json.dumps({"released": key, "pid": other_process, "host": "another-host"}) + "\n")
        if started is not None:  # the pid, reused: another start time
            f.write(
                json.dumps(
                    {"released": key, "pid": other_process, "host": store.HOST, "started": started + 1}
                )
            )
            f.write("\n")
    assert store.read(results).claims[key].pid == other_process
    with store.claims_path(results).open("a") as f:  # the claimant's own release, as the docs say
        f.write(json.dumps({"released": key, "pid": other_process, "host": store.HOST}) + "\n")
    assert key not in store.read(results).claims


def test_a_sweep_waiting_for_another_hosts_claim_says_so_again_and_again(tmp_path, capsys, monkeypatch):
    import threading

    results, key = tmp_path / "runs.jsonl", spec(seed=0).key
    _plant_claim(results, key, pid=4242, host="elsewhere")
    monkeypatch.setattr(harness.runner, "WAIT_NOTICE_INTERVAL", 0.2)

    def clear() -> None:  # what a user does for a harness known to be gone
        time.sleep(1.0)
        with store.Store(results).locked(), store.claims_path(results).open("a") as f:
            f.write(json.dumps({"released": key, "pid": 4242, "host": "elsewhere"}) + "\n")

    clearing = threading.Thread(target=clear)
    clearing.start()
    rows = harness.sweep([spec(seed=0)], results, progress=False, poll=0.05)
    clearing.join()
    notices = [line for line in capsys.readouterr().err.splitlines() if line.startswith("waiting for")]
    assert len(notices) >= 3 and all("(4242@elsewhere)" in line for line in notices), notices
    assert rows[0]["key"] == key


# -- the workers' watchdog ------------------------------------------------------------------


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver")
def test_a_sweep_with_forkserver_workers_completes(tmp_path, monkeypatch):
    """A forkserver worker's parent is the fork server, not the harness (Python 3.14's default)."""
    monkeypatch.setattr(harness.runner, "_START_METHOD", "forkserver")
    results = tmp_path / "runs.jsonl"
    rows = harness.sweep([spec(seed=0), spec(seed=1)], results, jobs=2, progress=False)
    assert [row["spec"]["seed"] for row in rows] == [0, 1]
    assert len(store.read_results(results)) == 2


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_the_watchdog_ends_a_worker_whose_harness_ended():
    """The watchdog thread alone: the 'harness' is not the child's parent, so no kernel signal."""
    harness_stand_in = subprocess.Popen(["sleep", "30"])
    code = (
        "import sys, time\n"
        "from pa_envs.experiments.harness import runner\n"
        "runner.WATCH_INTERVAL = 0.05\n"
        f"runner.die_with_parent({harness_stand_in.pid})\n"
        "print('watching', flush=True)\n"
        "time.sleep(30)\n"
        "sys.exit(0)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None and worker.stdout.readline() == "watching\n"
        time.sleep(0.3)
        assert worker.poll() is None, "the worker ended while its harness ran"
        harness_stand_in.kill()
        harness_stand_in.wait()
        assert worker.wait(timeout=5) == 1  # the watchdog's os._exit(1), not a signal
    finally:
        for process in (worker, harness_stand_in):
            if process.poll() is None:
                process.kill()
                process.wait()
        if worker.stdout is not None:
            worker.stdout.close()


class FailsSoon(harness.AgentAlgorithm):
    """Fails after 0.5 s: long enough for another worker's run to have started."""

    def train(self, venv, steps, seed):
        time.sleep(0.5)
        raise RuntimeError("the learner fell over")


def test_a_failed_run_stops_the_running_ones_before_releasing_them(tmp_path):
    results = tmp_path / "runs.jsonl"
    slow = spec(seed=0, agents="tests.test_harness_reliability:Slow", steps=600 * 2 * 4)  # 60 s
    failing = spec(seed=1, agents="tests.test_harness_reliability:FailsSoon")
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="fell over"):
        harness.sweep([slow, failing], results, jobs=2, progress=False)
    assert time.monotonic() - start < 30, "the sweep waited for the slow run to end"
    assert store.read(results).claims == {} and store.read_results(results) == []
    if Path("/proc").is_dir():  # a forked worker has this process's command line (a fork server not)
        own = Path("/proc/self/cmdline").read_bytes()
        workers = [pid for pid in _children(os.getpid()) if Path(f"/proc/{pid}/cmdline").read_bytes() == own]
        assert not [pid for pid in workers if store.pid_alive(pid)], "a worker lives on"
