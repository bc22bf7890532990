"""Print the exact references of every registered env (or one): W*, W_LF, the price
of anarchy, the best flat incentive's share of the gap and the Pigouvian cost.

All numbers are exact expectations over one episode (``max_cycles`` periods,
undiscounted) from the env's tabular model; nothing is simulated.

Run ``python -m baselines.references --help`` for options.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import cast

from pa_envs import ENVS, Game, analysis, presets
from pa_envs.experiments.common import int_at_least, message, progress_bar, script_parser

FLAT_POINTS = 101  # candidate amounts per signal of the best flat incentive


def best_flat_incentive(
    model: analysis.TabularModel,
    game: Game,
    agent_discount: float,
    points: int = FLAT_POINTS,
    progress: Callable[[], object] | None = None,
) -> tuple[int, float, analysis.PolicyValue]:
    """The best single flat transfer (a tax or a subsidy, within ``max_transfer``) on any
    one signal: ``(signal, amount, equilibrium outcome)``; ``progress`` is called after
    each of the ``points`` x signals candidate amounts."""
    return analysis.best_flat_incentive(
        model,
        float(game.params.max_transfer),
        points=points,
        agent_discount=agent_discount,
        progress=progress,
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
    notes: tuple[str, ...] = ()  # what the search had to say (amounts it skipped, and why)

    @property
    def incentive_share_of_gap(self) -> float | None:
        """The share of the gap ``W* - W_LF`` the best flat incentive closes (``None``: no gap)."""
        exact = self.exact
        share = analysis.share_of_gap(
            self.incentive_welfare, exact.optimum.social_welfare, exact.laissez_faire.social_welfare
        )
        return None if math.isnan(share) else share


def env_game(env_name: str, n_agents: int | None) -> Game:
    """The game of an env configuration: an env at its other defaults, or a preset."""
    return presets.parallel_env(env_name, **({} if n_agents is None else {"n_agents": n_agents})).game


def env_references(
    env_name: str,
    n_agents: int | None,
    agent_discount: float,
    progress: Callable[[str], object] | None = None,
) -> EnvReferences:
    """Solve one env configuration (an env at its other defaults, or a preset): the references
    and the best flat incentive. ``progress`` is told each step (``"exact references"``,
    then ``"flat incentive k/M"`` after each candidate amount)."""
    game = env_game(env_name, n_agents)
    n_agents = game.n_agents
    model = game.exact_model()
    start = time.perf_counter()
    say = progress or (lambda step: None)
    say("exact references")
    exact = analysis.exact_references(model, agent_discount=agent_discount, epsilon=1e-3)
    amounts, solved = FLAT_POINTS * game.n_signals, 0

    def tick() -> None:
        nonlocal solved
        solved += 1
        say(f"flat incentive {solved}/{amounts}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        signal, amount, flat = best_flat_incentive(model, game, agent_discount, progress=tick)
    notes = tuple(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning))
    seconds = time.perf_counter() - start
    return EnvReferences(
        env_name, n_agents, agent_discount, exact, game.signal_names[signal], amount, flat.social_welfare,
        model.n_pairs, seconds, notes,
    )  # fmt: skip


def reference_row(
    env_name: str,
    n_agents: int | None,
    agent_discount: float,
    progress: Callable[[str], object] | None = None,
) -> dict[str, object]:
    """The exact references of one env configuration, as printable values (``progress``:
    as :func:`env_references`); ``"notes"``, what the search had to say, is no column."""
    found = env_references(env_name, n_agents, agent_discount, progress)
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
        "notes": found.notes,
    }


def solved_rows(
    names: Sequence[str],
    discounts: Sequence[float],
    n_agents: int | None,
    progress: Callable[[str, float, str], object] | None = None,
) -> Iterator[dict[str, object]]:
    """Each configuration's row (every name at every discount), yielded as soon as it is
    solved; ``progress(name, discount, step)`` hears of the steps within a row."""
    for name in names:
        for discount in discounts:
            tell = None if progress is None else functools.partial(progress, name, discount)
            yield reference_row(name, n_agents, discount, tell)


def _discount(text: str) -> float:
    """A look-ahead in [0, 1] (an argparse ``type``)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m baselines.references`` (``pa-envs references``)."""
    parser = script_parser("baselines.references", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--env",
        action="append",
        metavar="ENV",
        help="an env or preset name (repeatable; default: every env)",
    )
    parser.add_argument("--presets", action="store_true", help="every hard preset instead (myopic agents)")
    parser.add_argument(
        "--n-agents", type=int_at_least(1), metavar="N", help="agents (default: 3, or the preset's)"
    )
    parser.add_argument(
        "--agent-discount",
        type=_discount,
        action="append",
        metavar="D",
        help="agents' discount for the equilibria, in [0, 1] (repeatable; default: 0 and 0.99, presets 0)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar (stderr)")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
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
            parser.error(f"argument --env: {message(error)}")
    # The bar counts rows, a row's candidate amounts in fractions of it: it moves every
    # fraction of a second even on the rows that take a minute.
    signals = {name: env_game(name, n_agents).n_signals for name in names}
    bar = progress_bar(
        len(names) * len(discounts),
        "references",
        "row",
        enabled=not args.no_progress,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total} rows [{elapsed}<{remaining}]{postfix}",
    )
    moved = 0.0  # of the row being solved

    def progress(name: str, discount: float, step: str) -> None:
        nonlocal moved
        if step.startswith("flat incentive"):
            bar.update(1 / (FLAT_POINTS * signals[name]))
            moved += 1 / (FLAT_POINTS * signals[name])
        bar.set_postfix_str(f"{name} (look-ahead {discount:g}): {step}", refresh=False)

    columns = None
    for row in solved_rows(names, discounts, n_agents, progress):
        bar.update(1 - moved)  # the row is whole
        moved = 0.0
        lines = []
        if columns is None:  # each row prints as soon as it is solved
            columns = [column for column in row if column != "notes"]
            lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
        bar.write("\n".join(lines))
        sys.stdout.flush()  # a row shows at once, piped or not
        for note in cast("Sequence[str]", row["notes"]):
            bar.write(
                f"note: {row['env']} (look-ahead {row['agents look ahead']:g}): {note}", file=sys.stderr
            )
    bar.close()


if __name__ == "__main__":
    main()
