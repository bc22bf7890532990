"""The PettingZoo AECEnv adapter shared by every env (Stackelberg timing).

Every period the principal moves first and posts a contract; then
``agent_0`` ... ``agent_{N-1}`` move in turn, each observing the contract row
just posted for *this* period (a leader-follower game). When the last agent
has moved the period is resolved and every player's reward is assigned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pettingzoo import AECEnv
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from pa_envs.core.episode import PRINCIPAL
from pa_envs.core.parallel import DeepCopies, GameEnvMixin, check_options, episode_over


class PrincipalAgentAECEnv(GameEnvMixin, AECEnv):
    """PettingZoo AECEnv over a :class:`~pa_envs.core.game.Game`.

    Takes the same arguments as
    :class:`~pa_envs.core.parallel.PrincipalAgentParallelEnv`.
    """

    _seen: tuple[np.ndarray, np.ndarray] | None = None  # this period's observations, once built
    _rewards_paid = False  # whether any reward is nonzero since the last clearing

    def _clear_rewards(self) -> None:
        # PettingZoo zeroes every player's reward on every move (O(N) a move, O(N**2) a
        # period); they are nonzero only after a period is resolved, so clear them once then.
        if self._rewards_paid:
            super()._clear_rewards()
            self._rewards_paid = False

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        episode = self._episode
        self._contract = episode.reset(seed, check_options(options))
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._rewards_paid = True  # the first move clears them, to PettingZoo's int 0 as before
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = episode.infos(None, self._contract)
        self.agent_selection = PRINCIPAL
        self._joint = np.zeros(self.game.n_agents, dtype=np.int64)
        self._seen = None
        self._remember(None)
        self._show()

    def observe(self, agent: str) -> np.ndarray:
        self._check_known(agent)
        # Every player's observation is built once per state and contract (the period played,
        # the contract posted) and each call copies one row: O(N) per period, not O(N**2).
        if self._seen is None:
            self._seen = self._episode.observations(self._contract)
        principal, rows = self._seen
        if agent == PRINCIPAL:
            return principal.copy()
        return rows[self._episode.index[agent]].copy()

    def step(self, action: Any) -> None:
        if not self.agents:
            if self._episode.state is None:
                raise RuntimeError("call reset() before step()")
            if action is not None:
                raise episode_over(f"action {action!r}")
            return
        player = self.agent_selection
        if self.terminations[player] or self.truncations[player]:
            self._was_dead_step(action)
            return
        episode = self._episode
        if action is None:
            raise TypeError(f"{player}: got action None, but only finished players may pass None")
        # Check first: a rejected action must leave the env as it was.
        if player == PRINCIPAL:
            contract = episode.check_contract(action)
        else:
            checked = episode.check_agent_action(player, action)
        self._cumulative_rewards[player] = 0.0
        self._clear_rewards()
        if player == PRINCIPAL:
            self._contract = contract
            self._seen = None
            self.agent_selection = episode.agents[0]
            return
        i = episode.index[player]
        self._joint[i] = checked
        if i + 1 < len(episode.agents):
            self.agent_selection = episode.agents[i + 1]
            return
        self._resolve()

    def _resolve(self) -> None:
        episode = self._episode
        outcome = episode.play(self._joint.copy(), self._contract)
        self._seen = None
        self._remember(outcome)
        self.rewards[PRINCIPAL] = float(outcome.principal_reward[0])
        self.rewards.update(zip(episode.agents, outcome.agent_rewards[0].tolist(), strict=True))
        self._rewards_paid = True
        self._accumulate_rewards()
        self.infos = episode.infos(outcome, self._contract)
        terminated = bool(outcome.dynamics.terminated[0])
        truncated = episode.over and not terminated
        self.terminations = dict.fromkeys(self.agents, terminated)
        self.truncations = dict.fromkeys(self.agents, truncated)
        self.agent_selection = PRINCIPAL
        self._show()

    def state(self) -> np.ndarray:
        """The state vector followed by the flat contract last posted, float32."""
        if self._episode.state is None:
            raise RuntimeError("call reset() before state()")
        return self._episode.global_state(self._contract)


class OrderEnforcingAEC(DeepCopies, OrderEnforcingWrapper):
    """PettingZoo's ``OrderEnforcingWrapper`` with the raw env's rules where PettingZoo's
    only logs: an action after the end raises :class:`~pa_envs.core.parallel.EpisodeOverError`
    and a step before ``reset`` a ``RuntimeError`` (a finished player's ``None`` stays a no-op,
    as PettingZoo's ``api_test`` sends it). It wraps any AEC env, e.g. PettingZoo's
    ``parallel_to_aec_wrapper`` of a parallel one."""

    def step(self, action: Any) -> None:
        if not self._has_reset:
            raise RuntimeError("call reset() before step()")
        if not self.agents and action is not None:
            raise episode_over(f"action {action!r}")
        super().step(action)
