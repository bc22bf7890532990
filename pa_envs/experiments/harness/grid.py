"""The harness's grid: every combination of envs, principals, agent learners and seeds, each
run's parameters checked before the first run starts, and what the runs make of their budgets."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from pa_envs import presets
from pa_envs.experiments import sb3_tools
from pa_envs.experiments.common import message
from pa_envs.experiments.harness.adapters import (
    AgentAlgorithm,
    make_agents,
    make_principal,
    principal_algorithm,
)
from pa_envs.experiments.harness.spec import (
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
    step_unit,
)


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
    from pa_envs.experiments.train_sb3 import split_view_kwargs

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
            raise GridError("env_kwargs", f"every run on {name}", message(error)) from error
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
    found = list(specs.values())
    check_runs(found)
    return found


def check_runs(specs: Sequence[RunSpec]) -> None:
    """Build every run's env, mechanism and learner (without playing a step), so that what
    would fail once runs have started fails now: a principal's or a learner's unknown or
    missing keyword, an env's bad parameter. Runs that differ only in their seed are built
    once.

    Raises
    ------
    GridError
        Naming the option (``env_kwargs``, ``principal_kwargs``, ``agent_kwargs``), the run
        and the problem.
    """
    from pa_envs.sb3 import MechanismVecEnv

    seen: set[str] = set()
    for spec in specs:
        shape = dataclasses.replace(spec, seed=0).key
        if shape in seen:
            continue
        seen.add(shape)
        try:
            env = base_env(spec)
        except (ValueError, TypeError, KeyError) as error:
            raise GridError("env_kwargs", spec.label, message(error)) from error
        if spec.principal.startswith("learn:"):
            _check_principal_learner(spec)
            continue
        try:
            mechanism = make_principal(spec.principal, env, spec.principal_kwargs)
        except (ValueError, TypeError, KeyError) as error:
            raise GridError("principal_kwargs", spec.label, message(error)) from error
        try:
            learner = make_agents(spec.agents, spec.agent_kwargs)
            learner.check(MechanismVecEnv(env, mechanism, spec.copies, seed=spec.seed), spec.seed)
        except (ValueError, TypeError, KeyError, AssertionError) as error:
            # AssertionError: SB3 checks some settings (batch sizes) with assert
            raise GridError("agent_kwargs", spec.label, message(error)) from error


def _check_principal_learner(spec: RunSpec) -> None:
    """Build a ``learn:`` principal's view and model (its ``agent_kwargs``), without training."""
    from stable_baselines3.common.env_util import make_vec_env

    from pa_envs.experiments.train_sb3 import principal_view

    name, kwargs = env_parameters(spec)
    try:
        venv = make_vec_env(lambda: principal_view(name, kwargs), n_envs=spec.copies, seed=spec.seed)
    except (ValueError, TypeError, KeyError) as error:
        raise GridError("env_kwargs", spec.label, message(error)) from error
    try:
        principal_algorithm(spec)("MlpPolicy", venv, seed=spec.seed, **{"device": "cpu", **spec.agent_kwargs})
    except (ValueError, TypeError, KeyError, AssertionError) as error:
        raise GridError("agent_kwargs", spec.label, message(error)) from error


def principal_action_space(env: str, settings: dict[str, Any]) -> Any:
    """The action space of an env's principal (its gymnasium view) at a grid's settings."""
    from pa_envs.experiments.train_sb3 import principal_view

    name, kwargs = presets.env_kwargs(env, n_agents=settings["n_agents"], **settings.get("env_kwargs", {}))
    return principal_view(name, kwargs).action_space


def _sb3_class(spec: RunSpec) -> tuple[Any, int] | None:
    """The SB3-style class a run trains and its number of sub-environments (``None`` for
    the tabular learners and :class:`AgentAlgorithm` subclasses)."""
    if spec.principal.startswith("learn:"):
        return principal_algorithm(spec), spec.copies
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
    rollouts meet each budget (within 1%: :func:`~pa_envs.experiments.sb3_tools.fitted_n_steps`),
    and a line saying each change."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    fitted_specs, said = [], {}
    for spec in specs:
        found = _sb3_class(spec)
        if found is not None and isinstance(found[0], type) and issubclass(found[0], OnPolicyAlgorithm):
            algorithm, n_envs = found
            per_collection = sb3_tools.steps_per_collection(algorithm, n_envs, spec.agent_kwargs)
            assert per_collection is not None  # known for on-policy learners
            n_steps = per_collection // n_envs
            fitted = sb3_tools.fitted_n_steps(spec.steps, n_envs, n_steps)
            if fitted != n_steps:
                spec = dataclasses.replace(spec, agent_kwargs={**spec.agent_kwargs, "n_steps": fitted})
                planned = sb3_tools.planned_steps(spec.steps, fitted * n_envs)
                said[f"{algorithm.__name__} n_steps {n_steps} -> {fitted}"] = (
                    f"({planned:,} {step_unit(spec)} per run for --steps {spec.steps:,})"
                )
        fitted_specs.append(spec)
    return fitted_specs, [f"--fit-budget: {change} {result}" for change, result in said.items()]
