"""Time the exact analysis (social optimum and myopic laissez-faire) on pollution_v0 models.

Joint-action models for N = 3..6 and count models for N = 8..32, default
parameters, the 100-period episode. Best of ``--repeats`` timings.

Run ``python -m baselines.bench_analysis --help`` for options.
"""

from __future__ import annotations

import argparse
import time

from pa_envs import analysis, pollution_v0


def best_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cases = [("joint", n) for n in (3, 4, 5, 6)] + [("count", n) for n in (8, 16, 32)]
    print(
        f"{'model':<6} {'N':>3} {'states':>7} {'profiles':>9} {'pairs':>9} "
        f"{'optimum s':>10} {'laissez-faire s':>16}"
    )
    for kind, n in cases:
        game = pollution_v0.parallel_env(n_agents=n).game
        model = game.tabular_model() if kind == "joint" else game.count_model()
        optimum = best_time(lambda: analysis.social_optimum(model), args.repeats)  # noqa: B023
        equilibrium = best_time(lambda: analysis.laissez_faire(model), args.repeats)  # noqa: B023
        print(
            f"{kind:<6} {n:>3} {model.n_states:>7} {model.n_joint_actions:>9} {model.n_pairs:>9,} "
            f"{optimum:>10.3f} {equilibrium:>16.3f}"
        )


if __name__ == "__main__":
    main()
