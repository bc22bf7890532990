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
  gymnasium view while the agents best-respond (the agent learner is then ignored), with
  normalized actions and social welfare as its reward
  (:data:`baselines.train_sb3.PRINCIPAL_DEFAULTS`; ``env_kwargs`` override them).

Metrics per run (every episode of every copy is recorded): final social welfare (the
last 10% of episodes) and the area under the welfare curve (all episodes) as shares of
``W*``; the welfare regret ``W* - W`` per episode and the log-log slope of its cumulative
sum over the second half; transfers paid and externality per episode; the agents' mean
external regret per period (exact, from the env's model: what the best fixed action in
hindsight would have earned against what they played); the steps run and wall time.

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

Progress: a bar counts steps as they are played (every learner, in every run,
``--jobs`` processes included). SB3 learners log like ``train_sb3``: their VecEnv is in a
``VecMonitor`` (``rollout/ep_rew_mean``) and, with ``--log-dir DIR``, each run logs CSV
and TensorBoard into ``DIR/<env>_<principal>_<agents>_seed<seed>_<k>``.
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
import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines import sb3_tools
from baselines.common import int_at_least, json_dict, message, progress_bar, script_parser
from pa_envs import ENVS, analysis, presets
from pa_envs.core.names import did_you_mean
from pa_envs.learners import counterfactual_rewards
from pa_envs.mechanisms import MECHANISM_NAMES, Mechanism, make_mechanism
from pa_envs.regret import mean_interval, t975

SB3_ALGORITHMS = ("PPO", "A2C", "DQN")
TABULAR = ("q_learning", "contract_q_learning", "hedge")
BUNDLED_PRINCIPALS = MECHANISM_NAMES
"""The bundled principals: every mechanism :func:`pa_envs.mechanisms.make_mechanism` builds by name."""


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
        Steps of training (SB3's ``total_timesteps``): agent-steps (periods x agents x copies)
        for agent learners, principal steps (periods x copies) for a ``learn:`` principal.
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
    from baselines.train_sb3 import split_view_kwargs

    view_kwargs, env_only = split_view_kwargs(common.get("env_kwargs", {}))
    if view_kwargs and not any(name.startswith("learn:") for name in principals):
        raise ValueError(
            f"env_kwargs {sorted(view_kwargs)} set up a learning principal's view (learn: principals), "
            f"and none of the principals {list(principals)} learns"
        )
    for name in envs:
        # Builds the env once: unknown names and bad parameters fail here, not in a worker.
        try:
            presets.parallel_env(name, n_agents=settings["n_agents"], **env_only)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{name} with env_kwargs {env_only}: {message(error)}") from error
    for name in principals:
        check_principal(name)
        if name.startswith("learn:"):
            learner = name.removeprefix("learn:")
            if learner not in SB3_ALGORITHMS:
                load_object(learner)
            for env in envs:
                problem = sb3_tools.action_space_problem(
                    learner, principal_action_space(env, settings), "the principal"
                )
                if problem:
                    raise ValueError(f"principal {name!r} on {env}: {problem}")
        elif ":" in name:
            try:
                make_principal(name, None, common.get("principal_kwargs", {}))
            except TypeError as error:
                raise TypeError(f"principal {name!r} with principal_kwargs: {message(error)}") from error
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


def principal_action_space(env: str, settings: dict[str, Any]) -> Any:
    """The action space of an env's principal (its gymnasium view) at a grid's settings."""
    from baselines.train_sb3 import principal_view

    name, kwargs = presets.env_kwargs(env, n_agents=settings["n_agents"], **settings.get("env_kwargs", {}))
    return principal_view(name, kwargs).action_space


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
    """An SB3 algorithm (or any class with its interface), one policy shared by the agents.

    With ``log_folder`` set, an SB3 model logs CSV and TensorBoard there (SB3's
    ``rollout/`` and ``train/`` keys, and the welfare accounting under ``welfare/``);
    ``status`` hears what an on-policy learner is doing (collecting, updating)."""

    log_folder: Path | None = None
    status: Callable[[str], object] | None = None

    def __init__(self, algorithm: type, **kwargs: Any) -> None:
        self.algorithm, self.kwargs = algorithm, kwargs

    def train(self, venv: Any, steps: int, seed: int) -> None:
        import torch

        torch.set_num_threads(1)  # small networks: threads only fight over the cores
        kwargs = {"device": "cpu", "verbose": 0, **self.kwargs}
        model = self.algorithm("MlpPolicy", venv, seed=seed, **kwargs)
        callbacks = _sb3_callbacks(model, self.log_folder, self.status, kwargs["verbose"])
        if self.log_folder is not None and hasattr(model, "set_logger"):
            from baselines.train_sb3 import make_callback

            callbacks.append(make_callback(venv.unwrapped.n_agents))
        model.learn(total_timesteps=steps, **({"callback": callbacks} if callbacks else {}))


def _sb3_callbacks(
    model: Any, folder: Path | None, status: Callable[[str], object] | None, verbose: int
) -> list[Any]:
    """An SB3 model's logger in ``folder`` (set now) and the callback that tells ``status``
    its phases (on-policy learners)."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    if folder is not None and hasattr(model, "set_logger"):
        model.set_logger(sb3_tools.make_logger(folder, verbose))
    if status is not None and isinstance(model, OnPolicyAlgorithm):
        return [sb3_tools.training_progress(status)]
    return []


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


def _recorder(venv: Any, model: Any, tick: Callable[[int], object] | None = None) -> Any:
    """Wrap the agents' VecEnv: per-episode welfare, transfers, externality, agents' regret
    (and ``tick(agent_steps)`` after every step, for a progress bar)."""
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
            if tick is not None:
                tick(self.num_envs)
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
    """The registered env of a run and all its parameters (a preset's, then the run's; with the
    keywords of a learning principal's view, which :func:`base_env` leaves out)."""
    return presets.env_kwargs(spec.env, n_agents=spec.n_agents, **spec.env_kwargs)


def base_env(spec: RunSpec) -> Any:
    """A run's PettingZoo env, built from the env's own parameters (not the view's keywords:
    :func:`baselines.train_sb3.split_view_kwargs`)."""
    from baselines.train_sb3 import split_view_kwargs

    _, env_kwargs = env_parameters(spec)
    return presets.parallel_env(spec.env, **split_view_kwargs(env_kwargs)[1])


def step_unit(spec: RunSpec | dict[str, Any]) -> str:
    """What a run's steps count: a ``learn:`` principal's are its own steps (periods x copies),
    the agent learners' agent-steps (periods x agents x copies)."""
    principal = spec["principal"] if isinstance(spec, dict) else spec.principal
    return "principal steps (periods)" if principal.startswith("learn:") else "agent-steps"


def episode_steps(spec: RunSpec) -> int:
    """The steps (in :func:`step_unit`) a run plays before its first episodes end: one episode
    of every copy."""
    periods = base_env(spec).params.max_cycles
    per_period = spec.copies if spec.principal.startswith("learn:") else spec.copies * spec.n_agents
    return periods * per_period


def run(
    spec: RunSpec,
    *,
    log_dir: str | Path | None = None,
    progress: Callable[[int | str], object] | None = None,
) -> dict[str, Any]:
    """Train, record and score one run; returns a JSON-ready result (with its learning curve).

    ``log_dir``: an SB3 learner logs CSV and TensorBoard into a new folder of it
    (:func:`run_name`). ``progress(agent_steps)`` is told of the steps as they are
    played (a few times a second at most), and ``progress(text)`` of what an SB3
    on-policy learner is doing (collecting, or updating its policy)."""
    start = time.perf_counter()
    base = base_env(spec)
    model = base.game.exact_model()
    references = analysis.exact_references(model)
    optimum = references.optimum.social_welfare
    laissez_faire = references.laissez_faire.social_welfare
    folder = None if log_dir is None else sb3_tools.run_folder(log_dir, run_name(spec))
    tick = _Ticker(progress) if progress is not None else None
    if spec.principal.startswith("learn:"):
        curve, steps, agents_regret = _run_principal_learner(spec, folder, tick)
    else:
        curve, steps, agents_regret = _run_agent_learners(spec, base, model, folder, tick)
    if tick is not None:
        tick.flush()
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


def run_name(spec: RunSpec) -> str:
    """A run's name for its log folder: ``<env>_<principal>_<agents>_seed<seed>`` (``:`` as ``-``)."""
    name = f"{spec.env}_{spec.principal}_{spec.agents}_seed{spec.seed}"
    return name.replace(":", "-").replace("/", "-").replace(os.sep, "-")


class _Ticker:
    """Passes agent-steps on to a progress sink at most every 0.2 s (a queue between
    processes, or a bar), and the rest at :meth:`flush`."""

    interval = 0.2  # seconds

    def __init__(self, sink: Callable[[int | str], object]) -> None:
        self.sink, self.pending, self.last = sink, 0, time.monotonic()

    def __call__(self, steps: int) -> None:
        self.pending += steps
        if time.monotonic() - self.last >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.sink(self.pending)
        self.pending, self.last = 0, time.monotonic()

    def say(self, text: str) -> None:
        """Pass on what the learner is doing now (after the steps played so far)."""
        self.flush()
        self.sink(text)


def _run_agent_learners(
    spec: RunSpec, base: Any, model: Any, folder: Path | None, tick: _Ticker | None
) -> tuple[list, int, float]:
    from stable_baselines3.common.vec_env import VecMonitor

    from pa_envs.sb3 import MechanismVecEnv

    mechanism = make_principal(spec.principal, base, spec.principal_kwargs)
    venv = MechanismVecEnv(base, mechanism, spec.copies, seed=spec.seed)
    recorder = _recorder(venv, model, tick)
    learner = make_agents(spec.agents, spec.agent_kwargs)
    if isinstance(learner, SB3Agents):
        learner.log_folder, learner.status = folder, None if tick is None else tick.say
    learner.train(VecMonitor(recorder), spec.steps, spec.seed)
    steps = recorder.periods * venv.num_envs
    return recorder.episodes, steps, recorder.agents_regret()


def _principal_algorithm(spec: RunSpec) -> Any:
    """The class of a ``learn:`` principal's learner."""
    learner = spec.principal.removeprefix("learn:")
    if learner in SB3_ALGORITHMS:
        import stable_baselines3

        return getattr(stable_baselines3, learner)
    return load_object(learner)


def _run_principal_learner(
    spec: RunSpec, folder: Path | None, tick: _Ticker | None
) -> tuple[list, int, float]:
    import gymnasium
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    from baselines.train_sb3 import principal_view

    torch.set_num_threads(1)
    algorithm = _principal_algorithm(spec)
    episodes: list[tuple[float, float, float]] = []
    env_name, env_kwargs = env_parameters(spec)

    class Record(gymnasium.Wrapper):
        def reset(self, **kwargs: Any):
            self.totals = np.zeros(3)
            return self.env.reset(**kwargs)

        def step(self, action):
            observation, reward, terminated, truncated, info = self.env.step(action)
            self.totals += [info[key] for key in sb3_tools.WELFARE_KEYS]
            if terminated or truncated:
                episodes.append(tuple(float(x) for x in self.totals))
            if tick is not None:
                tick(1)
            return observation, reward, terminated, truncated, info

    # Each copy in SB3's Monitor (make_vec_env's), which logs rollout/ep_rew_mean.
    venv = make_vec_env(
        lambda: Record(principal_view(env_name, env_kwargs)), n_envs=spec.copies, seed=spec.seed
    )
    kwargs = {"device": "cpu", "verbose": 0, **spec.agent_kwargs}
    model = algorithm("MlpPolicy", venv, seed=spec.seed, **kwargs)
    callbacks = _sb3_callbacks(model, folder, None if tick is None else tick.say, kwargs["verbose"])
    model.learn(total_timesteps=spec.steps, **({"callback": callbacks} if callbacks else {}))
    return episodes, int(model.num_timesteps), float("nan")


# -- sweeps ----------------------------------------------------------------------------------


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The runs already in a results file (a missing file has none)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def _sb3_class(spec: RunSpec) -> tuple[Any, int] | None:
    """The SB3-style class a run trains and its number of sub-environments (``None`` for
    the tabular learners and :class:`AgentAlgorithm` subclasses)."""
    if spec.principal.startswith("learn:"):
        return _principal_algorithm(spec), spec.copies
    if spec.agents in TABULAR:
        return None
    if spec.agents in SB3_ALGORITHMS:
        import stable_baselines3

        return getattr(stable_baselines3, spec.agents), spec.copies * spec.n_agents
    loaded = load_object(spec.agents)
    if isinstance(loaded, type) and issubclass(loaded, AgentAlgorithm):
        return None
    return loaded, spec.copies * spec.n_agents


def planned_steps(spec: RunSpec) -> int | None:
    """The agent-steps a run will play for its budget ``spec.steps``: SB3's whole
    collections, the tabular learners' whole periods (rounded down); ``None`` when not
    known (a user's :class:`AgentAlgorithm`)."""
    if spec.agents in TABULAR and not spec.principal.startswith("learn:"):
        n_envs = spec.copies * spec.n_agents
        return max(1, spec.steps // n_envs) * n_envs
    found = _sb3_class(spec)
    if found is None:
        return None
    algorithm, n_envs = found
    return sb3_tools.planned_steps(
        spec.steps, sb3_tools.steps_per_collection(algorithm, n_envs, spec.agent_kwargs)
    )


def budget_notices(specs: Sequence[RunSpec]) -> list[str]:
    """What the runs will make of their budgets where it is not exactly ``steps``: one line
    per kind of run, with the exact numbers."""
    notes: dict[str, list[RunSpec]] = {}
    for spec in specs:
        found = _sb3_class(spec)
        if found is not None:
            algorithm, n_envs = found
            note = sb3_tools.budget_notice(
                algorithm,
                n_envs,
                spec.steps,
                spec.agent_kwargs,
                budget_option="--steps",
                fit_option="--fit-budget",
            )
        elif spec.agents in TABULAR and planned_steps(spec) != spec.steps:
            n_envs = spec.copies * spec.n_agents
            note = (
                f"{spec.agents} plays whole periods of {n_envs} agent-steps (copies x agents): --steps "
                f"{spec.steps:,} runs {planned_steps(spec):,}"
            )
        else:
            note = None
        if note is not None:
            notes.setdefault(note, []).append(spec)
    return [
        f"{len(runs)} run(s) ({', '.join(sorted({f'{s.principal} / {s.agents}' for s in runs}))}): {note}"
        for note, runs in notes.items()
    ]


def short_budget_notices(specs: Sequence[RunSpec]) -> list[str]:
    """Where a run's budget ends before any episode can: one line per kind of run, naming the
    episode's length in steps (such a run has no welfare to score: n/a on the leaderboard)."""
    notes: dict[str, list[RunSpec]] = {}
    for spec in specs:
        needed = episode_steps(spec)
        if (planned_steps(spec) or spec.steps) < needed:
            periods = base_env(spec).params.max_cycles
            note = (
                f"no episode can finish within --steps {spec.steps:,} on {spec.env}: an episode of "
                f"{spec.copies} copies is {needed:,} {step_unit(spec)} ({periods} periods"
                + ("" if spec.principal.startswith("learn:") else f" x {spec.n_agents} agents")
                + f" x {spec.copies} copies); its metrics will be n/a"
            )
            notes.setdefault(note, []).append(spec)
    return [
        f"{len(runs)} run(s) ({', '.join(sorted({f'{s.principal} / {s.agents}' for s in runs}))}): {note}"
        for note, runs in notes.items()
    ]


def fit_budgets(specs: Sequence[RunSpec]) -> tuple[list[RunSpec], list[str]]:
    """The runs with PPO's and A2C's ``n_steps`` (in ``agent_kwargs``) shrunk so that whole
    rollouts meet each budget (within 1%: :func:`~baselines.sb3_tools.fitted_n_steps`),
    and a line saying each change."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    fitted_specs, said = [], {}
    for spec in specs:
        found = _sb3_class(spec)
        if found is not None and isinstance(found[0], type) and issubclass(found[0], OnPolicyAlgorithm):
            algorithm, n_envs = found
            n_steps = sb3_tools.steps_per_collection(algorithm, n_envs, spec.agent_kwargs) // n_envs
            fitted = sb3_tools.fitted_n_steps(spec.steps, n_envs, n_steps)
            if fitted != n_steps:
                spec = dataclasses.replace(spec, agent_kwargs={**spec.agent_kwargs, "n_steps": fitted})
                planned = sb3_tools.planned_steps(spec.steps, fitted * n_envs)
                said[f"{algorithm.__name__} n_steps {n_steps} -> {fitted}"] = (
                    f"({planned:,} {step_unit(spec)} per run for --steps {spec.steps:,})"
                )
        fitted_specs.append(spec)
    return fitted_specs, [f"--fit-budget: {change} {result}" for change, result in said.items()]


_PROGRESS_QUEUE: Any = None  # a sweep's worker processes report their agent-steps here


def _worker_start(progress_queue: Any) -> None:
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = progress_queue


def _run_in_worker(spec: RunSpec, log_dir: str | Path | None) -> dict[str, Any]:
    return run(spec, log_dir=log_dir, progress=_PROGRESS_QUEUE.put)


def sweep(
    specs: Sequence[RunSpec],
    results: str | Path,
    *,
    jobs: int = 1,
    progress: bool = True,
    log_dir: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Run every spec not yet in ``results`` (JSON lines, appended as each run finishes),
    ``jobs`` at a time in separate processes; return every result of the grid.

    Before the first run it warns (stderr) where a run's agent-steps will differ from its
    budget (:func:`budget_notices`). With ``progress`` a bar counts agent-steps as they are
    played, and a line reports each finished run. ``log_dir``: as :func:`run`."""
    results = Path(results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done = {row["key"]: row for row in read_results(results)}
    todo = [spec for spec in specs if spec.key not in done]
    for note in [*budget_notices(todo), *short_budget_notices(todo)]:
        print(f"warning: {note}", file=sys.stderr, flush=True)
    total = sum(planned_steps(spec) or spec.steps for spec in todo)
    units = sorted({step_unit(spec) for spec in todo})
    label = units[0] if len(units) == 1 else "steps (agent-steps; learn: principals' steps)"
    bar = progress_bar(total, label, "step", enabled=progress, unit_scale=True)
    finished, doing = len(specs) - len(todo), ""

    def report(news: int | str) -> None:
        """Agent-steps played, or what a learner is doing now."""
        nonlocal doing
        if isinstance(news, str):
            doing = f"; {news}"
            bar.set_postfix_str(f"runs {finished}/{len(specs)} done{doing}", refresh=False)
        else:
            bar.update(news)

    bar.set_postfix_str(f"runs {finished}/{len(specs)} done", refresh=False)
    with results.open("a") as out:

        def keep(row: dict[str, Any]) -> None:
            nonlocal finished
            out.write(json.dumps(row) + "\n")
            out.flush()  # an interrupted sweep keeps every finished run
            done[row["key"]] = row
            finished += 1
            bar.set_postfix_str(f"runs {finished}/{len(specs)} done", refresh=False)
            if progress:
                bar.write(_finished_line(row, finished, len(specs)), file=sys.stderr)

        if jobs <= 1:
            for spec in todo:
                keep(run(spec, log_dir=log_dir, progress=report))
        else:
            reports = multiprocessing.Queue()
            with concurrent.futures.ProcessPoolExecutor(
                max_workers=jobs, initializer=_worker_start, initargs=(reports,)
            ) as pool:
                pending = {pool.submit(_run_in_worker, spec, log_dir) for spec in todo}
                while pending:
                    ended, pending = concurrent.futures.wait(
                        pending, timeout=0.2, return_when="FIRST_COMPLETED"
                    )
                    _drain(reports, report)
                    for future in ended:
                        keep(future.result())
            _drain(reports, report)
    bar.close()
    return [done[spec.key] for spec in specs]


def _drain(reports: Any, report: Callable[[int | str], object]) -> None:
    """Pass on what the workers reported."""
    while True:
        try:
            report(reports.get_nowait())
        except queue.Empty:
            return


def _finished_line(row: dict[str, Any], finished: int, total: int) -> str:
    spec = row["spec"]
    budget = "" if row["steps"] == spec["steps"] else f" (budget {spec['steps']:,})"
    return (
        f"run {finished}/{total} done: {spec['env']} {spec['principal']} / {spec['agents']} "
        f"seed {spec['seed']}: "
        f"{row['steps']:,} {step_unit(spec)}{budget} in {row['seconds']:.0f} s, "
        f"final W/W* {row['final_share']:.3f}"
    )


# -- reporting -------------------------------------------------------------------------------

COLUMNS = (
    ("final_share", "final W/W*", 3),
    ("final_gap_closed", "final gap closed", 3),
    ("auc_share", "AUC W/W*", 3),
    ("regret_per_episode", "regret/episode", 2),
    ("regret_slope", "regret slope", 2),
    ("transfers", "transfers/episode", 2),
    ("externality", "externality/episode", 2),
    ("agents_regret", "agents' regret/period", 3),
    ("steps", "steps", 0),
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
            line[key], line[f"{key}_ci"] = mean_interval([_metric(m, key) for m in members])
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


def _seeds(text: str) -> list[int]:
    """Comma-separated non-negative ints (an argparse ``type``)."""
    try:
        seeds = [int(x) for x in _names(text)]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints >= 0 such as 0,1,2, got {text!r}")
    return seeds


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``python -m baselines.harness`` (``pa-envs harness``)."""
    parser = parser or script_parser("baselines.harness", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--envs",
        type=_names,
        default=["pollution_v0"],
        metavar="ENVS",
        help=f"comma-separated, of {', '.join(sorted(ENVS))} or a preset of "
        f"{', '.join(sorted(presets.PRESETS))}",
    )
    parser.add_argument(
        "--principals",
        type=_names,
        default=["no_transfers", "pigouvian"],
        metavar="NAMES",
        help=f"comma-separated: mechanisms ({', '.join(BUNDLED_PRINCIPALS)}), module:Class (a "
        "Mechanism subclass), or learn:PPO, learn:A2C, learn:module:Class (a learning principal)",
    )
    parser.add_argument(
        "--agents",
        type=_names,
        default=["PPO"],
        metavar="NAMES",
        help=f"comma-separated agent learners: {', '.join((*SB3_ALGORITHMS, *TABULAR))} or module:Class",
    )
    parser.add_argument(
        "--seeds", type=_seeds, default=[0, 1, 2], metavar="SEEDS", help="comma-separated seeds, one run each"
    )
    parser.add_argument(
        "--steps",
        type=int_at_least(1),
        default=20_000,
        help="budget per run: agent-steps (periods x agents x copies) for agent learners, principal "
        "steps (periods x copies) for learn: principals; SB3 runs whole rollouts (an overrun is said "
        "before the sweep)",
    )
    parser.add_argument(
        "--fit-budget",
        action="store_true",
        help="shrink PPO's and A2C's n_steps so that whole rollouts meet --steps (within 1%%)",
    )
    parser.add_argument(
        "--copies", type=int_at_least(1), default=4, metavar="N", help="copies of the env stepped together"
    )
    parser.add_argument("--n-agents", type=int_at_least(1), default=3, metavar="N", help="agents per copy")
    parser.add_argument(
        "--env-kwargs",
        type=json_dict,
        default={},
        metavar="JSON",
        help="""the env's parameters, e.g. ``'{"decay": 0.1}'``; they override a preset's and, for """
        """learn: principals, PRINCIPAL_DEFAULTS (``'{"normalize_actions": false}'``)""",
    )
    parser.add_argument(
        "--principal-kwargs",
        type=json_dict,
        default={},
        metavar="JSON",
        help="""the mechanism's keyword arguments, e.g. ``'{"amount": 1.5}'`` for flat_tax""",
    )
    parser.add_argument(
        "--agent-kwargs",
        type=json_dict,
        default={},
        metavar="JSON",
        help="""the learner's keyword arguments (a learn: principal's too), e.g. ``'{"n_steps": 64}'``""",
    )
    parser.add_argument(
        "--jobs", type=int_at_least(1), default=1, metavar="N", help="runs at a time, in parallel processes"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results/harness"),
        metavar="DIR",
        help="results (runs.jsonl: a sweep resumes from it), leaderboard and plots",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="SB3 learners' CSV and TensorBoard logs, a new folder per run: "
        "DIR/<env>_<principal>_<agents>_seed<seed>_<k> (default: no logs)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar (stderr)")
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
    except (KeyError, ValueError, TypeError) as error:
        parser.error(message(error))
    if args.fit_budget:
        specs, changes = fit_budgets(specs)
        for change in changes:
            print(change, file=sys.stderr)
    rows = sweep(
        specs, args.out / "runs.jsonl", jobs=args.jobs, progress=not args.no_progress, log_dir=args.log_dir
    )
    paths = write_reports(rows, args.out)
    print(leaderboard(rows))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return rows


if __name__ == "__main__":
    # Run the importable module, not this __main__ copy: a user's AgentAlgorithm subclass
    # derives from baselines.harness.AgentAlgorithm, which must be the class checked.
    from baselines import harness as _harness

    _harness.main()
