"""The harness's adapters: agent learners (SB3, the tabular learners, a user's class), the
principal a name stands for, and the recorder that scores every episode."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pa_envs.experiments import sb3_tools
from pa_envs.experiments.harness.spec import (
    BUNDLED_PRINCIPALS,
    SB3_ALGORITHMS,
    TABULAR,
    RunSpec,
    check_agents,
    check_principal,
    load_object,
)
from pa_envs.learners import counterfactual_rewards
from pa_envs.mechanisms import Mechanism, make_mechanism

# -- adapters --------------------------------------------------------------------------------


class AgentAlgorithm:
    """The interface of an agent learner: train the agents on ``venv`` for ``steps`` agent-steps.

    ``venv`` is an SB3 ``VecEnv`` of ``copies x N`` agents (a
    :class:`pa_envs.sb3.MechanismVecEnv` under a recorder); ``venv.unwrapped.game_state``
    and ``venv.unwrapped.contracts`` give the state and the posted contracts.
    """

    def train(self, venv: Any, steps: int, seed: int) -> None:
        raise NotImplementedError

    def check(self, venv: Any, seed: int) -> None:
        """Build what :meth:`train` would on ``venv``, without training, so that bad settings
        fail before a sweep's first run (the grid's check calls it; the default checks nothing)."""


class SB3Agents(AgentAlgorithm):
    """An SB3 algorithm (or any class with its interface), one policy shared by the agents.

    With ``log_folder`` set, an SB3 model logs CSV and TensorBoard there (SB3's
    ``rollout/`` and ``train/`` keys, and the welfare accounting under ``welfare/``);
    ``status`` hears what an on-policy learner is doing (collecting, updating)."""

    log_folder: Path | None = None
    status: Callable[[str], object] | None = None

    def __init__(self, algorithm: type, **kwargs: Any) -> None:
        self.algorithm, self.kwargs = algorithm, kwargs

    def _model(self, venv: Any, seed: int) -> tuple[Any, dict[str, Any]]:
        import torch

        torch.set_num_threads(1)  # small networks: threads only fight over the cores
        kwargs = {"device": "cpu", "verbose": 0, **self.kwargs}
        return self.algorithm("MlpPolicy", venv, seed=seed, **kwargs), kwargs

    def check(self, venv: Any, seed: int) -> None:
        self._model(venv, seed)

    def train(self, venv: Any, steps: int, seed: int) -> None:
        model, kwargs = self._model(venv, seed)
        callbacks = sb3_callbacks(model, self.log_folder, self.status, kwargs["verbose"])
        if self.log_folder is not None and hasattr(model, "set_logger"):
            from pa_envs.experiments.train_sb3 import make_callback

            callbacks.append(make_callback(venv.unwrapped.n_agents))
        model.learn(total_timesteps=steps, **({"callback": callbacks} if callbacks else {}))


def sb3_callbacks(
    model: Any, folder: Path | None, status: Callable[[str], object] | None, verbose: int
) -> list[Any]:
    """An SB3 model's logger in ``folder`` (set now; without a folder, one that writes no
    files, unless the model logs to its own ``tensorboard_log``) and the callback that tells ``status``
    its phases (on-policy learners)."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    if sb3_tools.sets_a_logger(model, folder):
        model.set_logger(sb3_tools.make_logger(folder, verbose))
    if status is not None and isinstance(model, OnPolicyAlgorithm):
        return [sb3_tools.training_progress(status)]
    return []


class CopiesOutOfStep(RuntimeError):
    """Runs trained side by side (:meth:`TabularAgents.train_runs`) whose episodes ended in
    different periods: their learners count episodes together (the exploration schedule
    steps when any copy's episode ends), so the batch would not play as each run alone.
    The harness then runs them one by one."""


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

    def _learners(self, venv: Any, seeds: Sequence[int]) -> tuple[Any, Any, Any]:
        from pa_envs.learning_loop import make_agents

        env = venv.unwrapped
        copies = env.num_copies // len(seeds)
        draws = [seed * 1000 + c for seed in seeds for c in range(copies)]
        settings = {"rows": 1024, **self.settings} if self.kind != "contract_q_learning" else self.settings
        return make_agents(env.game, draws, {"learner": self.kind, **settings})

    def check(self, venv: Any, seed: int) -> None:
        self._learners(venv, [seed])

    def table_bytes(self, venv: Any, seed: int) -> int:
        """Bytes of the learners' tables on ``venv`` (a batch of runs holds the sum of theirs)."""
        learners = self._learners(venv, [seed])[0]
        return sum(value.nbytes for value in vars(learners).values() if isinstance(value, np.ndarray))

    def train(self, venv: Any, steps: int, seed: int) -> None:
        self.train_runs(venv, steps, [seed])

    def train_runs(
        self, venv: Any, steps: int, seeds: Sequence[int], names: Sequence[str] | None = None
    ) -> None:
        """Train the agents of ``len(seeds)`` runs side by side, each as :meth:`train` would
        alone: run ``r`` plays the ``r``-th block of ``num_copies / len(seeds)`` consecutive
        copies, its copy ``c`` drawing from seed ``seeds[r] * 1000 + c``, for ``steps``
        agent-steps of its own (``steps / (copies x agents)`` periods).

        What a run plays does not depend on the others: the learners keep every table and
        random stream per copy, and a run's contract rows are told apart from every other
        run's (its index rides in an extra column of the rows that
        :class:`~pa_envs.learning_loop.Situations` numbers). Situations numbers a copy's rows
        in the order the copy first shows them and rows first shown together by the order
        of their ids in one table over the batch: without the column, a row another run
        showed earlier would come first, and the copy's situations would be numbered
        otherwise than alone. One thing the runs share is the episode count of the
        exploration schedule; if their episodes end in different periods,
        :class:`CopiesOutOfStep` is raised (no bundled env ends an episode early), naming the
        runs by ``names`` (default: ``seed s``)."""
        from pa_envs.learners import ContractQLearner

        env = venv.unwrapped
        game, n, runs = env.game, env.game.n_agents, len(seeds)
        if runs < 1 or env.num_copies % runs:
            raise ValueError(f"{env.num_copies} copies do not split into {runs} runs of equal size")
        model = game.exact_model()
        learners, situation, observations = self._learners(venv, seeds)
        contract_aware = isinstance(learners, ContractQLearner)
        # Each run's index, in thousandths (Situations tells rows apart to 1e-3), as one more
        # signal column: a row one run shows is never one another run showed.
        tags = None
        if runs > 1 and not contract_aware:
            run_of_copy = np.repeat(np.arange(runs) / 1000.0, env.num_copies // runs)
            tags = np.broadcast_to(run_of_copy[:, None, None], (env.num_copies, n, 1))

        def situations(state: np.ndarray, contracts: np.ndarray) -> np.ndarray:
            shown = contracts if tags is None else np.concatenate([contracts, tags], axis=2)
            return situation(observations(game.agent_features(state)), shown)

        venv.reset()
        periods = max(1, steps // (venv.num_envs // runs))
        for _ in range(periods):
            state, contracts = env.game_state, env.contracts
            seen = situations(state, contracts)
            actions = learners.act_unchecked(seen, contracts) if contract_aware else learners.act(seen)
            _, rewards, dones, _ = venv.step(actions.reshape(-1))
            accounts = env.last_period
            counterfactual = counterfactual_rewards(model, model.state_index(state), actions, contracts)
            following = situations(env.game_state, env.contracts)
            done = dones.reshape(-1, n)[:, 0]
            learners.learn(
                seen, actions, rewards.reshape(-1, n).astype(np.float64), following, done, counterfactual,
                transfers=accounts.transfers, signals=accounts.signals,
            )  # fmt: skip
            if done.any():
                ended = done.reshape(runs, -1).any(axis=1)
                if not ended.all():
                    named = list(names) if names is not None else [f"seed {seed}" for seed in seeds]
                    early = [named[k] for k in np.flatnonzero(ended)]
                    later = [named[k] for k in np.flatnonzero(~ended)]
                    raise CopiesOutOfStep(
                        f"of {runs} runs trained side by side, the episodes of {', '.join(early)} ended "
                        f"in a period where those of {', '.join(later)} went on"
                    )
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


def recorder(venv: Any, model: Any, tick: Callable[[int], object] | None = None) -> Any:
    """Wrap the agents' VecEnv: per-episode welfare, transfers, externality, agents' regret
    (and ``tick(agent_steps)`` after every step, for a progress bar). Each episode's copy is
    kept (``owners``): :meth:`episodes_of` and :meth:`agents_regret` give a block of copies'
    own, as a run played alone on those copies would record them."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class Recorder(VecEnvWrapper):
        def __init__(self, venv: Any) -> None:
            super().__init__(venv)
            env = venv.unwrapped
            self.n_agents = env.n_agents
            copies = env.num_copies
            self.running = np.zeros((3, copies))
            self.episodes: list[tuple[float, ...]] = []
            self.owners: list[int] = []  # the copy of each episode
            self.best = np.zeros((copies, self.n_agents, env.game.n_actions))
            self.played = np.zeros((copies, self.n_agents))
            self.periods = 0
            self._before: tuple[Any, Any, np.ndarray] | None = None

        def reset(self) -> Any:
            out = self.venv.reset()
            self.running[:] = 0.0
            return out

        def step_async(self, actions: np.ndarray) -> None:
            env: Any = self.venv.unwrapped  # a MechanismVecEnv
            self._before = (model.state_index(env.game_state), env.contracts, np.asarray(actions))
            self.venv.step_async(actions)

        def step_wait(self):
            out = self.venv.step_wait()
            env: Any = self.venv.unwrapped
            accounts = env.last_period
            assert self._before is not None, "step_wait() before step_async()"
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
                self.owners.append(int(copy))
                self.running[:, copy] = 0.0
            if tick is not None:
                tick(self.num_envs)
            return out

        def episodes_of(self, copies: slice = slice(None)) -> list[tuple[float, ...]]:
            """The episodes of the copies ``copies`` picks (default: all), in the order they ended."""
            picked = set(range(self.running.shape[1])[copies])
            return [e for e, c in zip(self.episodes, self.owners, strict=True) if c in picked]

        def agents_regret(self, copies: slice = slice(None)) -> float:
            """The agents' mean external regret per period (of ``copies``; default: all)."""
            if not self.periods:
                return float("nan")
            return float((self.best.max(axis=2) - self.played)[copies].mean() / self.periods)

    return Recorder(venv)


def principal_algorithm(spec: RunSpec) -> Any:
    """The class of a ``learn:`` principal's learner."""
    learner = spec.principal.removeprefix("learn:")
    if learner in SB3_ALGORITHMS:
        import stable_baselines3

        return getattr(stable_baselines3, learner)
    return load_object(learner)
