"""Benchmark other people's algorithms: a grid of envs x principals x agent learners x seeds,
scored against every env's exact references.

One command, one Python API::

    python -m baselines.harness --envs pollution_v0,commons_v0 --principals no_transfers,pigouvian \\
        --agents PPO,q_learning --seeds 0,1,2 --steps 30000 --jobs 2 --out results/harness

    from baselines import harness
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
  gymnasium view while the agents best-respond (the agent learner is then ignored).

Metrics per run (every episode of every copy is recorded): final social welfare (the
last 10% of episodes) and the area under the welfare curve (all episodes) as shares of
``W*``; the welfare regret ``W* - W`` per episode and the log-log slope of its cumulative
sum over the second half; transfers paid and externality per episode; the agents' mean
external regret per period (exact, from the env's model: what the best fixed action in
hindsight would have earned against what they played); agent-steps and wall time.

Results stream to a JSON-lines file, one line per finished run: a sweep that stops
resumes where it stopped (runs already in the file are skipped). ``--out`` also gets
``leaderboard.md``, ``leaderboard.csv`` (mean ± 95% CI over seeds), ``curves.png``
(learning curves with bands) and ``welfare_vs_transfers.png``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import importlib
import io
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.common import json_dict
from pa_envs import ENVS, analysis, get_env_module, presets
from pa_envs.core.names import did_you_mean
from pa_envs.learners import counterfactual_rewards
from pa_envs.mechanisms import MECHANISMS, Mechanism, make_mechanism
from pa_envs.regret import mean_interval

SB3_ALGORITHMS = ("PPO", "A2C", "DQN")
TABULAR = ("q_learning", "contract_q_learning", "hedge")
BUNDLED_PRINCIPALS = (*MECHANISMS, "best_flat_tax", "flat_tax", "two_phase")


# -- what a run is -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of the grid.

    Attributes
    ----------
    env, principal, agents : str
        A registered env, a principal and an agent learner (see the module docstring).
    seed : int
    steps : int
        Agent-steps of training (SB3's ``total_timesteps``: periods x agents x copies).
    copies : int
        Copies of the env stepped together.
    n_agents : int
    env_kwargs, principal_kwargs, agent_kwargs : dict
        Passed to the env, the principal and the agent learner.
    """

    env: str
    principal: str
    agents: str
    seed: int = 0
    steps: int = 20_000
    copies: int = 4
    n_agents: int = 3
    env_kwargs: dict = dataclasses.field(default_factory=dict)
    principal_kwargs: dict = dataclasses.field(default_factory=dict)
    agent_kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        """What identifies the run in the results file (every field, canonical JSON)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def grid(
    envs: Sequence[str],
    principals: Sequence[str],
    agents: Sequence[str],
    seeds: Sequence[int] = (0,),
    **common: Any,
) -> list[RunSpec]:
    """Every combination, all checked now, so that nothing fails after runs have started:
    the names (``module:Class`` ones are loaded), the seeds and sizes, and the env's
    parameters. A ``learn:`` principal trains against best-responding agents, so it gets
    one run per seed whatever the agent learners.

    Raises
    ------
    ValueError, KeyError, TypeError
        Naming the first bad entry (unknown names with the closest matches).
    """
    lists = {"envs": envs, "principals": principals, "agents": agents, "seeds": seeds}
    for what, values in lists.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"{what} must be a non-empty list, got {values!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seeds must be non-negative ints, got {seed!r}")
    defaults = {
        f.name: f.default for f in dataclasses.fields(RunSpec) if f.default is not dataclasses.MISSING
    }
    settings = {**defaults, **common}
    for name in ("steps", "copies", "n_agents"):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    for name in envs:
        # Builds the env once: unknown names and bad parameters fail here, not in a worker.
        presets.parallel_env(name, n_agents=settings["n_agents"], **common.get("env_kwargs", {}))
    for name in principals:
        check_principal(name)
        if name.startswith("learn:"):
            learner = name.removeprefix("learn:")
            if learner not in SB3_ALGORITHMS:
                load_object(learner)
        elif ":" in name:
            make_principal(name, None, common.get("principal_kwargs", {}))
    for name in agents:
        check_agents(name)
        if ":" in name:
            load_object(name)
    specs: dict[str, RunSpec] = {}
    for e in envs:
        for p in principals:
            for a in agents:
                for s in seeds:
                    spec = RunSpec(
                        env=e,
                        principal=p,
                        agents="best_response" if p.startswith("learn:") else a,
                        seed=s,
                        **common,
                    )
                    specs.setdefault(spec.key, spec)
    return list(specs.values())


def _closest(name: str, known: Iterable[str], what: str) -> ValueError:
    known = list(known)
    return ValueError(
        f"unknown {what} {name!r}{did_you_mean(name, known)} Known: {sorted(known)} or 'module:Class'"
    )


def check_agents(name: str) -> None:
    """Raise ``ValueError`` (with the closest names) unless ``name`` is an agent learner."""
    if name in SB3_ALGORITHMS or name in TABULAR or ":" in name:
        return
    raise _closest(name, (*SB3_ALGORITHMS, *TABULAR), "agent learner")


def check_principal(name: str) -> None:
    """Raise ``ValueError`` (with the closest names) unless ``name`` is a principal."""
    if name in BUNDLED_PRINCIPALS or ":" in name:
        return
    raise _closest(name, (*BUNDLED_PRINCIPALS, "learn:PPO", "learn:A2C"), "principal")


def load_object(path: str) -> Any:
    """``"package.module:Name"`` -> the object."""
    module, _, attribute = path.partition(":")
    if not module or not attribute:
        raise ValueError(f"expected 'module:Name', got {path!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # a user's module beside them, as `python -m` would find it
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"cannot load {path!r}: {error}") from None


# -- adapters --------------------------------------------------------------------------------


class AgentAlgorithm:
    """The interface of an agent learner: train the agents on ``venv`` for ``steps`` agent-steps.

    ``venv`` is an SB3 ``VecEnv`` of ``copies x N`` agents (a
    :class:`pa_envs.sb3.MechanismVecEnv` under a recorder); ``venv.unwrapped.game_state``
    and ``venv.unwrapped.contracts`` give the state and the posted contracts.
    """

    def train(self, venv: Any, steps: int, seed: int) -> None:
        raise NotImplementedError


class SB3Agents(AgentAlgorithm):
    """An SB3 algorithm (or any class with its interface), one policy shared by the agents."""

    def __init__(self, algorithm: type, **kwargs: Any) -> None:
        self.algorithm, self.kwargs = algorithm, kwargs

    def train(self, venv: Any, steps: int, seed: int) -> None:
        import torch

        torch.set_num_threads(1)  # small networks: threads only fight over the cores
        kwargs = {"device": "cpu", "verbose": 0, **self.kwargs}
        model = self.algorithm("MlpPolicy", venv, seed=seed, **kwargs)
        model.learn(total_timesteps=steps)


class TabularAgents(AgentAlgorithm):
    """The batch-first learners of :mod:`pa_envs.learners`, one per agent of every copy.

    Each agent conditions on what it observes (its state features, as an index) and,
    for ``q_learning`` and ``hedge``, on the contract row it is shown (a new row is a
    new situation); ``contract_q_learning`` reads its contract instead
    (:func:`pa_envs.learning_loop.make_agents`). Copy ``c`` draws from seed
    ``seed * 1000 + c``.
    """

    def __init__(self, kind: str, **settings: Any) -> None:
        self.kind, self.settings = kind, settings

    def train(self, venv: Any, steps: int, seed: int) -> None:
        from pa_envs.learners import ContractQLearner
        from pa_envs.learning_loop import make_agents

        env = venv.unwrapped
        game, n = env.game, env.game.n_agents
        model = game.exact_model()
        seeds = [seed * 1000 + c for c in range(env.num_copies)]
        settings = {"rows": 1024, **self.settings} if self.kind != "contract_q_learning" else self.settings
        learners, situation, observations = make_agents(game, seeds, {"learner": self.kind, **settings})
        contract_aware = isinstance(learners, ContractQLearner)
        venv.reset()
        periods = max(1, steps // venv.num_envs)
        for _ in range(periods):
            state, contracts = env.game_state, env.contracts
            seen = situation(observations(game.agent_features(state)), contracts)
            actions = learners.act_unchecked(seen, contracts) if contract_aware else learners.act(seen)
            _, rewards, dones, _ = venv.step(actions.reshape(-1))
            accounts = env.last_period
            counterfactual = counterfactual_rewards(model, model.state_index(state), actions, contracts)
            following = situation(observations(game.agent_features(env.game_state)), env.contracts)
            done = dones.reshape(-1, n)[:, 0]
            learners.learn(
                seen, actions, rewards.reshape(-1, n).astype(np.float64), following, done, counterfactual,
                transfers=accounts.transfers, signals=accounts.signals,
            )  # fmt: skip
            if done.any():
                learners.end_episode()


def make_agents(name: str, kwargs: dict[str, Any]) -> AgentAlgorithm:
    """The adapter of an agent learner named as in the module docstring."""
    check_agents(name)
    if name in SB3_ALGORITHMS:
        import stable_baselines3

        return SB3Agents(getattr(stable_baselines3, name), **kwargs)
    if name in TABULAR:
        return TabularAgents(name, **kwargs)
    loaded = load_object(name)
    if isinstance(loaded, type) and issubclass(loaded, AgentAlgorithm):
        return loaded(**kwargs)
    return SB3Agents(loaded, **kwargs)


def make_principal(name: str, env: Any, kwargs: dict[str, Any]) -> Mechanism:
    """The mechanism a principal name stands for (not for ``learn:`` principals)."""
    check_principal(name)
    if name in BUNDLED_PRINCIPALS:
        return make_mechanism(name, env, **kwargs)
    loaded = load_object(name)
    if not (isinstance(loaded, type) and issubclass(loaded, Mechanism)):
        raise ValueError(f"{name!r} is not a pa_envs Mechanism subclass")
    return loaded(**kwargs)


# -- recording -------------------------------------------------------------------------------


def _recorder(venv: Any, model: Any) -> Any:
    """Wrap the agents' VecEnv: per-episode welfare, transfers, externality, agents' regret."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class Recorder(VecEnvWrapper):
        def __init__(self, venv: Any) -> None:
            super().__init__(venv)
            env = venv.unwrapped
            self.n_agents = env.n_agents
            copies = env.num_copies
            self.running = np.zeros((3, copies))
            self.episodes: list[tuple[float, float, float]] = []
            self.best = np.zeros((copies, self.n_agents, env.game.n_actions))
            self.played = np.zeros((copies, self.n_agents))
            self.periods = 0
            self._before: tuple[np.ndarray, np.ndarray] | None = None

        def reset(self) -> np.ndarray:
            out = self.venv.reset()
            self.running[:] = 0.0
            return out

        def step_async(self, actions: np.ndarray) -> None:
            env = self.venv.unwrapped
            self._before = (model.state_index(env.game_state), env.contracts, np.asarray(actions))
            self.venv.step_async(actions)

        def step_wait(self):
            out = self.venv.step_wait()
            env = self.venv.unwrapped
            accounts = env.last_period
            states, contracts, actions = self._before
            joint = env.engine.check_actions(actions)
            # Exact external regret: every action's expected reward, the others' play fixed.
            rewards = counterfactual_rewards(model, states, joint, contracts)
            self.best += rewards
            self.played += np.take_along_axis(rewards, joint[:, :, None], axis=2)[:, :, 0]
            self.periods += 1
            self.running += [accounts.social_welfare, accounts.transfers.sum(axis=1), accounts.externality]
            for copy in np.flatnonzero(accounts.done):
                self.episodes.append(tuple(float(x) for x in self.running[:, copy]))
                self.running[:, copy] = 0.0
            return out

        def agents_regret(self) -> float:
            if not self.periods:
                return float("nan")
            return float((self.best.max(axis=2) - self.played).mean() / self.periods)

    return Recorder(venv)


def share_of_optimum(welfare: float | np.ndarray, optimum: float) -> float | np.ndarray:
    """Welfare as a share of ``W*``: 1 at the optimum. For costs (negative welfare)
    ``1 - (W* - W) / |W*|``, so that higher is still better."""
    scale = abs(optimum) if optimum != 0 else 1.0
    return 1.0 - (optimum - welfare) / scale


# -- one run ---------------------------------------------------------------------------------


def env_parameters(spec: RunSpec) -> tuple[str, dict[str, Any]]:
    """The registered env of a run and all its parameters (a preset's, then the run's)."""
    return presets.env_kwargs(spec.env, n_agents=spec.n_agents, **spec.env_kwargs)


def run(spec: RunSpec) -> dict[str, Any]:
    """Train, record and score one run; returns a JSON-ready result (with its learning curve)."""
    start = time.perf_counter()
    _, env_kwargs = env_parameters(spec)
    base = presets.parallel_env(spec.env, **env_kwargs)
    model = base.game.exact_model()
    references = analysis.exact_references(model)
    optimum = references.optimum.social_welfare
    laissez_faire = references.laissez_faire.social_welfare
    if spec.principal.startswith("learn:"):
        curve, steps, agents_regret = _run_principal_learner(spec)
    else:
        curve, steps, agents_regret = _run_agent_learners(spec, base, model)
    welfare = np.array([episode[0] for episode in curve])
    tail = welfare[-max(1, len(welfare) // 10) :] if len(welfare) else welfare
    cumulative = analysis.cumulative_regret(welfare, optimum)
    try:
        slope = analysis.regret_slope(cumulative, 0.5)
    except ValueError:
        slope = float("nan")

    def share(values: np.ndarray) -> float:
        # 1 at W*; for costs (negative welfare) 1 - (W* - W)/|W*| keeps "higher is better".
        return float(share_of_optimum(values.mean(), optimum)) if len(values) else float("nan")

    return {
        "key": spec.key,
        "spec": dataclasses.asdict(spec),
        "optimum": optimum,
        "laissez_faire": laissez_faire,
        "episodes": len(welfare),
        "final_share": share(tail),
        "auc_share": share(welfare),
        "final_welfare": float(tail.mean()) if len(tail) else float("nan"),
        "regret_per_episode": float(optimum - welfare.mean()) if len(welfare) else float("nan"),
        "regret_slope": slope,
        "transfers": float(np.mean([e[1] for e in curve])) if curve else float("nan"),
        "externality": float(np.mean([e[2] for e in curve])) if curve else float("nan"),
        "agents_regret": agents_regret,
        "steps": steps,
        "seconds": time.perf_counter() - start,
        "curve": welfare.tolist(),
        "curve_transfers": [e[1] for e in curve],
    }


def _run_agent_learners(spec: RunSpec, base: Any, model: Any) -> tuple[list, int, float]:
    from pa_envs.sb3 import MechanismVecEnv

    mechanism = make_principal(spec.principal, base, spec.principal_kwargs)
    venv = MechanismVecEnv(base, mechanism, spec.copies, seed=spec.seed)
    recorder = _recorder(venv, model)
    make_agents(spec.agents, spec.agent_kwargs).train(recorder, spec.steps, spec.seed)
    steps = recorder.periods * venv.num_envs
    return recorder.episodes, steps, recorder.agents_regret()


def _run_principal_learner(spec: RunSpec) -> tuple[list, int, float]:
    import gymnasium
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    from pa_envs.views import view_ids

    torch.set_num_threads(1)
    learner = spec.principal.removeprefix("learn:")
    if learner in SB3_ALGORITHMS:
        import stable_baselines3

        algorithm = getattr(stable_baselines3, learner)
    else:
        algorithm = load_object(learner)
    episodes: list[tuple[float, float, float]] = []
    env_name, env_kwargs = env_parameters(spec)
    horizon = get_env_module(env_name).parallel_env(**env_kwargs).params.max_cycles

    class Record(gymnasium.Wrapper):
        def reset(self, **kwargs: Any):
            self.totals = np.zeros(3)
            return self.env.reset(**kwargs)

        def step(self, action):
            observation, reward, terminated, truncated, info = self.env.step(action)
            self.totals += [info["social_welfare"], info["total_transfers"], info["externality"]]
            if terminated or truncated:
                episodes.append(tuple(float(x) for x in self.totals))
            return observation, reward, terminated, truncated, info

    def make() -> gymnasium.Env:
        view = gymnasium.make(view_ids(env_name)[0], max_episode_steps=horizon, **env_kwargs)
        return Record(view)

    venv = make_vec_env(make, n_envs=spec.copies, seed=spec.seed)
    model = algorithm("MlpPolicy", venv, seed=spec.seed, device="cpu", verbose=0, **spec.agent_kwargs)
    model.learn(total_timesteps=spec.steps)
    return episodes, int(model.num_timesteps), float("nan")


# -- sweeps ----------------------------------------------------------------------------------


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The runs already in a results file (a missing file has none)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def sweep(
    specs: Sequence[RunSpec], results: str | Path, *, jobs: int = 1, progress: bool = True
) -> list[dict[str, Any]]:
    """Run every spec not yet in ``results`` (JSON lines, appended as each run finishes),
    ``jobs`` at a time in separate processes; return every result of the grid."""
    results = Path(results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done = {row["key"]: row for row in read_results(results)}
    todo = [spec for spec in specs if spec.key not in done]
    bar = _progress(len(specs), len(specs) - len(todo)) if progress else None
    with results.open("a") as out:

        def keep(row: dict[str, Any]) -> None:
            out.write(json.dumps(row) + "\n")
            out.flush()  # an interrupted sweep keeps every finished run
            done[row["key"]] = row
            if bar is not None:
                bar.update(1)

        if jobs <= 1:
            for spec in todo:
                keep(run(spec))
        else:
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
                for future in concurrent.futures.as_completed([pool.submit(run, s) for s in todo]):
                    keep(future.result())
    if bar is not None:
        bar.close()
    return [done[spec.key] for spec in specs]


def _progress(total: int, initial: int) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, desc="runs", unit="run")


# -- reporting -------------------------------------------------------------------------------

COLUMNS = (
    ("final_share", "final W/W*", 3),
    ("auc_share", "AUC W/W*", 3),
    ("regret_per_episode", "regret/episode", 2),
    ("regret_slope", "regret slope", 2),
    ("transfers", "transfers/episode", 2),
    ("externality", "externality/episode", 2),
    ("agents_regret", "agents' regret/period", 3),
    ("steps", "agent-steps", 0),
    ("seconds", "seconds", 1),
)


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
            line[key], line[f"{key}_ci"] = mean_interval([float(m[key]) for m in members])
        out.append(line)
    return out


def leaderboard(rows: list[dict[str, Any]]) -> str:
    """A Markdown table, best final share first, ``mean ± CI`` over seeds."""
    lines = summary_rows(rows)
    lines.sort(key=lambda r: (r["env"], -(r["final_share"] if not math.isnan(r["final_share"]) else -1e9)))
    header = ["env", "principal", "agents", "seeds", *[label for _, label, _ in COLUMNS]]
    text = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for line in lines:
        cells = [line["env"], f"`{line['principal']}`", f"`{line['agents']}`", str(line["seeds"])]
        for key, _, digits in COLUMNS:
            value, ci = line[key], line[f"{key}_ci"]
            cell = "n/a" if math.isnan(value) else f"{value:,.{digits}f}"
            if not math.isnan(value) and not math.isnan(ci):
                cell += f" ± {ci:,.{digits}f}"
            cells.append(cell)
        text.append("| " + " | ".join(cells) + " |")
    return "\n".join(text)


def leaderboard_csv(rows: list[dict[str, Any]]) -> str:
    lines = summary_rows(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(lines[0]))
    writer.writeheader()
    writer.writerows(lines)
    return buffer.getvalue()


def plots(rows: list[dict[str, Any]], out: str | Path) -> list[Path]:
    """Learning curves (welfare share of W* per episode, mean ± 95% CI band over seeds) per
    env, and each group's final welfare against the transfers it paid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_env: dict[str, dict[tuple, list]] = {}
    for row in rows:
        spec = row["spec"]
        by_env.setdefault(spec["env"], {}).setdefault((spec["principal"], spec["agents"]), []).append(row)
    fig, axes = plt.subplots(1, len(by_env), figsize=(6 * len(by_env), 4), squeeze=False)
    for ax, (env, groups) in zip(axes[0], by_env.items(), strict=True):
        for (principal, agents), members in groups.items():
            length = min(len(m["curve"]) for m in members)
            if length == 0:
                continue
            optimum = members[0]["optimum"]
            curves = np.array([share_of_optimum(np.array(m["curve"][:length]), optimum) for m in members])
            mean = curves.mean(axis=0)
            band = 1.96 * curves.std(axis=0, ddof=1) / np.sqrt(len(curves)) if len(curves) > 1 else 0 * mean
            x = np.arange(1, length + 1)
            ax.plot(x, mean, label=f"{principal} / {agents}")
            ax.fill_between(x, mean - band, mean + band, alpha=0.2)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_title(env)
        ax.set_xlabel("episode (all copies, in order of completion)")
        ax.set_ylabel("welfare as a share of W*")
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths = [out / "curves.png"]
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)

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
    fig.tight_layout()
    paths.append(out / "welfare_vs_transfers.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def write_reports(rows: list[dict[str, Any]], out: str | Path) -> list[Path]:
    """``leaderboard.md``, ``leaderboard.csv`` and the plots, in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.md").write_text(leaderboard(rows) + "\n")
    (out / "leaderboard.csv").write_text(leaderboard_csv(rows))
    return [out / "leaderboard.md", out / "leaderboard.csv", *plots(rows, out)]


# -- command line ----------------------------------------------------------------------------


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--envs",
        type=_names,
        default=["pollution_v0"],
        help=f"comma-separated, of {sorted(ENVS)} or a preset of {sorted(presets.PRESETS)}",
    )
    parser.add_argument("--principals", type=_names, default=["no_transfers", "pigouvian"])
    parser.add_argument(
        "--agents",
        type=_names,
        default=["PPO"],
        help="PPO, A2C, DQN, q_learning, contract_q_learning, hedge, module:Class",
    )
    parser.add_argument("--seeds", type=lambda t: [int(x) for x in _names(t)], default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=20_000, help="agent-steps per run")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--n-agents", type=int, default=3)
    parser.add_argument("--env-kwargs", type=json_dict, default={})
    parser.add_argument("--principal-kwargs", type=json_dict, default={})
    parser.add_argument("--agent-kwargs", type=json_dict, default={})
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    parser.add_argument("--out", type=Path, default=Path("results/harness"))
    parser.add_argument("--no-progress", action="store_true")
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
    except (KeyError, ValueError) as error:
        parser.error(str(error.args[0]) if error.args else str(error))
    rows = sweep(specs, args.out / "runs.jsonl", jobs=args.jobs, progress=not args.no_progress)
    paths = write_reports(rows, args.out)
    print(leaderboard(rows))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return rows


if __name__ == "__main__":
    # Run the importable module, not this __main__ copy: a user's AgentAlgorithm subclass
    # derives from baselines.harness.AgentAlgorithm, which must be the class checked.
    from baselines import harness as _harness

    _harness.main()
