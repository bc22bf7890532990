"""A Stable-Baselines3 ``VecEnv`` of B copies x N agents under a mechanism, stepped in one numpy call.

:class:`MechanismVecEnv` is a drop-in replacement for SuperSuit's
``concat_vec_envs_v1(pettingzoo_env_to_vec_env_v1(mechanism_env(env, mechanism)), B)``:
the same ``B * N`` sub-environments in the same order (copy-major: copy 0's
agents, then copy 1's, ...), the same observations, rewards and dones, and
the same trajectories for the same seed (copy ``b`` uses ``seed + b``, as
SuperSuit seeds its copies), bit for bit. ``PPO("MlpPolicy", venv)`` works
unchanged. It needs the ``sb3`` extra (``pip install "pa_envs[sb3]"``).

Each period the mechanism sees the state of every copy and posts their
contracts at once; the agents observe them and act (Stackelberg timing, as in
:class:`~pa_envs.mechanisms.MechanismEnv`). A finished copy restarts on its
own; the agents' infos then carry ``terminal_observation`` and, at the
horizon, ``TimeLimit.truncated`` as SB3 expects. Welfare accounting is kept
as arrays (:attr:`MechanismVecEnv.last_period`) rather than copied into
``B * N`` info dicts every step; the info of a sub-environment whose episode
goes on is one shared, read-only empty mapping (SB3 reads infos, and writes
into them only for finished episodes, which get fresh dicts).

Sub-environment ``i`` is agent ``i % N`` of copy ``i // N``. ``get_attr``,
``set_attr`` and ``env_method`` honour ``indices`` and act per sub-environment
(:class:`SubEnv`): ``env_method("seed", 5, indices=[i])`` reseeds copy ``i // N``
alone at the next ``reset()``; ``get_attr("game_state")`` gives each index its
copy's state; ``get_attr("spec")`` is ``None`` (no sub-environment is a registered
gymnasium env). What every copy shares (the mechanism, the game, the spaces, ...)
comes back once per index, the same object; ``set_attr`` changes such an
attribute only for every index at once (a subset raises ``ValueError``).

Example::

    from stable_baselines3 import PPO
    from pa_envs.sb3 import MechanismVecEnv
    venv = MechanismVecEnv("pollution_v0", "pigouvian", num_copies=64, seed=0, n_agents=3)
    PPO("MlpPolicy", venv).learn(100_000)
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

try:
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv
except ImportError as missing:  # pragma: no cover - exercised only without the extra
    raise ImportError('pa_envs.sb3 needs Stable-Baselines3: pip install "pa_envs[sb3]"') from missing

from pa_envs.core import rng
from pa_envs.core.batch import BatchedEpisodes, copy_seeds, is_sealed
from pa_envs.core.episode import agent_name, agent_observations
from pa_envs.core.game import Game
from pa_envs.core.mechanism import Mechanism, MechanismDriver
from pa_envs.core.parallel import DeepCopies
from pa_envs.core.render import RENDER_FPS, PeriodRecord, Renderer, check_render_mode
from pa_envs.mechanisms.registry import make_mechanism
from pa_envs.presets import make_parallel_env

_NO_INFO: MappingProxyType[str, Any] = MappingProxyType({})


class PeriodAccounts(NamedTuple):
    """What the last period produced in every copy, ``(B,)`` arrays (``(B, N)`` for transfers)."""

    social_welfare: np.ndarray
    externality: np.ndarray
    transfers: np.ndarray
    principal_reward: np.ndarray
    done: np.ndarray
    signals: np.ndarray | None = None  # (B, N) each agent's contractible signal


class MechanismVecEnv(DeepCopies, VecEnv):
    """B copies of an env's agents under a mechanism, as one SB3 ``VecEnv`` of ``B * N`` envs.

    Parameters
    ----------
    env : str or PrincipalAgentParallelEnv
        A registered env name (built with ``env_kwargs``) or a parallel env of
        this suite, whose parameters every copy shares.
    mechanism : str or Mechanism
        The principal: a bundled name (built with ``mechanism_kwargs``) or a
        :class:`~pa_envs.mechanisms.Mechanism`, which acts on the whole batch.
    num_copies : int
        B.
    seed : int, sequence of ints or None
        Copy ``b`` uses ``seed + b`` (or ``seed[b]``); ``None`` draws fresh entropy.
    mechanism_kwargs : dict, optional
    **env_kwargs
        Parameters of the env when ``env`` is a name (``n_agents``, ``max_cycles``, ...),
        and ``render_mode``: ``None`` or ``"rgb_array"``, with which :meth:`get_images`
        gives one frame per copy (its N agents share it) and ``render()`` tiles them, so
        SB3's ``VecVideoRecorder`` records the batch.
    """

    def __init__(
        self,
        env: Any,
        mechanism: str | Mechanism = "no_transfers",
        num_copies: int = 1,
        seed: int | Sequence[int] | None = None,
        mechanism_kwargs: dict[str, Any] | None = None,
        **env_kwargs: Any,
    ) -> None:
        render_mode = env_kwargs.pop("render_mode", None)
        check_render_mode(render_mode, ("rgb_array",), "render_mode of MechanismVecEnv")
        base = make_parallel_env(env, **env_kwargs)
        if isinstance(mechanism, Mechanism):
            if mechanism_kwargs:
                raise TypeError("mechanism_kwargs build a mechanism by name; this one is built already")
        else:
            mechanism = make_mechanism(mechanism, base, **(mechanism_kwargs or {}))
        self.game: Game = base.game
        self.mechanism = mechanism
        self.engine = BatchedEpisodes(self.game, num_copies)
        self.driver = MechanismDriver(mechanism, self.game, num_copies)
        self.num_copies = num_copies
        self.n_agents = self.game.n_agents
        spaces = self.engine.spaces
        self.render_mode = render_mode  # before VecEnv.__init__, which warns when it is missing
        super().__init__(num_copies * self.n_agents, spaces.agent_observation, spaces.agent_action)
        # VecVideoRecorder's frame rate (SB3 annotates metadata's values as lists: too narrow).
        self.metadata["render_fps"] = RENDER_FPS  # type: ignore[assignment]
        # What the frames show of the last period: kept only when rendering (it costs step time).
        self._record = None if render_mode is None else PeriodRecord(num_copies, self.n_agents)
        self._renderer = Renderer(self.game)
        # Each copy's seed for the next reset (None: the copy goes on with its stream).
        self._pending_seeds = copy_seeds(seed, num_copies)
        self._actions: np.ndarray | None = None
        self._action_layout = f"an array of shape ({self.num_envs},): one per sub-environment, copy-major"
        self._started = False
        self.last_period: PeriodAccounts | None = None
        # The last read-only contracts observed and an observation array made under them.
        self._observed: tuple[np.ndarray, np.ndarray] | None = None

    # -- SB3's VecEnv API -----------------------------------------------------------------
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed the next reset: copy ``b`` gets ``seed + b`` (SB3 calls this for ``PPO(seed=...)``).
        One copy alone: ``env_method("seed", s, indices=[i])`` (copy ``i // N``)."""
        self._pending_seeds = copy_seeds(seed, self.num_copies)
        return list(self._pending_seeds)

    def reset(self) -> np.ndarray:
        self.engine.reset(self._pending_seeds)
        self._pending_seeds = [None] * self.num_copies  # later resets continue each copy's stream
        if self._record is not None:
            self._record.start()
        self.driver.start(self.engine.state, self.engine.periods)
        self._started = True
        return self._observe()

    def step_async(self, actions: np.ndarray) -> None:
        """Take the sub-environments' actions: ``(num_envs,)`` ints in ``Discrete(n_actions)``,
        checked here (copy-major: copy 0's agents, then copy 1's, ...)."""
        if not self._started:
            raise RuntimeError("call reset() before step_async()")
        self._actions = self.engine.check_actions(actions, self._action_layout)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        if self._actions is None:
            raise RuntimeError("call reset() and step_async() before step_wait()")
        engine = self.engine
        actions, self._actions = self._actions, None
        outcome, done = self.driver.play(engine, actions)
        dynamics = outcome.dynamics
        self.last_period = PeriodAccounts(
            outcome.social_welfare, dynamics.externality, outcome.transfers, outcome.principal_reward, done,
            dynamics.signals,
        )  # fmt: skip
        if self._record is not None:
            self._record.record(actions, outcome)
        rewards = outcome.agent_rewards.reshape(-1).astype(np.float32)
        n = self.n_agents
        # A sub-environment whose episode goes on gets one shared read-only empty mapping
        # (building B * N fresh dicts would cost more than the whole step); one whose
        # episode ended, a fresh dict with what SB3 reads there.
        infos: list[Any]
        if not done.any():
            dones = np.zeros(self.num_envs, dtype=bool)  # (repeating B flags N times costs more)
            infos = [_NO_INFO] * self.num_envs
        else:
            dones = done.repeat(n)
            finished = np.flatnonzero(done)
            final = self._observe()
            truncated = (~dynamics.terminated[finished]).repeat(n).tolist()
            if len(finished) == self.num_copies:  # copies in lockstep all end at once
                infos = [
                    {"terminal_observation": observation, "TimeLimit.truncated": cut}
                    for observation, cut in zip(final, truncated, strict=True)
                ]
            else:
                infos = [_NO_INFO] * self.num_envs
                rows = (finished[:, None] * n + np.arange(n)).reshape(-1)
                for row, observation, cut in zip(rows.tolist(), final[rows], truncated, strict=True):
                    infos[row] = {"terminal_observation": observation, "TimeLimit.truncated": cut}
            engine.restart(finished)
            self.driver.begin(finished)
            if self._record is not None:  # a restarted copy shows its new episode's start
                self._record.start(finished)
        self.driver.post(engine.state, engine.periods)
        return self._observe(), rewards, dones, infos

    def close(self) -> None:
        """Nothing to release."""

    FIXED = frozenset(
        {
            "num_envs",
            "num_copies",
            "n_agents",
            "observation_space",
            "action_space",
            "game",
            "engine",
            "mechanism",
            "driver",
            "render_mode",
            "metadata",
            "last_period",
        }
    )
    """What ``set_attr`` refuses: what the engine, the spaces and the renderer were built for."""

    def get_images(self) -> list[np.ndarray]:
        """One ``(H, W, 3)`` uint8 frame per copy (not per agent: a copy's N agents share
        one state and period), from the batch's own state; SB3's ``render()`` tiles them.
        Needs ``render_mode="rgb_array"``."""
        if self._record is None:
            raise RuntimeError("get_images() needs MechanismVecEnv(..., render_mode='rgb_array')")
        if self.engine.state is None:
            raise RuntimeError("call reset() before get_images()")
        return self._renderer.frames(self.engine.state, self.engine.periods, self._record, "rgb_array")

    def render(self, mode: str | None = None) -> np.ndarray | None:
        """SB3's tiled image of every copy's frame (``"rgb_array"``, the only mode: a batch has
        no window; ``VecVideoRecorder`` records it)."""
        if mode not in (None, "rgb_array"):
            raise ValueError(
                f"MechanismVecEnv renders 'rgb_array' only, got mode={mode!r}: a batch has no window; "
                "record it with VecVideoRecorder, or watch one copy with "
                "mechanism_env(<env>(render_mode='human'), <mechanism>)"
            )
        return super().render("rgb_array")

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """Each sub-environment's ``attr_name`` (:class:`SubEnv`): its copy's own where the
        copy has one, else the attribute every copy shares, once per index."""
        return [getattr(SubEnv(self, i), attr_name) for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Set an attribute that every copy shares: only for every index at once."""
        chosen = self._indices(indices)
        if attr_name in SubEnv.own():
            raise AttributeError(f"{attr_name!r} of a MechanismVecEnv sub-environment is read-only")
        if attr_name.startswith("_") or attr_name in self.FIXED:
            raise AttributeError(
                f"{attr_name!r} of a MechanismVecEnv is fixed when it is built (the engine, spaces and "
                "rendering are made for it): build a new MechanismVecEnv instead; "
                f"fixed: {sorted(self.FIXED)}"
            )
        if len(set(chosen)) != self.num_envs:
            raise ValueError(
                f"{attr_name!r} is shared by all {self.num_envs} sub-environments of this MechanismVecEnv "
                f"(one engine and one mechanism step its {self.num_copies} copies together): set it for "
                f"every index (indices=None), not for {len(set(chosen))} of them"
            )
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        """Call a method of each sub-environment (:class:`SubEnv`), once per index."""
        if not callable(getattr(SubEnv, method_name, None)) or method_name.startswith("_"):
            per_copy = sorted(SubEnv.METHODS)
            raise AttributeError(
                f"MechanismVecEnv sub-environments have no method {method_name!r}: they are rows of one "
                f"batched engine, with the per-copy methods {per_copy}; call what acts on the whole batch "
                "on the MechanismVecEnv itself"
            )
        return [getattr(SubEnv(self, i), method_name)(*args, **kwargs) for i in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """``False`` for every index: the sub-environments are rows of one engine, not gymnasium
        envs, and none is wrapped (wrappers such as ``VecMonitor`` wrap the whole
        VecEnv, where ``is_vecenv_wrapped`` finds them)."""
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        """SB3's ``indices`` (None, an int or a sequence of ints) as a checked list."""
        if indices is None:
            return list(range(self.num_envs))
        chosen = [indices] if isinstance(indices, (int, np.integer)) else list(indices)
        out = []
        for index in chosen:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(f"sub-environment indices must be ints, got {index!r}")
            if not -self.num_envs <= index < self.num_envs:
                raise IndexError(
                    f"sub-environment index {index} is out of range: this MechanismVecEnv has "
                    f"{self.num_envs} ({self.num_copies} copies x {self.n_agents} agents)"
                )
            out.append(int(index) % self.num_envs)
        return out

    # -- what learners and recorders may read -------------------------------------------
    @property
    def game_state(self) -> np.ndarray:
        """A copy of every copy's state vector, ``(B, state_dim)`` int64."""
        return self.engine.state.copy()

    @property
    def contracts(self) -> np.ndarray:
        """A copy of the contracts posted for the coming period, ``(B, N, n_signals)``."""
        if not self._started:
            raise RuntimeError("call reset() first: no contract is posted yet")
        return self.driver.contracts.copy()

    # -- internals ------------------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        state, contracts = self.engine.state, self.driver.contracts
        kept = self._observed
        if kept is not None and kept[0] is contracts and is_sealed(contracts):
            # The contracts posted last time again (sealed by the library: they cannot have
            # changed): their float32 columns are copied whole, the features written.
            observations = kept[1].copy()
            width = observations.shape[2] - contracts.shape[2]
            # Game's default features are the state, the same for every agent: cast once per
            # copy and broadcast (the same float32 numbers as casting agent_features' repeat).
            agent_features = self.game.agent_features
            default = getattr(agent_features, "__func__", None) is Game.agent_features
            observations[:, :, :width] = (
                state.astype(np.float32)[:, None, :] if default else agent_features(state)
            )
        else:
            observations = agent_observations(self.game, state, contracts)
            # Casting the (B, N, n_signals) contracts column by column is most of the cost.
            self._observed = (contracts, observations.copy()) if is_sealed(contracts) else None
        return observations.reshape(self.num_envs, -1)


class SubEnv:
    """Sub-environment ``index`` of a :class:`MechanismVecEnv` (agent ``index % N`` of copy
    ``index // N``), as ``get_attr`` and ``env_method`` see it.

    Its own: :attr:`copy`, :attr:`agent`, :attr:`game_state`, :attr:`contract`,
    :attr:`episode`, :attr:`period`, :attr:`spec` (``None``) and the methods in
    ``METHODS`` (:meth:`seed`). Every other attribute is the MechanismVecEnv's, which
    all its copies share (the mechanism, the game, the spaces, ``render_mode``, ...).
    """

    METHODS = ("seed", "get_wrapper_attr", "has_wrapper_attr")

    def __init__(self, venv: MechanismVecEnv, index: int) -> None:
        self._venv = venv
        self.index = index

    @classmethod
    def own(cls) -> frozenset[str]:
        """The names a sub-environment has of its own (the rest are shared)."""
        properties = [name for name, value in vars(cls).items() if isinstance(value, property)]
        return frozenset([*properties, *cls.METHODS, "index"])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # the VecEnv's private state is not a sub-environment's attribute
            raise AttributeError(f"MechanismVecEnv sub-environments have no attribute {name!r}")
        try:
            return getattr(self._venv, name)
        except AttributeError:
            raise AttributeError(
                f"neither a MechanismVecEnv sub-environment nor the MechanismVecEnv has {name!r}"
            ) from None

    @property
    def copy(self) -> int:
        """The copy this sub-environment's agent plays in."""
        return self.index // self._venv.n_agents

    @property
    def agent(self) -> str:
        """The agent's name within its copy (``agent_0``, ...)."""
        return agent_name(self.index % self._venv.n_agents)

    @property
    def spec(self) -> None:
        """``None``: a sub-environment is not a registered gymnasium env."""
        return None

    @property
    def game_state(self) -> np.ndarray:
        """A copy of this copy's state vector."""
        state = self._venv.engine.state
        if state is None:
            raise RuntimeError("call reset() first: no copy has a state yet")
        return state[self.copy].copy()

    @property
    def contract(self) -> np.ndarray:
        """The contract posted to this agent for the coming period, ``(n_signals,)``."""
        contracts = self._venv.contracts  # raises before reset()
        return contracts[self.copy, self.index % self._venv.n_agents]

    @property
    def episode(self) -> int:
        """Episodes this copy has begun since its stream was seeded (0 for the first)."""
        return int(self._venv.engine.episodes[self.copy])

    @property
    def period(self) -> int:
        """Periods played in this copy's current episode."""
        return int(self._venv.engine.periods[self.copy])

    def seed(self, seed: int | None = None) -> int | None:
        """Seed this copy (and so every agent of it) at the next ``reset()`` of the VecEnv, as
        SB3 seeds a sub-environment; the other copies go on with their streams. ``None``
        withdraws a seed given before."""
        if seed is not None:
            rng.key_from_seed(seed)  # checked now, not at the reset
        self._venv._pending_seeds[self.copy] = seed
        return seed

    def get_wrapper_attr(self, name: str) -> Any:
        """``getattr`` (gymnasium's name: SB3's ``DummyVecEnv`` reads attributes through it)."""
        return getattr(self, name)

    def has_wrapper_attr(self, name: str) -> bool:
        return hasattr(self, name)
