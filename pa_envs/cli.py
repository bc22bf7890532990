"""The ``pa-envs`` command: list, describe and play the envs; train, benchmark and run the demo.

::

    pa-envs list                          # envs, mechanisms, gymnasium ids
    pa-envs describe pollution_v0         # the env card and its exact references
    pa-envs play congestion_v0 --mechanism pigouvian
    pa-envs train --env commons_v0 --mechanism pigouvian --timesteps 100000
    pa-envs harness --envs pollution_v0 --agents PPO,q_learning --seeds 0,1
    pa-envs bench --sections single,vector
    pa-envs demo --quick

``train``, ``harness``, ``bench`` and ``demo`` run the scripts of ``baselines``
(they need the ``sb3`` / ``experiments`` extras); every subcommand has ``--help``.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Sequence

import numpy as np

# Subcommands that hand their arguments to a baselines script: (module, summary).
SCRIPTS: dict[str, tuple[str, str]] = {
    "train": ("baselines.train_sb3", "train SB3 agents (or the principal) against a mechanism"),
    "harness": ("baselines.harness", "benchmark algorithms over envs x principals x seeds"),
    "bench": ("baselines.bench_speed", "the performance benchmark suite"),
    "demo": ("baselines.experiment", "the main experiment: regret of four principals across run lengths"),
    "references": ("baselines.references", "every env's exact references"),
}


def _env_module(name: str):
    from pa_envs import get_env_module

    try:
        return get_env_module(name)
    except KeyError as error:
        raise SystemExit(f"pa-envs: error: {error.args[0]}") from None


def cmd_list(args: argparse.Namespace) -> None:
    """Print the registered envs, the bundled mechanisms and the gymnasium ids."""
    from pa_envs import ENVS, GYMNASIUM_IDS
    from pa_envs.mechanisms import MECHANISMS

    print("envs:")
    for name, module in ENVS.items():
        game = module.parallel_env_class.game_class
        card = sys.modules[game.__module__].__doc__ or ""
        print(f"  {name:<15} {card.splitlines()[0].split(':', 1)[-1].strip()}")
    print("mechanisms:")
    for name in [*MECHANISMS, "best_flat_tax", "flat_tax", "two_phase"]:
        print(f"  {name}")
    print("gymnasium ids (gymnasium.make / gymnasium.make_vec):")
    for env_id in GYMNASIUM_IDS:
        print(f"  {env_id}")


def cmd_describe(args: argparse.Namespace) -> None:
    """Print an env's card and, unless ``--no-references``, its exact references."""
    from pa_envs import analysis

    module = _env_module(args.env)
    game_class = module.parallel_env_class.game_class
    print((sys.modules[game_class.__module__].__doc__ or "").strip())
    if args.no_references:
        return
    env = module.parallel_env(n_agents=args.n_agents)
    model = env.game.exact_model()
    refs = analysis.exact_references(model, agent_discount=args.agent_discount)
    poa = refs.price_of_anarchy
    print(f"\nExact references (N={args.n_agents}, agents' discount {args.agent_discount}, one episode):")
    print(f"  W*  (social optimum)        {refs.optimum.social_welfare:.2f}")
    print(f"  W_LF (laissez-faire)        {refs.laissez_faire.social_welfare:.2f}")
    print(
        f"  price of anarchy            {poa:.3f}"
        if poa is not None
        else f"  price of anarchy            {'n/a'}"
    )
    print(f"  welfare gap                 {refs.welfare_gap:.2f}")
    print(f"  Pigouvian transfers paid    {refs.pigouvian_outcome.transfers:.2f}")
    print(f"  model size                  {model.n_pairs:,} (state, joint action) pairs")


def cmd_play(args: argparse.Namespace) -> None:
    """Play one episode and print every period with the ansi renderer."""
    from pa_envs.mechanisms import mechanism_env

    module = _env_module(args.env)
    base = module.parallel_env(n_agents=args.n_agents, max_cycles=args.max_cycles, render_mode="ansi")
    env = mechanism_env(base, args.mechanism)
    env.reset(seed=args.seed)
    generator = np.random.default_rng(args.seed)
    welfare = 0.0
    print(base.render())
    while env.agents:
        if args.agents == "random":
            actions = {a: int(generator.integers(base.game.n_actions)) for a in env.agents}
        else:
            from pa_envs import analysis

            model = base.game.exact_model()
            state = int(model.state_index(base.game_state()))
            joint = analysis.best_responses(model, state, base.contract_in_force())
            actions = dict(zip(env.agents, joint.tolist(), strict=True))
        _, _, _, _, infos = env.step(actions)
        welfare += next(iter(infos.values()))["social_welfare"]
        print(base.render())
    print(f"episode social welfare: {welfare:.2f}")


def _script(module_name: str) -> Callable[[Sequence[str]], object]:
    def run(argv: Sequence[str]) -> object:
        import importlib

        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise SystemExit(
                f"pa-envs: error: {module_name} needs the optional dependencies "
                f'(pip install "pa_envs[sb3,experiments]"): {error}'
            ) from None
        return module.main(list(argv))

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pa-envs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    listing = commands.add_parser("list", help="envs, mechanisms and gymnasium ids")
    listing.set_defaults(handler=cmd_list)

    describe = commands.add_parser("describe", help="an env's card and its exact references")
    describe.add_argument("env")
    describe.add_argument("--n-agents", type=int, default=3)
    describe.add_argument("--agent-discount", type=float, default=0.0)
    describe.add_argument("--no-references", action="store_true", help="the card only")
    describe.set_defaults(handler=cmd_describe)

    play = commands.add_parser("play", help="one episode, rendered as text")
    play.add_argument("env")
    play.add_argument("--mechanism", default="no_transfers")
    play.add_argument("--agents", choices=("random", "best_response"), default="best_response")
    play.add_argument("--n-agents", type=int, default=3)
    play.add_argument("--max-cycles", type=int, default=10)
    play.add_argument("--seed", type=int, default=0)
    play.set_defaults(handler=cmd_play)

    for name, (_, summary) in SCRIPTS.items():
        # The script parses its own arguments (and its own --help).
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = ["list", "describe", "play", *SCRIPTS]
    if argv and not argv[0].startswith("-") and argv[0] not in known:
        close = difflib.get_close_matches(argv[0], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parser.error(f"unknown command {argv[0]!r}{hint}; commands: {', '.join(known)}")
    if argv and argv[0] in SCRIPTS:
        # The script's own parser names itself after argv[0]: "pa-envs train", not "pa-envs".
        program, sys.argv[0] = sys.argv[0], f"pa-envs {argv[0]}"
        try:
            _script(SCRIPTS[argv[0]][0])(argv[1:])
        finally:
            sys.argv[0] = program
        return
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, TypeError, KeyError) as error:  # bad names or parameters: say which
        message = error.args[0] if error.args else str(error)
        parser.error(f"{args.command}: {message}")


if __name__ == "__main__":
    main()
