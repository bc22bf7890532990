"""Every registered env under RLlib's multi-agent API (new API stack, Ray >= 2.60).

The principal and the agents learn as two RLlib policies (``RLModule`` s):
``principal_0`` maps to the ``"principal"`` policy and every ``agent_<i>`` to
one ``"agents"`` policy they share (parameter sharing). The principal's action
is the flat 1-D float32 Box of the PettingZoo env (one transfer per agent per
signal), the agents' a ``Discrete``; both go to RLlib unchanged.

Three ways in, from the most to the least ready-made::

    from pa_envs.rllib import ppo_config

    algo = ppo_config("pollution_v0", {"n_agents": 3}).build_algo()
    print(algo.train()["env_runners"]["social_welfare"])

    # your own config: the env class takes {"env_name": ..., **parallel_env kwargs}
    config.environment(PrincipalAgentRLlibEnv, env_config={"env_name": "grid_v0"})

    # by a registered name (e.g. for Tune)
    name = register_rllib_env("grid_v0")  # "pa_envs_grid_v0"
    config.environment(name, env_config={"n_agents": 4})

The env is RLlib's own :class:`~ray.rllib.env.wrappers.pettingzoo_env.ParallelPettingZooEnv`
around ``<module>.parallel_env(**config)`` (posted-contract timing: the contract
the principal plays at step ``t`` is in force at ``t + 1``), with the players in
their PettingZoo order and per-player space dicts. Transfers outside
``[-max_transfer, max_transfer]`` are clipped by default
(``out_of_bound_transfers="clip"``; RLlib's default action normalisation already
keeps them inside).

Per episode the env runners also log the episode's ``social_welfare``
(the sum of the principal's ``social_welfare`` infos), ``total_transfers`` and
``externality`` under ``result["env_runners"]``, next to RLlib's
``module_episode_returns_mean``.

This module needs Ray: ``pip install "pa_envs[rllib]"``. Ray pins its own
gymnasium (1.2.2 with Ray 2.60); the core accepts it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium

try:
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env
except ImportError as missing:  # pragma: no cover - exercised only without Ray
    raise ImportError(
        f'pa_envs.rllib needs Ray RLlib ({missing}): pip install "pa_envs[rllib]" '
        "(install the PyTorch build you want first, e.g. pip install torch)"
    ) from missing

from pa_envs import presets
from pa_envs.core import PRINCIPAL
from pa_envs.core.parallel import PrincipalAgentParallelEnv
from pa_envs.registry import get_env_module

if TYPE_CHECKING:
    from ray.rllib.algorithms.ppo import PPOConfig

ENV_NAME_KEY = "env_name"
"""The ``env_config`` key naming the env for :class:`PrincipalAgentRLlibEnv`."""
DEFAULT_ENV = "pollution_v0"
PRINCIPAL_POLICY = "principal"
AGENTS_POLICY = "agents"
POLICIES = (PRINCIPAL_POLICY, AGENTS_POLICY)
EPISODE_METRICS = ("social_welfare", "total_transfers", "externality")
"""Per-episode sums of the principal's infos logged under ``result["env_runners"]``."""


def make_parallel_env(
    env_name: str, env_config: Mapping[str, Any] | None = None
) -> PrincipalAgentParallelEnv:
    """Build ``pa_envs.make_parallel_env(env_name, **env_config)`` as RLlib runs it.

    Parameters
    ----------
    env_name : str
        A registered env (a key of ``pa_envs.ENVS``) or a preset (``"pollution_v0:hard"``).
    env_config : mapping, optional
        Keywords of ``parallel_env``. ``out_of_bound_transfers`` defaults to
        ``"clip"`` here (a learner's Gaussian sample may leave the bound).

    Returns
    -------
    PrincipalAgentParallelEnv
    """
    kwargs = dict(env_config or {})
    kwargs.setdefault("out_of_bound_transfers", "clip")
    return presets.make_parallel_env(env_name, **kwargs)


class PrincipalAgentRLlibEnv(ParallelPettingZooEnv):
    """A pa_envs env as an RLlib ``MultiAgentEnv`` (RLlib's ParallelPettingZooEnv, ordered).

    Parameters
    ----------
    config : mapping, optional
        RLlib's ``env_config`` (an ``EnvContext`` or a dict): ``"env_name"``
        (default ``"pollution_v0"``) and the keywords of that env's
        ``parallel_env``.

    Notes
    -----
    RLlib's wrapper lists the players from a ``set``; here ``agents`` and
    ``possible_agents`` keep the PettingZoo order (``principal_0`` first) and
    ``observation_spaces`` / ``action_spaces`` map each player to its space.
    ``render()`` renders with the env's ``render_mode``. The wrapped env is
    ``self.par_env`` (its game, exact model and helpers are there).
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        kwargs = dict(config or {})
        self.env_name: str = kwargs.pop(ENV_NAME_KEY, DEFAULT_ENV)
        par_env = make_parallel_env(self.env_name, kwargs)
        super().__init__(par_env)
        players = list(par_env.possible_agents)
        self.agents = list(players)
        self.possible_agents = list(players)
        self._agent_ids = set(players)
        self.observation_spaces = {p: par_env.observation_space(p) for p in players}
        self.action_spaces = {p: par_env.action_space(p) for p in players}
        self.observation_space = gymnasium.spaces.Dict(self.observation_spaces)
        self.action_space = gymnasium.spaces.Dict(self.action_spaces)
        self.render_mode = par_env.render_mode
        self.metadata = par_env.metadata


def rllib_env_creator(env_name: str) -> Callable[[Mapping[str, Any] | None], PrincipalAgentRLlibEnv]:
    """A creator ``env_config -> MultiAgentEnv`` for ``ray.tune.registry.register_env``.

    Parameters
    ----------
    env_name : str
        A registered env; checked now, so a typo fails here, not on a remote worker.

    Returns
    -------
    callable
        ``creator(env_config)`` builds :class:`PrincipalAgentRLlibEnv` on
        ``env_name`` with ``env_config`` as the ``parallel_env`` keywords.
    """
    get_env_module(env_name)

    def creator(env_config: Mapping[str, Any] | None = None) -> PrincipalAgentRLlibEnv:
        return PrincipalAgentRLlibEnv({**dict(env_config or {}), ENV_NAME_KEY: env_name})

    creator.__name__ = creator.__qualname__ = f"create_{env_name}"
    return creator


def register_rllib_env(env_name: str, registered_name: str | None = None) -> str:
    """Register ``env_name`` with RLlib/Tune under ``registered_name`` and return that name.

    Parameters
    ----------
    env_name : str
        A registered pa_envs env.
    registered_name : str, optional
        The name for ``config.environment(...)``; default ``"pa_envs_<env_name>"``.

    Returns
    -------
    str
        The name to pass to ``AlgorithmConfig.environment``.
    """
    name = registered_name or f"pa_envs_{env_name}"
    register_env(name, rllib_env_creator(env_name))
    return name


def policy_mapping_fn(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    """``principal_0`` -> ``"principal"``; every ``agent_<i>`` -> the shared ``"agents"`` policy."""
    if agent_id == PRINCIPAL:
        return PRINCIPAL_POLICY
    if str(agent_id).startswith("agent_"):
        return AGENTS_POLICY
    raise ValueError(f"no policy for player {agent_id!r}; the players are principal_0 and agent_<i>")


# -- per-episode welfare metrics (module-level functions: they pickle by reference) ---------------
def on_episode_step(*, episode: Any, **kwargs: Any) -> None:
    """Add the principal's per-step infos of :data:`EPISODE_METRICS` to the episode's totals."""
    info = episode.get_infos(-1).get(PRINCIPAL) or {}
    totals = episode.custom_data.setdefault("pa_envs", dict.fromkeys(EPISODE_METRICS, 0.0))
    for key in EPISODE_METRICS:
        if key in info:
            totals[key] += float(info[key])


def on_episode_end(*, episode: Any, env_runner: Any, metrics_logger: Any, **kwargs: Any) -> None:
    """Log the episode's totals, smoothed over the window RLlib uses for episode returns."""
    totals = episode.custom_data.get("pa_envs")
    if not totals or metrics_logger is None:
        return
    config = env_runner.config
    window = max(1, math.ceil(config.metrics_num_episodes_for_smoothing / (config.num_env_runners or 1)))
    for key, value in totals.items():
        metrics_logger.log_value(key, value, reduce="mean", window=window)


def ppo_config(
    env_name: str = DEFAULT_ENV,
    env_config: Mapping[str, Any] | None = None,
    *,
    num_env_runners: int = 0,
    num_envs_per_env_runner: int = 1,
    num_cpus_per_env_runner: float = 1,
    train_batch_size: int = 4000,
    minibatch_size: int = 256,
    num_epochs: int = 10,
    lr: float = 3e-4,
    gamma: float = 0.99,
    entropy_coeff: float = 0.0,
    hidden: Sequence[int] = (64, 64),
    policies_to_train: Sequence[str] = POLICIES,
    seed: int | None = None,
) -> PPOConfig:
    """A ready ``PPOConfig`` training the principal and the agents together on one env.

    Two policies: ``"principal"`` (continuous, a Gaussian over the flat
    contract) and ``"agents"`` (categorical, shared by every agent). Each has
    its own policy and value networks (``vf_share_layers=False``) and the value
    loss is not clipped (episode returns here run into the hundreds).

    Parameters
    ----------
    env_name : str
        A registered env (a key of ``pa_envs.ENVS``).
    env_config : mapping, optional
        Keywords of that env's ``parallel_env`` (``n_agents``, ``max_cycles``, ...).
    num_env_runners : int
        Remote sampling actors; 0 samples in the driver (local, one process).
    num_envs_per_env_runner : int
        Env copies each runner steps together.
    num_cpus_per_env_runner : float
        CPUs Ray reserves for each remote runner.
    train_batch_size : int
        Env steps per training iteration (``train_batch_size_per_learner``).
    minibatch_size, num_epochs, lr, gamma, entropy_coeff
        PPO's hyperparameters.
    hidden : sequence of int
        Hidden layer sizes of every network.
    policies_to_train : sequence of str
        Subset of ``("principal", "agents")`` to update; the others act but stay fixed.
    seed : int, optional
        Seeds the env runners (environments and sampling) and the networks. A run
        repeats exactly only under the same ``PYTHONHASHSEED`` too: RLlib 2.60 keeps
        the agents that act next in a set (``MultiAgentEpisode.get_agents_to_act``),
        so the order in which the policies sample follows string hashing.

    Returns
    -------
    ray.rllib.algorithms.ppo.PPOConfig
        Call ``.build_algo()`` on it (after ``ray.init`` for a cluster).
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    get_env_module(env_name)
    unknown = sorted(set(policies_to_train) - set(POLICIES))
    if unknown or not policies_to_train:
        raise ValueError(
            f"policies_to_train must be a non-empty subset of {POLICIES}, got {policies_to_train}"
        )
    model = DefaultModelConfig(fcnet_hiddens=list(hidden), fcnet_activation="tanh", vf_share_layers=False)
    config = (
        PPOConfig()
        .environment(PrincipalAgentRLlibEnv, env_config={ENV_NAME_KEY: env_name, **dict(env_config or {})})
        .framework("torch")
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=num_envs_per_env_runner,
            num_cpus_per_env_runner=num_cpus_per_env_runner,
        )
        .multi_agent(
            policies=list(POLICIES),  # a list, not a set: the same order in every process
            policy_mapping_fn=policy_mapping_fn,
            policies_to_train=list(policies_to_train),
        )
        .rl_module(
            rl_module_spec=MultiRLModuleSpec(
                rl_module_specs={policy: RLModuleSpec(model_config=model) for policy in POLICIES}
            )
        )
        .training(
            train_batch_size_per_learner=train_batch_size,
            minibatch_size=minibatch_size,
            num_epochs=num_epochs,
            lr=lr,
            gamma=gamma,
            entropy_coeff=entropy_coeff,
            vf_clip_param=float("inf"),
        )
        .callbacks(on_episode_step=on_episode_step, on_episode_end=on_episode_end)
    )
    if seed is not None:
        config = config.debugging(seed=seed)
    return config


__all__ = [
    "AGENTS_POLICY",
    "ENV_NAME_KEY",
    "EPISODE_METRICS",
    "POLICIES",
    "PRINCIPAL_POLICY",
    "PrincipalAgentRLlibEnv",
    "make_parallel_env",
    "policy_mapping_fn",
    "ppo_config",
    "register_rllib_env",
    "rllib_env_creator",
]
