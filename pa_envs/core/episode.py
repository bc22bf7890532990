"""One copy of a game being played: the part both PettingZoo adapters share.

An :class:`Episode` owns the state of one copy, the random stream and the
checks on what players send; :mod:`pa_envs.core.parallel` and
:mod:`pa_envs.core.aec` only decide *when* the principal's contract takes
effect (the timing) and speak PettingZoo's dict API.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import logger, spaces

from pa_envs.core import rng
from pa_envs.core.contracts import check_contract, check_discrete, contract_within_bounds, transfer_bound
from pa_envs.core.game import Game, PeriodOutcome, resolve_period

PRINCIPAL = "principal_0"
NOISE_BLOCK = rng.AHEAD
"""Periods whose uniforms a single env draws at once (fewer at the end of an episode)."""
_NO_NOISE = np.empty((0, 0))
_INT_TYPES = frozenset((int, np.int64))  # an agent's action of the common case
_sum = np.add.reduce  # ndarray.sum without its Python wrapper: the same float
OUT_OF_BOUND_TRANSFERS = ("raise", "clip")
RESET_OPTIONS = ("contract",)


def agent_name(i: int) -> str:
    """PettingZoo name of agent ``i``."""
    return f"agent_{i}"


def agent_observations(game: Game, state: np.ndarray, contracts: np.ndarray) -> np.ndarray:
    """``(B, N, F + S)`` float32 observations of every agent of B copies: its state
    features followed by its row of the contract in force (``(B, N, S)``)."""
    features = game.agent_features(state)
    width = features.shape[2]
    out = np.empty((*features.shape[:2], width + contracts.shape[2]), dtype=np.float32)
    out[:, :, :width] = features
    out[:, :, width:] = contracts
    return out


class PlayerSpaces:
    """The spaces of every player of a game, built once so each call returns the same object."""

    def __init__(self, game: Game) -> None:
        n, s = game.n_agents, game.n_signals
        bound = np.float32(game.params.max_transfer)
        self.transfer_bound = transfer_bound(game.params.max_transfer)
        agent_high = np.concatenate([game.agent_features_high(), np.full(s, bound)]).astype(np.float32)
        agent_low = np.concatenate([np.zeros(len(agent_high) - s), np.full(s, -bound)]).astype(np.float32)
        self.agent_observation = spaces.Box(agent_low, agent_high, dtype=np.float32)
        self.agent_action = spaces.Discrete(game.n_actions)
        principal_high = np.asarray(game.principal_features_high(), dtype=np.float32)
        self.principal_observation = spaces.Box(
            np.zeros_like(principal_high), principal_high, dtype=np.float32
        )
        self.principal_action = spaces.Box(-bound, bound, shape=(n * s,), dtype=np.float32)
        state_high = np.concatenate([game.state_high, np.full(n * s, bound)]).astype(np.float32)
        state_low = np.concatenate([np.zeros(len(game.state_high)), np.full(n * s, -bound)])
        self.state = spaces.Box(state_low.astype(np.float32), state_high, dtype=np.float32)

    def observation_space(self, player: str) -> spaces.Space:
        return self.principal_observation if player == PRINCIPAL else self.agent_observation

    def action_space(self, player: str) -> spaces.Space:
        return self.principal_action if player == PRINCIPAL else self.agent_action


class Episode:
    """State, randomness and input checks of one copy of a game.

    Parameters
    ----------
    game : Game
        The economics.
    out_of_bound_transfers : {"raise", "clip"}
        What a transfer outside ``[-max_transfer, max_transfer]`` does.
    """

    def __init__(self, game: Game, out_of_bound_transfers: str = "raise") -> None:
        if out_of_bound_transfers not in OUT_OF_BOUND_TRANSFERS:
            raise ValueError(
                f"out_of_bound_transfers must be one of {OUT_OF_BOUND_TRANSFERS}, "
                f"got {out_of_bound_transfers!r}"
            )
        self.game = game
        self.spaces = PlayerSpaces(game)
        self.clip_transfers = out_of_bound_transfers == "clip"
        self.agents = [agent_name(i) for i in range(game.n_agents)]
        self.players = [PRINCIPAL, *self.agents]
        self.player_set = frozenset(self.players)  # membership in O(1): a step checks N names
        self.key: int | None = None
        self.episode = -1
        self.period = 0
        self.state: np.ndarray | None = None
        self.last_actions = np.full(game.n_agents, -1, dtype=np.int64)
        self.last_outcome: PeriodOutcome | None = None  # of the period played last this episode
        self._played: np.ndarray | None = None  # the (1, N) actions of the last period played
        self._zero_contract = np.zeros((game.n_agents, game.n_signals))
        # Static facts a step would otherwise look up through properties every time.
        self.index = {name: i for i, name in enumerate(self.agents)}  # agent -> its row, O(1)
        self._n_actions = game.n_actions
        self._valid_actions = frozenset(range(game.n_actions))
        self._contract_shape = (game.n_agents, game.n_signals)
        self._noise_size = game.noise_size
        self._max_cycles = game.params.max_cycles
        self._noise, self._noise_first = _NO_NOISE, 1
        self._state_names = game.state_names
        self._principal_width = self.spaces.principal_observation.shape[0]
        self._agent_width = self.spaces.agent_observation.shape[0]
        self._feature_width = self._agent_width - game.n_signals
        kind = type(game)
        self._default_features = (
            kind.agent_features is Game.agent_features
            and kind.principal_features is Game.principal_features
            and self._principal_width == self._feature_width
        )
        self._default_describe = kind.describe_state is Game.describe_state

    # -- lifecycle ------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> np.ndarray:
        """Start an episode; return the contract in force at its start.

        A seed restarts the random stream; without one the stream goes on (a
        fresh one on the very first reset).
        """
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"options must be a dict or None, got {options!r}")
        unknown = sorted(set(options or {}) - set(RESET_OPTIONS))
        if unknown:
            # Ignored, as gymnasium does (wrappers pass their own keys), but never silently.
            logger.warn(f"reset ignores unknown options {unknown}; it knows {list(RESET_OPTIONS)}")
        # Check everything first: a rejected reset must leave the episode as it was.
        contract = self._zero_contract.copy()
        if options and options.get("contract") is not None:
            contract = self.check_contract(options["contract"], "reset options['contract']")
        if seed is not None or self.key is None:
            self.key, self.episode = rng.key_from_seed(seed), 0
        else:
            self.episode += 1
        self.period = 0
        self.last_actions = np.full(self.game.n_agents, -1, dtype=np.int64)
        self.last_outcome = None
        noise = rng.uniforms(self.key, rng.counter(self.episode, 0), self.game.noise_size)
        self.state = self.game.initial_state(noise)
        self._noise, self._noise_first = _NO_NOISE, 1  # no period drawn ahead yet
        return contract

    def _period_noise(self, period: int) -> np.ndarray:
        """The ``(1, noise_size)`` uniforms of ``period`` of this episode, from a block of
        periods drawn ahead (the same numbers :func:`rng.uniforms` gives, bit for bit)."""
        row = period - self._noise_first
        if row >= len(self._noise):
            left = self._max_cycles - period + 1  # never beyond the horizon
            count = min(NOISE_BLOCK, left)
            self._noise = rng.period_uniforms(self.key, self.episode, period, count, self._noise_size)
            self._noise_first, row = period, 0
        return self._noise[row : row + 1]

    def play(self, actions: np.ndarray, contract: np.ndarray) -> PeriodOutcome:
        """Resolve one period with checked ``actions`` (N,) under ``contract`` (N, S)."""
        self.period += 1
        self.last_actions = actions
        noise = self._period_noise(self.period)
        played = self._played = actions[None, :]  # infos know a Game's signals that are these
        # The actions were checked (every form checks them before it plays), so a Game whose
        # signals are the actions themselves needs no second range check of them.
        outcome = resolve_period(
            self.game, self.state, played, contract[None], noise, actions_below=self._n_actions
        )
        self.state = outcome.dynamics.next_state
        self.last_outcome = outcome
        return outcome

    @property
    def over(self) -> bool:
        """Whether the horizon ``max_cycles`` has been reached."""
        return self.period >= self._max_cycles

    # -- input checks ---------------------------------------------------------
    def check_contract(self, value: object, player: str = PRINCIPAL) -> np.ndarray:
        """Validate a contract (flat or matrix) and return its float64 matrix."""
        if not self.clip_transfers:  # the common case first, without check_contract's keywords
            accepted = contract_within_bounds(value, *self._contract_shape, self.spaces.transfer_bound)
            if accepted is not None:
                return accepted
        return check_contract(
            value,
            player=player,
            n_agents=self.game.n_agents,
            n_signals=self.game.n_signals,
            bound=self.spaces.transfer_bound,
            clip=self.clip_transfers,
            signal_names=self.game.signal_names,
        )

    def check_agent_action(self, player: str, value: object) -> int:
        """Validate one agent's discrete action and return it as an int (the rule of
        :func:`~pa_envs.core.contracts.check_discrete`, which the vector forms apply too)."""
        n = self._n_actions
        kind = type(value)
        if kind is int or kind is np.int64:  # the common case, first
            assert isinstance(value, (int, np.int64))  # for the type checker: `kind is` does not narrow
            if 0 <= value < n:
                return int(value)
        expected = f"Discrete({n}), an int in 0..{n - 1} ({', '.join(self.game.action_names)})"
        if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.shape != ()):
            raise TypeError(f"{player}: action must be one int, expected {expected}, got {value!r}")
        action = check_discrete(
            value,
            n_actions=n,
            action_names=self.game.action_names,
            who=f"{player}: action",
            expected=expected,
            locate=lambda _: player,
        )
        return int(action)

    def check_agent_actions(self, actions: dict) -> np.ndarray:
        """The agents' checked actions, ``(N,)`` int64, from a dict that names every agent."""
        values = [actions[p] for p in self.agents]
        # Two set inclusions, each one C loop, instead of a Python loop of two tests an agent:
        # the type test keeps out bools and floats, which equal (and hash as) ints; the set of
        # valid actions then holds every in-range int.
        if not (_INT_TYPES.issuperset(map(type, values)) and self._valid_actions.issuperset(values)):
            # Anything but the common case: each action checked and named on its own.
            values = [self.check_agent_action(p, actions[p]) for p in self.agents]
        return np.array(values, dtype=np.int64)

    def check_players(self, given: dict, live: list[str]) -> None:
        """Raise unless ``given`` names exactly the live players."""
        if type(given) is dict and len(live) == len(self.players) and given.keys() == self.player_set:
            return  # every player live and named: the common case, one set comparison
        if not isinstance(given, dict):
            raise TypeError(f"actions must be a dict from player name to action, got {given!r}")
        # A set, so the check is O(N): `p not in live` on a list made a step O(N**2).
        live_set = set(live)
        unknown = [p for p in given if p not in live_set]
        if unknown:
            player = unknown[0]
            why = "has finished its episode" if player in self.players else "is not a player"
            raise ValueError(f"{player!r} {why}; the live players are {live}")
        missing = [p for p in live if p not in given]
        if missing:
            raise ValueError(f"no action for live players {missing}; every live player must act")

    # -- what players see -----------------------------------------------------
    def agent_observations(self, contract: np.ndarray) -> np.ndarray:
        """``(N, F + S)`` float32: each agent's state features and its contract row."""
        return agent_observations(self.game, self.state, contract[None])[0]

    def principal_observation(self) -> np.ndarray:
        return self.game.principal_features(self.state)[0].astype(np.float32)

    def observations(self, contract: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The principal's observation and the ``(N, F + S)`` agents' rows under ``contract``
        (the numbers of :meth:`principal_observation` and :meth:`agent_observations`), as views
        of one new float32 buffer: one allocation per step instead of four."""
        state = self.state
        width = self._principal_width
        if self._default_features:
            # Everyone sees the state (Game's default features): the principal's row is the
            # state's F columns of row 0, so that one assignment fills every player's features.
            buffer: np.ndarray = np.empty((1 + len(self.agents), self._agent_width), dtype=np.float32)
            buffer[:, :width] = state  # (1, F): broadcast over the rows
            agents = buffer[1:]
            agents[:, width:] = contract
            return buffer[0, :width], agents
        buffer = np.empty(width + len(self.agents) * self._agent_width, dtype=np.float32)
        principal = buffer[:width]
        agents = buffer[width:].reshape(len(self.agents), self._agent_width)
        principal[:] = self.game.principal_features(state)[0]
        features = self._feature_width
        agents[:, :features] = self.game.agent_features(state)[0]
        agents[:, features:] = contract
        return principal, agents

    def global_state(self, contract: np.ndarray) -> np.ndarray:
        """The state vector followed by the flat contract in force, float32."""
        return np.concatenate([self.state[0], contract.reshape(-1)]).astype(np.float32)

    def infos(
        self, outcome: PeriodOutcome | None, contract: np.ndarray, *, own_contract: bool = False
    ) -> dict[str, dict]:
        """Per-player infos after a period (or, with ``outcome=None``, at reset).

        The principal's info carries welfare accounting and the state *after*
        the period; each agent's its own utility and transfer. Reset gives the
        same keys, with zero money and ``-1`` for actions not yet taken.
        ``own_contract=True`` says the caller hands ``contract`` over (no one else keeps it),
        so the info holds it without a copy.
        """
        if outcome is None:
            n = self.game.n_agents
            transfers = np.zeros(n)
            actions = signals = np.full(n, -1)  # copied apart below
            utility_list = transfer_list = transfers.tolist()
            action_list = signal_list = actions.tolist()
            welfare = externality = payoff = total_transfers = 0.0
        else:
            d = outcome.dynamics
            transfers = outcome.transfers[0]
            # x.tolist()[0]: one numpy call, not two. Python scalars once, then plain dict
            # building: this runs every step.
            utility_list = d.private_utility.tolist()[0]
            transfer_list = transfers.tolist()
            actions = self.last_actions
            action_list = actions.tolist()
            if d.signals is self._played:  # the Game's signals are the actions played (pollution's)
                signals, signal_list = actions, action_list
            else:
                signals = d.signals[0]
                signal_list = signals.tolist()
            # .item() of the one copy's (1,) arrays: float(x[0]) without the numpy scalar.
            welfare = float(outcome.social_welfare.item())
            externality = float(d.externality.item())
            payoff = float(d.principal_payoff.item())
            totals = outcome.transfer_totals  # resolve_period's sum: the same float, once
            total_transfers = float(_sum(transfers) if totals is None else totals.item())
        principal = {
            "period": self.period,
            "social_welfare": welfare,
            "externality": externality,
            "principal_payoff": payoff,
            "transfers": transfers.copy(),
            "total_transfers": total_transfers,
            "contract": contract if own_contract else contract.copy(),
            "actions": actions.copy(),
            "signals": signals.copy(),
        }
        if self._default_describe:  # Game.describe_state's dict, without its call
            for name, value in zip(self._state_names, self.state.tolist()[0], strict=True):
                principal[name] = value  # item by item: cheaper than dict.update of a zip
        else:
            principal.update(self.game.describe_state(self.state[0]))
        infos = {PRINCIPAL: principal}
        period = self.period
        for name, utility_i, transfer_i, action_i, signal_i in zip(
            self.agents, utility_list, transfer_list, action_list, signal_list, strict=True
        ):
            infos[name] = {
                "period": period,
                "private_utility": utility_i,
                "transfer": transfer_i,
                "action": action_i,
                "signal": signal_i,
            }
        return infos
