"""Print the exact references of every registered env (or one): W*, W_LF, the price
of anarchy, the best flat incentive's share of the gap and the Pigouvian cost.

All numbers are exact expectations over one episode (``max_cycles`` periods,
undiscounted) from the env's tabular model; nothing is simulated.

Run ``python -m baselines.references --help`` for options.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pa_envs import ENVS, Game, analysis, get_env_module


def best_flat_incentive(
    model: analysis.TabularModel, game: Game, agent_discount: float, points: int = 101
) -> tuple[int, float, analysis.PolicyValue]:
    """The best single flat transfer (a tax or a subsidy, within ``max_transfer``) on any
    one signal: ``(signal, amount, equilibrium outcome)``."""
    bound = float(game.params.max_transfer)
    best = None
    for signal in range(game.n_signals):
        amount, outcome = analysis.best_flat_transfer(
            model, signal, amounts=np.linspace(-bound, bound, points), agent_discount=agent_discount
        )
        if best is None or outcome.social_welfare > best[2].social_welfare + 1e-9:
            best = (signal, amount, outcome)
    assert best is not None
    return best


def reference_row(env_name: str, n_agents: int, agent_discount: float) -> dict[str, object]:
    """The exact references of one env configuration, as printable values."""
    env = get_env_module(env_name).parallel_env(n_agents=n_agents)
    model = env.game.exact_model()
    start = time.perf_counter()
    refs = analysis.exact_references(model, agent_discount=agent_discount, epsilon=1e-3)
    signal, amount, flat = best_flat_incentive(model, env.game, agent_discount)
    seconds = time.perf_counter() - start
    gap = refs.welfare_gap
    poa = refs.price_of_anarchy
    return {
        "env": env_name,
        "N": n_agents,
        "agents look ahead": agent_discount,
        "W*": f"{refs.optimum.social_welfare:.2f}",
        "W_LF": f"{refs.laissez_faire.social_welfare:.2f}",
        "PoA": f"{poa:.3f}" if poa is not None else "n/a",
        "gap": f"{gap:.2f}",
        "best flat incentive": f"{amount:+.2f} on {env.game.signal_names[signal]}",
        "its welfare": f"{flat.social_welfare:.2f}",
        "its share of gap": f"{(flat.social_welfare - refs.laissez_faire.social_welfare) / gap:.3f}"
        if gap > 0
        else "n/a",
        "Pigouvian transfers paid": f"{refs.pigouvian_outcome.transfers:.2f}",
        "pairs": model.n_pairs,
        "seconds": f"{seconds:.2f}",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", help="env name (repeatable; default: all)")
    parser.add_argument("--n-agents", type=int, default=3)
    parser.add_argument(
        "--agent-discount",
        type=float,
        action="append",
        help="agents' discount for the equilibria (repeatable; default: 0 and 0.99)",
    )
    args = parser.parse_args(argv)
    rows = [
        reference_row(name, args.n_agents, discount)
        for name in (args.env or sorted(ENVS))
        for discount in (args.agent_discount or [0.0, 0.99])
    ]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
