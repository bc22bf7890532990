"""The main job: learning agents under four principals, and how each one's regret grows with T.

On a task where a flat incentive falls short (default: the hard pollution
preset, ``pollution_v0:hard``), learning agents play under laissez-faire, the
best flat incentive (exact), the Pigouvian oracle (exact, period-, state- and
agent-contingent) and the two-phase mechanism (which learns everything from
play). Each principal runs for every horizon ``T`` of ``--horizons`` episodes
and every seed; the two-phase mechanism's schedule depends on ``T``, so it runs
once per ``T`` and seed, while a principal that does not depend on ``T`` runs
once per seed and its regret at ``T`` is read after ``T`` episodes. All of it is
one batch, stepped together.

It prints, per principal, the cumulative welfare regret ``R(T)`` against ``W*``
and against the oracle under the same learners and seeds, the exponent
``alpha`` of ``log R(T) = a + alpha log T`` fitted across the horizons with a
bootstrap 95% interval over seeds (:func:`pa_envs.regret.fit_growth`), the
welfare of the last 10% of episodes as a share of ``W*`` at the longest
horizon, and the agents' own regret (and its growth). Plots and the raw numbers
go to ``--out``.

Examples::

    python -m baselines.experiment                                # the full curve (T up to 3200)
    python -m baselines.experiment --horizons 100,200,400,800       # what make demo runs
    python -m baselines.experiment --env commons_v0 --agents floor --horizons 100,400,1600
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pa_envs import analysis, presets
from pa_envs.experiments.common import progress_bar, pyplot, save_figure
from pa_envs.experiments.scores import final_regret, regret_at, share_of_optimum
from pa_envs.learning_loop import AGENTS, play
from pa_envs.mechanisms import FlatSchedule, NoTransfers, Pigouvian, Stacked
from pa_envs.regret import GrowthFit, fit_growth, mean_interval
from pa_envs.two_phase import TwoPhaseMechanism

PRINCIPALS = ("laissez-faire", "best flat incentive", "Pigouvian oracle", "two-phase")
COLOURS = dict(zip(PRINCIPALS, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=True))
HORIZONS = (100, 200, 400, 800, 1600, 3200)


def setting(env_name: str, n_agents: int | None = None) -> dict[str, Any]:
    """The env, its exact references and the best flat incentive."""
    overrides = {} if n_agents is None else {"n_agents": n_agents}
    env = presets.parallel_env(env_name, **overrides)
    game = env.game
    model = game.exact_model()
    references = analysis.exact_references(model)
    # Among flat amounts of equal welfare, the middle one: the smallest often leaves the agents
    # exactly indifferent, a tie the analysis breaks one way and learning agents either way.
    signal, amount, flat = analysis.best_flat_incentive(
        model, float(game.params.max_transfer), prefer="middle"
    )
    row = np.zeros(game.n_signals)
    row[signal] = amount
    return {
        "env": env,
        "game": game,
        "model": model,
        "optimum": references.optimum.social_welfare,
        "laissez_faire": references.laissez_faire.social_welfare,
        "flat": row,
        "flat_label": f"{amount:+.2f} on `{game.signal_names[signal]}`",
        "flat_welfare": flat.social_welfare,
    }


def run(
    env_name: str = "pollution_v0:hard",
    horizons: tuple[int, ...] = HORIZONS,
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    agents: str = "theory",
    n_agents: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Play every principal for every horizon and seed (one batch); return the curves.

    Returns a dict with the setting, ``welfare`` (principal -> ``(H, seeds, max T)``
    per-episode welfare, each horizon's run; a principal that does not depend on ``T``
    repeats its one run) and the agents' regret at each horizon.
    """
    horizons = tuple(sorted({int(h) for h in horizons}))
    found = setting(env_name, n_agents)
    game, model = found["game"], found["model"]
    episodes, n_seeds = horizons[-1], len(seeds)
    length = game.params.max_cycles
    two_phase = TwoPhaseMechanism([h * length for h in horizons for _ in seeds])
    members = [
        (NoTransfers(), n_seeds),
        (FlatSchedule(found["flat"]), n_seeds),
        (Pigouvian(), n_seeds),
        (two_phase, n_seeds * len(horizons)),
    ]
    copy_seeds = list(seeds) * 3 + list(seeds) * len(horizons)
    bar = progress_bar(episodes, f"{env_name}: {len(copy_seeds)} copies", "episode", enabled=progress)
    result = play(
        game, model, Stacked(members), copy_seeds, episodes, agents, progress=bar.update, checkpoints=horizons
    )
    bar.close()
    welfare = {}
    for k, name in enumerate(PRINCIPALS[:3]):
        one = result.welfare[k * n_seeds : (k + 1) * n_seeds]
        welfare[name] = np.broadcast_to(one, (len(horizons), *one.shape))
    welfare["two-phase"] = result.welfare[3 * n_seeds :].reshape(len(horizons), n_seeds, episodes)
    # The agents' own regret per period at each horizon, per principal: (H, seeds).
    at = result.agent_regret_at.mean(axis=2)  # (H, B)
    agent_regret = {}
    for k, name in enumerate(PRINCIPALS[:3]):
        agent_regret[name] = at[:, k * n_seeds : (k + 1) * n_seeds]
    tp = at[:, 3 * n_seeds :].reshape(len(horizons), len(horizons), n_seeds)
    agent_regret["two-phase"] = tp[np.arange(len(horizons)), np.arange(len(horizons))]
    return {
        **found,
        "env_name": env_name,
        "horizons": horizons,
        "seeds": tuple(seeds),
        "agents": agents,
        "welfare": welfare,
        "agent_regret": agent_regret,
        "two_phase": two_phase,
        "seconds": result.seconds,
    }


def summarize(found: dict[str, Any]) -> dict[str, Any]:
    """Regret tables and fits, against ``W*`` and against the oracle, per principal."""
    horizons, optimum = found["horizons"], found["optimum"]
    oracle = found["welfare"]["Pigouvian oracle"]
    table = {}
    for name, welfare in found["welfare"].items():
        longest = welfare[-1]  # (seeds, E)
        tail = longest[:, -max(1, horizons[-1] // 10) :].mean(axis=1)
        against_optimum = regret_at(welfare, horizons, optimum)
        against_oracle = regret_at(welfare, horizons, oracle)
        agents = found["agent_regret"][name].T  # (seeds, H)
        final = final_regret(welfare, horizons, optimum)
        table[name] = {
            "regret": against_optimum,
            "fit": fit_growth(horizons, against_optimum),
            "final": final,
            "final_fit": fit_growth(horizons, final) if np.all(final.mean(axis=0) > 0) else None,
            "regret_vs_oracle": against_oracle,
            "fit_vs_oracle": (fit_growth(horizons, against_oracle) if name != "Pigouvian oracle" else None),
            "last_share": share_of_optimum(tail, optimum),
            "agent_regret_per_period": agents / (np.array(horizons) * found["game"].params.max_cycles),
            "agent_fit": fit_growth(horizons, agents) if np.all(agents.mean(axis=0) > 0) else None,
        }
    return table


def report(found: dict[str, Any], table: dict[str, Any]) -> str:
    """The printed summary."""
    horizons = found["horizons"]
    game = found["game"]
    optimum, lf = found["optimum"], found["laissez_faire"]
    flat_share = analysis.share_of_gap(found["flat_welfare"], optimum, lf)
    lines = [
        f"{found['env_name']} (N={game.n_agents}, {game.params.max_cycles}-period episodes), agents "
        f"'{found['agents']}', {len(found['seeds'])} seeds, T = {', '.join(map(str, horizons))} episodes "
        f"({found['seconds']:.0f} s)",
        f"Exact: W* = {optimum:.2f}, W_LF = {lf:.2f}, best flat incentive {found['flat_label']}: "
        f"{found['flat_welfare']:.2f} ({flat_share:.3f} of the gap)"
        if not np.isnan(flat_share)
        else f"Exact: W* = {optimum:.2f}, W_LF = {lf:.2f} (no gap)",
        "",
        "Cumulative welfare regret R(T) = sum over T episodes of (W* - W), mean over seeds;",
        "alpha: exponent of log R(T) = a + alpha log T fitted across T, [bootstrap 95% CI over seeds].",
        "",
    ]
    header = [
        "principal",
        *[f"T={t}" for t in horizons],
        "alpha [95% CI]",
        f"W/W* last 10% (T={horizons[-1]})",
    ]
    rows = []
    for name, row in table.items():
        share = row["last_share"]
        rows.append(
            [
                name,
                *[f"{v:,.0f}" for v in row["regret"].mean(axis=0)],
                _fit_text(row["fit"]),
                f"{share.mean():.3f} ± {_half_width(share):.3f}",
            ]
        )
    lines += _table(header, rows)
    lines += [
        "",
        "Regret per episode over the last 10% of each run (what is still lost once learned), and its",
        "exponent across T, [95% CI]: below 0 it vanishes (sublinear regret), at 0 it is linear regret.",
        "",
    ]
    rows = [
        [name, *[f"{v:,.2f}" for v in row["final"].mean(axis=0)], _fit_text(row["final_fit"])]
        for name, row in table.items()
    ]
    lines += _table(["principal", *[f"T={t}" for t in horizons], "exponent [95% CI]"], rows)
    lines += ["", "Against the Pigouvian oracle (sum of W_oracle - W, same learners and seeds):", ""]
    rows = [
        [name, *[f"{v:,.0f}" for v in row["regret_vs_oracle"].mean(axis=0)], _fit_text(row["fit_vs_oracle"])]
        for name, row in table.items()
        if row["fit_vs_oracle"] is not None
    ]
    lines += _table(["principal", *[f"T={t}" for t in horizons], "alpha [95% CI]"], rows)
    lines += ["", "The agents' own external regret per period, and its growth across T:", ""]
    rows = [
        [
            name,
            *[f"{v:.3f}" for v in row["agent_regret_per_period"].mean(axis=0)],
            _fit_text(row["agent_fit"]),
        ]
        for name, row in table.items()
    ]
    lines += _table(["principal", *[f"T={t}" for t in horizons], "alpha [95% CI]"], rows)
    mechanism = found["two_phase"]
    last = len(horizons) * len(found["seeds"]) - len(found["seeds"])  # seed 0 of the longest run
    estimates = mechanism.estimates(last)
    phase1 = [int(mechanism.phase2_from[k]) for k in range(last, mechanism.n_copies)]
    total = horizons[-1] * game.params.max_cycles
    lines += [
        "",
        f"two-phase at T={horizons[-1]}: phase 2 began after {phase1} of {total:,} periods "
        f"(-1: not reached); prices learned (seed {found['seeds'][0]}, agent x signal, inf: not "
        f"implementable): {np.round(estimates['tau'], 2).tolist()}",
    ]
    for note in mechanism.assumptions(last)["notes"]:
        lines.append(f"  assumption: {note}")
    lines.append("± is the half-width of a 95% t-interval over seeds.")
    return "\n".join(lines)


def _fit_text(fit: GrowthFit | None) -> str:
    if fit is None:
        return "n/a (a mean <= 0)"
    if not np.isfinite(fit.alpha):
        return "no fit (a mean <= 0)"
    return f"{fit.alpha:.2f} [{fit.low:.2f}, {fit.high:.2f}]"


def _half_width(values: np.ndarray) -> float:
    return mean_interval(values)[1]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = [
        "  ".join(
            str(cell).rjust(width) if i else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def plot(found: dict[str, Any], table: dict[str, Any], out: Path) -> list[Path]:
    """``regret.png``: R(T) on log-log axes per principal (mean and 95% interval over seeds)
    with slope-1 and slope-2/3 guides; ``welfare.png``: welfare per episode of the longest runs."""
    plt = pyplot()

    horizons = np.array(found["horizons"], dtype=np.float64)
    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, key, title in (
        (axes[0], "regret", "R(T) against W*"),
        (axes[1], "regret_vs_oracle", "R(T) against the Pigouvian oracle"),
        (axes[2], "final", "regret per episode, last 10% of each run"),
    ):
        anchor = None
        for name, row in table.items():
            if key == "regret_vs_oracle" and name == "Pigouvian oracle":
                continue
            values = row[key]
            mean = values.mean(axis=0)
            half = np.array([mean_interval(values[:, h])[1] for h in range(values.shape[1])])
            half = np.nan_to_num(half)
            fit = row[{"regret": "fit", "regret_vs_oracle": "fit_vs_oracle", "final": "final_fit"}[key]]
            label = f"{name}: {'exponent' if key == 'final' else 'alpha'} {_fit_text(fit)}"
            ax.errorbar(
                horizons,
                np.where(mean > 0, mean, np.nan),
                yerr=half,
                marker="o",
                capsize=3,
                label=label,
                color=COLOURS[name],
            )
            if name == "two-phase" and mean[0] > 0:
                anchor = mean[0]
        if anchor is not None:
            guides = [(1, ":", "slope 1"), (2 / 3, "--", "slope 2/3")]
            if key == "final":
                guides = [(0, ":", "slope 0 (linear regret)"), (-1 / 3, "--", "slope -1/3")]
            for slope, style, text in guides:
                ax.loglog(
                    horizons, anchor * (horizons / horizons[0]) ** slope, style, color="grey", label=text
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("T (episodes)")
        ax.set_ylabel("regret per episode" if key == "final" else "cumulative welfare regret R(T)")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.suptitle(f"{found['env_name']}: regret across run lengths ({len(found['seeds'])} seeds)")
    paths.append(save_figure(fig, out / "regret.png", dpi=120))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    window = max(1, found["horizons"][-1] // 100)
    for name, welfare in found["welfare"].items():
        mean = welfare[-1].mean(axis=0)
        smooth = np.convolve(mean, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, len(mean) + 1), smooth, label=name, color=COLOURS[name])
    ax.axhline(found["optimum"], color="black", linestyle="--", linewidth=1, label="W* (exact optimum)")
    ax.axhline(found["laissez_faire"], color="grey", linestyle=":", linewidth=1, label="W_LF (exact)")
    ax.axhline(
        found["flat_welfare"], color="tab:orange", linestyle=":", linewidth=1, label="best flat (exact)"
    )
    ax.set_xscale("log")
    ax.set_xlabel("episode")
    ax.set_ylabel(f"welfare per episode\n(seed mean, {window}-episode average)")
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "welfare.png", dpi=120))
    return paths


def record(found: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready numbers."""

    def fit(value: GrowthFit | None) -> dict[str, float] | None:
        if value is None:
            return None
        return {"alpha": value.alpha, "low": value.low, "high": value.high, "intercept": value.intercept}

    return {
        "env": found["env_name"],
        "horizons": list(found["horizons"]),
        "seeds": list(found["seeds"]),
        "agents": found["agents"],
        "agent_settings": AGENTS[found["agents"]],
        "optimum": found["optimum"],
        "laissez_faire": found["laissez_faire"],
        "flat": {"label": found["flat_label"], "welfare": found["flat_welfare"]},
        "seconds": found["seconds"],
        "principals": {
            name: {
                "regret": row["regret"].tolist(),
                "fit": fit(row["fit"]),
                "final_regret_per_episode": row["final"].tolist(),
                "final_fit": fit(row["final_fit"]),
                "regret_vs_oracle": row["regret_vs_oracle"].tolist(),
                "fit_vs_oracle": fit(row["fit_vs_oracle"]),
                "last_share": row["last_share"].tolist(),
                "agent_regret_per_period": row["agent_regret_per_period"].tolist(),
                "agent_fit": fit(row["agent_fit"]),
            }
            for name, row in table.items()
        },
    }


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env", default="pollution_v0:hard", help="an env or preset name (default: %(default)s)"
    )
    parser.add_argument(
        "--horizons", type=_ints, default=HORIZONS, help="run lengths T in episodes (default: 100,...,3200)"
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..n-1 (default: %(default)s)")
    parser.add_argument(
        "--agents",
        choices=sorted(AGENTS),
        default="theory",
        help="the agents' learners (default: %(default)s)",
    )
    parser.add_argument("--n-agents", type=int, help="override the env's number of agents")
    parser.add_argument("--out", type=Path, default=Path("results/experiment"), help="(default: %(default)s)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: T = 25, 50, 100 episodes, 2 seeds (about 15 s)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the plots (no matplotlib needed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        args.horizons, args.seeds = (25, 50, 100), 2
    if len(args.horizons) < 2:
        parser.error("--horizons needs at least two run lengths to fit a growth exponent")
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (the interval is over seeds)")
    try:
        presets.env_kwargs(args.env)
    except KeyError as error:
        parser.error(str(error.args[0]))
    start = time.perf_counter()
    found = run(
        args.env, args.horizons, tuple(range(args.seeds)), args.agents, args.n_agents, not args.no_progress
    )
    table = summarize(found)
    print(report(found, table))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(record(found, table), indent=1))
    # Per-episode welfare: the longest run of a principal that does not depend on T, every run of
    # the two-phase mechanism (horizon, seed, episode; episodes past a run's horizon are its own).
    curves = {name.replace(" ", "_").replace("-", "_"): w[-1] for name, w in found["welfare"].items()}
    curves["two_phase_by_horizon"] = found["welfare"]["two-phase"]
    np.savez_compressed(args.out / "welfare.npz", horizons=np.array(found["horizons"]), **curves)
    written = [args.out / "summary.json", args.out / "welfare.npz"]
    if not args.no_plots:
        written += plot(found, table, args.out)
    print(f"wrote {', '.join(str(p) for p in written)} ({time.perf_counter() - start:.0f} s in all)")
    return {"setting": found, "table": table}


if __name__ == "__main__":
    main()
