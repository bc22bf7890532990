"""``python -m baselines.harness`` / ``pa-envs harness``: the harness's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pa_envs import ENVS, presets
from pa_envs.experiments.common import (
    add_env_size_options,
    add_int_option,
    add_json_option,
    message,
    script_parser,
)
from pa_envs.experiments.harness.grid import fit_budgets, grid
from pa_envs.experiments.harness.report import leaderboard, write_reports
from pa_envs.experiments.harness.runner import sweep
from pa_envs.experiments.harness.spec import BUNDLED_PRINCIPALS, SB3_ALGORITHMS, TABULAR, GridError

# -- command line ----------------------------------------------------------------------------


DESCRIPTION = (
    "Benchmark other people's algorithms: a grid of envs x principals x agent learners x seeds, "
    "scored against every env's exact references."
)
"""What ``--help`` says first (the first line of :mod:`pa_envs.experiments.harness`)."""


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _seeds(text: str) -> list[int]:
    """Comma-separated non-negative ints (an argparse ``type``)."""
    try:
        seeds = [int(x) for x in _names(text)]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints >= 0 such as 0,1,2, got {text!r}")
    return seeds


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``python -m baselines.harness`` (``pa-envs harness``)."""
    parser = parser or script_parser("baselines.harness", DESCRIPTION)
    parser.add_argument(
        "--envs",
        type=_names,
        default=["pollution_v0"],
        metavar="ENVS",
        help=f"comma-separated, of {', '.join(sorted(ENVS))} or a preset of "
        f"{', '.join(sorted(presets.PRESETS))}",
    )
    parser.add_argument(
        "--principals",
        type=_names,
        default=["no_transfers", "pigouvian"],
        metavar="NAMES",
        help=f"comma-separated: mechanisms ({', '.join(BUNDLED_PRINCIPALS)}), module:Class (a "
        "Mechanism subclass), or learn:PPO, learn:A2C, learn:module:Class (a learning principal)",
    )
    parser.add_argument(
        "--agents",
        type=_names,
        default=["PPO"],
        metavar="NAMES",
        help=f"comma-separated agent learners: {', '.join((*SB3_ALGORITHMS, *TABULAR))} or module:Class",
    )
    parser.add_argument(
        "--seeds", type=_seeds, default=[0, 1, 2], metavar="SEEDS", help="comma-separated seeds, one run each"
    )
    add_int_option(
        parser,
        "--steps",
        "budget per run: agent-steps (periods x agents x copies) for agent learners, principal "
        "steps (periods x copies) for learn: principals; SB3 runs whole rollouts (an overrun is said "
        "before the sweep)",
        default=20_000,
    )
    parser.add_argument(
        "--fit-budget",
        action="store_true",
        help="shrink PPO's and A2C's n_steps so that whole rollouts meet --steps (within 1%%)",
    )
    add_int_option(parser, "--copies", "copies of the env stepped together", default=4, metavar="N")
    add_env_size_options(
        parser,
        """the env's parameters, e.g. ``'{"decay": 0.1}'``; they override a preset's and, for """
        """learn: principals, PRINCIPAL_DEFAULTS (``'{"normalize_actions": false}'``)""",
    )
    add_json_option(
        parser,
        "--principal-kwargs",
        """the mechanism's keyword arguments, e.g. ``'{"amount": 1.5}'`` for flat_tax""",
    )
    add_json_option(
        parser,
        "--agent-kwargs",
        """the learner's keyword arguments (a learn: principal's too), e.g. ``'{"n_steps": 64}'``""",
    )
    add_int_option(parser, "--jobs", "runs at a time, in parallel processes", default=1, metavar="N")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results/harness"),
        metavar="DIR",
        help="results (runs.jsonl: a sweep resumes from it), leaderboard and plots",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="SB3 learners' CSV and TensorBoard logs, a new folder per SB3 run: "
        "DIR/<env>_<principal>_<agents>_seed<seed>_<k> (tabular learners log nothing; default: no logs)",
    )
    parser.add_argument(
        "--no-batch",
        action="store_true",
        help="run every run alone; by default the runs of a grid cell with tabular agents "
        "(q_learning, hedge, contract_q_learning) under bundled principals, differing in principal "
        "and seed only, are played as one batch, each with the result it has alone",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar (stderr)")
    return parser


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_from_args(args, parser)


def run_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    try:
        specs = grid(
            args.envs,
            args.principals,
            args.agents,
            args.seeds,
            steps=args.steps,
            copies=args.copies,
            n_agents=args.n_agents,
            env_kwargs=args.env_kwargs,
            principal_kwargs=args.principal_kwargs,
            agent_kwargs=args.agent_kwargs,
        )
    except GridError as error:
        parser.error(f"--{error.option.replace('_', '-')}: {error.run}: {error.problem}")
    except (KeyError, ValueError, TypeError) as error:
        parser.error(message(error))
    if args.fit_budget:
        specs, changes = fit_budgets(specs)
        for change in changes:
            print(change, file=sys.stderr)
    rows = sweep(
        specs,
        args.out / "runs.jsonl",
        jobs=args.jobs,
        progress=not args.no_progress,
        log_dir=args.log_dir,
        batch=not args.no_batch,
    )
    paths = write_reports(rows, args.out)
    print(leaderboard(rows))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return rows
