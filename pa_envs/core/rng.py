"""Counter-based random numbers shared by every form of every env.

Each uniform draw is a pure function of ``(key, counter, index)``: the key comes
from the seed, the counter from the episode and the period. A single env, an
AEC env and (later) a batch of B copies therefore draw the very same numbers
for the same seed, bit for bit, without keeping one generator object per copy.
The hash is the SplitMix64 finalizer; the scalar (pure Python) and the array
(numpy) versions are the same integer arithmetic modulo 2**64.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB
# The period occupies the low 32 bits of a counter, the episode the high ones.
_PERIOD_BITS = 32
MAX_PERIOD = (1 << _PERIOD_BITS) - 1
"""The last period an episode's counters can name (``core.game.MAX_CYCLES`` bounds horizons by it)."""
_TO_UNIT = 2.0**-53


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * _MIX_1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX_2) & _MASK
    return z ^ (z >> 31)


# Offsets that give the users of one seed streams of their own, never the env's (seed + 0):
# learning agents, and a learning mechanism. One place, so that no two users share one.
AGENT_STREAM = 1 << 64
MECHANISM_STREAM = 2 << 64


def check_seed(seed: object, name: str = "seed") -> int | None:
    """Return ``seed`` as a Python int (``None`` stays ``None``): the seed rule of every form.

    Python and numpy integers are accepted alike (``np.int64(1)`` seeds as ``1``).

    Raises
    ------
    TypeError
        If ``seed`` is not an integer or ``None`` (a bool or a float is not a seed).
    ValueError
        If ``seed`` is negative.
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int or None, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative int or None, got {int(seed)}")
    return int(seed)


def key_from_seed(seed: int | None) -> int:
    """Return the 64-bit stream key of a seed (fresh OS entropy for ``None``).

    Raises
    ------
    TypeError, ValueError
        As :func:`check_seed`.
    """
    seed = check_seed(seed)
    if seed is None:
        # numpy's stub allows a sequence; an entropy drawn fresh is one int.
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    # Fold big seeds into 64 bits so that every int is accepted.
    key = 0
    while True:
        key = _mix((key + (seed & _MASK) + _GOLDEN) & _MASK)
        seed >>= 64
        if seed == 0:
            return key


def counter(episode: int, period: int) -> int:
    """Return the counter of one period of one episode (period 0 is the reset)."""
    return ((episode << _PERIOD_BITS) | period) & _MASK


def batch_counters(episodes: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """:func:`counter` of many ``(episode, period)`` pairs, as uint64."""
    episodes = np.asarray(episodes, dtype=np.uint64)
    return (episodes << np.uint64(_PERIOD_BITS)) | np.asarray(periods, dtype=np.uint64)


def uniforms(key: int, count: int, n: int) -> np.ndarray:
    """Return ``n`` uniforms in [0, 1) for one copy, as a ``(1, n)`` float64 array."""
    base = _mix((key + _mix(count)) & _MASK)
    out = np.empty((1, n), dtype=np.float64)
    row = out[0]
    for j in range(n):
        row[j] = (_mix((base + (j + 1) * _GOLDEN) & _MASK) >> 11) * _TO_UNIT
    return out


def batch_uniforms(keys: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """Return ``(B, n)`` uniforms for B copies; row b equals ``uniforms(keys[b], counts[b], n)``."""
    keys = np.asarray(keys, dtype=np.uint64)
    counts = np.asarray(counts, dtype=np.uint64)
    rows = max(keys.size, counts.size)
    if rows * n <= _CHUNK:  # one chunk: the plain expressions, in the fewest numpy calls
        base = _mix_array(keys + _mix_array(counts))
        bits = _mix_array(base[:, None] + _steps(n))
        return (bits >> _SHIFT_TO_53).astype(np.float64) * _TO_UNIT
    out = np.empty((rows, 1, n), dtype=np.float64)
    return _fill_uniforms(out, keys.reshape(-1, 1), counts.reshape(-1, 1)).reshape(rows, n)


def grid_uniforms(keys: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """``(P, B, n)`` uniforms of B streams at P counters each: entry ``[p, b]`` equals
    ``uniforms(keys[b], counts[p, b], n)[0]``. ``counts`` is ``(P, B)``, or ``(P, 1)`` when
    every stream is at the same counter (then each counter is hashed once, not B times)."""
    keys = np.asarray(keys, dtype=np.uint64).reshape(1, -1)
    counts = np.asarray(counts, dtype=np.uint64)
    if counts.ndim != 2 or counts.shape[1] not in (1, keys.shape[1]):
        raise ValueError(f"counts must be shaped (P, {keys.shape[1]}) or (P, 1), got {counts.shape}")
    out = np.empty((counts.shape[0], keys.shape[1], n), dtype=np.float64)
    return _fill_uniforms(out, keys, counts)


def period_uniforms(key: int, episode: int, first: int, periods: int, n: int) -> np.ndarray:
    """``(periods, n)`` uniforms of periods ``first, first + 1, ...`` of one episode of one
    copy: row ``t`` equals ``uniforms(key, counter(episode, first + t), n)[0]``, drawn in one
    vectorized call (a single env draws a block ahead instead of a few Python hashes a period)."""
    keys = np.full(periods, key, dtype=np.uint64)
    counts = batch_counters(np.full(periods, episode, dtype=np.uint64), np.arange(first, first + periods))
    return batch_uniforms(keys, counts, n)


AHEAD = 64  # positions (periods, draws) of uniforms drawn at once


class DrawnAhead:
    """Uniforms of B streams drawn a block of positions ahead (periods, or draw numbers).

    Row ``p`` of a block is :func:`batch_uniforms` of the B keys at position ``p``'s
    counters: the numbers one call per position gives, at one hash call per block.
    :meth:`clear` whenever the keys or the counters' mapping change.

    Parameters
    ----------
    positions : int
        Positions a block holds.
    """

    def __init__(self, positions: int) -> None:
        self.positions = positions
        self._block: np.ndarray | None = None
        self._first = 0

    def clear(self) -> None:
        self._block = None

    def row(
        self,
        position: int,
        keys: np.ndarray,
        counters: Callable[[np.ndarray], np.ndarray],
        n: int,
        last: int | None = None,
    ) -> np.ndarray:
        """The read-only ``(B, n)`` uniforms at ``position``; ``counters(positions)`` gives the
        counters of the streams at ``P`` positions (a block's, when one is drawn): ``(P, B)``,
        ``(P, 1)`` when every stream is at the same counter, or ``(P * B,)`` position-major.
        ``last``, if given, is the last position any stream reaches (an episode's horizon):
        a block stops there rather than draw numbers nobody takes."""
        offset = position - self._first
        block = self._block
        if block is None or not 0 <= offset < len(block):
            count = self.positions if last is None else max(1, min(self.positions, last + 1 - position))
            ahead = np.arange(position, position + count)
            counts = np.asarray(counters(ahead), dtype=np.uint64)
            if counts.ndim == 1:
                counts = counts.reshape(count, -1)
            block = self._block = grid_uniforms(keys, counts, n)
            block.flags.writeable = False  # rows are handed out: nobody may change them
            self._first, offset = position, 0
        return block[offset]


def block_positions(batch: int, width: int, most: int = AHEAD, entries: int = 1 << 16) -> int:
    """Positions a :class:`DrawnAhead` block of ``batch`` streams of ``width`` numbers holds:
    ``most``, fewer for large batches (about ``entries`` numbers at most), at least 1."""
    return max(1, min(most, entries // max(1, batch * width)))


@functools.lru_cache(maxsize=32)
def _steps(n: int) -> np.ndarray:
    """``(1, n)``: the golden-ratio increments of the ``n`` draws of a counter."""
    steps = (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(_GOLDEN))[None, :]
    steps.flags.writeable = False
    return steps


_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
_SHIFT_TO_53 = np.uint64(11)
_MULTIPLIERS = (np.uint64(_MIX_1), np.uint64(_MIX_2))
_STEP = np.uint64(_GOLDEN)
# Hashed in chunks of about this many numbers, so that the uint64 work arrays (128 KiB) stay
# in a core's cache: a block of 64 periods x 1024 copies hashed whole measured 3-6x slower.
_CHUNK = 1 << 14


def _mix_array(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finalizer on a uint64 array (a new array; in place after the first step)."""
    z = z ^ (z >> _SHIFTS[0])
    z *= _MULTIPLIERS[0]
    z ^= z >> _SHIFTS[1]
    z *= _MULTIPLIERS[1]
    z ^= z >> _SHIFTS[2]
    return z


def _mix_in_place(z: np.ndarray, scratch: np.ndarray) -> None:
    """:func:`_mix_array` in ``z`` itself, with ``scratch`` (``z``'s shape) for the shifts."""
    np.right_shift(z, _SHIFTS[0], out=scratch)
    z ^= scratch
    z *= _MULTIPLIERS[0]
    np.right_shift(z, _SHIFTS[1], out=scratch)
    z ^= scratch
    z *= _MULTIPLIERS[1]
    np.right_shift(z, _SHIFTS[2], out=scratch)
    z ^= scratch


def _fill_uniforms(out: np.ndarray, keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Write into ``out`` (``(R, C, n)`` float64) the uniforms of ``keys`` at ``counts``, two
    uint64 arrays that broadcast to ``(R, C)``: entry ``[r, c, j]`` is draw ``j`` of
    :func:`uniforms` at key ``keys[r, c]`` and counter ``counts[r, c]``. Returns ``out``.

    The arithmetic of :func:`uniforms` modulo 2**64 (uint64 arrays wrap without a warning),
    done a chunk of rows at a time in work arrays of its own."""
    rows, columns, n = out.shape
    chunk = max(1, _CHUNK // max(1, columns * n))  # a Game may draw no noise (n = 0)
    if rows <= chunk:
        _fill_chunk(out, keys, counts)
        return out
    for start in range(0, rows, chunk):
        stop = start + chunk
        _fill_chunk(
            out[start:stop],
            keys if len(keys) == 1 else keys[start:stop],
            counts if len(counts) == 1 else counts[start:stop],
        )
    return out


def _fill_chunk(out: np.ndarray, keys: np.ndarray, counts: np.ndarray) -> None:
    """:func:`_fill_uniforms` of one chunk."""
    base = np.add(keys, _mix_array(counts))  # (r, C): a new array, mixed in place
    scratch = np.empty_like(base)
    _mix_in_place(base, scratch)
    n = out.shape[2]
    if n == 1:
        bits = base
        bits += _STEP
    else:
        bits = np.add(base[:, :, None], _steps(n)[0])
        scratch = np.empty_like(bits)
    _mix_in_place(bits, scratch)
    bits >>= _SHIFT_TO_53
    # The 53-bit ints convert to float64 exactly: the numbers of (bits >> 11) * 2**-53.
    np.multiply(bits.reshape(out.shape), _TO_UNIT, out=out)
