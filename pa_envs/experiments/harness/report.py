"""The harness's reports: the leaderboard (mean and a 95% Student-t interval over seeds), its
notes, the CSV and the plots."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from pa_envs import analysis
from pa_envs.experiments.common import pyplot, save_figure
from pa_envs.experiments.harness.spec import RunSpec, episode_steps, step_unit
from pa_envs.experiments.scores import final_regret_growth, share_of_optimum
from pa_envs.regret import mean_interval, t975

# -- reporting -------------------------------------------------------------------------------

COLUMNS = (
    ("final_share", "final W/W*", 3),
    ("final_gap_closed", "final gap closed", 3),
    ("auc_share", "AUC W/W*", 3),
    ("regret_per_episode", "regret/episode", 2),
    ("final_regret_exponent", "final-regret exponent [95% CI]", 2),
    ("transfers", "transfers/episode", 2),
    ("externality", "externality/episode", 2),
    ("agents_regret", "agents' regret/period", 3),
    ("steps", "steps", 0),
    ("seconds", "seconds", 1),
)
GROWTH = "final_regret_exponent"
"""The column fitted over a group's seeds together
(:func:`~pa_envs.experiments.scores.final_regret_growth`)."""


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (env, principal, agents): mean and 95% CI half-width of every metric."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        spec = row["spec"]
        groups.setdefault((spec["env"], spec["principal"], spec["agents"]), []).append(row)
    out = []
    for (env, principal, agents), members in groups.items():
        line: dict[str, Any] = {"env": env, "principal": principal, "agents": agents, "seeds": len(members)}
        for key, _, _ in COLUMNS:
            if key == GROWTH:
                continue
            line[key], line[f"{key}_ci"] = mean_interval([_metric(m, key) for m in members])
        fit = final_regret_growth([m["curve"] for m in members], members[0]["optimum"])
        line[GROWTH] = fit.alpha if fit is not None else float("nan")
        line[f"{GROWTH}_ci"] = float("nan")  # its interval is the bootstrap's, not a t half-width
        line[f"{GROWTH}_low"] = fit.low if fit is not None else float("nan")
        line[f"{GROWTH}_high"] = fit.high if fit is not None else float("nan")
        out.append(line)
    return out


def _metric(row: dict[str, Any], key: str) -> float:
    """A run's value of a leaderboard column (the share of the gap from its final welfare,
    so that results files written before that column have it too)."""
    if key == "final_gap_closed":
        return analysis.share_of_gap(row["final_welfare"], row["optimum"], row["laissez_faire"])
    return float(row[key])


def leaderboard(rows: list[dict[str, Any]]) -> str:
    """A Markdown table, best final share first, ``mean ± CI`` over seeds, and the notes
    that say what its numbers mean (:func:`notes`)."""
    lines = summary_rows(rows)
    lines.sort(key=lambda r: (r["env"], -(r["final_share"] if not math.isnan(r["final_share"]) else -1e9)))
    header = ["env", "principal", "agents", "seeds", *[label for _, label, _ in COLUMNS]]
    text = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for line in lines:
        cells = [line["env"], f"`{line['principal']}`", f"`{line['agents']}`", str(line["seeds"])]
        for key, _, digits in COLUMNS:
            value, ci = line[key], line[f"{key}_ci"]
            cell = "n/a" if math.isnan(value) else f"{value:,.{digits}f}"
            low, high = line.get(f"{key}_low", math.nan), line.get(f"{key}_high", math.nan)
            if not math.isnan(value) and not (math.isnan(low) or math.isnan(high)):
                cell += f" [{low:,.{digits}f}, {high:,.{digits}f}]"
            if not math.isnan(value) and not math.isnan(ci):
                cell += f" ± {ci:,.{digits}f}"
            cells.append(cell)
        text.append("| " + " | ".join(cells) + " |")
    return "\n".join([*text, "", *notes(rows)])


def notes(rows: list[dict[str, Any]]) -> list[str]:
    """The leaderboard's footnotes: what ± is, how to read the welfare columns, and what
    in these rows needs a word (a budget overrun, an externality of 0, a welfare below 0)."""
    out = [
        "± is the half-width of a 95% confidence interval of the mean over seeds (Student t, "
        "n = seeds); with one seed there is none.",
        "final W/W* is the welfare of the last 10% of episodes as a share of the exact optimum W* "
        "(1 at W*; for costs 1 - (W* - W)/|W*|). final gap closed is (W - W_LF)/(W* - W_LF): 0 at "
        "laissez-faire, 1 at the optimum, below 0 worse than laissez-faire; it reads alike on every env.",
        "final-regret exponent: the regret per episode over the last 10% of the first T episodes, "
        "fitted as log r(T) = a + alpha log T across T = E/8, E/4, E/2, E (E: the episodes of the "
        "shortest run), [bootstrap 95% CI over seeds] (pa_envs.regret.fit_growth, as the experiment "
        "fits it): below 0 the regret vanishes, 0 is linear regret; n/a when a mean final regret is not "
        "above 0 (at or above W*) or a run has too few episodes.",
    ]
    by_env: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_env.setdefault(row["spec"]["env"], []).append(row)
    low = sorted(env for env, members in by_env.items() if any(m["final_share"] < 0 for m in members))
    if low:
        out.append(
            f"A W/W* below 0 ({', '.join(low)}): the welfare is below 0 (for costs, over twice W*'s), "
            "far from W* and usually below W_LF too (learners still exploring, or a depleted "
            "stock); the gap closed says how it compares with laissez-faire."
        )
    quiet = sorted(env for env, members in by_env.items() if all(m["externality"] == 0 for m in members))
    if quiet:
        how = [f"{env}: {EXTERNALITY_IN_WELFARE[env]}" for env in quiet if env in EXTERNALITY_IN_WELFARE]
        out.append(
            f"externality/episode is the damage borne by no agent; it is 0 on {', '.join(quiet)}, whose "
            "agents impose their externality on one another"
            + (f" ({'; '.join(how)})" if how else "")
            + ": it shows in their welfare, not in this column."
        )
    empty = [r for r in rows if r["episodes"] == 0]
    if empty:
        out.append(
            f"n/a: {len(empty)} of {len(rows)} run(s) finished no episode within their budget "
            f"({', '.join(sorted({_short_budget(r) for r in empty}))}): give --steps at least one "
            "episode of every copy."
        )
    units = sorted({step_unit(r["spec"]) for r in rows})
    out.append(
        "steps counts "
        + " and ".join(
            "agent-steps (periods x agents x copies) for agent learners"
            if unit == "agent-steps"
            else "principal steps (periods x copies) for learn: principals"
            for unit in units
        )
        + "."
    )
    over = [r for r in rows if r["steps"] != r["spec"]["steps"]]
    if over:
        budgets = sorted({r["spec"]["steps"] for r in over})
        ran = sorted({r["steps"] for r in over})
        out.append(
            f"steps is what ran: {len(over)} of {len(rows)} run(s) played "
            f"{', '.join(f'{n:,}' for n in ran)} "
            f"for a budget of {', '.join(f'{n:,}' for n in budgets)} (SB3 runs whole rollouts, the tabular "
            "learners whole periods; --fit-budget brings PPO's and A2C's within 1% of it, or as near as "
            "whole periods allow)."
        )
    return [f"- {line}" for line in out]


EXTERNALITY_IN_WELFARE = {
    "congestion_v0": "the road's delay",
    "commons_v0": "the fish a catch leaves unbred; its third-party stock_value is 0 by default",
}
"""Where an env's agents bear their own externality (the leaderboard's note on a 0 column)."""


def _short_budget(row: dict[str, Any]) -> str:
    """``"<env>: budget B < one episode of E <unit>"`` for a run that finished no episode."""
    spec = row["spec"]
    try:
        known = {f.name for f in dataclasses.fields(RunSpec)}
        needed = f"{episode_steps(RunSpec(**{k: v for k, v in spec.items() if k in known})):,}"
    except (KeyError, ValueError, TypeError):
        needed = "?"
    return f"{spec['env']}: budget {spec['steps']:,} < one episode of {needed} {step_unit(spec)}"


def leaderboard_csv(rows: list[dict[str, Any]]) -> str:
    lines = summary_rows(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(lines[0]))
    writer.writeheader()
    writer.writerows(lines)
    return buffer.getvalue()


def plots(rows: list[dict[str, Any]], out: str | Path) -> list[Path]:
    """Learning curves (welfare share of W* per episode, mean and a 95% Student-t band over
    seeds, with W* and W_LF marked) per env, and each group's final welfare against the
    transfers it paid."""
    plt = pyplot()

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_env: dict[str, dict[tuple, list]] = {}
    for row in rows:
        spec = row["spec"]
        by_env.setdefault(spec["env"], {}).setdefault((spec["principal"], spec["agents"]), []).append(row)
    fig, axes = plt.subplots(1, len(by_env), figsize=(6 * len(by_env), 4), squeeze=False)
    for ax, (env, groups) in zip(axes[0], by_env.items(), strict=True):
        references = {(m["optimum"], m["laissez_faire"]) for members in groups.values() for m in members}
        for optimum, laissez_faire in sorted(references):
            ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label=f"W* = {optimum:,.2f}")
            ax.axhline(
                share_of_optimum(laissez_faire, optimum),
                color="tab:red",
                linestyle=":",
                linewidth=1.2,
                label=f"W_LF = {laissez_faire:,.2f} (laissez-faire)",
            )
        for (principal, agents), members in groups.items():
            length = min(len(m["curve"]) for m in members)
            if length == 0:
                continue
            optimum = members[0]["optimum"]
            curves = np.array([share_of_optimum(np.array(m["curve"][:length]), optimum) for m in members])
            mean = curves.mean(axis=0)
            spread = curves.std(axis=0, ddof=1) / np.sqrt(len(curves)) if len(curves) > 1 else 0 * mean
            band = t975(max(1, len(curves) - 1)) * spread  # as the leaderboard's ±
            x = np.arange(1, length + 1)
            ax.plot(x, mean, label=f"{principal} / {agents}")
            ax.fill_between(x, mean - band, mean + band, alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel("episode (all copies, in order of completion)")
        ax.set_ylabel("welfare as a share of W*")
        ax.legend(fontsize=7)
    paths = [save_figure(fig, out / "curves.png", dpi=110)]

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for line in summary_rows(rows):
        ax.errorbar(
            line["transfers"],
            line["final_share"],
            yerr=None if math.isnan(line["final_share_ci"]) else line["final_share_ci"],
            fmt="o",
            label=f"{line['env']}: {line['principal']} / {line['agents']}",
        )
    ax.set_xlabel("transfers paid per episode")
    ax.set_ylabel("final welfare as a share of W*")
    ax.legend(fontsize=6)
    paths.append(save_figure(fig, out / "welfare_vs_transfers.png", dpi=110))
    return paths


def write_reports(rows: list[dict[str, Any]], out: str | Path) -> list[Path]:
    """``leaderboard.md``, ``leaderboard.csv`` and the plots, in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.md").write_text(leaderboard(rows) + "\n")
    (out / "leaderboard.csv").write_text(leaderboard_csv(rows))
    return [out / "leaderboard.md", out / "leaderboard.csv", *plots(rows, out)]
