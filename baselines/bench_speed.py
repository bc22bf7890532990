"""Step-rate benchmark: every registered env's parallel form against PettingZoo's rps_v2.

Actions are drawn in advance (sampling is not what is measured); every copy
runs whole episodes with resets included. Prints a table; the figures in
``docs/benchmarks.md`` come from this script.

Run ``python -m baselines.bench_speed --help`` for options.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from pa_envs import ENVS


def steps_per_second(env, steps: int, seed: int = 0) -> float:
    """Parallel-API steps per second over ``steps`` steps, resets included."""
    env.reset(seed=seed)
    for p in env.possible_agents:
        env.action_space(p).seed(seed)
    plan = [{p: env.action_space(p).sample() for p in env.possible_agents} for _ in range(min(steps, 4096))]
    start = time.perf_counter()
    for t in range(steps):
        if not env.agents:
            env.reset()
        env.step(plan[t % len(plan)])
    return steps / (time.perf_counter() - start)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50_000, help="steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many measurements")
    parser.add_argument("--n-agents", type=int, default=3)
    args = parser.parse_args(argv)

    from pettingzoo.classic import rps_v2

    print(
        f"machine: {_cpu_name()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    rows = []
    reference = max(steps_per_second(rps_v2.parallel_env(), args.steps) for _ in range(args.repeats))
    rows.append(("pettingzoo rps_v2 (reference)", 2, reference))
    for name, module in sorted(ENVS.items()):
        best = max(
            steps_per_second(module.parallel_env(n_agents=args.n_agents), args.steps)
            for _ in range(args.repeats)
        )
        rows.append((f"{name} parallel_env(n_agents={args.n_agents})", args.n_agents + 1, best))
    print(f"{'env':<44} {'players':>7} {'steps/s':>10} {'vs rps_v2':>9}")
    for label, players, rate in rows:
        print(f"{label:<44} {players:>7} {rate:>10,.0f} {rate / reference:>8.2f}x")


if __name__ == "__main__":
    main()
