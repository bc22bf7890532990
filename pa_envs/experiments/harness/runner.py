"""The harness's runner: train, record and score one run; a sweep runs a grid, resuming from
its results store and sharing it with other harnesses, ``jobs`` runs at a time."""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pa_envs import analysis
from pa_envs.experiments import sb3_tools
from pa_envs.experiments.common import progress_bar
from pa_envs.experiments.harness import store as results_store
from pa_envs.experiments.harness.adapters import (
    SB3Agents,
    make_agents,
    make_principal,
    principal_algorithm,
    recorder,
    sb3_callbacks,
)
from pa_envs.experiments.harness.grid import budget_notices, planned_steps, short_budget_notices
from pa_envs.experiments.harness.spec import RunSpec, base_env, env_parameters, run_name, step_unit
from pa_envs.experiments.scores import share_of_optimum


def run(
    spec: RunSpec,
    *,
    log_dir: str | Path | None = None,
    progress: Callable[[int | str], object] | None = None,
) -> dict[str, Any]:
    """Train, record and score one run; returns a JSON-ready result (with its learning curve).

    ``log_dir``: an SB3 learner logs CSV and TensorBoard into a new folder of it
    (:func:`run_name`). ``progress(agent_steps)`` is told of the steps as they are
    played (a few times a second at most), and ``progress(text)`` of what an SB3
    on-policy learner is doing (collecting, or updating its policy)."""
    start = time.perf_counter()
    base = base_env(spec)
    model = base.game.exact_model()
    references = analysis.exact_references(model)
    optimum = references.optimum.social_welfare
    laissez_faire = references.laissez_faire.social_welfare
    folder = None if log_dir is None else sb3_tools.run_folder(log_dir, run_name(spec))
    tick = Ticker(progress) if progress is not None else None
    if spec.principal.startswith("learn:"):
        curve, steps, agents_regret = _run_principal_learner(spec, folder, tick)
    else:
        curve, steps, agents_regret = _run_agent_learners(spec, base, model, folder, tick)
    if tick is not None:
        tick.flush()
    welfare = np.array([episode[0] for episode in curve])
    tail = welfare[-max(1, len(welfare) // 10) :] if len(welfare) else welfare

    def share(values: np.ndarray) -> float:
        # 1 at W*; for costs (negative welfare) 1 - (W* - W)/|W*| keeps "higher is better".
        return float(share_of_optimum(values.mean(), optimum)) if len(values) else float("nan")

    return {
        "key": spec.key,
        "spec": dataclasses.asdict(spec),
        "optimum": optimum,
        "laissez_faire": laissez_faire,
        "episodes": len(welfare),
        "final_share": share(tail),
        "auc_share": share(welfare),
        "final_welfare": float(tail.mean()) if len(tail) else float("nan"),
        "regret_per_episode": float(optimum - welfare.mean()) if len(welfare) else float("nan"),
        "transfers": float(np.mean([e[1] for e in curve])) if curve else float("nan"),
        "externality": float(np.mean([e[2] for e in curve])) if curve else float("nan"),
        "agents_regret": agents_regret,
        "steps": steps,
        "seconds": time.perf_counter() - start,
        "curve": welfare.tolist(),
        "curve_transfers": [e[1] for e in curve],
    }


class Ticker:
    """Passes agent-steps on to a progress sink at most every 0.2 s (a queue between
    processes, or a bar), and the rest at :meth:`flush`."""

    interval = 0.2  # seconds

    def __init__(self, sink: Callable[[int | str], object]) -> None:
        self.sink, self.pending, self.last = sink, 0, time.monotonic()

    def __call__(self, steps: int) -> None:
        self.pending += steps
        if time.monotonic() - self.last >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.sink(self.pending)
        self.pending, self.last = 0, time.monotonic()

    def say(self, text: str) -> None:
        """Pass on what the learner is doing now (after the steps played so far)."""
        self.flush()
        self.sink(text)


def _run_agent_learners(
    spec: RunSpec, base: Any, model: Any, folder: Path | None, tick: Ticker | None
) -> tuple[list, int, float]:
    from stable_baselines3.common.vec_env import VecMonitor

    from pa_envs.sb3 import MechanismVecEnv

    mechanism = make_principal(spec.principal, base, spec.principal_kwargs)
    venv = MechanismVecEnv(base, mechanism, spec.copies, seed=spec.seed)
    recorded = recorder(venv, model, tick)
    learner = make_agents(spec.agents, spec.agent_kwargs)
    if isinstance(learner, SB3Agents):
        learner.log_folder, learner.status = folder, None if tick is None else tick.say
    learner.train(VecMonitor(recorded), spec.steps, spec.seed)
    steps = recorded.periods * venv.num_envs
    return recorded.episodes, steps, recorded.agents_regret()


def _run_principal_learner(
    spec: RunSpec, folder: Path | None, tick: Ticker | None
) -> tuple[list, int, float]:
    import gymnasium
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    from pa_envs.experiments.train_sb3 import principal_view

    torch.set_num_threads(1)
    algorithm = principal_algorithm(spec)
    episodes: list[tuple[float, ...]] = []
    env_name, env_kwargs = env_parameters(spec)

    class Record(gymnasium.Wrapper):
        def reset(self, **kwargs: Any):
            self.totals = np.zeros(3)
            return self.env.reset(**kwargs)

        def step(self, action):
            observation, reward, terminated, truncated, info = self.env.step(action)
            self.totals += [info[key] for key in sb3_tools.WELFARE_KEYS]
            if terminated or truncated:
                episodes.append(tuple(float(x) for x in self.totals))
            if tick is not None:
                tick(1)
            return observation, reward, terminated, truncated, info

    # Each copy in SB3's Monitor (make_vec_env's), which logs rollout/ep_rew_mean.
    venv = make_vec_env(
        lambda: Record(principal_view(env_name, env_kwargs)), n_envs=spec.copies, seed=spec.seed
    )
    kwargs = {"device": "cpu", "verbose": 0, **spec.agent_kwargs}
    model = algorithm("MlpPolicy", venv, seed=spec.seed, **kwargs)
    callbacks = sb3_callbacks(model, folder, None if tick is None else tick.say, kwargs["verbose"])
    model.learn(total_timesteps=spec.steps, **({"callback": callbacks} if callbacks else {}))
    return episodes, int(model.num_timesteps), float("nan")


# -- sweeps ----------------------------------------------------------------------------------


_PROGRESS_QUEUE: Any = None  # a sweep's worker processes report their agent-steps here
_START_METHOD: str | None = None  # how a sweep starts its workers (None: the platform's default)
WATCH_INTERVAL = 0.5
"""Seconds between a worker's checks that the harness that started it still runs."""
WAIT_NOTICE_INTERVAL = 60.0
"""Seconds between a sweep's notices of the runs it waits for (held by other harnesses)."""


def _worker_start(progress_queue: Any, harness_pid: int) -> None:
    """A worker's initializer: report progress to the harness, and die with it."""
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = progress_queue
    die_with_parent(harness_pid)


def die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` (the harness) ends, a ``kill -9`` included, so
    that no worker goes on running, or sleeping, as an orphan.

    A daemon thread checks every :data:`WATCH_INTERVAL` seconds that ``parent_pid`` is alive
    and exits the process if not. It checks that pid only, not :func:`os.getppid`: under the
    ``forkserver`` and ``spawn`` start methods (``forkserver`` is the default from Python
    3.14) a worker's direct parent is the fork server, not the harness. On Linux the kernel
    also sends SIGKILL when the *direct* parent thread dies (``PR_SET_PDEATHSIG``): at once
    under ``fork``; under ``forkserver`` only when the fork server ends, so the thread is what
    ends a worker there."""
    import ctypes
    import ctypes.util
    import signal
    import threading

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG

    def watch() -> None:
        while results_store.pid_alive(parent_pid):
            time.sleep(WATCH_INTERVAL)
        os._exit(1)  # the harness is gone: nobody will read this run's result

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _run_in_worker(spec: RunSpec, log_dir: str | Path | None) -> dict[str, Any]:
    return run(spec, log_dir=log_dir, progress=_PROGRESS_QUEUE.put)


def sweep(
    specs: Sequence[RunSpec],
    results: str | Path,
    *,
    jobs: int = 1,
    progress: bool = True,
    log_dir: str | Path | None = None,
    poll: float = 1.0,
) -> list[dict[str, Any]]:
    """Run every spec not yet in ``results`` (JSON lines, appended as each run finishes),
    ``jobs`` at a time in separate processes; return every result of the grid.

    Harnesses started on one results file share its runs: each claims a run before starting
    it (:class:`~pa_envs.experiments.harness.store.Store`), so every run is run once, and
    each waits (checking every ``poll`` seconds) for the runs the others hold before it
    returns; a run held by a process that has died is run again. A damaged line of the
    file is skipped and reported (file:line). Worker processes end with the harness. When a
    run fails (or the sweep is interrupted), the runs in progress are stopped, their workers
    ended, and then released, before the error is raised.

    Before the first run it warns (stderr) where a run's agent-steps will differ from its
    budget (:func:`budget_notices`). With ``progress`` a bar counts agent-steps as they are
    played, and a line reports each finished run. ``log_dir``: as :func:`run`."""
    store = results_store.Store(results)
    with store.locked():
        done = dict(store.read().rows)
    by_key = {spec.key: spec for spec in specs}
    todo = [spec for spec in by_key.values() if spec.key not in done]
    for note in [*budget_notices(todo), *short_budget_notices(todo)]:
        print(f"warning: {note}", file=sys.stderr, flush=True)
    total = sum(planned_steps(spec) or spec.steps for spec in todo)
    units = sorted({step_unit(spec) for spec in todo})
    label = units[0] if len(units) == 1 else "steps (agent-steps; learn: principals' steps)"
    bar = progress_bar(total, label, "step", enabled=progress, unit_scale=True)
    finished = len(by_key) - len(todo)
    held: dict[str, results_store.Claim] = {}
    said = -float("inf")  # when the harness last said what it waits for (time.monotonic)

    def report(news: int | str) -> None:
        """Agent-steps played, or what a learner is doing now."""
        if isinstance(news, str):
            bar.set_postfix_str(f"runs {finished}/{len(by_key)} done; {news}", refresh=False)
        else:
            bar.update(news)

    def keep(row: dict[str, Any]) -> None:
        nonlocal finished
        store.finish(row)  # on disk at once: an interrupted sweep keeps every finished run
        done[row["key"]] = row
        finished += 1
        bar.set_postfix_str(f"runs {finished}/{len(by_key)} done", refresh=False)
        if progress:
            bar.write(_finished_line(row, finished, len(by_key)), file=sys.stderr)

    def next_run(busy: Collection[str] = ()) -> RunSpec | None:
        """Claim the next run nobody has (``None``: none left now; ``busy``: runs this harness is
        running); takes in what others finished."""
        nonlocal finished, held
        key, found = store.claim([key for key in by_key if key not in done and key not in busy])
        held = {key: claim for key, claim in found.claims.items() if key in by_key and not claim.mine}
        for other, row in found.rows.items():
            if other in by_key and other not in done:
                done[other] = row
                finished += 1
        return None if key is None else by_key[key]

    def wait_for_others() -> bool:
        """Whether runs of the grid are still held by other live harnesses (after a pause)."""
        nonlocal said
        remaining = [key for key in by_key if key not in done]
        if not remaining:
            return False
        if time.monotonic() - said >= WAIT_NOTICE_INTERVAL:  # again and again: a claim may be stale
            holders = ", ".join(sorted({f"{c.pid}@{c.host}" for c in held.values()}))
            bar.write(
                f"waiting for {len(remaining)} run(s) another harness is running ({holders}); "
                f"to clear a claim of a gone harness on another host: see {results_store.__name__}",
                file=sys.stderr,
            )
            said = time.monotonic()
        time.sleep(poll)
        return True

    bar.set_postfix_str(f"runs {finished}/{len(by_key)} done", refresh=False)
    if jobs <= 1:
        while True:
            spec = next_run()
            if spec is None:
                if wait_for_others():
                    continue
                break
            try:
                row = run(spec, log_dir=log_dir, progress=report)
            except BaseException:
                store.release(spec.key)
                raise
            keep(row)
    else:
        context = multiprocessing.get_context(_START_METHOD)
        reports: Any = context.Queue()
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_worker_start, initargs=(reports, os.getpid())
        ) as pool:
            pending: dict[concurrent.futures.Future, RunSpec] = {}
            try:
                while True:
                    busy = {spec.key for spec in pending.values()}
                    while len(pending) < jobs and (spec := next_run(busy)) is not None:
                        busy.add(spec.key)
                        pending[pool.submit(_run_in_worker, spec, log_dir)] = spec
                    if not pending:
                        if wait_for_others():
                            continue
                        break
                    ended, _ = concurrent.futures.wait(pending, timeout=0.2, return_when="FIRST_COMPLETED")
                    _drain(reports, report)
                    for future in ended:
                        spec = pending.pop(future)
                        try:
                            row = future.result()
                        except BaseException:
                            store.release(spec.key)
                            raise
                        keep(row)
            except BaseException:
                _stop(pool, pending, store)
                raise
        _drain(reports, report)
    bar.close()
    return [done[spec.key] for spec in specs]


def _stop(
    pool: concurrent.futures.ProcessPoolExecutor,
    pending: dict[concurrent.futures.Future, RunSpec],
    store: results_store.Store,
) -> None:
    """Stop a sweep's pool after a failure and give its runs back. A run not started yet is
    cancelled and released at once; a running one keeps its claim until its worker has been
    terminated (``Future.cancel`` cannot stop it), so no other harness runs it meanwhile."""
    running = []
    for future, spec in pending.items():
        if future.cancel():
            store.release(spec.key)
        else:
            running.append(spec)
    if running:
        # No public way before Python 3.14 (terminate_workers); _processes: pid -> Process.
        workers = list((getattr(pool, "_processes", None) or {}).values())
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.terminate()
        for worker in workers:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                worker.join(timeout=10)
                if worker.is_alive():  # SIGTERM ignored
                    worker.kill()
                    worker.join()
    pool.shutdown(wait=True, cancel_futures=True)
    for spec in running:
        store.release(spec.key)


def _drain(reports: Any, report: Callable[[int | str], object]) -> None:
    """Pass on what the workers reported."""
    while True:
        try:
            report(reports.get_nowait())
        except queue.Empty:
            return


def _finished_line(row: dict[str, Any], finished: int, total: int) -> str:
    spec = row["spec"]
    budget = "" if row["steps"] == spec["steps"] else f" (budget {spec['steps']:,})"
    return (
        f"run {finished}/{total} done: {spec['env']} {spec['principal']} / {spec['agents']} "
        f"seed {spec['seed']}: "
        f"{row['steps']:,} {step_unit(spec)}{budget} in {row['seconds']:.0f} s, "
        f"final W/W* {row['final_share']:.3f}"
    )
