"""Benchmark other people's algorithms: a grid of envs x principals x agent learners x seeds,
scored against every env's exact references.

One command, one Python API::

    pa-envs harness --envs pollution_v0,commons_v0 --principals no_transfers,pigouvian \\
        --agents PPO,q_learning --seeds 0,1,2 --steps 30000 --jobs 2 --out results/harness

    from pa_envs.experiments import harness
    specs = harness.grid(["pollution_v0"], ["pigouvian"], ["PPO"], seeds=[0, 1], steps=30_000)
    rows = harness.sweep(specs, "results/harness/runs.jsonl", jobs=2)
    print(harness.leaderboard(rows))

Algorithms are named by strings:

- **Agent learners** train the agents of ``copies`` copies of an env whose principal
  is a mechanism, on :class:`pa_envs.sb3.MechanismVecEnv` (an SB3 ``VecEnv``):
  ``"PPO"``, ``"A2C"``, ``"DQN"`` (Stable-Baselines3, one policy shared by the agents),
  ``"q_learning"``, ``"contract_q_learning"``, ``"hedge"`` (the tabular learners of
  :mod:`pa_envs.learners`), or
  ``"module:Class"``: your own class with SB3's interface, ``Class("MlpPolicy", venv,
  seed=..., **agent_kwargs)`` and ``.learn(total_timesteps)``, or an
  :class:`AgentAlgorithm` subclass (``train(venv, steps, seed)``).
- **Principals**: a bundled mechanism (``"no_transfers"``, ``"pigouvian"``,
  ``"best_flat_tax"``, ``"flat_tax"``, ``"two_phase"``, ``"budgeted"``, with
  ``principal_kwargs``), ``"module:Class"`` for your own
  :class:`~pa_envs.mechanisms.Mechanism` subclass, or ``"learn:PPO"`` (``A2C``,
  or ``learn:module:Class``): an SB3-style learner trained on the principal's
  gymnasium view while the agents best-respond (the agent learner is then ignored), with
  normalized actions and social welfare as its reward
  (:data:`pa_envs.experiments.train_sb3.PRINCIPAL_DEFAULTS`; ``env_kwargs`` override them).

Metrics per run (every episode of every copy is recorded): final social welfare (the
last 10% of episodes) and the area under the welfare curve (all episodes) as shares of
``W*``; the welfare regret ``W* - W`` per episode and its final-regret exponent across run
lengths (:func:`pa_envs.experiments.scores.final_regret_growth`, over seeds); transfers paid
and externality per episode; the agents' mean external regret per period (exact, from the
env's model: what the best fixed action in hindsight would have earned against what they
played); the steps run and wall time.

Results stream to a JSON-lines file, one line per finished run: a sweep that stops
resumes where it stopped (runs already in the file are skipped). ``--out`` also gets
``leaderboard.md``, ``leaderboard.csv`` (mean ± half-width of a 95% Student-t interval
over seeds), ``curves.png`` (learning curves with bands, ``W*`` and ``W_LF`` marked) and
``welfare_vs_transfers.png``.

Budgets: ``steps`` is honoured or the difference is said. SB3 rounds a budget up to
whole collections (PPO: rollouts of ``n_steps`` x copies x agents, 24,576 agent-steps
at its defaults on 4 copies of 3 agents); the sweep warns before it starts, with the
exact numbers, every result records the agent-steps actually run, and the leaderboard
says where they differ from the budget. ``--fit-budget`` (:func:`fit_budgets`) shrinks
PPO's and A2C's ``n_steps`` instead, so that whole rollouts meet it (within 1%).

Steps: an agent learner's budget counts agent-steps (periods x agents x copies), a
``learn:`` principal's its own steps (periods x copies); the progress bar, the lines and
the leaderboard say which. A budget shorter than one episode of every copy is warned of
before the sweep (its runs score n/a).

Batches: the runs of one grid cell (same env and settings, agents and their settings,
steps and copies) whose agents are tabular learners (``q_learning``, ``hedge``,
``contract_q_learning``) and whose principal is bundled are played as one batch: every
copy of every run in one vector env, the principals side by side, one set of learners
(:func:`run_batch`). Each run's result is the one it has alone, bit for bit (but for
``seconds``: its share of the batch's time); a batch plays several times faster than its
runs one by one. ``--no-batch`` (``sweep(..., batch=False)``) runs every run alone.

Progress: a bar counts steps as they are played (every learner, in every run,
``--jobs`` processes included). SB3 learners log like ``train_sb3``: their VecEnv is in a
``VecMonitor`` (``rollout/ep_rew_mean``) and, with ``--log-dir DIR``, each run logs CSV
and TensorBoard into ``DIR/<env>_<principal>_<agents>_seed<seed>_<k>``.


The package's modules: :mod:`~pa_envs.experiments.harness.spec` (what a run is, its names),
:mod:`~pa_envs.experiments.harness.grid` (the grid, checked before the first run, and the
budgets), :mod:`~pa_envs.experiments.harness.adapters` (learners, principals, the recorder),
:mod:`~pa_envs.experiments.harness.runner` (a run, a sweep),
:mod:`~pa_envs.experiments.harness.store` (the results file: damage, locking, claims),
:mod:`~pa_envs.experiments.harness.report` (leaderboard, statistics, plots) and
:mod:`~pa_envs.experiments.harness.cli` (the command line).
"""

from pa_envs.experiments.harness.adapters import (
    AgentAlgorithm,
    CopiesOutOfStep,
    SB3Agents,
    TabularAgents,
    make_agents,
    make_principal,
)
from pa_envs.experiments.harness.cli import build_parser, main, run_from_args
from pa_envs.experiments.harness.grid import (
    budget_notices,
    check_runs,
    fit_budgets,
    grid,
    planned_steps,
    principal_action_space,
    short_budget_notices,
)
from pa_envs.experiments.harness.report import (
    COLUMNS,
    leaderboard,
    leaderboard_csv,
    notes,
    plots,
    share_of_optimum,
    summary_rows,
    write_reports,
)
from pa_envs.experiments.harness.runner import Ticker, batch_cell, groupable, run, run_batch, sweep
from pa_envs.experiments.harness.spec import (
    BUNDLED_PRINCIPALS,
    SB3_ALGORITHMS,
    TABULAR,
    GridError,
    RunSpec,
    base_env,
    check_agents,
    check_principal,
    env_parameters,
    episode_steps,
    load_object,
    run_name,
    step_unit,
)
from pa_envs.experiments.harness.store import Store, read_results
from pa_envs.mechanisms import Mechanism  # a principal named module:Class subclasses it

__all__ = [
    "BUNDLED_PRINCIPALS",
    "COLUMNS",
    "SB3_ALGORITHMS",
    "TABULAR",
    "AgentAlgorithm",
    "CopiesOutOfStep",
    "GridError",
    "Mechanism",
    "RunSpec",
    "SB3Agents",
    "Store",
    "TabularAgents",
    "Ticker",
    "base_env",
    "batch_cell",
    "budget_notices",
    "build_parser",
    "check_agents",
    "check_principal",
    "check_runs",
    "env_parameters",
    "episode_steps",
    "fit_budgets",
    "grid",
    "groupable",
    "leaderboard",
    "leaderboard_csv",
    "load_object",
    "main",
    "make_agents",
    "make_principal",
    "notes",
    "planned_steps",
    "plots",
    "principal_action_space",
    "read_results",
    "run",
    "run_batch",
    "run_from_args",
    "run_name",
    "share_of_optimum",
    "short_budget_notices",
    "step_unit",
    "summary_rows",
    "sweep",
    "write_reports",
]
