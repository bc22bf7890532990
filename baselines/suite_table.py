"""The suite's one table: per env, the exact references and short SB3 PPO runs.

For each env at its defaults (``n_agents=3``): ``W*``, ``W_LF`` (myopic
agents), the price of anarchy (or, for welfare of mixed sign, only the gap),
the best flat incentive (one transfer on one signal, any sign, within
``max_transfer``) and its share of the gap, then the mean evaluation welfare of
PPO agents (one shared policy, on the vector form :class:`pa_envs.sb3.MechanismVecEnv`)
trained for ``--timesteps`` under ``no_transfers`` and under ``pigouvian``.

Examples::

    python -m baselines.suite_table                    # every env, 100k PPO steps per run
    python -m baselines.suite_table --timesteps 0      # the exact columns only
    python -m baselines.suite_table --env grid_v0 --jobs 2
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import sys
import time

from pa_envs import ENVS, get_env_module, presets
from pa_envs.experiments import references, train_sb3

MECHANISMS = ("no_transfers", "pigouvian")


def exact_columns(env_name: str, n_agents: int | None) -> dict[str, str]:
    """The exact part of an env's (or a preset's) row (myopic agents)."""
    found = references.env_references(env_name, n_agents, 0.0)
    for note in found.notes:
        print(f"note: {env_name}: {note}", file=sys.stderr)
    refs, share = found.exact, found.incentive_share_of_gap
    w_star, gap, poa = refs.optimum.social_welfare, refs.welfare_gap, refs.price_of_anarchy
    return {
        "env": env_name,
        "W*": f"{w_star:.2f}",
        "W_LF [range]": "{:.2f} [{:.2f}, {:.2f}]".format(
            refs.laissez_faire.social_welfare, *refs.laissez_faire_range
        ),
        "PoA": f"{poa:.3f}" if poa is not None else "n/a",
        "gap (share of abs W*)": f"{gap:.2f} ({gap / abs(w_star):.1%})",
        "best flat incentive": f"{found.incentive_amount:+.2f} on `{found.incentive_signal}`",
        "its share of gap": f"{share:.3f}" if share is not None else "n/a",
        # The oracle's equilibrium under its transfers, as a share of the gap (1 if it implements W*).
        "oracle's share": (
            f"{(refs.pigouvian_outcome.social_welfare - refs.laissez_faire.social_welfare) / gap:.3f}"
            if gap > 1e-9
            else "n/a"
        ),
    }


def ppo_welfare(env_name: str, mechanism: str, n_agents: int, timesteps: int, seed: int) -> tuple[str, int]:
    """Train PPO agents under ``mechanism``; return ``welfare ± half-width of a 95% t-interval
    (share of the gap closed)`` and the agent-steps PPO ran (whole rollouts: at least ``timesteps``)."""
    import torch

    torch.set_num_threads(1)  # tiny networks: threads only fight over the cores
    with contextlib.redirect_stdout(io.StringIO()):  # keep the table the only output
        evaluation = train_sb3.main(
            [
                *("--env", env_name, "--mechanism", mechanism, "--n-agents", str(n_agents)),
                *("--timesteps", str(timesteps), "--seed", str(seed), "--no-progress"),
            ]
        )
    gap = evaluation.optimum - evaluation.laissez_faire
    closed = f", {evaluation.share_of_gap_closed:+.2f} of gap" if gap > 1e-9 else ""
    return f"{evaluation.welfare:.2f} ± {evaluation.welfare_ci:.2f}{closed}", evaluation.trained_steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", help="env name (repeatable; default: all)")
    parser.add_argument("--n-agents", type=int, default=3)
    parser.add_argument("--timesteps", type=int, default=100_000, help="PPO agent-steps per run (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="PPO runs in parallel processes")
    args = parser.parse_args(argv)
    names = [get_env_module(name).parallel_env_class.game_class.name for name in (args.env or sorted(ENVS))]
    start = time.perf_counter()
    rows = {name: exact_columns(name, args.n_agents) for name in names}
    ran: set[int] = set()
    if args.timesteps > 0:
        with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
            runs = {
                (name, mechanism): pool.submit(
                    ppo_welfare, name, mechanism, args.n_agents, args.timesteps, args.seed
                )
                for name in names
                for mechanism in MECHANISMS
            }
            for (name, mechanism), run in runs.items():
                rows[name][f"PPO under {mechanism}"], steps = run.result()
                ran.add(steps)
    columns = list(next(iter(rows.values())))
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows.values():
        print("| " + " | ".join(row[c] for c in columns) + " |")
    if not args.env:
        # The hard presets: the best flat incentive against the oracle, which implements W*.
        print(
            "\n| preset | W* | W_LF [range] | gap | best flat incentive | its share of gap | oracle's share |"
        )
        print("|---|---|---|---|---|---|---|")
        for name in sorted(presets.PRESETS):
            row = exact_columns(name, None)
            cells = (row["W*"], row["W_LF [range]"], row["gap (share of abs W*)"], row["best flat incentive"])
            oracle = row["oracle's share"]
            shares = f" | {row['its share of gap']} | {oracle} |"
            print(f"| `{name}` | " + " | ".join(cells) + shares, flush=True)
    seconds = time.perf_counter() - start
    steps = ", ".join(f"{n:,}" for n in sorted(ran)) or "0"
    print(
        f"\n({seconds:.0f} s; PPO: {steps} agent-steps per run (--timesteps {args.timesteps:,}, "
        f"rounded up to whole rollouts), seed {args.seed}; ± is the half-width of a 95% Student-t "
        "interval of the mean over the 20 evaluation episodes)"
    )


if __name__ == "__main__":
    main()
