"""The PettingZoo ParallelEnv adapter shared by every env (posted-contract timing).

All players move at once. The contract the principal plays at step ``t``
takes effect at step ``t + 1``, as a tax schedule is announced before the
period it covers; ``reset`` puts an initial contract in force (zero unless
``options={"contract": ...}`` gives one). Each agent observes the state and
the row of the contract that is in force for it in the coming period.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
from gymnasium import logger, spaces
from pettingzoo import ParallelEnv

from pa_envs.core.contracts import contract_matrix, flat_contract
from pa_envs.core.episode import PRINCIPAL, RESET_OPTIONS, Episode
from pa_envs.core.game import Game, GameParams, PeriodOutcome
from pa_envs.core.render import PeriodRecord, Renderer, check_render_mode
from pa_envs.core.tabular import TabularModel


def make_params(params_class: type[GameParams], params: GameParams | None, kwargs: dict) -> GameParams:
    """Build an env's parameters from a params object or keywords (not both)."""
    if params is not None:
        if kwargs:
            raise TypeError(f"give either params= or keyword parameters, not both (got {sorted(kwargs)})")
        if not isinstance(params, params_class):
            raise TypeError(f"params must be a {params_class.__name__}, got {type(params).__name__}")
        return params
    known = {f.name for f in params_class.__dataclass_fields__.values()}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(
            f"unknown parameter(s) {unknown} for {params_class.__name__}; "
            f"expected among {sorted(known)} or render_mode, out_of_bound_transfers"
        )
    return params_class(**kwargs)


class EpisodeOverError(ValueError, RuntimeError):
    """An action sent after the episode ended: every form raises it (call ``reset()``).

    Both a ``ValueError`` (what the PettingZoo forms always raised) and a ``RuntimeError``
    (what the gymnasium views always raised), so that code catching either still works.
    """


def episode_over(sent: str, hint: str = "") -> EpisodeOverError:
    """The error every form raises when ``sent`` (e.g. ``"action 0"``) arrives after the end."""
    return EpisodeOverError(f"the episode is over, yet {sent} arrived; call reset(){hint}")


def check_options(options: object, known: tuple[str, ...] = RESET_OPTIONS) -> dict[str, Any]:
    """Check ``reset``'s ``options`` before anything changes; return them (``{}`` for ``None``).

    Raises
    ------
    TypeError
        If ``options`` is not a dict or one of its keys is not a name (``str``); the
        message names the keys this form knows (``known``).
    """
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None, got {options!r}")
    for key in options:
        if not isinstance(key, str):
            raise TypeError(
                f"reset options are keyed by name, one of {list(known)}; got the key {key!r} "
                f"({type(key).__name__})"
            )
    return options


class DeepCopies:
    """``copy.copy`` of an env is a deep copy: a shallow one would share the episode being
    played (state, stream, contract in force) with the original, so that stepping one
    would silently move the other."""

    def __copy__(self) -> Any:
        return copy.deepcopy(self)


class GameEnvMixin(DeepCopies):
    """What both adapters offer on top of PettingZoo's API: the game, its model, helpers."""

    game_class: ClassVar[type[Game]]
    metadata: ClassVar[dict[str, Any]]

    def __init__(
        self,
        params: GameParams | None = None,
        *,
        render_mode: str | None = None,
        out_of_bound_transfers: str = "raise",
        **param_kwargs: Any,
    ) -> None:
        check_render_mode(render_mode)
        self.game = self.game_class(make_params(self.game_class.params_class, params, param_kwargs))
        self.params = self.game.params
        self.render_mode = render_mode
        self._episode = Episode(self.game, out_of_bound_transfers)
        self._spaces = self._episode.spaces
        self.possible_agents = list(self._episode.players)
        self.agents: list[str] = []
        self.state_space = self._spaces.state
        self._record = PeriodRecord(1, self.game.n_agents)
        # Without a render mode the record is brought up to date only if render(mode) asks
        # (see _remember): copying a period's arrays every step would cost every user.
        self._record_behind = False
        self._welfare_so_far = 0.0
        self._renderer = Renderer(self.game)
        # The contract the agents observe: in force next period (parallel) or
        # posted for this period (AEC).
        self._contract = np.zeros((self.game.n_agents, self.game.n_signals))

    def observation_space(self, agent: str) -> spaces.Space:
        self._check_known(agent)
        return self._spaces.observation_space(agent)

    def action_space(self, agent: str) -> spaces.Space:
        self._check_known(agent)
        return self._spaces.action_space(agent)

    def _check_known(self, player: str) -> None:
        if player not in self._episode.player_set:
            raise ValueError(f"{player!r} is not a player; the players are {self._episode.players}")

    def game_state(self) -> np.ndarray:
        """A copy of the game's state vector (int64, e.g. ``[stock]``)."""
        if self._episode.state is None:
            raise RuntimeError("call reset() before game_state()")
        return self._episode.state[0].copy()

    def last_outcome(self) -> PeriodOutcome | None:
        """The outcome of the period played last in this episode (``None`` before the first)."""
        return self._episode.last_outcome

    def contract_in_force(self) -> np.ndarray:
        """A copy of the ``(n_agents, n_signals)`` contract the agents now observe."""
        return self._contract.copy()

    @property
    def period(self) -> int:
        """Periods played in this episode (0 right after reset)."""
        return self._episode.period

    def contract_matrix(self, flat: np.ndarray) -> np.ndarray:
        """The principal's flat action as an ``(n_agents, n_signals)`` matrix."""
        return contract_matrix(flat, self.game.n_agents, self.game.n_signals)

    def flat_contract(self, matrix: np.ndarray) -> np.ndarray:
        """An ``(n_agents, n_signals)`` contract as the principal's flat float32 action."""
        return flat_contract(matrix).astype(np.float32)

    def tabular_model(self) -> TabularModel:
        """The exact finite model of this env (see :class:`~pa_envs.core.tabular.TabularModel`)."""
        return self.game.tabular_model()

    def _remember(self, outcome: PeriodOutcome | None) -> None:
        """Keep the period just played (or, with ``None``, start the record of an episode).

        With ``render_mode=None`` only the episode's welfare is summed (Python floats add as
        the record's float64 array does); :meth:`_record_now` fills the record on demand from
        the episode's last period, for a ``render(mode)`` call."""
        if outcome is None:
            self._record.start()
            self._record_behind = False
            self._welfare_so_far = 0.0
        elif self.render_mode is None:
            self._record_behind = True
            self._welfare_so_far += float(outcome.social_welfare.item())
        else:
            self._record.record(self._episode.last_actions[None], outcome)

    def _record_now(self) -> PeriodRecord:
        """The record of the last period, brought up to date if :meth:`_remember` left it behind."""
        if self._record_behind:
            self._record.record(self._episode.last_actions[None], self._episode.last_outcome)
            self._record.cumulative = np.array([self._welfare_so_far])
            self._record_behind = False
        return self._record

    def _show(self) -> None:
        """Human mode: the env shows itself after ``reset`` and each period, once."""
        if self.render_mode == "human":
            self._renderer.show(self._episode.state[0], self._episode.period, self._record)

    def render(self, mode: str | None = None) -> str | np.ndarray | None:
        """Render the last period: the text (``"ansi"``), an ``(H, W, 3)`` uint8 frame
        (``"rgb_array"``, the same size all episode), or ``None`` in ``"human"`` mode, where
        the env shows itself on ``reset`` and each period (gymnasium's convention, so that
        calling ``render()`` too never shows a period twice). ``mode`` overrides
        ``render_mode``, for callers that pass one; ``render("human")`` on an env of another
        mode shows the period once. See :mod:`pa_envs.core.render`.
        """
        mode = mode or self.render_mode
        if mode is None:
            logger.warn("render() called without a render_mode; pass render_mode= to the env")
            return None
        check_render_mode(mode)
        if self._episode.state is None:
            raise RuntimeError("call reset() before render()")
        if mode == "human" and self.render_mode == "human":
            return None  # shown already by reset() or step()
        return self._renderer.render(mode, self._episode.state[0], self._episode.period, self._record_now())

    def close(self) -> None:
        """Close the human-mode window, if one is open."""
        self._renderer.close()


class PrincipalAgentParallelEnv(GameEnvMixin, ParallelEnv):
    """PettingZoo ParallelEnv over a :class:`~pa_envs.core.game.Game`.

    Parameters
    ----------
    params : GameParams, optional
        The env's parameters; or give them as keywords.
    render_mode : {"ansi", "rgb_array", "human"}, optional
        Text, labelled frames, or a window (printed text without a display);
        see :mod:`pa_envs.core.render`.
    out_of_bound_transfers : {"raise", "clip"}
        Whether a transfer outside ``[-max_transfer, max_transfer]`` raises
        ``ValueError`` (default) or is clipped to the bound.
    **param_kwargs
        Fields of the env's parameter dataclass.
    """

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        episode = self._episode
        self._contract = episode.reset(seed, check_options(options))
        self.agents = list(self.possible_agents)
        self._remember(None)
        self._show()
        return self._observations(), episode.infos(None, self._contract)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        episode = self._episode
        if episode.state is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            if actions:
                sent = sorted(actions) if isinstance(actions, dict) else actions
                raise episode_over(f"actions for {sent!r}", " (an empty step({}) is a no-op)")
            return {}, {}, {}, {}, {}
        episode.check_players(actions, self.agents)
        posted = episode.check_contract(actions[PRINCIPAL])
        joint = episode.check_agent_actions(actions)

        in_force = self._contract
        outcome = episode.play(joint, in_force)
        self._contract = posted
        self._remember(outcome)

        agents = episode.agents
        # .item() of the one copy's (1,) arrays: the same Python scalars as float(x[0]), without
        # the numpy scalar in between.
        rewards = {PRINCIPAL: float(outcome.principal_reward.item())}
        # Item by item: dict.update of a zip takes its slow path (a pair tuple each entry).
        for agent, reward in zip(agents, outcome.agent_rewards.tolist()[0], strict=True):
            rewards[agent] = reward
        terminated = bool(outcome.dynamics.terminated.item())
        truncated = episode.over and not terminated
        live = self.agents
        terminations = dict.fromkeys(live, terminated)
        truncations = dict.fromkeys(live, truncated)
        observations = self._observations()
        # in_force is no one else's now (self._contract is the posted one): the info keeps it.
        infos = episode.infos(outcome, in_force, own_contract=True)
        if terminated or truncated:
            self.agents = []
        self._show()
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """The state vector followed by the flat contract in force, float32."""
        if self._episode.state is None:
            raise RuntimeError("call reset() before state()")
        return self._episode.global_state(self._contract)

    def post_contract(self, contract: np.ndarray) -> dict[str, np.ndarray]:
        """Put ``contract`` in force for the coming period, replacing the one posted before.

        This is how a principal that moves first, after seeing the state,
        plays in the parallel form (mechanism wrappers and the principal's
        gymnasium view use it). The contract is checked like the principal's
        action. Returns the observations every player sees now.
        """
        if not self.agents:
            raise RuntimeError("post_contract() needs a running episode; call reset()")
        self._contract = self._episode.check_contract(contract)
        return self._observations()

    def _observations(self) -> dict[str, np.ndarray]:
        episode = self._episode
        principal, rows = episode.observations(self._contract)
        observations = {PRINCIPAL: principal}
        # Not strict: rows has a row per agent by construction, and a strict zip would read past
        # the array's last row, an IndexError raised and caught every step (a microsecond).
        # Item by item: dict.update of a zip takes its slow path (a pair tuple each entry).
        for agent, row in zip(episode.agents, rows, strict=False):
            observations[agent] = row
        return observations
