"""The performance benchmark suite: every figure of ``docs/benchmarks.md``, side by side in one run.

Sections (``--sections``, default all):

- ``single``: steps/s of each env's PettingZoo parallel form (one copy, N=3),
  and of PettingZoo's ``rps_v2`` measured in the same run.
- ``profile``: where one single-copy step's time goes, piece by piece.
- ``vector``: agent-steps/s of the vector form at B = 1, 64, 1024, 16384
  (pollution_v0, N = 3, and N = 8 at B = 1024): the SB3 ``VecEnv``
  (:class:`pa_envs.sb3.MechanismVecEnv`) and its engine alone
  (:class:`pa_envs.core.batch.BatchedEpisodes`), then every env at B = 1024.
- ``supersuit``: the same workload through SuperSuit's
  ``concat_vec_envs_v1(pettingzoo_env_to_vec_env_v1(...))`` at equal B, and the ratio.
- ``rivals``: the vector form against two batched MARL simulators on the CPU, at
  B = 1,024 and N = 3, interleaved: VMAS ``simple_spread`` (torch, one thread) and
  JaxMARL ``MPE_simple_spread_v3`` (``jit(vmap(step))`` called per step, and the
  whole rollout under one ``jit(lax.scan)``). Their packages are optional (the
  ``rivals`` extra); a rival that is not installed is skipped with a note.
- ``ppo``: SB3 PPO training frames/s on the vector form and through SuperSuit,
  and the env's share of PPO wall time.
- ``render``: milliseconds per labelled ``rgb_array`` frame of each env (the first
  frame, which lays the figure out, and the median of the next ``--frames``, whose
  contracts and actions are random so every number is new).
- ``analysis``: the exact social optimum and laissez-faire equilibrium of
  models of about 10^4, 10^5 and 10^6 state-joint-action pairs.

Every row also gives the peak memory the measured work allocated (Python's
``tracemalloc``, which sees numpy's buffers; measured in a separate, shorter
pass so that tracing does not slow the timed one). Actions are drawn in
advance; resets are included; rates are the best of ``--repeats`` runs.

Run ``python -m baselines.bench_speed --help`` for options (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from pa_envs import ENVS, analysis, pollution_v0
from pa_envs.core.batch import BatchedEpisodes
from pa_envs.experiments import sb3_tools
from pa_envs.mechanisms import mechanism_env
from pa_envs.sb3 import MechanismVecEnv

SECTIONS = ("single", "profile", "vector", "supersuit", "rivals", "ppo", "render", "analysis")
MECHANISM = ("flat_tax", {"amount": 1.0})  # a contract that is not all zeros, posted every period


# -- measuring --------------------------------------------------------------------------------


class Rates:
    """The rates of one contender over the rounds of :func:`interleaved`."""

    def __init__(self, values: list[float]) -> None:
        self.values = values

    @property
    def median(self) -> float:
        return float(np.median(self.values))

    def cell(self, scale: float = 1.0, unit: str = "", digits: int = 0) -> str:
        """``median [min-max]``, each divided by ``scale``."""
        lo, mid, hi = (v / scale for v in (min(self.values), self.median, max(self.values)))
        return f"{mid:,.{digits}f}{unit} [{lo:,.{digits}f}-{hi:,.{digits}f}]"

    def ratio(self, other: Rates) -> str:
        """The median of the per-round ratios ``self / other`` and their range: each ratio is
        taken within one round, so load that moves both contenders cancels out."""
        ratios = [a / b for a, b in zip(self.values, other.values, strict=True)]
        return f"{np.median(ratios):,.2f}x [{min(ratios):,.2f}-{max(ratios):,.2f}]"


def interleaved(contenders: dict[str, Callable[[], float]], repeats: int) -> dict[str, Rates]:
    """Run every contender once a round for ``repeats`` rounds, in an order that rotates from
    round to round, so that none is always measured first or while the machine is busier.
    Each measurement is announced on stderr (a section takes minutes)."""
    names = list(contenders)
    values: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            print(f"  round {r + 1}/{repeats}: {name} ...", file=sys.stderr, flush=True)
            values[name].append(contenders[name]())
    return {name: Rates(v) for name, v in values.items()}


def peak_mib(work: Callable[[], object]) -> float:
    """Peak memory allocated while ``work`` runs, in MiB (tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


# -- single copy (PettingZoo parallel API) -----------------------------------------------------


def parallel_steps(env, steps: int, seed: int = 0) -> float:
    """Parallel-API steps per second over ``steps`` steps, resets included."""
    env.reset(seed=seed)
    for p in env.possible_agents:
        env.action_space(p).seed(seed)
    plan = [{p: env.action_space(p).sample() for p in env.possible_agents} for _ in range(min(steps, 4096))]
    start = time.perf_counter()
    for t in range(steps):
        if not env.agents:
            env.reset()
        env.step(plan[t % len(plan)])
    return steps / (time.perf_counter() - start)


def _env_steps(module: Any, steps: int) -> float:
    return parallel_steps(module.parallel_env(n_agents=3), steps)


def section_single(args: argparse.Namespace) -> None:
    from pettingzoo.classic import rps_v2

    # Each env is timed in rounds interleaved with rps_v2, so that the ratio is taken within one
    # round: measured one after the other, a busy machine moved the ratio by half.
    rows = []
    for name in args.envs:
        module = ENVS[name]
        contenders: dict[str, Callable[[], float]] = {
            "rps_v2": lambda: parallel_steps(rps_v2.parallel_env(), args.steps),
            name: functools.partial(_env_steps, module, args.steps),
        }
        rates = interleaved(contenders, args.repeats)
        memory = peak_mib(functools.partial(parallel_steps, module.parallel_env(n_agents=3), 2000))
        rows.append(
            [
                f"`{name}` (N=3)",
                rates[name].cell(),
                rates["rps_v2"].cell(),
                rates[name].ratio(rates["rps_v2"]),
                f"{memory:.2f}",
            ]
        )
    print_table(
        f"Single copy, PettingZoo parallel API: steps/s, median [range] of {args.repeats} "
        "rounds interleaved with PettingZoo's rps_v2",
        ["env", "steps/s", "rps_v2 steps/s", "vs rps_v2", "peak MiB"],
        rows,
    )


def section_render(args: argparse.Namespace) -> None:
    rows = []
    for name in args.envs:
        env = ENVS[name].parallel_env(n_agents=3, render_mode="rgb_array")
        env.reset(seed=0)
        for player in env.possible_agents:
            env.action_space(player).seed(0)
        start = time.perf_counter()
        frame = env.render()
        first = time.perf_counter() - start
        spent = []
        for _ in range(args.frames):
            if not env.agents:
                env.reset()
            env.step({p: env.action_space(p).sample() for p in env.agents})
            start = time.perf_counter()
            frame = env.render()
            spent.append(time.perf_counter() - start)
        median = float(np.median(spent))
        rows.append(
            [
                f"`{name}` (N=3)",
                f"{frame.shape[0]}x{frame.shape[1]}",
                f"{first * 1e3:.0f}",
                f"{median * 1e3:.1f}",
                f"{min(spent) * 1e3:.1f}-{max(spent) * 1e3:.1f}",
            ]
        )
    print_table(
        f"Rendering, rgb_array, ms per frame (median of {args.frames})",
        ["env", "frame (px)", "first frame ms", "median ms", "range ms"],
        rows,
    )


def section_profile(args: argparse.Namespace) -> None:
    """Where one single-copy step's time goes (pollution_v0, N=3), piece by piece."""
    import timeit

    from pa_envs import PRINCIPAL
    from pa_envs.core import rng
    from pa_envs.core.game import resolve_period

    env = pollution_v0.parallel_env(n_agents=3)
    env.reset(seed=0)
    episode, game = env._episode, env.game  # the benchmark times the internals
    actions = {
        PRINCIPAL: np.zeros(9, np.float32),
        **{a: np.int64(k % 3) for k, a in enumerate(env.agents[1:])},
    }
    joint, contract = np.array([[0, 1, 2]]), np.zeros((1, 3, 3))
    noise = rng.uniforms(1, 1, game.noise_size)
    outcome = resolve_period(game, episode.state, joint, contract, noise)
    pieces = {
        "whole step (parallel API)": lambda: env.step(actions) if env.agents else env.reset(),
        "check the players": lambda: episode.check_players(actions, env.agents),
        "check the contract": lambda: episode.check_contract(actions[PRINCIPAL]),
        "check 3 actions": lambda: [episode.check_agent_action(a, actions[a]) for a in episode.agents],
        "draw the period's uniforms": lambda: rng.uniforms(1, 1, game.noise_size),
        "game.step (dynamics, B=1)": lambda: game.step(episode.state, joint, noise),
        "resolve_period (dynamics + transfers)": lambda: resolve_period(
            game, episode.state, joint, contract, noise
        ),
        "observations": lambda: env._observations(),
        "infos": lambda: episode.infos(outcome, contract[0]),
    }
    number = max(1000, args.steps // 5)
    rows = []
    for label, piece in pieces.items():
        seconds = min(timeit.repeat(piece, number=number, repeat=args.repeats)) / number
        rows.append([label, f"{seconds * 1e6:.1f}"])
    print_table("Where a single-copy step goes (pollution_v0, N=3)", ["piece", "µs per call"], rows)


# -- vector form -------------------------------------------------------------------------------


def vecenv_rate(venv, actions: np.ndarray) -> float:
    """Agent-steps/s of an SB3 VecEnv over the pre-drawn ``actions`` (``(steps, num_envs)``)."""
    venv.reset()
    start = time.perf_counter()
    for row in actions:
        venv.step(row)
    return actions.size / (time.perf_counter() - start)


def engine_rate(game, copies: int, actions: np.ndarray) -> float:
    """Agent-steps/s of the batched engine alone (dynamics, transfers, auto-restart)."""
    engine = BatchedEpisodes(game, copies)
    engine.reset(0)
    contracts = np.zeros((copies, game.n_agents, game.n_signals))
    contracts[:, :, game.taxed_signal] = -1.0
    joint = actions.reshape(len(actions), copies, game.n_agents)
    start = time.perf_counter()
    for row in joint:
        _, done = engine.play(row, contracts, check=False)  # the engine alone: no input checks
        if done.any():
            engine.restart(np.flatnonzero(done))
    return actions.size / (time.perf_counter() - start)


def steps_for(copies: int, n_agents: int, budget: int) -> int:
    """Enough steps for ~``budget`` agent-steps, at least 20 and at most 2000."""
    return int(min(2000, max(20, budget // (copies * n_agents))))


def draw_actions(n_actions: int, steps: int, width: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, n_actions, size=(steps, width))


def vector_row(name: str, copies: int, n_agents: int, args: argparse.Namespace) -> list[str]:
    module = ENVS[name]
    game = module.parallel_env(n_agents=n_agents).game
    actions = draw_actions(game.n_actions, steps_for(copies, n_agents, args.agent_steps), copies * n_agents)

    def venv() -> MechanismVecEnv:
        return MechanismVecEnv(
            name, MECHANISM[0], copies, seed=0, mechanism_kwargs=MECHANISM[1], n_agents=n_agents
        )

    rates = interleaved(
        {
            "vec": lambda: vecenv_rate(venv(), actions),
            "raw": lambda: engine_rate(game, copies, actions),
        },
        args.repeats,
    )
    memory = peak_mib(lambda: vecenv_rate(venv(), actions[:20]))
    return [
        f"`{name}`",
        str(n_agents),
        f"{copies:,}",
        rates["vec"].cell(1e6, "M", 2),
        rates["raw"].cell(1e6, "M", 2),
        f"{memory:.1f}",
    ]


def section_vector(args: argparse.Namespace) -> None:
    rows = [vector_row("pollution_v0", b, 3, args) for b in args.batches]
    rows.append(vector_row("pollution_v0", 1024, 8, args))
    rows += [vector_row(name, 1024, 3, args) for name in args.envs if name != "pollution_v0"]
    print_table(
        f"Vector form (mechanism: {MECHANISM[0]}), agent-steps/s, median [range] of {args.repeats} rounds",
        ["env", "N", "B", "SB3 VecEnv", "engine alone", "peak MiB (VecEnv)"],
        rows,
    )


# -- SuperSuit at equal B ----------------------------------------------------------------------


def supersuit_venv(copies: int, n_agents: int):
    import supersuit as ss

    env = mechanism_env(pollution_v0.parallel_env(n_agents=n_agents), MECHANISM[0], **MECHANISM[1])
    venv = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(env), copies, num_cpus=0, base_class="stable_baselines3"
    )
    venv.venv.reset(seed=0)
    return venv


def supersuit_row(copies: int, args: argparse.Namespace) -> list[str]:
    n_agents = 3
    # SuperSuit is two orders of magnitude slower: a twentieth of the budget is plenty.
    slow = draw_actions(3, steps_for(copies, n_agents, args.agent_steps // 20), copies * n_agents)
    fast = draw_actions(3, steps_for(copies, n_agents, args.agent_steps), copies * n_agents)

    def ours() -> float:
        venv = MechanismVecEnv(
            "pollution_v0", MECHANISM[0], copies, seed=0, mechanism_kwargs=MECHANISM[1], n_agents=n_agents
        )
        return vecenv_rate(venv, fast)

    rates = interleaved(
        {"supersuit": lambda: vecenv_rate(supersuit_venv(copies, n_agents), slow), "ours": ours},
        args.repeats,
    )
    memory = peak_mib(lambda: vecenv_rate(supersuit_venv(copies, n_agents), slow[:5]))
    return [
        f"{copies:,}",
        rates["supersuit"].cell(1e3, "k", 1),
        rates["ours"].cell(1e6, "M", 2),
        rates["ours"].ratio(rates["supersuit"]),
        f"{memory:.1f}",
    ]


def section_supersuit(args: argparse.Namespace) -> None:
    print_table(
        "SuperSuit concat_vec_envs_v1 over the PettingZoo env vs the vector form (pollution_v0, N=3)",
        ["B", "SuperSuit agent-steps/s", "vector form agent-steps/s", "ratio", "SuperSuit peak MiB"],
        [supersuit_row(copies, args) for copies in args.supersuit_batches],
    )


# -- rivals: VMAS and JaxMARL --------------------------------------------------------------------


def vmas_rate(copies: int, n_agents: int, steps: int) -> float:
    """Agent-steps/s of VMAS ``simple_spread`` (discrete actions, CPU, one torch thread)."""
    import torch
    import vmas

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        env = vmas.make_env(
            "simple_spread",
            num_envs=copies,
            device="cpu",
            continuous_actions=False,
            n_agents=n_agents,
            seed=0,
        )
        env.reset()
        plan = torch.randint(0, 5, (steps, n_agents, copies), generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        for t in range(steps):
            env.step([plan[t, i] for i in range(n_agents)])
        return steps * copies * n_agents / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)


@functools.cache
def _jaxmarl_rollouts(
    copies: int, n_agents: int, steps: int
) -> tuple[Callable[[], float], Callable[[], float]]:
    """JaxMARL ``MPE_simple_spread_v3``: a per-step ``jit(vmap(step))`` loop and one jitted
    ``lax.scan`` over the whole rollout, both compiled (and warmed) here, outside the timing."""
    import jax
    import jax.numpy as jnp
    import jaxmarl

    env = jaxmarl.make("MPE_simple_spread_v3", num_agents=n_agents, num_landmarks=n_agents)
    keys = jax.random.split(jax.random.PRNGKey(0), copies)
    _, start_state = jax.vmap(env.reset)(keys)
    drawn = np.random.default_rng(0).integers(0, 5, size=(steps, n_agents, copies))
    plan = [{a: jnp.asarray(drawn[t, i]) for i, a in enumerate(env.agents)} for t in range(steps)]
    step = jax.jit(jax.vmap(env.step_env))
    jax.block_until_ready(step(keys, start_state, plan[0]))

    def looped() -> float:
        state = start_state
        start = time.perf_counter()
        for t in range(steps):
            _, state, *_ = step(keys, state, plan[t])
        jax.block_until_ready(state)
        return steps * copies * n_agents / (time.perf_counter() - start)

    actions = jnp.asarray(drawn)
    vstep = jax.vmap(env.step_env)

    def body(state, a):
        _, state, rewards, *_ = vstep(keys, state, {ag: a[i] for i, ag in enumerate(env.agents)})
        return state, rewards[env.agents[0]].sum()

    rollout = jax.jit(lambda s: jax.lax.scan(body, s, actions))
    jax.block_until_ready(rollout(start_state))

    def scanned() -> float:
        start = time.perf_counter()
        jax.block_until_ready(rollout(start_state))
        return steps * copies * n_agents / (time.perf_counter() - start)

    return looped, scanned


def section_rivals(args: argparse.Namespace) -> None:
    import importlib.util

    copies, n_agents = (1024, 3) if not args.quick else (64, 3)
    steps = steps_for(copies, n_agents, args.agent_steps // 4)
    actions = draw_actions(3, steps, copies * n_agents)

    def ours() -> float:
        venv = MechanismVecEnv(
            "pollution_v0", MECHANISM[0], copies, seed=0, mechanism_kwargs=MECHANISM[1], n_agents=n_agents
        )
        return vecenv_rate(venv, actions)

    contenders: dict[str, Callable[[], float]] = {"ours": ours}
    labels = {"ours": "pa_envs `pollution_v0` vector form (SB3 VecEnv, mechanism posting contracts)"}
    notes = []
    if importlib.util.find_spec("vmas") and importlib.util.find_spec("torch"):
        contenders["vmas"] = functools.partial(vmas_rate, copies, n_agents, steps)
        labels["vmas"] = "VMAS `simple_spread` (torch CPU, 1 thread)"
    else:
        notes.append("VMAS skipped: not installed (pip install 'pa_envs[rivals]')")
    if importlib.util.find_spec("jaxmarl") and importlib.util.find_spec("jax"):
        print(f"  compiling JaxMARL's step and rollout (B = {copies:,}, {steps} steps) ...", flush=True)
        contenders["jaxmarl-loop"], contenders["jaxmarl-scan"] = _jaxmarl_rollouts(copies, n_agents, steps)
        labels["jaxmarl-loop"] = "JaxMARL `MPE_simple_spread_v3`, `jit(vmap(step))` per step"
        labels["jaxmarl-scan"] = "JaxMARL `MPE_simple_spread_v3`, whole rollout in one `jit(lax.scan)`"
    else:
        notes.append("JaxMARL skipped: not installed (pip install 'pa_envs[rivals]')")
    rates = interleaved(contenders, args.repeats)
    rows = [
        [
            labels[name],
            rates[name].cell(1e6, "M", 2),
            "1.00x" if name == "ours" else rates["ours"].ratio(rates[name]),
        ]
        for name in contenders
    ]
    print_table(
        f"The vector form against batched MARL simulators: agent-steps/s at B = {copies:,}, N = {n_agents}, "
        f"median [range] of {args.repeats} interleaved rounds",
        ["simulator", "agent-steps/s", "pa_envs is faster by"],
        rows,
    )
    for note in notes:
        print(f"\n{note}")


# -- PPO ---------------------------------------------------------------------------------------


def timed(venv):
    """Wrap an SB3 VecEnv so that the time spent in its step and reset is counted."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class Timed(VecEnvWrapper):
        seconds = 0.0

        def reset(self):
            start = time.perf_counter()
            out = self.venv.reset()
            Timed.seconds += time.perf_counter() - start
            return out

        def step_wait(self):
            start = time.perf_counter()
            out = self.venv.step_wait()
            Timed.seconds += time.perf_counter() - start
            return out

    return Timed(venv)


def ppo_row(label: str, venv, timesteps: int) -> list[str]:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    wrapped = timed(venv)
    model = PPO("MlpPolicy", wrapped, n_steps=128, batch_size=256, n_epochs=4, device="cpu", verbose=0)
    model.set_logger(sb3_tools.make_logger(None, 0))  # no folder left in /tmp
    start = time.perf_counter()
    model.learn(timesteps)
    seconds = time.perf_counter() - start
    share = type(wrapped).seconds / seconds
    return [label, f"{venv.num_envs}", f"{model.num_timesteps / seconds:,.0f}", f"{share:.1%}"]


def section_ppo(args: argparse.Namespace) -> None:
    copies, n_agents = 32, 3
    vector = MechanismVecEnv(
        "pollution_v0", MECHANISM[0], copies, seed=0, mechanism_kwargs=MECHANISM[1], n_agents=n_agents
    )
    print(f"  PPO on the vector form ({args.ppo_steps:,} frames) ...", file=sys.stderr, flush=True)
    rows = [ppo_row("vector form (`MechanismVecEnv`)", vector, args.ppo_steps)]
    print(f"  PPO through SuperSuit ({args.ppo_steps:,} frames) ...", file=sys.stderr, flush=True)
    rows.append(ppo_row("SuperSuit conversion", supersuit_venv(copies, n_agents), args.ppo_steps))
    print_table(
        f"SB3 PPO training (pollution_v0, N=3, B={copies}: {copies * n_agents} SB3 envs, "
        f"{args.ppo_steps:,} frames, torch 1 thread)",
        ["env form", "SB3 envs", "frames/s", "env share of wall time"],
        rows,
    )


# -- exact analysis ----------------------------------------------------------------------------

ANALYSIS_CASES = (
    ("10^4", {"n_agents": 4}, "joint"),
    ("10^5", {"n_agents": 5, "max_stock": 410}, "joint"),
    # A long stock: the decay kernel is stock x stock, so this one is bound by S^2, not by pairs.
    ("10^5, long stock", {"n_agents": 3, "max_stock": 3703}, "joint"),
    ("10^6", {"n_agents": 8, "max_stock": 151}, "joint"),
    ("10^6, many agents", {"n_agents": 40, "max_stock": 1161}, "count"),
)


def section_analysis(args: argparse.Namespace) -> None:
    rows = []
    for label, kwargs, kind in ANALYSIS_CASES:
        game = pollution_v0.parallel_env(**kwargs).game

        def timing(game: Any = game, kind: str = kind) -> tuple[float, float, float]:
            start = time.perf_counter()
            model = game.tabular_model() if kind == "joint" else game.count_model()
            built = time.perf_counter()
            analysis.social_optimum(model)
            middle = time.perf_counter()
            analysis.laissez_faire(model)
            return built - start, middle - built, time.perf_counter() - middle

        runs = []
        for r in range(args.repeats):
            print(f"  {label}: run {r + 1}/{args.repeats} ...", file=sys.stderr, flush=True)
            runs.append(timing())
        # Medians of each part, and of each run's optimum + equilibrium (not a sum of medians).
        build, optimum, equilibrium = (float(np.median([run[k] for run in runs])) for k in range(3))
        solve_time = float(np.median([run[1] + run[2] for run in runs]))
        model = game.tabular_model() if kind == "joint" else game.count_model()

        def solve(game: Any = game, kind: str = kind) -> object:
            return analysis.laissez_faire(game.tabular_model() if kind == "joint" else game.count_model())

        memory = peak_mib(solve)
        rows.append(
            [
                label,
                f"{kind}, N={kwargs['n_agents']}, max_stock={game.params.stock_cap}",
                f"{model.n_pairs:,}",
                f"{build:.3f}",
                f"{optimum:.3f}",
                f"{equilibrium:.3f}",
                f"{solve_time:.3f}",
                f"{memory:.0f}",
            ]
        )
    print_table(
        f"Exact analysis (pollution_v0, 100-period episode): seconds, medians of {args.repeats} runs",
        [
            "size",
            "model",
            "pairs",
            "build s",
            "optimum s",
            "equilibrium s",
            "solve s (optimum + equilibrium)",
            "peak MiB (build + equilibrium)",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated among {SECTIONS}")
    parser.add_argument("--steps", type=int, default=50_000, help="single-copy steps per measurement")
    parser.add_argument(
        "--agent-steps", type=int, default=4_000_000, help="agent-steps per vector measurement"
    )
    parser.add_argument("--ppo-steps", type=int, default=49_152, help="PPO frames per run")
    parser.add_argument(
        "--repeats", type=int, default=5, help="interleaved rounds per table (medians and ranges over them)"
    )
    parser.add_argument(
        "--envs", default=",".join(ENVS), help="comma-separated envs of the single and vector sections"
    )
    parser.add_argument("--frames", type=int, default=200, help="rendered frames per env (render section)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny budgets, one repeat")
    args = parser.parse_args(argv)
    args.batches = (1, 64, 1024, 16384)
    args.supersuit_batches = (1, 64, 1024)
    if args.quick:
        args.steps, args.agent_steps, args.ppo_steps, args.repeats = 500, 20_000, 1_536, 1
        args.frames = 5
        args.batches, args.supersuit_batches = (1, 64), (1, 8)
    args.envs = [e.strip() for e in args.envs.split(",") if e.strip()]
    missing = sorted(set(args.envs) - set(ENVS))
    if missing:
        parser.error(f"unknown envs {missing}; registered: {sorted(ENVS)}")
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose among {SECTIONS}")
    print(
        f"machine: {_cpu_name()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    for section in sections:
        if section == "analysis" and args.quick:
            print("\n(analysis skipped with --quick: its 10^6 model takes seconds by design)")
            continue
        globals()[f"section_{section}"](args)


if __name__ == "__main__":
    main()
