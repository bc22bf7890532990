"""The env binding: a mechanism plays the principal, and an agents-only PettingZoo env is left.

:class:`MechanismEnv` binds a mechanism to a parallel env: every period the
mechanism moves first, seeing the state, and posts the contract the agents
then observe and act under (Stackelberg timing). Its infos still carry
welfare, externality and transfers. ``pettingzoo.utils.conversions.parallel_to_aec``
gives the AEC form (:func:`mechanism_aec_env`). The loop is
:class:`~pa_envs.core.mechanism.MechanismDriver`'s, with one copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec_wrapper
from pettingzoo.utils.env import AECEnv

from pa_envs.core.aec import OrderEnforcingAEC
from pa_envs.core.episode import PRINCIPAL
from pa_envs.core.game import Game
from pa_envs.core.mechanism import Mechanism, MechanismDriver
from pa_envs.core.parallel import DeepCopies, PrincipalAgentParallelEnv, episode_over
from pa_envs.mechanisms.registry import make_mechanism


class MechanismEnv(DeepCopies, ParallelEnv):
    """An agents-only ParallelEnv: ``mechanism`` plays the principal of ``env``.

    Each period the mechanism sees the state and posts the contract, then the
    agents observe it (their observation's contract row) and act. Rewards,
    terminations and truncations are the agents'. Each agent's info carries
    its own keys plus the period's ``social_welfare``, ``externality``,
    ``total_transfers``, ``principal_reward`` and the mechanism's own facts.

    Parameters
    ----------
    env : PrincipalAgentParallelEnv
        A parallel env of this suite (``<name>.parallel_env(...)``).
    mechanism : Mechanism
        The principal's policy; bound to ``env``'s game here.
    """

    def __init__(self, env: PrincipalAgentParallelEnv, mechanism: Mechanism) -> None:
        if not isinstance(env, PrincipalAgentParallelEnv):
            raise TypeError(f"MechanismEnv needs a parallel env of pa_envs, got {type(env).__name__}")
        self.env = env
        self.driver = MechanismDriver(mechanism, env.game, 1)  # binds it (and checks it is one)
        self.mechanism = mechanism
        self.possible_agents = env.possible_agents[1:]
        self.agents: list[str] = []
        self.metadata = {**env.metadata, "name": f"{env.metadata['name']}+{mechanism.name}"}
        self.render_mode = env.render_mode
        self.state_space = env.state_space
        # The state and period the contract in force was posted in (None before reset()).
        self._period_start: tuple[np.ndarray, int] | None = None

    @property
    def game(self) -> Game:
        return self.env.game

    def observation_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        return self.env.observation_space(agent)

    def action_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        return self.env.action_space(agent)

    def _check_agent(self, agent: str) -> None:
        if agent not in self.possible_agents:
            raise ValueError(f"{agent!r} is not an agent of this env; the agents are {self.possible_agents}")

    def _start(self) -> tuple[np.ndarray, np.ndarray]:
        state, period = self.env.game_state(), self.env.period
        self._period_start = (state, period)
        return state[None], np.array([period])

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Start an episode: the mechanism posts its first contract.

        Raises
        ------
        ValueError
            For ``options={"contract": ...}``: the mechanism posts every contract, the first
            one included (bind a :class:`~pa_envs.mechanisms.FlatSchedule` to post one you write).
        """
        if isinstance(options, dict) and "contract" in options:
            raise ValueError(
                f"reset options['contract'] does not apply here: the mechanism {self.mechanism.name} posts "
                "every contract, the first one included; to play under a contract you write, bind "
                "FlatSchedule(transfers) instead"
            )
        observations, infos = self.env.reset(seed=seed, options=options)
        self.driver.start(*self._start())
        observations = self.env.post_contract(self.driver.contracts[0])
        self.agents = list(self.possible_agents)
        return self._agents_only(observations), self._agent_infos(infos)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self._period_start is None:
            raise RuntimeError("call reset() before step()")
        if not isinstance(actions, dict):
            raise TypeError(f"actions must be a dict from agent name to action, got {actions!r}")
        if not self.agents:
            if actions:
                raise episode_over(f"actions for {sorted(actions)}")
            return {}, {}, {}, {}, {}
        if PRINCIPAL in actions:
            raise ValueError(
                f"{PRINCIPAL} is played by the mechanism {self.mechanism.name}; send agents only"
            )
        state, period = self._period_start
        driver = self.driver
        observations, rewards, terminations, truncations, infos = self.env.step(
            {PRINCIPAL: self.env.flat_contract(driver.contracts[0]), **actions}
        )
        done = not self.env.agents
        next_state = self.env.game_state()
        driver.learn(
            state[None], np.array([period]), self.env.last_outcome(), next_state[None], np.array([done])
        )
        if done:
            self.agents = []
        else:
            driver.post(*self._start())
            observations = self.env.post_contract(driver.contracts[0])
        principal_reward = rewards.pop(PRINCIPAL)
        for table in (terminations, truncations):
            table.pop(PRINCIPAL)
        agent_infos = self._agent_infos(infos, principal_reward)
        return self._agents_only(observations), rewards, terminations, truncations, agent_infos

    def _agents_only(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {p: observations[p] for p in self.possible_agents}

    def _agent_infos(self, infos: dict[str, dict], principal_reward: float = 0.0) -> dict[str, dict]:
        principal = infos[PRINCIPAL]
        shared = {
            "social_welfare": principal["social_welfare"],
            "externality": principal["externality"],
            "total_transfers": principal["total_transfers"],
            "principal_reward": principal_reward,
        }
        for key, value in self.mechanism.info().items():
            shared[key] = np.asarray(value)[0].item()
        return {p: {**infos[p], **shared} for p in self.possible_agents}

    def state(self) -> np.ndarray:
        return self.env.state()

    def render(self, mode: str | None = None) -> str | np.ndarray | None:
        return self.env.render(mode)

    def close(self) -> None:
        self.env.close()


def mechanism_env(
    env: PrincipalAgentParallelEnv, mechanism: Mechanism | str, /, **kwargs: Any
) -> MechanismEnv:
    """Bind a mechanism (or a bundled one by name, built with ``kwargs``) to a parallel env."""
    if isinstance(mechanism, str):
        mechanism = make_mechanism(mechanism, env, **kwargs)
    elif kwargs:
        raise TypeError("keyword arguments only go with a mechanism given by name")
    return MechanismEnv(env, mechanism)


def mechanism_aec_env(env: PrincipalAgentParallelEnv, mechanism: Mechanism | str, /, **kwargs: Any) -> AECEnv:
    """The AEC form of :func:`mechanism_env`: PettingZoo's ``parallel_to_aec_wrapper`` under
    the order rules every pa_envs AEC env keeps (an action after the end raises)."""
    return OrderEnforcingAEC(parallel_to_aec_wrapper(mechanism_env(env, mechanism, **kwargs)))


__all__ = ["MechanismEnv", "mechanism_aec_env", "mechanism_env"]
