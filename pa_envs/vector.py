"""Gymnasium ``VectorEnv`` forms of the single-agent views: B copies in one numpy call.

``gymnasium.make_vec("pa_envs/<Name>-Principal-v0", num_envs=B)`` and
``gymnasium.make_vec("pa_envs/<Name>-Agent-v0", num_envs=B)`` build these
(they are the ids' ``vector_entry_point``). They run on
:class:`~pa_envs.core.batch.BatchedEpisodes`, the engine of every vector
form, and follow B views made with ``gymnasium.make`` and reset with
``seed + b`` (as gymnasium's ``SyncVectorEnv`` seeds them), bit for bit.

- :class:`PrincipalVectorView`: the principal learns; each step it posts
  every copy's contract, the agents best-respond (``behaviour="best_response"``,
  batched) or play fixed actions.
- :class:`AgentVectorView`: agent ``learner`` learns in every copy; the
  mechanism posts all copies' contracts at once and the other agents
  best-respond or play fixed actions.

Other behaviours (``"hedge"``, ``"q_learning"``, callables) are played per
copy by the single views: use ``gymnasium.make_vec(..., vectorization_mode="sync")``.

Autoreset follows gymnasium's default ``NEXT_STEP`` mode: the step after an
episode ends resets that copy (its action is ignored, its reward is 0).
Infos are dicts of ``(B, ...)`` arrays with ``_key`` masks, as gymnasium's
vector envs give.

With ``render_mode="rgb_array"`` (or ``"ansi"``), ``render()`` returns one
frame (or text block) per copy, drawn from the batch's own state and last
period (:mod:`pa_envs.core.render`), so gymnasium's vector ``RecordVideo``
and ``HumanRendering`` wrappers can use them.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from pa_envs import analysis
from pa_envs.behaviours import Behaviour, BestResponse, FixedPolicy, make_behaviour
from pa_envs.core.batch import BatchedEpisodes, copy_seeds
from pa_envs.core.contracts import NormalizedContracts, check_discrete
from pa_envs.core.episode import agent_name, agent_observations
from pa_envs.core.game import Dynamics, PeriodOutcome
from pa_envs.core.mechanism import Mechanism, MechanismDriver
from pa_envs.core.parallel import DeepCopies, check_options
from pa_envs.core.render import RENDER_FPS, PeriodRecord, Renderer, check_render_mode
from pa_envs.mechanisms.registry import make_mechanism
from pa_envs.presets import make_parallel_env

VECTOR_BEHAVIOURS = ("best_response", "an int (one fixed action)", "a list of ints (one per agent)")
VECTOR_RENDER_MODES = ("rgb_array", "ansi")


class _BatchedBehaviour:
    """The agents a vector view does not train: batched best responses or fixed actions."""

    def __init__(self, spec: Any, game: Any, players: list[int], num_copies: int, parameter: str) -> None:
        self.parameter = parameter
        self.players = players
        self.game = game
        self.fixed: np.ndarray | None = None
        # The single views' parser reads the spec; this form batches two of its behaviours.
        try:
            behaviour: Behaviour | None = make_behaviour(spec, parameter)
        except ValueError:
            behaviour = None
        if type(behaviour) is BestResponse:
            self.model = game.exact_model()
        elif type(behaviour) is FixedPolicy:
            self.fixed = behaviour.fixed_actions([agent_name(i) for i in players], game.n_actions)
        else:
            raise ValueError(
                f"{self.parameter}: the vector form plays the agents it does not train as one of "
                f"{VECTOR_BEHAVIOURS}, got {spec!r}; for other behaviours use "
                "gymnasium.make_vec(..., vectorization_mode='sync')"
            )
        self.joint = np.zeros((num_copies, game.n_agents), dtype=np.int64)

    def start(self, which: np.ndarray | slice) -> None:
        self.joint[which] = 0

    def act(self, state: np.ndarray, contracts: np.ndarray, joint: np.ndarray) -> np.ndarray:
        """Fill the played agents' columns of ``joint`` (``(B, N)``, the learner's already set)."""
        if self.fixed is not None:
            joint[:, self.players] = self.fixed
            return joint
        # Start from last period's real play (every agent's, the learner's too), as the
        # single view's BestResponse does.
        chosen = analysis.batch_best_responses(
            self.model, self.model.state_index(state), contracts, self.joint, players=self.players
        )
        joint[:, self.players] = chosen[:, self.players]
        return joint

    def record(self, joint: np.ndarray, active: np.ndarray) -> None:
        self.joint[active] = joint[active]


class _VectorView(DeepCopies, gymnasium.vector.VectorEnv):
    """What both vector views share: the engine, NEXT_STEP autoreset and vector infos."""

    metadata: dict[str, Any] = {  # noqa: RUF012
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": list(VECTOR_RENDER_MODES),
        "render_fps": RENDER_FPS,
    }

    def __init__(self, env_name: str, num_envs: int, env_kwargs: dict[str, Any]) -> None:
        limit = env_kwargs.pop("max_episode_steps", None)  # a user's, through gymnasium.make_vec
        render_mode = env_kwargs.pop("render_mode", None)
        if render_mode == "human":
            raise ValueError(
                "the vector views render 'rgb_array' or 'ansi' (one per copy), not 'human'; wrap an "
                "'rgb_array' one in gymnasium.wrappers.vector.HumanRendering (needs pygame), or "
                "watch one copy with gymnasium.make(id, render_mode='human')"
            )
        check_render_mode(render_mode, VECTOR_RENDER_MODES, "render_mode of the vector views")
        self.base = make_parallel_env(env_name, **env_kwargs)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1
        ):
            raise ValueError(f"max_episode_steps must be an int >= 1 or None, got {limit!r}")
        # As gymnasium's TimeLimit cuts a single view: truncate a copy after `limit` steps.
        self.max_episode_steps = None if limit is None else int(limit)
        self.game = self.base.game
        self.engine = BatchedEpisodes(self.game, num_envs)
        self.num_envs = num_envs
        self.render_mode = render_mode
        # What the frames show of the last period: kept only when rendering (it costs a step time).
        self._record = None if render_mode is None else PeriodRecord(num_envs, self.game.n_agents)
        self._renderer = Renderer(self.game)
        self._autoreset = np.zeros(num_envs, dtype=bool)

    def _set_spaces(self, observation: gymnasium.Space, action: gymnasium.Space) -> None:
        self.single_observation_space = observation
        self.single_action_space = action
        self.observation_space = batch_space(observation, self.num_envs)
        self.action_space = batch_space(action, self.num_envs)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        # Checked before anything changes, by the seed rule of every form (numpy ints too).
        seeds = copy_seeds(seed, self.num_envs)
        if check_options(options, ()):
            raise ValueError(f"the vector views take no reset options, got {sorted(options)}")
        super().reset(seed=None if seed is None or isinstance(seed, (list, tuple, np.ndarray)) else seeds[0])
        self.engine.reset(seeds)
        self._autoreset[:] = False
        self._start(slice(None))
        if self._record is not None:
            self._record.start()
        return self._observe(), self._infos(None, np.ones(self.num_envs, dtype=bool))

    def _play(self, joint: np.ndarray) -> tuple[PeriodOutcome, np.ndarray, np.ndarray]:
        """Restart the copies due (NEXT_STEP) and play the others; returns the outcome,
        which copies played and which finished."""
        engine = self.engine
        restarting = self._autoreset.copy()
        if restarting.any():
            which = np.flatnonzero(restarting)
            engine.restart(which)
            self._start(which)
            if self._record is not None:
                self._record.start(which)
        active = ~restarting
        if not active.any():  # copies run in lockstep: usually all restart at once
            self._autoreset[:] = False
            return self._idle_outcome(), active, active
        # Restarted copies sit this step out: they keep their fresh state and period.
        outcome, done = self._resolve(joint, active)
        if self._record is not None:
            self._record.record(joint, outcome, active)
        self._after(done, active)
        if self.max_episode_steps is not None:
            # Cut after the feedback, as TimeLimit cuts a single view whose env (and mechanism)
            # plays on unaware: the next contract is posted, then the copy restarts.
            done = done | (active & (engine.periods >= self.max_episode_steps))
        self._autoreset = done
        return outcome, active, done

    def _idle_outcome(self) -> PeriodOutcome:
        """A period nobody played (every copy restarting): zeros."""
        b, n, state = self.num_envs, self.game.n_agents, self.engine.state
        zeros, agents = np.zeros(b), np.zeros((b, n))
        dynamics = Dynamics(state, np.full((b, n), -1), agents, zeros, zeros, np.zeros(b, dtype=bool))
        return PeriodOutcome(dynamics, agents, agents, zeros, zeros)

    def _step_outputs(
        self, rewards: np.ndarray, outcome: PeriodOutcome, active: np.ndarray, done: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        terminated = outcome.dynamics.terminated & active
        truncated = done & ~terminated
        rewards = np.where(active, rewards, 0.0)
        return self._observe(), rewards, terminated, truncated, self._infos(outcome, active)

    def _infos(self, outcome: PeriodOutcome | None, played: np.ndarray) -> dict[str, Any]:
        game, b, n = self.game, self.num_envs, self.game.n_agents
        engine = self.engine
        infos: dict[str, Any] = {"period": engine.periods.copy()}
        if outcome is None:
            money = {k: np.zeros(b) for k in ("social_welfare", "externality", "principal_payoff")}
            transfers, signals = np.zeros((b, n)), np.full((b, n), -1)
        else:
            d = outcome.dynamics
            money = {
                "social_welfare": np.where(played, outcome.social_welfare, 0.0),
                "externality": np.where(played, d.externality, 0.0),
                "principal_payoff": np.where(played, d.principal_payoff, 0.0),
            }
            transfers = np.where(played[:, None], outcome.transfers, 0.0)
            signals = np.where(played[:, None], d.signals, -1)
        infos.update(money)
        infos["transfers"] = transfers
        infos["total_transfers"] = transfers.sum(axis=1)
        infos["signals"] = signals
        for k, name in enumerate(game.state_names):
            infos[name] = engine.state[:, k].copy()
        mask = np.ones(b, dtype=bool)
        return {**infos, **{f"_{key}": mask for key in infos}}

    def render(self) -> tuple[np.ndarray, ...] | tuple[str, ...] | None:
        """One frame (``render_mode="rgb_array"``, each ``(H, W, 3)`` uint8) or text block
        (``"ansi"``) per copy, as gymnasium's vector envs give, drawn from the batch's own
        state and last period (see :mod:`pa_envs.core.render`); ``None`` without a render mode.
        """
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode= to make_vec")
            return None
        engine = self.engine
        if engine.state is None:
            raise RuntimeError("call reset() before render()")
        return tuple(self._renderer.frames(engine.state, engine.periods, self._record, self.render_mode))

    # hooks
    def _start(self, which: np.ndarray | slice) -> None:
        raise NotImplementedError

    def _observe(self) -> np.ndarray:
        raise NotImplementedError

    def _resolve(self, joint: np.ndarray, active: np.ndarray) -> tuple[PeriodOutcome, np.ndarray]:
        """Play the ``active`` copies under the contracts in force (checked already)."""
        raise NotImplementedError

    def _after(self, done: np.ndarray, active: np.ndarray) -> None:
        """After a period (the agent view's mechanism posts the next contracts)."""


class PrincipalVectorView(_VectorView):
    """B copies of the principal's view; see the module docstring.

    Parameters
    ----------
    num_envs : int
        B.
    env_name : str
        A registered env.
    behaviour : str, int or list of int
        ``"best_response"`` (default) or fixed actions.
    normalize_actions : bool
        Actions in ``[-1, 1]``, each paying ``a * max_transfer``
        (:class:`~pa_envs.core.contracts.NormalizedContracts`), as in
        :class:`~pa_envs.views.PrincipalView`.
    **env_kwargs
        The env's parameters.
    """

    def __init__(
        self,
        num_envs: int = 1,
        env_name: str = "pollution_v0",
        behaviour: Any = "best_response",
        normalize_actions: bool = False,
        **env_kwargs: Any,
    ) -> None:
        super().__init__(env_name, num_envs, env_kwargs)
        game = self.game
        self.behaviour = _BatchedBehaviour(behaviour, game, list(range(game.n_agents)), num_envs, "behaviour")
        spaces = self.engine.spaces
        self._contracts = np.zeros((num_envs, game.n_agents, game.n_signals))
        self.normalized = NormalizedContracts.option(normalize_actions, spaces.principal_action, game)
        action = spaces.principal_action if self.normalized is None else self.normalized.space
        self._set_spaces(spaces.principal_observation, action)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        game = self.game
        expected = (self.num_envs, game.n_agents * game.n_signals)
        space = f"{self.action_space} (a flat contract per copy)"
        raw = np.asarray(actions)
        if raw.dtype.kind not in "iuf":
            raise TypeError(f"principal_0: actions must be numbers, expected {space}, got dtype {raw.dtype}")
        flat = raw.astype(np.float64)
        if flat.shape != expected:
            raise ValueError(f"principal_0: actions have shape {flat.shape}, expected {space}")
        if self.normalized is not None:
            flat = self.normalized.contracts(flat, "principal_0")
        self._contracts = self.engine.check_contracts(flat.reshape(self._contracts.shape), "principal_0")
        joint = np.zeros((self.num_envs, game.n_agents), dtype=np.int64)
        joint = self.behaviour.act(self.engine.state, self._contracts, joint)
        outcome, active, done = self._play(joint)
        self.behaviour.record(joint, active)
        return self._step_outputs(outcome.principal_reward, outcome, active, done)

    def _start(self, which: np.ndarray | slice) -> None:
        self.behaviour.start(which)
        self._contracts[which] = 0.0

    def _resolve(self, joint: np.ndarray, active: np.ndarray) -> tuple[PeriodOutcome, np.ndarray]:
        return self.engine.play(joint, self._contracts, check=False, active=active)

    def _observe(self) -> np.ndarray:
        return self.game.principal_features(self.engine.state).astype(np.float32)


class AgentVectorView(_VectorView):
    """B copies of one agent's view under a mechanism; see the module docstring.

    Parameters
    ----------
    num_envs : int
        B.
    env_name : str
        A registered env.
    mechanism : str or Mechanism
        The principal (bundled name, built with ``mechanism_kwargs``, or a mechanism).
    learner : int
        The agent the view trains.
    others : str, int or list of int
        ``"best_response"`` (default) or fixed actions for the other agents.
    mechanism_kwargs : dict, optional
    **env_kwargs
        The env's parameters.
    """

    def __init__(
        self,
        num_envs: int = 1,
        env_name: str = "pollution_v0",
        mechanism: str | Mechanism = "no_transfers",
        learner: int = 0,
        others: Any = "best_response",
        mechanism_kwargs: dict[str, Any] | None = None,
        **env_kwargs: Any,
    ) -> None:
        super().__init__(env_name, num_envs, env_kwargs)
        n = self.game.n_agents
        if isinstance(learner, bool) or not isinstance(learner, (int, np.integer)) or not 0 <= learner < n:
            raise ValueError(f"learner must be an agent index in 0..{n - 1}, got {learner!r}")
        if not isinstance(mechanism, Mechanism):
            mechanism = make_mechanism(mechanism, self.base, **(mechanism_kwargs or {}))
        elif mechanism_kwargs:
            raise TypeError("mechanism_kwargs build a mechanism by name; this one is built already")
        self.mechanism = mechanism
        self.driver = MechanismDriver(mechanism, self.game, num_envs)
        self.learner = int(learner)
        others_ = [i for i in range(n) if i != learner]
        self.others = _BatchedBehaviour(others, self.game, others_, num_envs, "others")
        spaces = self.engine.spaces
        self._set_spaces(spaces.agent_observation, spaces.agent_action)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        game, engine = self.game, self.engine
        player = agent_name(self.learner)
        space = f"{self.action_space} (one action per copy, shape ({self.num_envs},))"
        try:
            own = np.asarray(actions)
        except ValueError:  # ragged: check_discrete says so
            own = actions
        if isinstance(own, np.ndarray) and own.dtype.kind in "iu" and own.shape != (self.num_envs,):
            raise ValueError(f"{player}: actions have shape {own.shape}, expected {space}")
        joint = np.zeros((self.num_envs, game.n_agents), dtype=np.int64)
        joint[:, self.learner] = check_discrete(
            own,
            n_actions=game.n_actions,
            action_names=game.action_names,
            who=f"{player}: actions",
            expected=space,
            locate=lambda index: f"copy {index[0]}, {player}",
        )
        joint = self.others.act(engine.state, self.driver.contracts, joint)
        outcome, active, done = self._play(joint)
        self.others.record(joint, active)
        return self._step_outputs(outcome.agent_rewards[:, self.learner], outcome, active, done)

    def _start(self, which: np.ndarray | slice) -> None:
        self.others.start(which)
        engine = self.engine
        self.driver.start(engine.state, engine.periods, None if isinstance(which, slice) else which)

    def _resolve(self, joint: np.ndarray, active: np.ndarray) -> tuple[PeriodOutcome, np.ndarray]:
        return self.driver.play(self.engine, joint, active)

    def _after(self, done: np.ndarray, active: np.ndarray) -> None:
        # A finished copy keeps showing the contract it played under, as the single view does.
        engine = self.engine
        self.driver.post(engine.state, engine.periods, np.flatnonzero(active & ~done))

    def _observe(self) -> np.ndarray:
        return agent_observations(self.game, self.engine.state, self.driver.contracts)[:, self.learner]
