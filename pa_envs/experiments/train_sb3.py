"""Train off-the-shelf Stable-Baselines3 learners against the bundled mechanisms.

Agents (default): one SB3 policy shared by every agent (parameter sharing) of
``--n-envs`` copies of an env whose principal is a bundled mechanism, stepped
by the batched vector form (:mod:`pa_envs.sb3`; ``--env-form supersuit`` uses
SuperSuit's conversion instead, with the same trajectories). Principal
(``--learner principal``): SB3 trains the principal through its gymnasium view
while the agents best-respond.

The agents' VecEnv is wrapped in SB3's ``VecMonitor`` (the principal's view in
``Monitor``), so SB3 logs ``rollout/ep_rew_mean``; welfare, externality and
transfers (per step and per episode) are logged under ``welfare/``. With
``--log-dir DIR`` each run logs into a folder of its own,
``DIR/<env>_<learner>_<algo>_seed<seed>_<k>`` (CSV, and TensorBoard when the
``tensorboard`` package is installed; ``k`` counts up, so an earlier run is never
overwritten); ``--verbose 1`` prints SB3's table after each rollout.

SB3 rounds a budget up to whole collections (PPO and A2C: rollouts of
``n_steps`` x the sub-environments): the script says so before training, with the
exact numbers, and prints the steps actually run after it; ``--fit-budget`` shrinks
``n_steps`` so that whole rollouts meet ``--timesteps`` (within 1%).

After training it evaluates the policy (deterministic, one episode on each of
``--eval-episodes`` copies, through SB3's ``evaluate_policy``) and prints its
welfare against the exact references ``W*`` and ``W_LF``.

Examples::

    python -m baselines.train_sb3 --mechanism no_transfers --timesteps 200000
    python -m baselines.train_sb3 --mechanism pigouvian --save results/ppo_pigouvian
    python -m baselines.train_sb3 --load results/ppo_pigouvian --timesteps 0
    python -m baselines.train_sb3 --learner principal --env insurance_v0 --timesteps 50000

The principal learns with normalized actions (``Box(-1, 1)``, each paying
``a * max_transfer``) and social welfare as its reward; ``--env-kwargs
'{"normalize_actions": false}'`` gives it the contract in money,
``'{"principal_objective": "payoff"}'`` its own payoff.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from pa_envs import analysis, get_env_module, make_parallel_env, presets
from pa_envs.cli import env_or_preset, mechanism_name
from pa_envs.experiments import sb3_tools
from pa_envs.experiments.common import (
    add_env_size_options,
    add_int_option,
    add_json_option,
    existing_path,
    message,
    progress_bar,
    script_parser,
)
from pa_envs.experiments.scores import share_of_optimum
from pa_envs.mechanisms import mechanism_env
from pa_envs.regret import mean_interval
from pa_envs.views import view_ids

ALGORITHMS = ("PPO", "A2C", "DQN")


@dataclasses.dataclass
class Evaluation:
    """Mean episode welfare of a trained policy against the exact references."""

    episodes: int
    welfare: float
    welfare_ci: float  # half-width of a 95% Student-t interval over the episodes; nan for one
    transfers: float
    externality: float
    optimum: float
    laissez_faire: float
    trained_steps: int = 0  # what SB3 ran (model.num_timesteps), not the budget asked for

    @property
    def share_of_optimum(self) -> float:
        """``W/W*`` as the harness reports it: 1 at the optimum; for costs (negative welfare)
        ``1 - (W* - W)/|W*|`` (:func:`pa_envs.experiments.scores.share_of_optimum`)."""
        return float(share_of_optimum(self.welfare, self.optimum))

    @property
    def share_of_gap_closed(self) -> float:
        return analysis.share_of_gap(self.welfare, self.optimum, self.laissez_faire)

    def table(self) -> str:
        if self.episodes > 1:
            spread = f" +- {self.welfare_ci:.2f} (95% t-interval over {self.episodes} episodes)"
        else:
            spread = " (n=1: one episode, no spread)"
        return "\n".join(
            [
                f"episodes evaluated            {self.episodes}",
                f"episode social welfare        {self.welfare:.2f}{spread}",
                f"  exact optimum W*            {self.optimum:.2f}",
                f"  exact laissez-faire W_LF    {self.laissez_faire:.2f}",
                f"  share of W*                 {self.share_of_optimum:.3f}"
                + ("   (costs: 1 - (W* - W)/|W*|)" if self.optimum < 0 else ""),
                f"  share of gap closed         {self.share_of_gap_closed:.3f}   (W - W_LF)/(W* - W_LF)",
                f"episode transfers paid        {self.transfers:.2f}",
                f"episode externality           {self.externality:.2f}",
            ]
        )


def make_callback(n_agents_per_copy: int) -> Any:
    """An SB3 callback that logs welfare, externality and transfers from the infos."""
    from stable_baselines3.common.callbacks import BaseCallback

    class WelfareCallback(BaseCallback):
        """Logs per-step means and per-episode totals of the welfare accounting."""

        keys = ("social_welfare", "externality", "total_transfers")

        def _on_training_start(self) -> None:
            copies = self.training_env.num_envs // n_agents_per_copy
            self.running = {k: np.zeros(copies) for k in self.keys}
            self.finished: dict[str, list[float]] = {k: [] for k in self.keys}
            self.steps: dict[str, list[float]] = {k: [] for k in self.keys}

        def _on_step(self) -> bool:
            dones = np.asarray(self.locals["dones"])[::n_agents_per_copy]
            accounts = getattr(self.training_env.unwrapped, "last_period", None)
            if accounts is not None:  # the vector form keeps the period's accounts as arrays
                columns = {
                    "social_welfare": accounts.social_welfare,
                    "externality": accounts.externality,
                    "total_transfers": accounts.transfers.sum(axis=1),
                }
            else:  # one agent per copy: its info carries the copy's shared keys
                infos = self.locals["infos"][::n_agents_per_copy]
                columns = {key: np.array([info.get(key, 0.0) for info in infos]) for key in self.keys}
            for key in self.keys:
                values = columns[key]
                self.running[key] += values
                self.steps[key].extend(values.tolist())
                for copy in np.flatnonzero(dones):
                    self.finished[key].append(float(self.running[key][copy]))
                    self.running[key][copy] = 0.0
            return True

        def _on_rollout_end(self) -> None:
            for key in self.keys:
                if self.steps[key]:
                    self.logger.record(f"welfare/step_{key}", float(np.mean(self.steps[key])))
                    self.steps[key].clear()
                if self.finished[key]:
                    self.logger.record(f"welfare/episode_{key}", float(np.mean(self.finished[key])))
                    self.finished[key].clear()

    return WelfareCallback()


def agents_vec_env(
    env_name: str,
    mechanism: str,
    mechanism_kwargs: dict,
    env_kwargs: dict,
    n_envs: int,
    seed: int,
    form: str = "vector",
) -> Any:
    """SB3 VecEnv of ``n_envs`` copies x N agents under ``mechanism``, in a ``VecMonitor``:
    the batched vector form (``form="vector"``, one numpy call per step) or SuperSuit's
    conversion of the PettingZoo env (``"supersuit"``). Both give the same trajectories
    for the same seed."""
    from stable_baselines3.common.vec_env import VecMonitor

    if form == "vector":
        from pa_envs.sb3 import MechanismVecEnv

        venv = MechanismVecEnv(
            env_name, mechanism, n_envs, seed=seed, mechanism_kwargs=mechanism_kwargs, **env_kwargs
        )
        venv.reset()  # seeded now, as the SuperSuit path must be: SB3's first reset goes on from here
        return VecMonitor(venv)
    import supersuit as ss

    env = mechanism_env(get_env_module(env_name).parallel_env(**env_kwargs), mechanism, **mechanism_kwargs)
    venv = ss.pettingzoo_env_to_vec_env_v1(env)
    venv = ss.concat_vec_envs_v1(venv, n_envs, num_cpus=0, base_class="stable_baselines3")
    # SuperSuit's SB3 wrapper cannot seed; a seeded reset underneath fixes every copy's
    # random stream, and the unseeded resets SB3 makes later continue those streams.
    venv.venv.reset(seed=seed)
    return VecMonitor(venv)


def principal_vec_env(env_name: str, env_kwargs: dict, n_envs: int, seed: int) -> Any:
    """The principal's view in ``n_envs`` copies (each in SB3's ``Monitor``); copy ``i`` seeded
    ``seed + i``."""
    from stable_baselines3.common.env_util import make_vec_env

    return make_vec_env(lambda: principal_view(env_name, env_kwargs), n_envs=n_envs, seed=seed)


PRINCIPAL_DEFAULTS = {"normalize_actions": True, "principal_objective": "welfare"}
"""How a learning principal is set up unless the env's keywords say otherwise: actions in
``[-1, 1]`` (each pays ``a * max_transfer``; on the raw Box an untrained Gaussian policy
explores a few units of money at most) and rewarded with social welfare (a benevolent
planner; ``principal_objective="payoff"`` gives a principal that keeps what it taxes)."""


VIEW_KEYWORDS = ("normalize_actions", "behaviour")
"""Keywords of the principal's gymnasium view (:class:`pa_envs.views.PrincipalView`), not of the env."""


def split_view_kwargs(env_kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(view_kwargs, env_only)``: the keywords of the principal's view (:data:`VIEW_KEYWORDS`)
    and the env's own, which build the base env (its exact model, the agents' VecEnv)."""
    view = {key: value for key, value in env_kwargs.items() if key in VIEW_KEYWORDS}
    return view, {key: value for key, value in env_kwargs.items() if key not in VIEW_KEYWORDS}


def learning_principal_kwargs(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keywords a learning principal's view is built with: :data:`PRINCIPAL_DEFAULTS` under
    ``env_kwargs``."""
    return {**PRINCIPAL_DEFAULTS, **env_kwargs}


def principal_view(env_name: str, env_kwargs: dict) -> gymnasium.Env:
    """The principal's gymnasium view as it learns (:func:`learning_principal_kwargs`)."""
    return gymnasium.make(view_ids(env_name)[0], **learning_principal_kwargs(env_kwargs))


def evaluate_agents(
    model: Any,
    env_name: str,
    mechanism: str,
    mechanism_kwargs: dict,
    env_kwargs: dict,
    episodes: int,
    seed: int,
    progress: Any = None,
) -> list[dict[str, float]]:
    """The shared policy, deterministic, for one episode in each of ``episodes`` copies of the
    batched vector form (copy ``b`` seeded ``seed + b``, the trajectory of a PettingZoo env
    reset with that seed); per episode its welfare, transfers and externality.

    The copies step together through SB3's ``evaluate_policy``; the welfare is the copy's,
    so it is read once per copy, from the first agent's sub-environment."""
    from stable_baselines3.common.vec_env import VecMonitor

    from pa_envs.sb3 import MechanismVecEnv

    engine = MechanismVecEnv(
        env_name, mechanism, episodes, seed=seed, mechanism_kwargs=mechanism_kwargs, **env_kwargs
    )
    n = engine.n_agents

    def welfare_of(i: int, info: dict) -> tuple[float, float, float] | None:
        if i % n:
            return None
        period, copy = engine.last_period, i // n
        assert period is not None  # read after a step
        return period.social_welfare[copy], period.transfers[copy].sum(), period.externality[copy]

    return sb3_tools.evaluate_welfare(model, VecMonitor(engine), welfare_of, progress)


def evaluate_principal(
    model: Any, env_name: str, env_kwargs: dict, episodes: int, seed: int, progress: Any = None
) -> list[dict[str, float]]:
    """The principal's policy, deterministic, for one episode in each of ``episodes`` copies
    of its view (copy ``i`` seeded ``seed + i``), through SB3's ``evaluate_policy``."""
    venv = principal_vec_env(env_name, env_kwargs, episodes, seed)
    return sb3_tools.evaluate_welfare(
        model, venv, lambda i, info: tuple(info[key] for key in sb3_tools.WELFARE_KEYS), progress
    )


def summarize(results: list[dict[str, float]], optimum: float, laissez_faire: float) -> Evaluation:
    welfare, ci = mean_interval([r["social_welfare"] for r in results])  # as the harness's ±
    return Evaluation(
        episodes=len(results),
        welfare=welfare,
        welfare_ci=ci,
        transfers=float(np.mean([r["total_transfers"] for r in results])),
        externality=float(np.mean([r["externality"] for r in results])),
        optimum=optimum,
        laissez_faire=laissez_faire,
    )


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m baselines.train_sb3`` (``pa-envs train``)."""
    from pa_envs.mechanisms import MECHANISM_NAMES

    parser = script_parser("baselines.train_sb3", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--env",
        type=env_or_preset,
        default="pollution_v0",
        metavar="ENV",
        help="a registered env or a preset (``pollution_v0:hard``)",
    )
    parser.add_argument(
        "--learner",
        choices=("agents", "principal"),
        default="agents",
        help="who learns: the agents (one shared SB3 policy, under --mechanism) or the principal "
        "(through its gymnasium view, the agents best-responding)",
    )
    parser.add_argument(
        "--mechanism",
        type=mechanism_name,
        default="no_transfers",
        metavar="NAME",
        help=f"the principal for --learner agents: one of {', '.join(MECHANISM_NAMES)} "
        "(arguments in --mechanism-kwargs)",
    )
    add_json_option(
        parser,
        "--mechanism-kwargs",
        """the mechanism's keyword arguments, e.g. ``'{"amount": 1.5}'`` for flat_tax""",
    )
    parser.add_argument("--algo", choices=ALGORITHMS, default="PPO", help="the SB3 algorithm")
    add_int_option(
        parser,
        "--timesteps",
        "SB3's training budget (0: no training): agent-steps (periods x agents x copies) for "
        "--learner agents, principal steps (periods x copies) for --learner principal; SB3 runs "
        "whole rollouts, which may overrun it (said before training; see --fit-budget)",
        low=0,
        default=200_000,
        metavar="STEPS",
    )
    parser.add_argument(
        "--fit-budget",
        action="store_true",
        help="PPO/A2C: shrink n_steps so that whole rollouts meet --timesteps (within 1%%)",
    )
    add_int_option(parser, "--n-envs", "copies of the env", default=4, metavar="N")
    parser.add_argument(
        "--env-form",
        choices=("vector", "supersuit"),
        default="vector",
        help="the agents' VecEnv: the batched vector form or SuperSuit's conversion",
    )
    add_env_size_options(
        parser,
        """other env parameters, e.g. ``'{"decay": 0.1}'``; for --learner principal also the """
        """view's ``normalize_actions`` (its defaults: PRINCIPAL_DEFAULTS)""",
    )
    add_json_option(
        parser,
        "--algo-kwargs",
        """the algorithm's keyword arguments, e.g. ``'{"n_steps": 256}'``""",
    )
    add_int_option(parser, "--seed", "seed of the envs and the learner", low=0, default=0)
    add_int_option(parser, "--eval-episodes", "evaluation episodes", default=20, metavar="N")
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="CSV (and TensorBoard) logs, in a new folder per run: DIR/<env>_<learner>_<algo>_seed<seed>_<k> "
        "(default: no logs)",
    )
    parser.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=0, help="SB3's verbosity (1: its table per rollout)"
    )
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        metavar="PATH",
        help="save the trained model here (default: not saved)",
    )
    parser.add_argument(
        "--load",
        type=existing_path(".zip"),
        default=None,
        metavar="PATH",
        help="start from this saved model (default: a new one)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_int_option(
        parser,
        "--torch-threads",
        "PyTorch's threads: small networks gain nothing from more, and on a busy machine "
        "they wait on each other (PPO's update: minutes instead of seconds)",
        default=1,
        metavar="N",
    )
    return parser


def _check_configuration(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """What the arguments ask for, checked before anything is built for training (a bad one is
    a usage error naming its option); the env's keywords as the learner will use them."""
    if args.learner == "principal" and (args.mechanism != "no_transfers" or args.mechanism_kwargs):
        parser.error("--mechanism and --mechanism-kwargs choose the principal of --learner agents only")
    # A preset stands for its env and parameters; from here on args.env is the registered env.
    args.env, env_kwargs = presets.env_kwargs(args.env, n_agents=args.n_agents, **args.env_kwargs)
    view_kwargs, env_only = split_view_kwargs(env_kwargs)
    if view_kwargs and args.learner != "principal":
        parser.error(
            f"--env-kwargs: {sorted(view_kwargs)} set up a learning principal's view: "
            "give them with --learner principal"
        )
    try:
        base = make_parallel_env(args.env, **env_only)  # built once: its parameters checked
    except (KeyError, ValueError, TypeError) as error:
        parser.error(f"--env-kwargs: {message(error)}")
    if args.learner == "agents":
        try:
            mechanism_env(base, args.mechanism, **args.mechanism_kwargs)
        except (KeyError, ValueError, TypeError) as error:
            parser.error(f"--mechanism {args.mechanism} --mechanism-kwargs: {message(error)}")
        return env_kwargs
    env_kwargs = learning_principal_kwargs(env_kwargs)
    try:
        space = principal_view(args.env, env_kwargs).action_space
    except (KeyError, ValueError, TypeError) as error:
        parser.error(f"--env-kwargs: {message(error)}")
    problem = sb3_tools.action_space_problem(args.algo, space, "the principal")
    if problem:
        parser.error(f"--learner principal --algo {args.algo}: {problem}")
    return env_kwargs


def main(argv: list[str] | None = None) -> Evaluation:
    parser = build_parser()
    args = parser.parse_args(argv)
    env_kwargs = _check_configuration(args, parser)

    import stable_baselines3
    import torch
    from stable_baselines3.common.utils import set_random_seed

    torch.set_num_threads(args.torch_threads)

    algo = getattr(stable_baselines3, args.algo)
    if args.learner == "agents":
        venv = agents_vec_env(
            args.env, args.mechanism, args.mechanism_kwargs, env_kwargs, args.n_envs, args.seed, args.env_form
        )
        per_copy = env_kwargs["n_agents"]
        unit = "agent-steps"
    else:
        venv = principal_vec_env(args.env, env_kwargs, args.n_envs, args.seed)
        per_copy = 1
        unit = "principal steps (periods)"

    def build(**changes: Any) -> Any:
        set_random_seed(args.seed)  # the same policy whether or not --fit-budget rebuilds it
        try:
            if args.load is not None:
                return algo.load(args.load, env=venv, device="cpu", verbose=args.verbose, **changes)
            # The agents' vec envs are seeded at construction (SuperSuit's cannot be seeded later);
            # set_random_seed above seeds the learner.
            seed = None if args.learner == "agents" else args.seed
            kwargs = {**args.algo_kwargs, **changes}
            return algo("MlpPolicy", venv, seed=seed, device="cpu", verbose=args.verbose, **kwargs)
        except TypeError as error:  # a keyword the algorithm does not take
            parser.error(f"--algo-kwargs: {args.algo}: {error}")

    model = build()
    if args.timesteps > 0:
        model = _meet_the_budget(model, build, venv.num_envs, args.timesteps, args.fit_budget)
    if args.log_dir is not None:
        learner = f"agents-{args.mechanism}" if args.learner == "agents" else "principal"
        folder = sb3_tools.run_folder(args.log_dir, f"{args.env}_{learner}_{args.algo}_seed{args.seed}")
        model.set_logger(sb3_tools.make_logger(folder, args.verbose))
        print(f"logging to {folder} (tensorboard --logdir {args.log_dir})", file=sys.stderr)
    elif sb3_tools.sets_a_logger(model, None):  # SB3's default would leave a folder in /tmp
        model.set_logger(sb3_tools.make_logger(None, args.verbose))

    start = time.perf_counter()
    if args.timesteps > 0:
        # A bar of the steps SB3 will run (not only the budget), and what it is doing: collecting,
        # or updating its policy minibatch by minibatch (the last update comes after the last step).
        planned = sb3_tools.planned_steps(
            args.timesteps, sb3_tools.steps_per_collection(model, venv.num_envs)
        )
        bar = progress_bar(planned or args.timesteps, "training", "step", enabled=not args.no_progress)
        progress = sb3_tools.training_progress(
            lambda text: bar.set_postfix_str(text, refresh=False), bar.update
        )
        model.learn(total_timesteps=args.timesteps, callback=[make_callback(per_copy), progress])
        bar.close()
    seconds = time.perf_counter() - start
    who = f"agents under {args.mechanism}" if args.learner == "agents" else "the principal"
    if args.timesteps > 0:
        print(
            f"{args.algo} trained {who} on {args.env} {env_kwargs}: {model.num_timesteps:,} {unit} "
            f"(--timesteps {args.timesteps:,}) in {seconds:.0f} s"
        )
    else:
        print(f"{args.algo} {who} on {args.env} {env_kwargs}: no training (--timesteps 0)")
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        model.save(args.save)

    print("solving the exact references W*, W_LF ...", file=sys.stderr, flush=True)
    # The references depend on the env alone, not on the view's keywords.
    base = make_parallel_env(args.env, **split_view_kwargs(env_kwargs)[1])
    references = analysis.exact_references(base.game.exact_model())
    optimum = references.optimum.social_welfare
    laissez_faire = references.laissez_faire.social_welfare
    eval_seed = args.seed + 10_000
    bar = progress_bar(
        base.params.max_cycles,
        f"evaluating {args.eval_episodes} episode(s)",
        "period",
        enabled=not args.no_progress,
    )
    if args.learner == "agents":
        results = evaluate_agents(
            model,
            *(args.env, args.mechanism, args.mechanism_kwargs, env_kwargs),
            *(args.eval_episodes, eval_seed, bar.update),
        )
    else:
        results = evaluate_principal(model, args.env, env_kwargs, args.eval_episodes, eval_seed, bar.update)
    bar.close()
    evaluation = summarize(results, optimum, laissez_faire)
    evaluation.trained_steps = int(model.num_timesteps) if args.timesteps > 0 else 0
    print(evaluation.table())
    return evaluation


def _meet_the_budget(model: Any, build: Any, n_envs: int, budget: int, fit: bool) -> Any:
    """Say before training what SB3 will make of ``budget``; with ``fit``, first rebuild an
    on-policy model with the ``n_steps`` that meets it."""
    notice = sb3_tools.budget_notice(
        model, n_envs, budget, budget_option="--timesteps", fit_option=None if fit else "--fit-budget"
    )
    if notice is not None and fit and hasattr(model, "n_steps"):
        fitted = sb3_tools.fitted_n_steps(budget, n_envs, model.n_steps)
        planned = sb3_tools.planned_steps(budget, fitted * n_envs)
        print(
            f"--fit-budget: n_steps {model.n_steps} -> {fitted}: {math.ceil(budget / (fitted * n_envs))} "
            f"rollout(s) of {fitted} x {n_envs} envs run {planned:,} steps for --timesteps {budget:,}",
            file=sys.stderr,
        )
        model = build(n_steps=fitted)
        notice = sb3_tools.budget_notice(model, n_envs, budget, budget_option="--timesteps")
    if notice is not None:
        print(f"warning: {notice}", file=sys.stderr)
    return model


if __name__ == "__main__":
    main()
