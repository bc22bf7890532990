"""Print the exact references of every registered env (or one): W*, W_LF, the price
of anarchy, the best flat incentive's share of the gap and the Pigouvian cost.

All numbers are exact expectations over one episode (``max_cycles`` periods,
undiscounted) from the env's tabular model; nothing is simulated.

Run ``python -m baselines.references --help`` for options.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from pa_envs import ENVS, Game, analysis, presets


def best_flat_incentive(
    model: analysis.TabularModel, game: Game, agent_discount: float, points: int = 101
) -> tuple[int, float, analysis.PolicyValue]:
    """The best single flat transfer (a tax or a subsidy, within ``max_transfer``) on any
    one signal: ``(signal, amount, equilibrium outcome)``."""
    return analysis.best_flat_incentive(
        model, float(game.params.max_transfer), points=points, agent_discount=agent_discount
    )


@dataclasses.dataclass(frozen=True)
class EnvReferences:
    """One env configuration's exact references and its best flat incentive."""

    env: str
    n_agents: int
    agent_discount: float
    exact: analysis.ExactReferences
    incentive_signal: str
    incentive_amount: float
    incentive_welfare: float
    pairs: int
    seconds: float

    @property
    def incentive_share_of_gap(self) -> float | None:
        """The share of the gap ``W* - W_LF`` the best flat incentive closes (``None``: no gap)."""
        gap = self.exact.welfare_gap
        return (
            (self.incentive_welfare - self.exact.laissez_faire.social_welfare) / gap if gap > 1e-9 else None
        )


def env_references(env_name: str, n_agents: int | None, agent_discount: float) -> EnvReferences:
    """Solve one env configuration (an env at its other defaults, or a preset): the references
    and the best flat incentive."""
    game = presets.parallel_env(env_name, **({} if n_agents is None else {"n_agents": n_agents})).game
    n_agents = game.n_agents
    model = game.exact_model()
    start = time.perf_counter()
    exact = analysis.exact_references(model, agent_discount=agent_discount, epsilon=1e-3)
    signal, amount, flat = best_flat_incentive(model, game, agent_discount)
    seconds = time.perf_counter() - start
    return EnvReferences(
        env_name, n_agents, agent_discount, exact, game.signal_names[signal], amount, flat.social_welfare,
        model.n_pairs, seconds,
    )  # fmt: skip


def reference_row(env_name: str, n_agents: int | None, agent_discount: float) -> dict[str, object]:
    """The exact references of one env configuration, as printable values."""
    found = env_references(env_name, n_agents, agent_discount)
    refs, share = found.exact, found.incentive_share_of_gap
    poa = refs.price_of_anarchy
    return {
        "env": env_name,
        "N": found.n_agents,
        "agents look ahead": agent_discount,
        "W*": f"{refs.optimum.social_welfare:.2f}",
        "W_LF": f"{refs.laissez_faire.social_welfare:.2f}",
        "W_LF range": "[{:.2f}, {:.2f}]".format(*refs.laissez_faire_range),
        "PoA": f"{poa:.3f}" if poa is not None else "n/a",
        "gap": f"{refs.welfare_gap:.2f}",
        "best flat incentive": f"{found.incentive_amount:+.2f} on {found.incentive_signal}",
        "its welfare": f"{found.incentive_welfare:.2f}",
        "its share of gap": f"{share:.3f}" if share is not None else "n/a",
        "Pigouvian transfers paid": f"{refs.pigouvian_outcome.transfers:.2f}",
        "pairs": found.pairs,
        "seconds": f"{found.seconds:.2f}",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--env", action="append", help="env or preset name (repeatable; default: every env)")
    parser.add_argument("--presets", action="store_true", help="every hard preset instead (myopic agents)")
    parser.add_argument("--n-agents", type=int, help="agents (default: 3, or the preset's)")
    parser.add_argument(
        "--agent-discount",
        type=float,
        action="append",
        help="agents' discount for the equilibria (repeatable; default: 0 and 0.99, presets 0)",
    )
    args = parser.parse_args(argv)
    if args.presets:
        names, discounts = sorted(presets.PRESETS), args.agent_discount or [0.0]
    else:
        names, discounts = args.env or sorted(ENVS), args.agent_discount or [0.0, 0.99]
    n_agents = args.n_agents if args.n_agents is not None or args.presets else 3
    for name in names:
        try:
            presets.env_kwargs(name)
        except KeyError as error:
            parser.error(str(error.args[0]))
    columns = None
    total = len(names) * len(discounts)
    for done, (name, discount) in enumerate(((n, d) for n in names for d in discounts), start=1):
        row = reference_row(name, n_agents, discount)
        if columns is None:  # each row prints as soon as it is solved
            columns = list(row)
            print("| " + " | ".join(columns) + " |")
            print("|" + "---|" * len(columns), flush=True)
        print("| " + " | ".join(str(row[c]) for c in columns) + " |", flush=True)
        print(f"({done}/{total} solved)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
