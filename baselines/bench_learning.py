"""Time the learning loop and the exact layer, optionally side by side with another source tree.

Sections:

- ``loop``: the main job's learning loop at B = 20 copies, N = 3: four principals
  (laissez-faire, a flat incentive, the Pigouvian oracle, the two-phase mechanism) x 5
  seeds, Q-learning agents, a complete run of ``--episodes`` episodes (the two-phase
  mechanism's schedule set to it, so it prices, explores, plans and steers).
  Milliseconds per period (wall time over periods; one period is a period of all 20
  copies) and in brackets the part of it spent planning (the two-phase mechanism's
  per-copy plans). With this tree (and any tree that has
  :func:`pa_envs.learning_loop.play`) the 20 copies are one
  :class:`~pa_envs.mechanisms.Stacked` batch; a tree from before it (e.g. ``ce0139a``,
  the main of the day issue 15 was filed) runs its ``baselines.experiment.run`` once per
  principal at B = 5, as its main job did. Only the ``floor`` agents (Q-learning with an
  exponential schedule and a 1% floor: that tree's learners) exist in both. That tree's
  two-phase mechanism is an earlier algorithm (probe, plan, steer): it plans less (not at
  all in runs of a few dozen episodes: its planning column then reads 0), so the ratio
  compares the main job's loop as it was with the loop as it is, not equal work.
- ``exact``: pollution_v0 models: 10^6 joint pairs (N = 7, cap 457: env, model, social
  optimum), 10^5 long-stock pairs (N = 3, cap 3700: the same), and ``social_optimum``
  at N = 5, cap 410 with BLAS on one thread and on its default threads.

Each figure is the median of ``--repeats`` runs with its range. With ``--against PATH``
every run is made twice, once with this tree's ``pa_envs`` and once with the one under
``PATH`` (e.g. a worktree of main), alternating which goes first, each in a fresh
process: contenders interleaved under the same load, and their ratio.

Examples::

    python -m baselines.bench_learning --against /work/main
    python -m baselines.bench_learning --sections loop --episodes 40 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parents[1]
LOOP_CASES = (("pollution_v0", "floor"), ("pollution_v0", "situations"), ("pollution_v0:hard", "theory"))
# The settings of the "floor" agents, as the main job of a tree without pa_envs.learning_loop gave them.
LEGACY_AGENTS = {"alpha": 0.3, "decay": 0.95, "min_epsilon": 0.01, "initial_q": 15.0}
EXACT_CASES = ("joint 1e6 pairs", "long stock 1e5 pairs", "optimum N=5 one thread", "optimum N=5 default")


def time_loop(env_name: str, agents: str, episodes: int) -> tuple[float, float]:
    """Milliseconds per period of one complete play() run at B = 20, N = 3, and the part of
    it the two-phase mechanism spent planning (per copy, at episode ends); NaN where the
    tree lacks the env or the agents."""
    import pa_envs

    # Asked of the tree's files, not of the import system: an editable install of another
    # tree would otherwise supply the module that this tree lacks.
    if not (Path(pa_envs.__file__).parent / "learning_loop.py").exists():
        return time_legacy_loop(env_name, agents, episodes)  # before the batched loop: its own
    from pa_envs import presets
    from pa_envs.learning_loop import play
    from pa_envs.mechanisms import FlatSchedule, NoTransfers, Pigouvian, Stacked
    from pa_envs.two_phase import TwoPhaseMechanism

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short run's schedule warns that phase 1 is long
        game = presets.parallel_env(env_name).game
        model = game.exact_model()
        length = game.params.max_cycles
        row = np.zeros(game.n_signals)
        row[-1] = 0.5
        members = [(NoTransfers(), 5), (FlatSchedule(row), 5), (Pigouvian(), 5)]
        two_phase = TwoPhaseMechanism([episodes * length] * 5)
        mechanism = Stacked([*members, (two_phase, 5)])
        planning = time_plans(two_phase)
        start = time.perf_counter()
        play(game, model, mechanism, [0, 1, 2, 3, 4] * 4, episodes, agents)
    periods = episodes * length
    return (time.perf_counter() - start) / periods * 1e3, planning[0] / periods * 1e3


def time_plans(two_phase: Any) -> list[float]:
    """Time the mechanism's per-copy plans (the benchmark reaches into its ``_plan``, which
    every tree has): the returned one-item list holds their seconds so far."""
    planning = [0.0]
    plan = two_phase._plan

    def timed_plan(copy: int) -> None:
        began = time.perf_counter()
        plan(copy)
        planning[0] += time.perf_counter() - began

    two_phase._plan = timed_plan
    return planning


def time_legacy_loop(env_name: str, agents: str, episodes: int) -> tuple[float, float]:
    """:func:`time_loop` on a tree whose main job ran each principal alone at B = 5
    (``baselines.experiment.run``): the four runs' time over the periods."""
    if env_name != "pollution_v0" or agents != "floor":
        return float("nan"), float("nan")  # that tree has no presets and only these learners
    from baselines import experiment  # the tree's own (its PYTHONPATH comes first)
    from pa_envs import pollution_v0
    from pa_envs.mechanisms import FlatSchedule, NoTransfers, Pigouvian
    from pa_envs.two_phase import TwoPhaseMechanism

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = pollution_v0.parallel_env(n_agents=3)
        game, model = env.game, env.tabular_model()
        length = game.params.max_cycles
        row = np.zeros(game.n_signals)
        row[-1] = 0.5
        two_phase = TwoPhaseMechanism(episodes * length)
        planning = time_plans(two_phase)
        start = time.perf_counter()
        for mechanism in (NoTransfers(), FlatSchedule(row), Pigouvian(), two_phase):
            experiment.run(mechanism, game, model, episodes, [0, 1, 2, 3, 4], dict(LEGACY_AGENTS))
    periods = episodes * length
    return (time.perf_counter() - start) / periods * 1e3, planning[0] / periods * 1e3


def time_exact(case: str) -> float:
    """Seconds of one exact-layer case."""
    from threadpoolctl import threadpool_limits

    from pa_envs import analysis, pollution_v0

    start = time.perf_counter()
    if case.startswith("optimum"):
        model = pollution_v0.parallel_env(n_agents=5, max_stock=410).game.tabular_model()
        solve = getattr(analysis.social_optimum, "__wrapped__", analysis.social_optimum)
        start = time.perf_counter()
        if case.endswith("one thread"):
            with threadpool_limits(limits=1, user_api="blas"):
                solve(model)
        else:
            solve(model)  # the undecorated function: BLAS on whatever threads it has
    else:
        n, cap = (7, 457) if case.startswith("joint") else (3, 3700)
        model = pollution_v0.parallel_env(n_agents=n, max_stock=cap).game.tabular_model()
        analysis.social_optimum(model)
    return time.perf_counter() - start


def child(kind: str, case: str, episodes: int) -> tuple[float, float]:
    """One timing and its planning part (run in a fresh process whose ``pa_envs`` is the
    tree's under test)."""
    if kind == "loop":
        env_name, agents = case.split("/")
        return time_loop(env_name, agents, episodes)
    return time_exact(case), 0.0


def measure(tree: Path, kind: str, case: str, episodes: int) -> tuple[float, float]:
    """:func:`child` in a fresh process with ``pa_envs`` imported from ``tree``."""
    code = (
        "import importlib.util, json, sys;"
        "spec = importlib.util.spec_from_file_location('bench_learning', sys.argv[1]);"
        "bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench);"
        "print(json.dumps(bench.child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))"
    )
    # pa_envs from ``tree`` (first on the path), this script's code from this file.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", code, __file__, kind, case, str(episodes)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"{kind} {case} with {tree} failed:\n{out.stderr[-2000:]}")
    total, planning = json.loads(out.stdout.strip().splitlines()[-1])
    return float(total), float(planning)


def summary(values: list[float]) -> str:
    if np.isnan(values).any():
        return "     n/a (not in that tree)"
    return f"{np.median(values):8.3f} ({min(values):.3f}-{max(values):.3f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="loop,exact", help="comma-separated: loop, exact")
    parser.add_argument("--episodes", type=int, default=30, help="episodes of each play() run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cases",
        default=None,
        help="comma-separated loop cases (default: all): " + ", ".join(f"{e}/{a}" for e, a in LOOP_CASES),
    )
    parser.add_argument("--against", type=Path, default=None, help="another source tree to time alongside")
    args = parser.parse_args(argv)
    for name in ("episodes", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - {"loop", "exact"}
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: loop, exact")
    trees = [("this", HERE)] + ([("against", args.against.resolve())] if args.against else [])
    known = [f"{e}/{a}" for e, a in LOOP_CASES]
    cases = known if args.cases is None else [c.strip() for c in args.cases.split(",") if c.strip()]
    if set(cases) - set(known):
        parser.error(f"unknown cases {sorted(set(cases) - set(known))}; known: {', '.join(known)}")
    jobs = [("loop", case) for case in cases if "loop" in sections]
    jobs += [("exact", case) for case in EXACT_CASES if "exact" in sections]
    n_runs = len(jobs) * args.repeats * len(trees)
    done, began = 0, time.perf_counter()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; medians (range) of {args.repeats} runs")
    for kind, case in jobs:
        times: dict[str, list[float]] = {name: [] for name, _ in trees}
        planning: dict[str, list[float]] = {name: [] for name, _ in trees}
        for repeat in range(args.repeats):
            order = trees if repeat % 2 == 0 else trees[::-1]  # who goes first alternates
            for name, tree in order:
                print(f"  [{done + 1}/{n_runs}] {kind} {case} with {tree}", file=sys.stderr, flush=True)
                seconds, planned = measure(tree, kind, case, args.episodes)
                times[name].append(seconds)
                planning[name].append(planned)
                done += 1
            print(f"  ({time.perf_counter() - began:.0f} s so far)", file=sys.stderr, flush=True)
        unit = "ms/period" if kind == "loop" else "s"
        line = f"{kind:<5} {case:<30} this {summary(times['this'])} {unit}"
        if kind == "loop":
            line += f" (planning {np.median(planning['this']):.3f})"
        if args.against and not np.isnan(times["against"]).any():
            ratio = np.median(times["against"]) / np.median(times["this"])
            line += f" | against {summary(times['against'])} {unit}"
            if kind == "loop":
                line += f" (planning {np.median(planning['against']):.3f})"
            line += f" | {ratio:5.2f}x faster"
        elif args.against:
            line += " | against n/a (not in that tree)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
