"""The main job, for now: a pollution_v0 rollout under laissez-faire and under a flat tax.

Firms are myopic best responders: each period they play the period's
equilibrium, each firm choosing the production level that maximizes its
private utility plus transfer this period (read from the env's exact model,
:func:`pa_envs.analysis.best_responses`). That is what self-interested firms
that ignore the future do. The regulator
posts either no transfer (laissez-faire) or a flat tax on the top level.

Run ``python -m baselines.demo --help`` for options.
"""

from __future__ import annotations

import argparse

import numpy as np

from pa_envs import PRINCIPAL, TabularModel, analysis, pollution_v0


def rollout(env, model: TabularModel, contract: np.ndarray, seed: int) -> tuple[list[dict], dict]:
    """Play one episode with a fixed contract; return per-period rows and totals."""
    flat = env.flat_contract(contract)
    env.reset(seed=seed, options={"contract": contract})
    joint = np.zeros(env.game.n_agents, dtype=np.int64)
    rows, totals = [], {"social_welfare": 0.0, "transfers": 0.0, "externality": 0.0}
    while env.agents:
        state = int(model.state_index(env.game_state()))
        joint = analysis.best_responses(model, state, contract, start=joint)
        actions = {PRINCIPAL: flat, **{f"agent_{i}": int(a) for i, a in enumerate(joint)}}
        _, rewards, _, _, infos = env.step(actions)
        info = infos[PRINCIPAL]
        rows.append({"period": info["period"], "stock": info["stock"], "welfare": info["social_welfare"]})
        totals["social_welfare"] += info["social_welfare"]
        totals["transfers"] += info["total_transfers"]
        totals["externality"] += info["externality"]
        assert np.isclose(sum(rewards.values()), info["social_welfare"])  # transfers cancel
    totals["last_actions"] = [env.game.action_names[a] for a in joint]
    return rows, totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-agents", type=int, default=3)
    parser.add_argument("--max-cycles", type=int, default=60)
    parser.add_argument("--tax", type=float, default=2.0, help="flat tax on the top production level")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    env = pollution_v0.parallel_env(n_agents=args.n_agents, max_cycles=args.max_cycles)
    model = env.tabular_model()
    shape = (env.game.n_agents, env.game.n_signals)
    taxed = np.zeros(shape)
    taxed[:, -1] = -args.tax
    runs = {"laissez-faire": np.zeros(shape), f"flat tax {args.tax:g} on high": taxed}
    results = {name: rollout(env, model, contract, args.seed) for name, contract in runs.items()}

    names = list(results)
    print(f"pollution_v0, N={args.n_agents}, seed {args.seed}: stock and social welfare per period")
    print(f"{'period':>6} | " + " | ".join(f"{name:^24}" for name in names))
    print(f"{'':>6} | " + " | ".join(f"{'stock':>8} {'welfare':>15}" for _ in names))
    for t in range(args.max_cycles):
        cells = [f"{results[n][0][t]['stock']:>8} {results[n][0][t]['welfare']:>15.3f}" for n in names]
        print(f"{t + 1:>6} | " + " | ".join(cells))
    print("\nepisode totals")
    for name in names:
        totals = results[name][1]
        print(
            f"  {name:<24} social welfare {totals['social_welfare']:9.2f}   "
            f"transfers paid {totals['transfers']:8.2f}   externality {totals['externality']:8.2f}   "
            f"firms end at {', '.join(totals['last_actions'])}"
        )
    gain = results[names[1]][1]["social_welfare"] - results[names[0]][1]["social_welfare"]
    print(f"\nthe flat tax changes episode welfare by {gain:+.2f}")


if __name__ == "__main__":
    main()
