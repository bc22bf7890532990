"""Contracts: the principal's transfers, one per agent per contractible signal.

A contract is an ``(n_agents, n_signals)`` matrix; entry ``[i, k]`` is paid to
agent ``i`` when its signal is ``k`` (positive pays the agent, negative taxes
it). Players' action spaces carry it *flat* (length ``n_agents * n_signals``,
agent-major) because RLlib and several MARL libraries reject multi-dimensional
Box actions; these helpers convert between the two layouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces


def contract_matrix(flat: np.ndarray, n_agents: int, n_signals: int) -> np.ndarray:
    """Reshape a flat contract (length ``n_agents * n_signals``) to its matrix.

    Parameters
    ----------
    flat : array_like
        Transfers in agent-major order, ``flat[i * n_signals + k]``.
    n_agents, n_signals : int
        The contract's dimensions.

    Returns
    -------
    numpy.ndarray
        A ``(n_agents, n_signals)`` view or copy of the same numbers.
    """
    flat = np.asarray(flat)
    if flat.shape != (n_agents * n_signals,):
        raise ValueError(
            f"a flat contract must have shape ({n_agents * n_signals},) "
            f"= n_agents x n_signals = {n_agents} x {n_signals}, got shape {flat.shape}"
        )
    return flat.reshape(n_agents, n_signals)


def flat_contract(matrix: np.ndarray) -> np.ndarray:
    """Flatten an ``(n_agents, n_signals)`` contract to the principal's action layout."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"a contract matrix must be 2-D (n_agents, n_signals), got shape {matrix.shape}")
    return matrix.reshape(-1)


_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)
_FLOATS = (_FLOAT32, _FLOAT64)
_abs, _max_reduce = np.abs, np.maximum.reduce
_SMALL_CONTRACT = 64  # transfers a contract may hold for its bounds to be checked in Python


def transfer_bound(max_transfer: float) -> float:
    """The largest transfer a contract may hold: ``max_transfer`` or its float32 rounding,
    whichever is larger, so that both ``max_transfer`` and the high of the principal's float32
    action space are valid transfers."""
    return max(float(np.float32(max_transfer)), float(max_transfer))


def numeric_array(value: object, *, player: str, expected: str) -> np.ndarray:
    """``value`` as a float64 array, or a ``TypeError`` naming ``player``, the ``expected`` space
    and the value: only ints and floats are transfers (not bools, strings, dates, complex
    numbers or objects); a ragged nested list is a ``ValueError``."""
    try:
        array = np.asarray(value)
    except ValueError:  # numpy refuses ragged nested sequences
        raise ValueError(
            f"{player}: a contract must be a rectangular array of numbers, expected {expected}, "
            f"got a ragged sequence {value!r}"
        ) from None
    if value is None or array.dtype.kind == "c":
        raise TypeError(f"{player}: a contract must be real numbers, expected {expected}, got {value!r}")
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{player}: a contract must be numeric, ints or floats (bools, strings, dates and objects are "
            f"not transfers), expected {expected}, got {value!r} (dtype {array.dtype})"
        )
    return array.astype(np.float64, copy=False)


def contract_within_bounds(value: object, n_agents: int, n_signals: int, bound: float) -> np.ndarray | None:
    """The common case of :func:`check_contract`, in few numpy calls: a float32 or float64
    ndarray, flat or ``(n_agents, n_signals)``, every transfer within ``[-bound, bound]``.
    Returns its float64 matrix (a new array, never the caller's), or ``None`` for anything
    else (NaN fails the comparison), which :func:`check_contract` then checks and names."""
    if (
        type(value) is np.ndarray
        and (value.dtype is _FLOAT32 or value.dtype is _FLOAT64)  # native-order singletons
        and value.size == n_agents * n_signals
        and (value.ndim == 1 or value.shape == (n_agents, n_signals))
    ):
        if value.size <= _SMALL_CONTRACT:
            # A numpy reduction costs a microsecond at any size: Python's min, max and sum of
            # the exact float values are cheaper here. A NaN makes the sum NaN (refused).
            transfers = (value if value.ndim == 1 else value.reshape(-1)).tolist()
            total = sum(transfers)
            if not (-bound <= min(transfers) and max(transfers) <= bound and total == total):
                return None
        elif not _max_reduce(_abs(value), axis=None) <= bound:
            return None
        return value.astype(np.float64).reshape(n_agents, n_signals)  # astype copies: never the caller's
    return None


def check_contract(
    value: object,
    *,
    player: str,
    n_agents: int,
    n_signals: int,
    bound: float,
    clip: bool,
    signal_names: Sequence[str] | None = None,
    clip_hint: bool = True,
) -> np.ndarray:
    """Validate a contract and return it as a float64 ``(n_agents, n_signals)`` matrix.

    Accepts the flat layout (the principal's action space) or the matrix layout.

    Parameters
    ----------
    value : array_like
        The contract as given by the caller.
    player : str
        Who gave it, for error messages.
    n_agents, n_signals : int
        The expected dimensions.
    bound : float
        Transfers must lie in ``[-bound, bound]``.
    clip : bool
        Clip out-of-bound transfers to the bound instead of raising.
    signal_names : sequence of str, optional
        Labels of the signals, named in the shape error (a contract pays per
        *signal*, which need not be the agent's action: e.g. a claim).
    clip_hint : bool
        Whether the out-of-bound error suggests ``out_of_bound_transfers='clip'``
        (not where the caller offers no such option).

    Raises
    ------
    TypeError
        If ``value`` is not ints or floats (bools, strings, dates and objects are refused).
    ValueError
        On a ragged sequence, a wrong shape, a NaN or infinite transfer, or (unless ``clip``) a
        transfer outside ``[-bound, bound]``.
    """
    if clip:
        if (
            type(value) is np.ndarray
            and value.dtype in _FLOATS
            and value.size == n_agents * n_signals
            and (value.ndim == 1 or value.shape == (n_agents, n_signals))
        ):
            array = np.array(value, dtype=np.float64).reshape(n_agents, n_signals)
            if np.all(np.isfinite(array)):
                return np.clip(array, -bound, bound)
    else:
        accepted = contract_within_bounds(value, n_agents, n_signals, bound)
        if accepted is not None:
            return accepted
    expected = f"Box(-{bound:g}, {bound:g}, ({n_agents * n_signals},), float32)"
    array = numeric_array(value, player=player, expected=expected)
    if array.shape == (n_agents * n_signals,):
        array = array.reshape(n_agents, n_signals)
    elif array.shape != (n_agents, n_signals):
        labels = f" over the signals ({', '.join(signal_names)})" if signal_names else ""
        raise ValueError(
            f"{player}: contract has shape {array.shape}, expected {expected} "
            f"(or the ({n_agents}, {n_signals}) matrix n_agents x n_signals{labels})"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{player}: contract contains NaN or infinite transfers, expected {expected}, "
            f"got {array.reshape(-1).tolist()}"
        )
    if clip:
        return np.clip(array, -bound, bound)
    if np.any(np.abs(array) > bound):
        worst = float(array.reshape(-1)[np.argmax(np.abs(array))])
        hint = "; pass out_of_bound_transfers='clip' to clip instead" if clip_hint else ""
        raise ValueError(
            f"{player}: transfer {worst!r} is outside [-{bound:g}, {bound:g}], expected {expected}{hint}"
        )
    return array.copy()


class NormalizedContracts:
    """The principal's action in ``[-1, 1]``, mapped linearly onto ``[-max_transfer, max_transfer]``.

    Learners that sample a Gaussian around 0 with unit scale (SB3's PPO, A2C,
    SAC) explore a few units of money at most on the raw contract Box; on the
    unit Box they reach every contract. Entry ``a`` pays ``a * max_transfer``.

    Parameters
    ----------
    contract_space : gymnasium.spaces.Box
        The principal's contract space, symmetric: ``[-bound, bound]``.
    n_agents, n_signals : int
        The contract's dimensions.
    """

    def __init__(self, contract_space: spaces.Box, n_agents: int, n_signals: int) -> None:
        self.bound = float(contract_space.high.reshape(-1)[0])
        self.n_agents, self.n_signals = n_agents, n_signals
        self.space = spaces.Box(-1.0, 1.0, shape=contract_space.shape, dtype=np.float32)

    @classmethod
    def option(
        cls, normalize_actions: object, contract_space: spaces.Box, game: Any
    ) -> NormalizedContracts | None:
        """The views' ``normalize_actions`` keyword: an instance for ``True``, ``None`` for ``False``.

        Raises
        ------
        TypeError
            Unless ``normalize_actions`` is a bool.
        """
        if not isinstance(normalize_actions, (bool, np.bool_)):
            raise TypeError(f"normalize_actions must be True or False, got {normalize_actions!r}")
        return cls(contract_space, game.n_agents, game.n_signals) if normalize_actions else None

    def contract(self, action: object, player: str) -> np.ndarray:
        """The ``(n_agents, n_signals)`` contract a normalized action stands for.

        Raises
        ------
        TypeError, ValueError
            As :func:`check_contract` does, against the unit Box.
        """
        unit = check_contract(
            action,
            player=f"{player} (normalized actions)",
            n_agents=self.n_agents,
            n_signals=self.n_signals,
            bound=1.0,
            clip=False,
            clip_hint=False,
        )
        return unit * self.bound

    def contracts(self, actions: np.ndarray, player: str) -> np.ndarray:
        """A batch ``(B, n_agents * n_signals)`` of normalized actions as ``(B, n_agents, n_signals)``
        contracts; shape and type are the caller's to check."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.size and np.abs(actions).max() <= 1.0:  # NaN fails this too
            return actions.reshape(-1, self.n_agents, self.n_signals) * self.bound
        bad = np.flatnonzero(~(np.abs(actions) <= 1.0).all(axis=1))[0]
        self.contract(actions[bad], f"{player}, copy {bad}")  # raises, naming the entry
        raise AssertionError("unreachable")


def check_contract_batch(
    contracts: object, *, who: str, shape: tuple[int, int, int], bound: float, signal_names: Sequence[str]
) -> np.ndarray:
    """Validate ``(B, N, n_signals)`` contracts of B copies and return them as float64.

    The batched counterpart of :func:`check_contract` (the same types refused), for the
    vector forms and the mechanisms that post for every copy at once. An error names ``who``
    posted, the copy, the agent and the signal.

    Raises
    ------
    TypeError
        Unless the contracts are ints or floats.
    ValueError
        On a wrong shape, or a NaN, infinite or out-of-bound transfer.
    """
    if type(contracts) is not np.ndarray or contracts.dtype != np.float64:
        expected = f"{shape} transfers in [-{bound:g}, {bound:g}]"  # formatted only when needed
        contracts = numeric_array(contracts, player=who, expected=expected)
    if contracts.shape != shape:
        raise ValueError(f"{who} posted contracts of shape {contracts.shape}, expected {shape}")
    if contracts.size and np.abs(contracts).max() <= bound:  # NaN fails this too
        return contracts
    bad = ~np.isfinite(contracts) | (np.abs(contracts) > bound)
    if bad.any():
        copy, agent, signal = np.argwhere(bad)[0]
        raise ValueError(
            f"{who} posted, in copy {copy}, a transfer of {float(contracts[copy, agent, signal])!r} to "
            f"agent_{int(agent)} on signal {signal_names[signal]!r}, outside [-{bound:g}, {bound:g}]"
        )
    return contracts


def check_discrete(
    value: object,
    *,
    n_actions: int,
    action_names: Sequence[str],
    who: str,
    expected: str,
    locate: Any,
) -> np.ndarray:
    """Discrete actions as int64, by the one rule every form applies (the single envs, the vector
    views, the SB3 VecEnv): Python or numpy ints only, each in ``0..n_actions - 1``.

    Floats (integral ones too), bools and strings are refused, as a PettingZoo ``Discrete``
    space holds none of them. The caller checks the shape.

    Parameters
    ----------
    value : int or array_like
        The actions as given.
    n_actions : int
        The size of the ``Discrete`` space.
    action_names : sequence of str
        The actions' labels, for the error.
    who : str
        What is checked, first in a ``TypeError`` (``"agent_1: action"``).
    expected : str
        The space the caller expects (its shape included), for the ``TypeError``.
    locate : callable
        The index of a bad entry in ``value`` -> who sent it (``"copy 1, agent_0"``).

    Raises
    ------
    TypeError
        Unless ``value`` holds ints.
    ValueError
        For a ragged sequence, or an action outside ``0..n_actions - 1`` (naming who sent it).
    """
    space = f"Discrete({n_actions}), an int in 0..{n_actions - 1} ({', '.join(action_names)})"
    if type(value) is int and not 0 <= value < n_actions:  # beyond int64 too, where numpy makes an object
        raise ValueError(f"{locate(())}: action {value} is outside {space}")
    try:
        array = value if type(value) is np.ndarray else np.asarray(value)
    except ValueError:  # numpy refuses ragged nested sequences
        raise ValueError(
            f"{who}: actions must be a rectangular array, expected {expected}, got {value!r}"
        ) from None
    if array.dtype.kind not in "iu":
        shown = (
            f"dtype {array.dtype}" if array.ndim else repr(value[()] if type(value) is np.ndarray else value)
        )
        raise TypeError(
            f"{who} must be ints, expected {expected}; got {shown} (floats, even integral ones, bools and "
            "strings are not discrete actions)"
        )
    bad = (array < 0) | (array >= n_actions)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
        raise ValueError(f"{locate(index)}: action {int(array[index])} is outside {space}")
    return array.astype(np.int64, copy=False)
