"""The paper's pollution experiment: learning firms under four principals.

Q-learning firms (pollution_v0, N = 3 by default) learn over many episodes
while the principal is, in turn: no transfers (laissez-faire), the best flat
tax on ``high`` (the coarse incentive, found by the exact analysis), the
Pigouvian oracle, and the two-phase mechanism (which does not know the firms'
payoffs). Seeds run side by side as a batch. Prints a table (per-episode
welfare in the last 10% of episodes as a share of ``W*``, mean ± standard
error over seeds; transfers paid; cumulative social-welfare regret and its
log-log slope over the second half) and writes plots and the raw numbers to
``--out``.

Run ``python -m baselines.experiment --help`` for options; ``--quick`` is the
small setting the tests use.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pa_envs import analysis, pollution_v0
from pa_envs.core import resolve_period, rng
from pa_envs.learners import QLearner, counterfactual_rewards
from pa_envs.mechanisms import (
    FlatSchedule,
    Mechanism,
    MechanismInput,
    NoTransfers,
    PeriodFeedback,
    Pigouvian,
)
from pa_envs.two_phase import TwoPhaseMechanism

MECHANISMS = ("laissez-faire", "best flat tax", "Pigouvian oracle", "two-phase")


class Situations:
    """What a firm conditions on: the stock and the contract row it is shown.

    Each distinct (rounded) contract row gets an id the first time it is
    posted; a firm's observed situation is ``state * rows + row id``, so a new
    contract is a new situation that an optimistic learner explores.
    """

    def __init__(self, n_states: int, rows: int = 256) -> None:
        self.n_states, self.rows = n_states, rows
        self.ids: dict[bytes, int] = {}

    @property
    def size(self) -> int:
        return self.n_states * self.rows

    def __call__(self, states: np.ndarray, contract: np.ndarray) -> np.ndarray:
        """``(B, N)`` situation indices for state indices ``(B,)`` and contracts ``(B, N, S)``."""
        batch, n_agents, _ = contract.shape
        rounded = np.round(contract, 3)
        out = np.empty((batch, n_agents), dtype=np.int64)
        for b in range(batch):
            for i in range(n_agents):
                key = rounded[b, i].tobytes()
                row = self.ids.setdefault(key, len(self.ids))
                if row >= self.rows:
                    raise RuntimeError(f"more than {self.rows} distinct contract rows were posted")
                out[b, i] = states[b] * self.rows + row
        return out


def run(
    mechanism: Mechanism,
    game,
    model,
    episodes: int,
    seeds: list[int],
    learner_settings: dict,
    progress=None,
) -> dict[str, np.ndarray]:
    """Episodes of learning firms under one mechanism, one batch copy per seed."""
    batch, n_agents = len(seeds), game.n_agents
    mechanism.bind(game)
    situations = Situations(model.n_states)
    learners = QLearner(
        situations.size, game.n_actions, n_agents, batch=batch, seed=seeds[0], **learner_settings
    )
    keys = np.array([rng.key_from_seed(s) for s in seeds], dtype=np.uint64)
    welfare = np.zeros((batch, episodes))
    transfers = np.zeros((batch, episodes))
    horizon = game.params.max_cycles
    for episode in range(episodes):
        mechanism.start_episodes(batch)
        # The same random stream as a pa_envs env reset with this seed (period 0 is the reset).
        state = game.initial_state(
            rng.batch_uniforms(keys, np.full(batch, episode << 32, np.uint64), game.noise_size)
        )
        for period in range(horizon):
            s = model.state_index(state)
            periods = np.full(batch, period)
            contract = np.asarray(
                mechanism.contract(MechanismInput(state, state.astype(np.float32), periods))
            )
            seen = situations(s, contract)
            actions = learners.act(seen)
            counts = np.full(batch, (episode << 32) | (period + 1), dtype=np.uint64)
            noise = rng.batch_uniforms(keys, counts, game.noise_size)
            outcome = resolve_period(game, state, actions, contract, noise)
            next_state = outcome.dynamics.next_state
            done = np.full(batch, period == horizon - 1)
            counterfactual = counterfactual_rewards(model, s, actions, contract)
            # The next situation's contract is not posted yet: bootstrap (if gamma > 0) on this one's row.
            following = situations(model.state_index(next_state), contract)
            learners.learn(seen, actions, outcome.agent_rewards, following, done, counterfactual)
            mechanism.update(PeriodFeedback.of(state, periods, contract, outcome, next_state, done))
            welfare[:, episode] += outcome.social_welfare
            transfers[:, episode] += outcome.transfers.sum(axis=1)
            state = next_state
        learners.end_episode()
        if progress is not None:
            progress.update(1)
    return {"welfare": welfare, "transfers": transfers, "agent_regret": learners.regret}


def summarize(results: dict, optimum: float) -> dict[str, float]:
    welfare = results["welfare"]  # (seeds, episodes)
    episodes = welfare.shape[1]
    last = welfare[:, -max(1, episodes // 10) :].mean(axis=1) / optimum
    mean_curve = welfare.mean(axis=0)
    cumulative = analysis.cumulative_regret(mean_curve, optimum)
    try:
        slope = analysis.regret_slope(cumulative, 0.5)
    except ValueError:
        slope = float("nan")
    stderr = float(last.std(ddof=1) / np.sqrt(len(last))) if len(last) > 1 else 0.0
    return {
        "last_10pct_share_of_optimum": float(last.mean()),
        "stderr": stderr,
        "transfers_paid_per_episode": float(results["transfers"].mean()),
        "cumulative_regret": float(cumulative[-1]),
        "regret_slope_second_half": slope,
        # The slope of a cumulative sum can be small because of a large early lump: the
        # mean regret per episode over the second half says whether regret still grows.
        "regret_per_episode_second_half": float(optimum - mean_curve[episodes // 2 :].mean()),
    }


def plot(curves: dict[str, np.ndarray], optimum: float, laissez_faire: float, out: Path) -> list[Path]:
    """Welfare per episode (mean and a band of one standard error) and cumulative regret, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, welfare in curves.items():
        mean = welfare.mean(axis=0)
        error = welfare.std(axis=0, ddof=1) / np.sqrt(welfare.shape[0]) if welfare.shape[0] > 1 else 0 * mean
        episodes = np.arange(1, len(mean) + 1)
        ax.plot(episodes, mean, label=name)
        ax.fill_between(episodes, mean - error, mean + error, alpha=0.25)
    ax.axhline(optimum, color="black", linestyle="--", linewidth=1, label="W* (exact optimum)")
    ax.axhline(laissez_faire, color="grey", linestyle=":", linewidth=1, label="W_LF (exact)")
    ax.set_xlabel("episode")
    ax.set_ylabel("social welfare per episode")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    paths.append(out / "welfare.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, welfare in curves.items():
        cumulative = analysis.cumulative_regret(welfare.mean(axis=0), optimum)
        episodes = np.arange(1, len(cumulative) + 1)
        positive = cumulative > 0
        ax.loglog(episodes[positive], cumulative[positive], label=name)
    n = np.arange(1, next(iter(curves.values())).shape[1] + 1)
    ax.loglog(n, n * 10.0, color="grey", linestyle=":", label="slope 1 (linear)")
    ax.loglog(n, 10.0 * n ** (2 / 3) * 10, color="black", linestyle="--", linewidth=1, label="slope 2/3")
    ax.set_xlabel("episode")
    ax.set_ylabel("cumulative social-welfare regret")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "regret.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=800)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-agents", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="60 episodes of 2 seeds (what the tests run)")
    parser.add_argument("--out", type=Path, default=Path("results/experiment"))
    parser.add_argument(
        "--no-exploration",
        action="store_true",
        help="firms that never explore (epsilon 0, no optimism): the theory's conditions fail",
    )
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.episodes, args.seeds = 60, 2

    env = pollution_v0.parallel_env(n_agents=args.n_agents)
    game, model = env.game, env.tabular_model()
    references = analysis.exact_references(model)
    optimum, laissez_faire = references.optimum.social_welfare, references.laissez_faire.social_welfare
    total_periods = args.episodes * game.params.max_cycles
    mechanisms = {
        "laissez-faire": NoTransfers(),
        "best flat tax": FlatSchedule.best_flat_tax(env, model=model),
        "Pigouvian oracle": Pigouvian(),
        "two-phase": TwoPhaseMechanism(total_periods),
    }
    # Optimistic initial values (above any reward) so that firms try every level in every stock.
    learner_settings = {"alpha": 0.3, "decay": 0.95, "min_epsilon": 0.01, "initial_q": 15.0}
    if args.no_exploration:
        learner_settings = {"alpha": 0.3, "epsilon0": 0.0, "min_epsilon": 0.0, "initial_q": 0.0}
    seeds = list(range(args.seeds))

    progress = None
    if not args.no_progress:
        try:
            from tqdm import tqdm

            progress = tqdm(total=args.episodes * len(mechanisms), unit="episode", desc="experiment")
        except ImportError:
            progress = None
    start = time.perf_counter()
    curves, table = {}, {}
    for name, mechanism in mechanisms.items():
        results = run(mechanism, game, model, args.episodes, seeds, learner_settings, progress)
        curves[name] = results["welfare"]
        table[name] = summarize(results, optimum)
    two_phase = mechanisms["two-phase"]
    learned = {
        "tau_seed_0": two_phase.estimates(0)["tau"].tolist(),
        "phase_1_periods_at_most": two_phase.phase1_periods_expected,
        "phase_2_from_period": [int(two_phase.estimates(b)["phase2_from"]) for b in range(len(seeds))],
        "total_periods": total_periods,
    }
    if progress is not None:
        progress.close()
    seconds = time.perf_counter() - start

    print(
        f"pollution_v0, N={args.n_agents}, Q-learning firms"
        f"{' that never explore' if args.no_exploration else ''}, "
        f"{args.episodes} episodes x {args.seeds} seeds "
        f"({seconds:.0f} s). Exact: W* = {optimum:.2f}, W_LF = {laissez_faire:.2f} "
        f"({laissez_faire / optimum:.3f} of W*)"
    )
    print(
        f"{'principal':<18} {'last 10% welfare / W*':>24} {'transfers/episode':>18} "
        f"{'cum. regret':>12} {'slope (2nd half)':>17} {'regret/episode (2nd half)':>26}"
    )
    for name, row in table.items():
        share = f"{row['last_10pct_share_of_optimum']:.3f} +- {row['stderr']:.3f}"
        print(
            f"{name:<18} {share:>24} {row['transfers_paid_per_episode']:>18.2f} "
            f"{row['cumulative_regret']:>12.0f} {row['regret_slope_second_half']:>17.2f} "
            f"{row['regret_per_episode_second_half']:>26.2f}"
        )
    print(
        f"two-phase: phase 1 (warm-up and probing) takes at most {learned['phase_1_periods_at_most']:,} "
        f"of {total_periods:,} periods; phase 2 began after {learned['phase_2_from_period']} periods "
        f"(-1: not reached); estimated minimal transfers (seed 0, per firm and level): "
        f"{np.round(two_phase.estimates(0)['tau'], 2).tolist()}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    record = {
        "optimum": optimum,
        "laissez_faire": laissez_faire,
        "episodes": args.episodes,
        "seeds": args.seeds,
        "n_agents": args.n_agents,
        "learner_settings": learner_settings,
        "seconds": seconds,
        "table": table,
        "two_phase": learned,
    }
    (args.out / "summary.json").write_text(json.dumps(record, indent=2))
    np.savez(args.out / "welfare.npz", **{name.replace(" ", "_"): w for name, w in curves.items()})
    if not args.no_plots:
        for path in plot(curves, optimum, laissez_faire, args.out):
            print(f"wrote {path}")
    return table


if __name__ == "__main__":
    main()
