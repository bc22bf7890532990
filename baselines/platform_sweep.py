"""The platform_v0 commission sweep: the sellers' equilibrium under each commission.

For each commission ``c`` (and an optional bonus on good reviews), the Markov
perfect equilibrium of platform_v0's exact model under
``PlatformGame.commission_contract(c, quality_bonus)``, with the quality, prices
and trust along the equilibrium path and the platform's revenue, refunds,
profit and the social welfare per episode (exact expectations, nothing
simulated). See ``docs/envs/platform_v0.md`` for the results.

Run ``python -m baselines.platform_sweep --help`` for options.
"""

from __future__ import annotations

import argparse

import numpy as np

from pa_envs.analysis import equilibrium
from pa_envs.core.tabular import TabularModel
from pa_envs.envs.marketplace import PlatformGame, PlatformParams
from pa_envs.experiments.common import script_parser

COMMISSIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
"""The commissions swept by default."""


def path_statistics(game: PlatformGame, model: TabularModel, policy: np.ndarray) -> dict[str, float]:
    """Averages over the periods of an episode of a joint policy, from the model's initial law.

    ``policy`` is ``(T, S)`` joint-action (or count-profile) indices, as in
    :class:`~pa_envs.analysis.PolicyValue`. Returns the expected share of
    high-quality choices among all sellers' choices, the expected share of
    low-price choices, the mean trust (each averaged over the ``max_cycles``
    periods), and the expected totals of sales and bad reviews per episode.
    """
    n_states, horizon = model.n_states, model.horizon
    policy = np.asarray(policy, dtype=np.int64)
    rows = np.arange(n_states)
    trust = model.states[:, 0].astype(np.float64)
    transitions = model.transitions
    law = model.initial_distribution.copy()
    high = low_price = mean_trust = sales = bad = 0.0
    for t in range(horizon):
        joint = policy[0 if policy.shape[0] == 1 else t]
        actions = model.joint_actions[joint]  # (S, N)
        high += law @ game.quality[actions].mean(axis=1) / horizon
        low_price += law @ (1 - game.price_level[actions]).mean(axis=1) / horizon
        mean_trust += law @ trust / horizon
        demand = game.demand[rows[:, None], actions]
        sales += law @ demand.sum(axis=1)
        bad += law @ (demand - game.good_threshold[rows[:, None], actions]).sum(axis=1)
        classes = model.transition_class[joint]
        weights = law[:, None] * transitions.probabilities[rows, classes]
        law = np.bincount(transitions.successors[rows, classes].ravel(), weights.ravel(), minlength=n_states)
    return {
        "high_quality_share": float(high),
        "low_price_share": float(low_price),
        "mean_trust": float(mean_trust),
        "sales": float(sales),
        "bad_reviews": float(bad),
    }


def commission_sweep(
    commissions: tuple[float, ...] | np.ndarray = COMMISSIONS,
    *,
    agent_discount: float = 0.99,
    quality_bonus: float = 0.0,
    **params: object,
) -> list[dict[str, float]]:
    """Sellers' equilibrium under each commission: quality, trust, the platform's revenue, welfare.

    For each commission ``c`` the Markov perfect equilibrium of the exact model
    (:func:`pa_envs.analysis.equilibrium`) under
    ``commission_contract(c, quality_bonus)`` with ``agent_discount``, over one
    episode (``max_cycles`` periods, undiscounted). ``params`` are
    :class:`PlatformParams` fields (default: the env's defaults).

    Returns
    -------
    list of dict
        One row per commission: ``commission``, ``high_quality_share`` and
        ``low_price_share`` (of all choices along the equilibrium path),
        ``mean_trust`` (along the path), ``commission_revenue`` (expected
        commissions per episode), ``refunds``, ``bonuses``,
        ``platform_profit`` (revenue - refunds - bonuses: the platform's
        ``"payoff"`` return) and ``social_welfare`` (per episode).
    """
    game = PlatformGame(PlatformParams(**params))
    model = game.exact_model()
    rows = []
    for commission in np.asarray(commissions, dtype=np.float64).tolist():
        contract = game.commission_contract(commission, quality_bonus)
        outcome = equilibrium(model, contract=contract, agent_discount=agent_discount)
        stats = path_statistics(game, model, outcome.policy)
        # The transfers paid are bonuses (on good reviews) minus commissions (on sales).
        bonuses = quality_bonus * (stats["sales"] - stats["bad_reviews"])
        revenue = bonuses - outcome.transfers
        rows.append(
            {
                "commission": commission,
                "high_quality_share": stats["high_quality_share"],
                "low_price_share": stats["low_price_share"],
                "mean_trust": stats["mean_trust"],
                "commission_revenue": revenue,
                "refunds": outcome.externality,
                "bonuses": bonuses,
                "platform_profit": revenue - outcome.externality - bonuses,
                "social_welfare": outcome.social_welfare,
            }
        )
    return rows


def format_sweep(rows: list[dict[str, float]]) -> str:
    """A markdown table of :func:`commission_sweep` rows."""
    columns = [
        ("commission", "{:.2f}"),
        ("high_quality_share", "{:.3f}"),
        ("low_price_share", "{:.3f}"),
        ("mean_trust", "{:.2f}"),
        ("commission_revenue", "{:.2f}"),
        ("refunds", "{:.2f}"),
        ("platform_profit", "{:.2f}"),
        ("social_welfare", "{:.2f}"),
    ]
    lines = ["| " + " | ".join(name for name, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[name]) for name, fmt in columns) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m baselines.platform_sweep``."""
    parser = script_parser("baselines.platform_sweep", __doc__.split("\n\n")[0])
    parser.add_argument("--n-agents", type=int, default=3, help="sellers")
    parser.add_argument(
        "--agent-discount", type=float, default=0.99, help="the sellers' discount (0: myopic sellers)"
    )
    parser.add_argument("--quality-bonus", type=float, default=0.0, help="the bonus paid per good review")
    parser.add_argument(
        "--commissions", type=float, nargs="+", default=list(COMMISSIONS), help="the commissions to sweep"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Print the commission sweep as a markdown table (see :func:`commission_sweep`)."""
    args = build_parser().parse_args(argv)
    rows = commission_sweep(
        args.commissions,
        agent_discount=args.agent_discount,
        quality_bonus=args.quality_bonus,
        n_agents=args.n_agents,
    )
    print(format_sweep(rows))


if __name__ == "__main__":
    main()
