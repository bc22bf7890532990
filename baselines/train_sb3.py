"""Train off-the-shelf Stable-Baselines3 learners against the bundled mechanisms.

Agents (default): one SB3 policy shared by every agent (parameter sharing) of
``--n-envs`` copies of an env whose principal is a bundled mechanism, stepped
by the batched vector form (:mod:`pa_envs.sb3`; ``--env-form supersuit`` uses
SuperSuit's conversion instead, with the same trajectories). Principal
(``--learner principal``): SB3 trains the principal through its gymnasium view
while the agents best-respond.

Logs welfare, externality and transfers (per step and per episode) through
SB3's logger: CSV in ``--log-dir``, and TensorBoard too when the
``tensorboard`` package is installed. After training it evaluates the policy
and prints its welfare against the exact references ``W*`` and ``W_LF``.

Examples::

    python -m baselines.train_sb3 --mechanism no_transfers --timesteps 200000
    python -m baselines.train_sb3 --mechanism pigouvian --save results/ppo_pigouvian
    python -m baselines.train_sb3 --load results/ppo_pigouvian --timesteps 0
    python -m baselines.train_sb3 --learner principal --algo PPO --timesteps 50000
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from baselines.common import json_dict
from pa_envs import analysis, get_env_module
from pa_envs.mechanisms import MechanismEnv, mechanism_env
from pa_envs.views import view_ids

ALGORITHMS = ("PPO", "A2C", "DQN")


@dataclasses.dataclass
class Evaluation:
    """Mean episode welfare of a trained policy against the exact references."""

    episodes: int
    welfare: float
    welfare_stderr: float
    transfers: float
    externality: float
    optimum: float
    laissez_faire: float

    @property
    def share_of_optimum(self) -> float:
        return self.welfare / self.optimum

    @property
    def share_of_gap_closed(self) -> float:
        return (self.welfare - self.laissez_faire) / (self.optimum - self.laissez_faire)

    def table(self) -> str:
        return "\n".join(
            [
                f"episodes evaluated            {self.episodes}",
                f"episode social welfare        {self.welfare:.2f} +- {self.welfare_stderr:.2f} (std. error)",
                f"  exact optimum W*            {self.optimum:.2f}",
                f"  exact laissez-faire W_LF    {self.laissez_faire:.2f}",
                f"  share of W*                 {self.share_of_optimum:.3f}",
                f"  vs W_LF                     {self.welfare / self.laissez_faire:.3f}",
                f"  share of gap closed         {self.share_of_gap_closed:.3f}",
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
    """SB3 VecEnv of ``n_envs`` copies x N agents under ``mechanism``: the batched vector
    form (``form="vector"``, one numpy call per step) or SuperSuit's conversion of the
    PettingZoo env (``"supersuit"``). Both give the same trajectories for the same seed."""
    if form == "vector":
        from pa_envs.sb3 import MechanismVecEnv

        venv = MechanismVecEnv(
            env_name, mechanism, n_envs, seed=seed, mechanism_kwargs=mechanism_kwargs, **env_kwargs
        )
        venv.reset()  # seeded now, as the SuperSuit path must be: SB3's first reset goes on from here
        return venv
    import supersuit as ss

    env = mechanism_env(get_env_module(env_name).parallel_env(**env_kwargs), mechanism, **mechanism_kwargs)
    venv = ss.pettingzoo_env_to_vec_env_v1(env)
    venv = ss.concat_vec_envs_v1(venv, n_envs, num_cpus=0, base_class="stable_baselines3")
    # SuperSuit's SB3 wrapper cannot seed; a seeded reset underneath fixes every copy's
    # random stream, and the unseeded resets SB3 makes later continue those streams.
    venv.venv.reset(seed=seed)
    return venv


def principal_vec_env(env_name: str, env_kwargs: dict, n_envs: int, seed: int) -> Any:
    from stable_baselines3.common.env_util import make_vec_env

    return make_vec_env(lambda: principal_view(env_name, env_kwargs), n_envs=n_envs, seed=seed)


def principal_view(env_name: str, env_kwargs: dict) -> gymnasium.Env:
    """The principal's gymnasium view, its time limit matching the episode length."""
    horizon = get_env_module(env_name).parallel_env(**env_kwargs).params.max_cycles
    return gymnasium.make(view_ids(env_name)[0], max_episode_steps=horizon, **env_kwargs)


def evaluate_agents(model: Any, env: MechanismEnv, episodes: int, seed: int) -> list[dict[str, float]]:
    """Roll out the shared policy deterministically; per-episode welfare, transfers, externality."""
    results = []
    for episode in range(episodes):
        observations, _ = env.reset(seed=seed + episode)
        totals = {"social_welfare": 0.0, "total_transfers": 0.0, "externality": 0.0}
        while env.agents:
            batch = np.stack([observations[a] for a in env.agents])
            actions, _ = model.predict(batch, deterministic=True)
            observations, _, _, _, infos = env.step(dict(zip(env.agents, actions.tolist(), strict=True)))
            info = next(iter(infos.values()))
            for key in totals:
                totals[key] += info[key]
        results.append(totals)
    return results


def evaluate_principal(model: Any, env: gymnasium.Env, episodes: int, seed: int) -> list[dict[str, float]]:
    results = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        totals = {"social_welfare": 0.0, "total_transfers": 0.0, "externality": 0.0}
        done = False
        while not done:
            action, _ = model.predict(observation, deterministic=True)
            observation, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            for key in totals:
                totals[key] += info[key]
        results.append(totals)
    return results


def summarize(results: list[dict[str, float]], optimum: float, laissez_faire: float) -> Evaluation:
    welfare = np.array([r["social_welfare"] for r in results])
    stderr = float(welfare.std(ddof=1) / np.sqrt(len(welfare))) if len(welfare) > 1 else 0.0
    return Evaluation(
        episodes=len(results),
        welfare=float(welfare.mean()),
        welfare_stderr=stderr,
        transfers=float(np.mean([r["total_transfers"] for r in results])),
        externality=float(np.mean([r["externality"] for r in results])),
        optimum=optimum,
        laissez_faire=laissez_faire,
    )


def main(argv: list[str] | None = None) -> Evaluation:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="pollution_v0", help="registered env name")
    parser.add_argument("--learner", choices=("agents", "principal"), default="agents")
    parser.add_argument(
        "--mechanism",
        default="no_transfers",
        help="the principal for --learner agents: no_transfers, pigouvian, best_flat_tax, flat_tax, "
        "budgeted (arguments in --mechanism-kwargs)",
    )
    parser.add_argument(
        "--mechanism-kwargs",
        type=json_dict,
        default={},
        help='JSON, e.g. \'{"amount": 1.5}\' for flat_tax, \'{"mechanism": "pigouvian", "budget": 100}\'',
    )
    parser.add_argument("--algo", choices=ALGORITHMS, default="PPO")
    parser.add_argument("--timesteps", type=int, default=200_000, help="SB3 timesteps (agent-steps)")
    parser.add_argument("--n-envs", type=int, default=4, help="copies of the env")
    parser.add_argument(
        "--env-form",
        choices=("vector", "supersuit"),
        default="vector",
        help="agents' VecEnv: the batched vector form (default) or SuperSuit's conversion",
    )
    parser.add_argument("--n-agents", type=int, default=3)
    parser.add_argument("--env-kwargs", type=json_dict, default={}, help="JSON, e.g. '{\"decay\": 0.1}'")
    parser.add_argument(
        "--algo-kwargs", type=json_dict, default={}, help="JSON for the algorithm, e.g. '{\"n_steps\": 256}'"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--log-dir", type=Path, default=None, help="CSV (and TensorBoard) logs")
    parser.add_argument("--save", type=Path, default=None, help="save the trained model here")
    parser.add_argument("--load", type=Path, default=None, help="start from this saved model")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    import stable_baselines3
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.utils import set_random_seed

    set_random_seed(args.seed)
    env_kwargs = {"n_agents": args.n_agents, **args.env_kwargs}
    algo = getattr(stable_baselines3, args.algo)
    if args.learner == "principal" and (args.mechanism != "no_transfers" or args.mechanism_kwargs):
        parser.error("--mechanism and --mechanism-kwargs choose the principal of --learner agents only")
    if args.learner == "agents":
        venv = agents_vec_env(
            args.env, args.mechanism, args.mechanism_kwargs, env_kwargs, args.n_envs, args.seed, args.env_form
        )
        per_copy = env_kwargs["n_agents"]
    else:
        venv = principal_vec_env(args.env, env_kwargs, args.n_envs, args.seed)
        per_copy = 1
    if args.load is not None:
        model = algo.load(args.load, env=venv, device="cpu")
    else:
        # The agents' vec envs are seeded at construction (SuperSuit's cannot be seeded later);
        # set_random_seed above seeds the learner.
        seed = None if args.learner == "agents" else args.seed
        model = algo("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **args.algo_kwargs)
    if args.log_dir is not None:
        formats = ["csv"]
        try:
            import tensorboard  # noqa: F401

            formats.append("tensorboard")
        except ImportError:
            pass
        model.set_logger(configure(str(args.log_dir), formats))

    start = time.perf_counter()
    if args.timesteps > 0:
        model.learn(
            total_timesteps=args.timesteps,
            callback=make_callback(per_copy),
            progress_bar=not args.no_progress and _progress_bar_available(),
        )
    seconds = time.perf_counter() - start
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        model.save(args.save)

    base = get_env_module(args.env).parallel_env(**env_kwargs)
    references = analysis.exact_references(base.game.exact_model())
    optimum = references.optimum.social_welfare
    laissez_faire = references.laissez_faire.social_welfare
    eval_seed = args.seed + 10_000
    if args.learner == "agents":
        eval_env = mechanism_env(
            get_env_module(args.env).parallel_env(**env_kwargs), args.mechanism, **args.mechanism_kwargs
        )
        results = evaluate_agents(model, eval_env, args.eval_episodes, eval_seed)
    else:
        eval_env = principal_view(args.env, env_kwargs)
        results = evaluate_principal(model, eval_env, args.eval_episodes, eval_seed)
    evaluation = summarize(results, optimum, laissez_faire)
    who = f"agents under {args.mechanism}" if args.learner == "agents" else "the principal"
    print(f"{args.algo} trained {who} on {args.env} {env_kwargs}: {args.timesteps} steps in {seconds:.0f} s")
    print(evaluation.table())
    return evaluation


def _progress_bar_available() -> bool:
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
