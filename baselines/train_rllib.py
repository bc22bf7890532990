"""Train the principal and the agents together with PPO on RLlib (locally or on a Ray cluster).

Two policies learn at once on one env: ``"principal"`` (the flat contract,
a Gaussian policy) and ``"agents"`` (shared by every agent). Each iteration
prints the mean episode return of each policy and the episode social welfare
against the env's exact references ``W*`` (the social optimum) and ``W_LF``
(laissez-faire, no transfers). Needs ``pip install "pa_envs[rllib]"``.

Without ``--address`` (and without ``RAY_ADDRESS`` set) it starts a local Ray
instance of ``--num-cpus`` CPUs; ``--address auto`` joins the cluster this
machine belongs to (``ray start --head`` / ``ray start --address=...``),
``--address ray://<head>:10001`` connects through Ray Client. See docs/tutorials/scale_out_rllib.md.

Examples::

    python -m baselines.train_rllib --iterations 20
    python -m baselines.train_rllib --env grid_v0 --env-config '{"n_agents": 4}' --save results/rllib_grid
    python -m baselines.train_rllib --address auto --num-env-runners 8 --iterations 200
    python -m baselines.train_rllib --restore results/rllib_grid --env grid_v0 --env-config '{"n_agents": 4}'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from pa_envs import ENVS, analysis, get_env_module
from pa_envs.experiments.common import add_json_option
from pa_envs.experiments.scores import share_of_optimum

POLICIES = ("principal", "agents")  # as pa_envs.rllib.POLICIES (that module imports Ray)


@dataclasses.dataclass
class References:
    """The exact welfare references of one env configuration (``None``: not computable)."""

    optimum: float | None
    laissez_faire: float | None
    seconds: float

    def share_of_optimum(self, welfare: float) -> float | None:
        """``W/W*`` as the harness reports it (for costs ``1 - (W* - W)/|W*|``)."""
        return None if self.optimum is None else float(share_of_optimum(welfare, self.optimum))

    def gap_closed(self, welfare: float) -> float | None:
        if self.optimum is None or self.laissez_faire is None:
            return None
        closed = analysis.share_of_gap(welfare, self.optimum, self.laissez_faire)
        return None if math.isnan(closed) else closed


def exact_references(env_name: str, env_config: dict[str, Any]) -> References:
    """``W*`` and ``W_LF`` of ``env_name`` built with ``env_config`` (episode totals, undiscounted)."""
    start = time.perf_counter()
    config = {k: v for k, v in env_config.items() if k not in ("render_mode", "out_of_bound_transfers")}
    env = get_env_module(env_name).parallel_env(**config)
    try:
        refs = analysis.exact_references(env.game.exact_model())
    except (ValueError, MemoryError) as too_big:
        print(f"exact references unavailable for this configuration: {too_big}", file=sys.stderr)
        return References(None, None, time.perf_counter() - start)
    return References(
        refs.optimum.social_welfare, refs.laissez_faire.social_welfare, time.perf_counter() - start
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.train_rllib",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env = parser.add_argument_group("env")
    env.add_argument("--env", default="pollution_v0", help=f"registered env: {', '.join(sorted(ENVS))}")
    add_json_option(
        env,
        "--env-config",
        'keywords of the env\'s parallel_env, e.g. \'{"n_agents": 4, "max_cycles": 50}\'',
    )
    train = parser.add_argument_group("training")
    train.add_argument("--iterations", type=int, default=20, help="training iterations (default 20)")
    train.add_argument("--train-batch-size", type=int, default=4000, help="env steps per iteration")
    train.add_argument("--minibatch-size", type=int, default=256)
    train.add_argument("--num-epochs", type=int, default=10, help="PPO epochs per iteration")
    train.add_argument("--lr", type=float, default=3e-4)
    train.add_argument("--gamma", type=float, default=0.99)
    train.add_argument("--entropy-coeff", type=float, default=0.0)
    train.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="hidden layer sizes")
    train.add_argument(
        "--train",
        nargs="+",
        choices=POLICIES,
        default=list(POLICIES),
        help="policies to update (default both; the others act but stay fixed)",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds envs, networks and sampling (with PYTHONHASHSEED, fixed by the script)",
    )
    ray_group = parser.add_argument_group("Ray")
    ray_group.add_argument(
        "--address",
        default=None,
        help="an existing Ray cluster: 'auto', '<head-ip>:6379' or 'ray://<head-ip>:10001' "
        "(default: $RAY_ADDRESS if set, else start a local instance)",
    )
    ray_group.add_argument(
        "--num-cpus", type=int, default=2, help="CPUs of the local instance (ignored with --address)"
    )
    ray_group.add_argument(
        "--num-env-runners",
        type=int,
        default=0,
        help="remote sampling actors, one CPU each (0: sample in the driver)",
    )
    ray_group.add_argument("--num-envs-per-runner", type=int, default=4, help="env copies per runner")
    ray_group.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads of this process, which runs the learner (default 1: small networks "
        "run many times slower when threads contend for a busy machine; 0 keeps torch's choice)",
    )
    ray_group.add_argument(
        "--ship-code",
        action="store_true",
        help="upload the local pa_envs package to the cluster (runtime_env py_modules) instead of "
        "relying on it being installed on every node",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--save", type=Path, default=None, metavar="DIR", help="save a checkpoint to DIR")
    out.add_argument(
        "--restore", type=Path, default=None, metavar="DIR", help="start from a checkpoint (same env/config)"
    )
    out.add_argument(
        "--log-json", type=Path, default=None, metavar="FILE", help="append one JSON line per iteration"
    )
    return parser


def connect(args: argparse.Namespace) -> bool:
    """Start or join Ray; return True if this call started the session (so we shut it down)."""
    import ray

    if ray.is_initialized():  # a caller (e.g. a test) already holds a session
        return False
    address = args.address or os.environ.get("RAY_ADDRESS")
    runtime_env: dict[str, Any] = {}
    if args.ship_code:
        import pa_envs

        runtime_env["py_modules"] = [pa_envs]
    if "PYTHONHASHSEED" in os.environ:  # the same string hashing on every node (see HASH_SEED_NOTE)
        runtime_env["env_vars"] = {"PYTHONHASHSEED": os.environ["PYTHONHASHSEED"]}
    runtime_env = runtime_env or None
    if address:
        ray.init(address=address, runtime_env=runtime_env)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, runtime_env=runtime_env)
    return True


def summarize(result: dict[str, Any], refs: References) -> dict[str, Any]:
    """The numbers printed for one iteration."""
    runners = result.get("env_runners", {})
    returns = runners.get("module_episode_returns_mean", {})
    welfare = runners.get("social_welfare")
    row = {
        "iteration": int(result["training_iteration"]),
        "env_steps": int(result.get("num_env_steps_sampled_lifetime", 0)),
        "episodes": int(runners.get("num_episodes_lifetime", 0)),
        "seconds": float(result.get("time_this_iter_s", float("nan"))),
        "return_principal": _float(returns.get("principal")),
        "return_agents": _float(returns.get("agents")),
        "social_welfare": _float(welfare),
        "transfers": _float(runners.get("total_transfers")),
        "share_of_W*": None,
        "gap_closed": None,
    }
    if welfare is not None:
        row["share_of_W*"] = refs.share_of_optimum(float(welfare))
        row["gap_closed"] = refs.gap_closed(float(welfare))
    return row


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _cell(value: float | None, width: int, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


HEADER = (
    f"{'iter':>4} {'env steps':>9} {'episodes':>8} {'sec':>5} | {'R principal':>11} {'R agents':>9} | "
    f"{'welfare':>8} {'/W*':>6} {'gap':>6} {'transfers':>9}"
)


def format_row(row: dict[str, Any]) -> str:
    return (
        f"{row['iteration']:>4} {row['env_steps']:>9} {row['episodes']:>8} {row['seconds']:>5.1f} | "
        f"{_cell(row['return_principal'], 11)} {_cell(row['return_agents'], 9)} | "
        f"{_cell(row['social_welfare'], 8)} {_cell(row['share_of_W*'], 6, 3)} "
        f"{_cell(row['gap_closed'], 6, 3)} {_cell(row['transfers'], 9)}"
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the CLI; return the per-iteration rows."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        env = get_env_module(args.env).parallel_env(**args.env_config)
    except KeyError as error:
        parser.error(str(error.args[0]))
    except (TypeError, ValueError) as error:
        parser.error(f"--env-config: {error}")
    if args.iterations < 0:
        parser.error("--iterations must be >= 0")
    try:
        from pa_envs.rllib import ppo_config  # its ImportError says what to install
    except ImportError as error:
        parser.exit(2, f"{error}\n")
    import ray

    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    refs = exact_references(args.env, args.env_config)
    print(f"env {args.env} {json.dumps(args.env_config)}: principal_0 + {env.game.n_agents} agents")
    print(
        f"exact references (episode social welfare): W* = {_cell(refs.optimum, 0, 2).strip()}, "
        f"W_LF = {_cell(refs.laissez_faire, 0, 2).strip()}  ({refs.seconds:.1f} s)"
    )
    config = ppo_config(
        args.env,
        args.env_config,
        num_env_runners=args.num_env_runners,
        num_envs_per_env_runner=args.num_envs_per_runner,
        train_batch_size=args.train_batch_size,
        minibatch_size=args.minibatch_size,
        num_epochs=args.num_epochs,
        lr=args.lr,
        gamma=args.gamma,
        entropy_coeff=args.entropy_coeff,
        hidden=args.hidden,
        policies_to_train=args.train,
        seed=args.seed,
    )
    started = connect(args)
    rows: list[dict[str, Any]] = []
    try:
        resources = ray.cluster_resources()
        print(f"Ray {ray.__version__}: {resources.get('CPU', 0):g} CPUs, {len(ray.nodes())} node(s)")
        algo = config.build_algo()
        try:
            if args.restore is not None:
                algo.restore_from_path(str(args.restore.resolve()))
                print(f"restored {args.restore}")
            print("R principal / R agents: mean episode return of each policy (agents: summed over agents)")
            print(HEADER)
            for _ in range(args.iterations):
                row = summarize(algo.train(), refs)
                rows.append(row)
                print(format_row(row), flush=True)
                if args.log_json is not None:
                    with args.log_json.open("a", encoding="utf-8") as log:
                        log.write(json.dumps({"env": args.env, **row}) + "\n")
            if args.save is not None:
                path = algo.save_to_path(str(args.save.resolve()))
                print(f"checkpoint saved to {path}")
        finally:
            algo.stop()
    finally:
        if started:
            ray.shutdown()
    return rows


HASH_SEED_NOTE = """RLlib (2.60) keeps the agents that act next in a set
(MultiAgentEpisode.get_agents_to_act), so the order in which the policies sample, and
with it the run, depends on Python's string hashing. Run as a script, this module fixes
PYTHONHASHSEED (0 unless set) so that --seed reproduces a run, and passes it to the
Ray workers."""

if __name__ == "__main__":
    if "PYTHONHASHSEED" not in os.environ:  # see HASH_SEED_NOTE: restart with fixed string hashing
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    main()
