"""The harness's runner: train, record and score one run; a sweep runs a grid, resuming from
its results store and sharing it with other harnesses, ``jobs`` runs at a time."""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import dataclasses
import json
import math
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
    TabularAgents,
    make_agents,
    make_principal,
    principal_algorithm,
    recorder,
    sb3_callbacks,
)
from pa_envs.experiments.harness.grid import budget_notices, planned_steps, short_budget_notices
from pa_envs.experiments.harness.spec import (
    BUNDLED_PRINCIPALS,
    TABULAR,
    RunSpec,
    base_env,
    env_parameters,
    run_name,
    step_unit,
)
from pa_envs.experiments.scores import share_of_optimum
from pa_envs.mechanisms import Mechanism


def run(
    spec: RunSpec,
    *,
    log_dir: str | Path | None = None,
    progress: Callable[[int | str], object] | None = None,
) -> dict[str, Any]:
    """Train, record and score one run; returns a JSON-ready result (with its learning curve).

    ``log_dir``: an SB3 learner (the agents' or a ``learn:`` principal's) logs CSV and
    TensorBoard into a new folder of it (:func:`run_name`); other learners log nothing, and
    get no folder. ``progress(agent_steps)`` is told of the steps as they are
    played (a few times a second at most), and ``progress(text)`` of what an SB3
    on-policy learner is doing (collecting, or updating its policy)."""
    start = time.perf_counter()
    base = base_env(spec)
    model = base.game.exact_model()
    references = analysis.exact_references(model)
    tick = Ticker(progress) if progress is not None else None
    if spec.principal.startswith("learn:"):
        curve, steps, agents_regret = _run_principal_learner(spec, _log_folder(log_dir, spec), tick)
    else:
        curve, steps, agents_regret = _run_agent_learners(spec, base, model, log_dir, tick)
    if tick is not None:
        tick.flush()
    return _result(spec, references, curve, steps, agents_regret, time.perf_counter() - start)


def _result(
    spec: RunSpec,
    references: Any,
    curve: list[tuple[float, ...]],
    steps: int,
    agents_regret: float,
    seconds: float,
) -> dict[str, Any]:
    """A run's JSON-ready result from its episodes ``(welfare, transfers, externality)``."""
    optimum = references.optimum.social_welfare
    welfare = np.array([episode[0] for episode in curve])
    tail = welfare[-max(1, len(welfare) // 10) :] if len(welfare) else welfare

    def share(values: np.ndarray) -> float:
        # 1 at W*; for costs (negative welfare) 1 - (W* - W)/|W*| keeps "higher is better".
        return float(share_of_optimum(values.mean(), optimum)) if len(values) else float("nan")

    return {
        "key": spec.key,
        "spec": dataclasses.asdict(spec),
        "optimum": optimum,
        "laissez_faire": references.laissez_faire.social_welfare,
        "episodes": len(welfare),
        "final_share": share(tail),
        "auc_share": share(welfare),
        "final_welfare": float(tail.mean()) if len(tail) else float("nan"),
        "regret_per_episode": float(optimum - welfare.mean()) if len(welfare) else float("nan"),
        "transfers": float(np.mean([e[1] for e in curve])) if curve else float("nan"),
        "externality": float(np.mean([e[2] for e in curve])) if curve else float("nan"),
        "agents_regret": agents_regret,
        "steps": steps,
        "seconds": seconds,
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


def _log_folder(log_dir: str | Path | None, spec: RunSpec) -> Path | None:
    """A new folder of ``log_dir`` for the logs of a run whose learner logs (``None``: no logs)."""
    return None if log_dir is None else sb3_tools.run_folder(log_dir, run_name(spec))


def _run_agent_learners(
    spec: RunSpec, base: Any, model: Any, log_dir: str | Path | None, tick: Ticker | None
) -> tuple[list, int, float]:
    from stable_baselines3.common.vec_env import VecMonitor

    from pa_envs.sb3 import MechanismVecEnv

    mechanism = make_principal(spec.principal, base, spec.principal_kwargs)
    venv = MechanismVecEnv(base, mechanism, spec.copies, seed=spec.seed)
    recorded = recorder(venv, model, tick)
    learner = make_agents(spec.agents, spec.agent_kwargs)
    if isinstance(learner, SB3Agents):
        learner.log_folder, learner.status = _log_folder(log_dir, spec), None if tick is None else tick.say
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


# -- batches ---------------------------------------------------------------------------------


def groupable(spec: RunSpec) -> bool:
    """Whether a run may be played in one batch with the other runs of its grid cell
    (:func:`run_batch`): its agents are tabular learners (``q_learning``, ``hedge``,
    ``contract_q_learning``) and its principal a bundled mechanism.

    Those keep everything per copy (the learners' tables and random streams, the
    mechanism's data and draws), so a run plays bit for bit as alone. Not grouped:

    - SB3 agent learners (and a user's ``module:Class``): one policy over the batch would
      learn from every run's copies, and SB3 rounds a budget to rollouts of the whole VecEnv;
    - ``learn:`` principals: their learner is trained on a view of its own, one per run;
    - a user's ``module:Class`` mechanism: nothing says it keeps its copies apart (a class
      attribute, or numpy's global random state, would be shared by the runs).
    """
    return spec.agents in TABULAR and spec.principal in BUNDLED_PRINCIPALS


def batch_cell(spec: RunSpec) -> str | None:
    """The grid cell of a :func:`groupable` run (``None`` for the others): every field but
    the principal, its keyword arguments and the seed (canonical JSON). Runs of one cell
    may be played as one batch."""
    if not groupable(spec):
        return None
    fields = dataclasses.asdict(spec)
    for name in ("principal", "principal_kwargs", "seed"):
        del fields[name]
    return json.dumps(fields, sort_keys=True)


BATCH_BYTES = 2**30
"""Most bytes of learner tables one batch of a sweep holds (1 GiB): a cell whose runs'
tables hold more is split into batches within it (a run whose own hold more runs alone).
The situation learners' tables grow with their ``rows`` (1,024 contract rows by default):
63 MB a run on pollution_v0 at its defaults (4 copies of 3 agents). It counts the learners'
arrays only, not the mechanisms' or the situation index's: :data:`BATCH_RUNS` bounds those."""

BATCH_RUNS = 32
"""Most runs one batch of a sweep holds, whatever their learner tables weigh. What
:data:`BATCH_BYTES` does not count grows with the runs of a batch, some of it faster than
their number (the situation index, :class:`~pa_envs.learning_loop.Situations`, keeps a
column per contract row any copy of the batch has shown, for every copy: runs x runs), and
``contract_q_learning``'s tables are small (0.32 MB a run on pollution_v0), so the bytes
alone would let thousands of runs share a batch. The tutorial's "Batches" section gives the
peak memory of a batch of 32 runs, with its command."""


def batch_size(spec: RunSpec, jobs: int = 1, runs: int | None = None) -> int:
    """How many runs of ``spec``'s cell a sweep plays in one batch: as many as
    :data:`BATCH_BYTES` holds of their learners' tables, :data:`BATCH_RUNS` at most; given
    the cell's ``runs`` (to do), their share of each of ``jobs`` processes, split into
    batches of even size within that."""
    from pa_envs.sb3 import MechanismVecEnv

    learner = make_agents(spec.agents, spec.agent_kwargs)
    assert isinstance(learner, TabularAgents)  # a groupable run's
    venv = MechanismVecEnv(base_env(spec), "no_transfers", spec.copies, seed=spec.seed)
    fits = max(1, min(BATCH_RUNS, BATCH_BYTES // max(1, learner.table_bytes(venv, spec.seed))))
    if runs is None:
        return fits
    share = math.ceil(runs / max(1, jobs))
    return math.ceil(share / math.ceil(share / fits))


def run_batch(
    specs: Sequence[RunSpec], *, progress: Callable[[int | str], object] | None = None
) -> list[dict[str, Any]]:
    """Train, record and score the runs of one grid cell as one batch; returns what
    :func:`run` returns for each, in order, equal to it in every field but ``seconds``
    (each run's share of the batch's wall time).

    The runs' copies are stepped together: one :class:`~pa_envs.sb3.MechanismVecEnv`
    over all of them (copy ``c`` of run ``s`` seeded ``s.seed + c``, as alone), the
    principals side by side (:class:`~pa_envs.mechanisms.Stacked`: each sees its own
    run's copies only) and one set of learners (:meth:`TabularAgents.train_runs`: copy
    ``c`` of run ``s`` draws from ``s.seed * 1000 + c``). ``progress`` is told of the
    agent-steps of every run.

    Raises
    ------
    ValueError
        If a run is not :func:`groupable` or not of the first run's cell.
    CopiesOutOfStep
        If the runs' episodes ended in different periods (:meth:`TabularAgents.train_runs`):
        run them alone.
    """
    specs = list(specs)
    if not specs:
        raise ValueError("run_batch needs at least one run")
    cell = batch_cell(specs[0])
    for spec in specs:
        if not groupable(spec):
            raise ValueError(
                f"{spec.label} cannot be batched: batches take tabular agents {TABULAR} under a "
                "bundled principal (see groupable)"
            )
        if batch_cell(spec) != cell:
            theirs, mine = json.loads(cell or "{}"), json.loads(batch_cell(spec) or "{}")
            differ = ", ".join(
                f"{name}={mine.get(name)!r} (not {theirs.get(name)!r})"
                for name in sorted(set(mine) | set(theirs))
                if mine.get(name) != theirs.get(name)
            )
            raise ValueError(
                f"{spec.label} is not of the grid cell of {specs[0].label}: {differ}; the runs of a "
                "batch differ in principal, principal_kwargs and seed only"
            )
    from pa_envs.mechanisms import Stacked
    from pa_envs.sb3 import MechanismVecEnv

    start = time.perf_counter()
    first = specs[0]
    base = base_env(first)
    model = base.game.exact_model()
    references = analysis.exact_references(model)
    tick = Ticker(progress) if progress is not None else None
    # A bundled mechanism is built alike from its name and keywords: the runs that share them get
    # copies of one (best_flat_tax solves the env each time it is built), built before any is bound.
    built: dict[str, Mechanism] = {}
    principals = []
    for spec in specs:
        name = json.dumps([spec.principal, spec.principal_kwargs], sort_keys=True)
        if name in built:
            principals.append((copy.deepcopy(built[name]), spec.copies))
        else:
            built[name] = make_principal(spec.principal, base, spec.principal_kwargs)
            principals.append((built[name], spec.copies))
    seeds = [spec.seed + c for spec in specs for c in range(spec.copies)]
    venv = MechanismVecEnv(base, Stacked(principals), len(seeds), seed=seeds)
    recorded = recorder(venv, model, tick)
    learner = make_agents(first.agents, first.agent_kwargs)
    assert isinstance(learner, TabularAgents)  # groupable: a tabular learner
    learner.train_runs(recorded, first.steps, [spec.seed for spec in specs], [_name(spec) for spec in specs])
    if tick is not None:
        tick.flush()
    seconds = (time.perf_counter() - start) / len(specs)
    rows = []
    for k, spec in enumerate(specs):
        copies = slice(k * spec.copies, (k + 1) * spec.copies)
        steps = recorded.periods * spec.copies * spec.n_agents
        curve = recorded.episodes_of(copies)
        rows.append(_result(spec, references, curve, steps, recorded.agents_regret(copies), seconds))
    return rows


def _name(spec: RunSpec) -> str:
    """How errors and warnings name a run of a batch: its label, and its principal's keyword
    arguments if it has any (two runs of a cell may differ in those only)."""
    kwargs = ", ".join(f"{k}={v!r}" for k, v in sorted(spec.principal_kwargs.items()))
    return f"{spec.label} ({kwargs})" if kwargs else spec.label


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


def _run_batch_in_worker(specs: list[RunSpec]) -> list[dict[str, Any]]:
    return _run_batch_counted(specs, _PROGRESS_QUEUE.put)


def _run_batch_counted(specs: list[RunSpec], sink: Callable[[int | str], object]) -> list[dict[str, Any]]:
    """:func:`run_batch`, telling ``sink`` of its steps; if it fails, it takes them back (its
    runs are then run again, one by one)."""
    told = 0

    def counted(news: int | str) -> None:
        nonlocal told
        if not isinstance(news, str):
            told += news
        sink(news)

    try:
        return run_batch(specs, progress=counted)
    except Exception:
        if told:
            sink(-told)
        raise


def sweep(
    specs: Sequence[RunSpec],
    results: str | Path,
    *,
    jobs: int = 1,
    progress: bool = True,
    log_dir: str | Path | None = None,
    poll: float = 1.0,
    batch: bool = True,
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

    With ``batch`` (the default), the runs of one grid cell that are :func:`groupable`
    (tabular agents under bundled principals, differing in principal and seed only) are
    played as one batch (:func:`run_batch`), each with the result it would have alone (all
    but ``seconds``, its share of the batch's time): the sweep claims together what it can
    of the cell (runs neither finished nor held by another live harness), in at most
    ``jobs`` batches so that its processes share the cell, each within :data:`BATCH_BYTES`
    of learner tables and :data:`BATCH_RUNS` runs (:func:`batch_size`; cut after the runs
    others hold are left out), and records each run as the batch ends. If a batch fails,
    its runs are run again one by one, each as alone; so are they if the worker process
    playing it dies (``jobs >= 2``: killed by the OS, out of memory say), in new worker
    processes, with the runs the broken pool took down. A worker that dies while only runs
    alone were in progress stops the sweep
    (:class:`~concurrent.futures.process.BrokenProcessPool`, naming them, every claim given
    back). ``batch=False`` runs every run alone.

    Before the first run it warns (stderr) where a run's agent-steps will differ from its
    budget (:func:`budget_notices`). With ``progress`` a bar counts agent-steps as they are
    played, and a line reports each finished run. ``log_dir``: as :func:`run` (a folder
    for each run whose learner logs; none for the tabular learners, batched or not)."""
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
    # The runs of each cell that may share a batch, and how many at most (a cell's share of jobs).
    cells = {key: batch_cell(spec) if batch else None for key, spec in by_key.items()}
    cell_keys: dict[str, list[str]] = {}
    for key, cell in cells.items():
        if cell is not None:
            cell_keys.setdefault(cell, []).append(key)
    most = {
        cell: batch_size(by_key[keys[0]], jobs, sum(key not in done for key in keys))
        for cell, keys in cell_keys.items()
        if any(key not in done for key in keys)
    }

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

    def next_runs(busy: Collection[str] = ()) -> list[RunSpec]:
        """Claim the next run nobody has, with the runs of its cell this harness can claim
        (``[]``: none left now; ``busy``: runs this harness is running); takes in what others
        finished."""
        nonlocal finished, held

        def companions(key: str) -> list[str]:
            cell = cells[key]
            if cell is None:
                return [key]
            return [key, *(k for k in cell_keys[cell] if k != key and k not in done and k not in busy)]

        def cap(key: str) -> int:
            """The most runs of a batch of ``key``'s cell (cut after the runs others hold are left out)."""
            cell = cells[key]
            return 1 if cell is None else most.get(cell, 1)

        free = [key for key in by_key if key not in done and key not in busy]
        keys, found = store.claim_with(free, companions, cap)
        held = {key: claim for key, claim in found.claims.items() if key in by_key and not claim.mine}
        for other, row in found.rows.items():
            if other in by_key and other not in done:
                done[other] = row
                finished += 1
        return [by_key[key] for key in keys]

    def failed_batch(group: list[RunSpec], error: BaseException) -> None:
        bar.write(
            f"warning: the batch of {len(group)} runs ({group[0].label}, ...) failed "
            f"({type(error).__name__}: {error}); running them one by one",
            file=sys.stderr,
        )

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
            group = next_runs()
            if not group:
                if wait_for_others():
                    continue
                break
            if len(group) > 1:
                try:
                    rows = _run_batch_counted(group, report)
                except Exception as error:  # each run alone: the result, or the error, it has alone
                    failed_batch(group, error)
                except BaseException:
                    store.release_all([spec.key for spec in group])
                    raise
                else:
                    for row in rows:
                        keep(row)
                    continue
            for k, spec in enumerate(group):
                try:
                    row = run(spec, log_dir=log_dir, progress=report)
                except BaseException:
                    store.release_all([spec.key for spec in group[k:]])
                    raise
                keep(row)
    else:
        context = multiprocessing.get_context(_START_METHOD)
        reports: Any = context.Queue()

        def new_pool() -> concurrent.futures.ProcessPoolExecutor:
            return concurrent.futures.ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=context,
                initializer=_worker_start,
                initargs=(reports, os.getpid()),
            )

        pending: dict[concurrent.futures.Future, list[RunSpec]] = {}
        alone: list[RunSpec] = []  # claimed runs to run one by one: a failed batch's, a dead worker's

        def settle(future: concurrent.futures.Future, group: list[RunSpec], died: list) -> None:
            """Keep what an ended future ran; a failed batch's runs go to ``alone``, and so do
            (noted in ``died``) the runs a dead worker's broken pool took down."""
            try:
                result = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                alone.extend(group)  # still claimed: given back with ``alone`` if the sweep stops
                died.append(group)
                return
            except Exception as error:
                if len(group) == 1:
                    store.release(group[0].key)
                    raise
                failed_batch(group, error)
                alone.extend(group)
                return
            except BaseException:
                store.release_all([spec.key for spec in group])
                raise
            for row in result if len(group) > 1 else [result]:
                keep(row)

        pool = new_pool()
        try:
            while True:
                busy = {spec.key for group in pending.values() for spec in group} | {s.key for s in alone}
                while len(pending) < jobs:
                    group = [alone.pop(0)] if alone else next_runs(busy)
                    if not group:
                        break
                    busy.update(spec.key for spec in group)
                    future: concurrent.futures.Future[Any]
                    try:
                        if len(group) > 1:
                            future = pool.submit(_run_batch_in_worker, group)
                        else:
                            future = pool.submit(_run_in_worker, group[0], log_dir)
                    except BaseException:
                        store.release_all([spec.key for spec in group])  # neither pending nor alone now
                        raise
                    pending[future] = group
                if not pending:
                    if wait_for_others():
                        continue
                    break
                ended, _ = concurrent.futures.wait(pending, timeout=0.2, return_when="FIRST_COMPLETED")
                _drain(reports, report)
                died: list[list[RunSpec]] = []
                for future in ended:
                    settle(future, pending.pop(future), died)
                if died:  # a worker died (killed by the OS?): its pool is broken, all its futures end
                    for future in concurrent.futures.wait(list(pending)).done:
                        settle(future, pending.pop(future), died)
                    _drain(reports, report)
                    names = "; ".join(_name(spec) for group in died for spec in group)
                    cause = f"a worker process died (killed by the OS: out of memory?) while running {names}"
                    if all(len(group) == 1 for group in died):  # no batch to blame: stop, as before batches
                        raise concurrent.futures.process.BrokenProcessPool(
                            f"{cause}; the sweep stops and gives their claims back"
                        )
                    bar.write(f"warning: {cause}; running them one by one in new workers", file=sys.stderr)
                    pool.shutdown(wait=True)
                    pool = new_pool()
        except BaseException:
            store.release_all([spec.key for spec in alone])
            _stop(pool, pending, store)
            raise
        pool.shutdown(wait=True)
        _drain(reports, report)
    bar.close()
    return [done[spec.key] for spec in specs]


def _stop(
    pool: concurrent.futures.ProcessPoolExecutor,
    pending: dict[concurrent.futures.Future, list[RunSpec]],
    store: results_store.Store,
) -> None:
    """Stop a sweep's pool after a failure and give its runs back. A run not started yet is
    cancelled and released at once; a running one keeps its claim until its worker has been
    terminated (``Future.cancel`` cannot stop it), so no other harness runs it meanwhile."""
    running = []
    for future, group in pending.items():
        if future.cancel():
            store.release_all([spec.key for spec in group])
        else:
            running.extend(group)
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
    store.release_all([spec.key for spec in running])


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
