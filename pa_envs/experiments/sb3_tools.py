"""What the Stable-Baselines3 scripts share (``train_sb3`` and the harness): honest step
budgets, a folder per run for the logs, and an evaluation of the welfare a policy reaches.

**Budgets.** SB3 checks its budget (``total_timesteps``) only between collections: an
on-policy learner (PPO, A2C) collects whole rollouts of ``n_steps x n_envs`` steps, an
off-policy one (DQN) ``train_freq x n_envs`` steps at a time. A budget that is not a
multiple of that is rounded *up*: PPO's defaults (``n_steps=2048``) on 12 sub-environments
turn 4,000 steps into 24,576. :func:`budget_notice` says so before training, and
:func:`fitted_n_steps` gives the ``n_steps`` that meets a budget as closely as whole
rollouts can.
"""

from __future__ import annotations

import inspect
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def steps_per_collection(algorithm: Any, n_envs: int, settings: dict | None = None) -> int | None:
    """The steps SB3's ``learn`` collects between two checks of its budget.

    ``algorithm`` is a model (its own settings) or an algorithm class (its defaults,
    overridden by ``settings``, the keyword arguments it would be built with). ``None``
    when it is not known: not an SB3 algorithm, or an off-policy one whose ``train_freq``
    counts episodes.
    """
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    cls = algorithm if isinstance(algorithm, type) else type(algorithm)

    def setting(name: str) -> Any:
        if not isinstance(algorithm, type):
            return getattr(algorithm, name)
        if settings and name in settings:
            return settings[name]
        parameter = inspect.signature(cls).parameters.get(name)
        return None if parameter is None else parameter.default

    if issubclass(cls, OnPolicyAlgorithm):
        n_steps = setting("n_steps")
        return int(n_steps) * n_envs if isinstance(n_steps, (int, np.integer)) else None
    if issubclass(cls, OffPolicyAlgorithm):
        frequency = setting("train_freq")
        if isinstance(frequency, (int, np.integer)):
            return int(frequency) * n_envs
        if isinstance(frequency, tuple) and len(frequency) == 2:
            count, unit = frequency
            if str(getattr(unit, "value", unit)) == "step":
                return int(count) * n_envs
    return None


def planned_steps(budget: int, per_collection: int | None) -> int | None:
    """The steps SB3 will run for ``budget``: whole collections (``None`` if not known)."""
    if per_collection is None:
        return None
    return _whole_collections(budget, per_collection)


def _whole_collections(budget: int, per_collection: int) -> int:
    """``budget`` rounded up to whole collections of ``per_collection`` steps."""
    return math.ceil(budget / per_collection) * per_collection


def fitted_n_steps(budget: int, n_envs: int, n_steps: int) -> int:
    """The largest ``n_steps`` (at most ``n_steps``) whose whole rollouts of ``n_steps x n_envs``
    overrun ``budget`` by at most 1% of it, or, failing that, by the least that whole periods
    allow (a budget that ``n_envs`` does not divide is always overrun, by less than ``n_envs``)."""
    least = math.ceil(budget / n_envs) * n_envs - budget  # what n_steps=1 overruns
    allowed = max(least, budget // 100)
    return next(
        n for n in range(n_steps, 0, -1) if _whole_collections(budget, n * n_envs) - budget <= allowed
    )


def budget_notice(
    algorithm: Any,
    n_envs: int,
    budget: int,
    settings: dict | None = None,
    *,
    budget_option: str,
    fit_option: str | None = None,
) -> str | None:
    """What SB3 will make of ``budget`` (``None`` when it runs exactly that many steps, or
    when that is not known), with the exact numbers and what to do about it. ``algorithm``
    and ``settings`` as for :func:`steps_per_collection`."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    per = steps_per_collection(algorithm, n_envs, settings)
    planned = planned_steps(budget, per)
    if per is None or planned is None or planned == budget:
        return None
    cls = algorithm if isinstance(algorithm, type) else type(algorithm)
    on_policy = issubclass(cls, OnPolicyAlgorithm)
    n_steps = per // n_envs
    if on_policy:
        unit = f"whole rollouts of n_steps={n_steps} x {n_envs} envs = {per:,} steps"
    else:
        unit = f"{per:,} steps at a time (train_freq={n_steps} x {n_envs} envs)"
    text = (
        f"{cls.__name__} collects {unit}: {budget_option} {budget:,} will run {planned:,} steps "
        f"({planned / budget:.2f}x the budget)"
    )
    fitted = fitted_n_steps(budget, n_envs, n_steps) if on_policy else n_steps
    if fit_option is not None and fitted != n_steps:
        text += (
            f"; {fit_option} shrinks n_steps to {fitted} ({planned_steps(budget, fitted * n_envs):,} steps)"
        )
    return text + f"; or give a {budget_option} that is a multiple of {per:,}"


def action_space_problem(algorithm_name: str, action_space: Any, who: str) -> str | None:
    """Why an SB3 algorithm cannot act in ``action_space`` (``None`` when it can): DQN needs
    a Discrete one."""
    from gymnasium import spaces

    if algorithm_name == "DQN" and not isinstance(action_space, spaces.Discrete):
        return (
            f"DQN needs a Discrete action space, and {who}'s is a {type(action_space).__name__} "
            f"({action_space}): use PPO or A2C"
        )
    return None


def run_folder(log_dir: str | Path, name: str) -> Path:
    """A new folder for one run's logs, ``<log_dir>/<name>_<k>`` with ``k`` one more than the
    last (SB3's numbering of TensorBoard runs): an earlier run is never overwritten."""
    from stable_baselines3.common.utils import get_latest_run_id

    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    while True:
        folder = log_dir / f"{name}_{get_latest_run_id(str(log_dir), name) + 1}"
        try:
            folder.mkdir()  # taken at once: a parallel run with the same name gets the next number
        except FileExistsError:
            continue
        return folder


def make_logger(folder: str | Path | None, verbose: int) -> Any:
    """SB3's logger: CSV and TensorBoard (when installed) in ``folder``, and SB3's table on
    stdout when ``verbose``.

    Without a folder no directory is made: SB3's own default (``configure(None, ...)``, which
    ``learn`` calls when no logger was set) creates an empty ``SB3-<date>`` folder in the
    temporary directory on every call, thousands of them over a sweep.
    """
    from stable_baselines3.common.logger import HumanOutputFormat, Logger, configure

    if folder is None:
        return Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)] if verbose else [])
    formats = ["stdout"] if verbose else []
    formats.append("csv")
    try:
        import tensorboard  # noqa: F401

        formats.append("tensorboard")
    except ImportError:
        pass
    return configure(str(folder), formats)


def sets_a_logger(model: Any, folder: str | Path | None) -> bool:
    """Whether to give ``model`` :func:`make_logger`'s logger: for a log folder, or else
    unless the model logs to its own ``tensorboard_log`` (SB3 builds that logger in
    ``learn`` only when none was set)."""
    if not hasattr(model, "set_logger"):
        return False
    return folder is not None or getattr(model, "tensorboard_log", None) is None


_clock = time.monotonic


def training_progress(say: Callable[[str], object], steps: Callable[[int], object] | None = None) -> Any:
    """An SB3 callback that tells what training is doing: ``steps(n)`` after every step of
    ``n`` sub-environments, and ``say(text)``: collecting, or updating the policy, minibatch
    by minibatch (an on-policy update plays no step: PPO's at its defaults takes 10 epochs
    over the rollout, seconds to minutes), a few times a second at most."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Progress(BaseCallback):
        def _on_training_start(self) -> None:
            self.name = type(self.model).__name__
            self.said = 0.0

        def _on_step(self) -> bool:
            if steps is not None:
                steps(self.training_env.num_envs)
            return True

        def _on_rollout_start(self) -> None:
            buffer = getattr(self.model, "rollout_buffer", None)
            if buffer is not None and "get" in vars(buffer):
                del buffer.get  # the buffer's own again
            say(f"{self.name} collecting")

        def _on_rollout_end(self) -> None:
            buffer = getattr(self.model, "rollout_buffer", None)
            if buffer is None:  # off-policy: its updates are short and frequent
                return
            model, name = self.model, self.name
            batch_size = getattr(model, "batch_size", None)
            total = (
                getattr(model, "n_epochs", 1) * math.ceil(buffer.buffer_size * buffer.n_envs / batch_size)
                if batch_size
                else None
            )
            of = f"/{total:,}" if total else ""
            own_get, done = buffer.get, 0
            say(f"{name} updating its policy: minibatch 0{of}")

            def get(*args: Any, **kwargs: Any) -> Any:  # called once per epoch
                nonlocal done
                for batch in own_get(*args, **kwargs):
                    yield batch
                    done += 1
                    if _clock() - self.said >= 0.25:
                        self.said = _clock()
                        say(f"{name} updating its policy: minibatch {done:,}{of}")

            buffer.get = get  # counts the minibatches of the update that follows

    return Progress()


WELFARE_KEYS = ("social_welfare", "total_transfers", "externality")


def evaluate_welfare(
    model: Any,
    venv: Any,
    welfare_of: Callable[[int, dict], tuple[float, float, float] | None],
    progress: Callable[[], object] | None = None,
) -> list[dict[str, float]]:
    """One episode in every episode-holder of ``venv`` through SB3's ``evaluate_policy``
    (deterministic): each one's social welfare, transfers and externality summed over it.

    ``welfare_of(i, info)`` reads sub-environment ``i``'s period (``None`` for a
    sub-environment that holds no episode of its own, such as the second agent of a copy);
    ``progress`` is called once per period.
    """
    from stable_baselines3.common.evaluation import evaluate_policy

    totals: dict[int, np.ndarray] = {}
    finished: list[tuple[int, np.ndarray]] = []

    def callback(scope: dict[str, Any], _: dict[str, Any]) -> None:
        i = scope["i"]
        if i == 0 and progress is not None:
            progress()
        values = welfare_of(i, scope["info"])
        if values is None:
            return
        totals[i] = totals.get(i, np.zeros(3)) + values
        if scope["done"]:
            finished.append((i, totals.pop(i)))

    evaluate_policy(model, venv, n_eval_episodes=venv.num_envs, deterministic=True, callback=callback)
    return [dict(zip(WELFARE_KEYS, map(float, values), strict=True)) for _, values in sorted(finished)]
