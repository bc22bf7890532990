"""Exact discrete laws shared by the envs: one table gives both the simulator's
inverse-CDF draw and the tabular model's probabilities, so the two cannot drift."""

from __future__ import annotations

import bisect
import math
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

_max = np.maximum.reduce

# Up to this many table entries per call the rows are gathered and compared at once.
_GATHER_LIMIT = 16_384
# A guide (see _Guide) has at most this many entries (of 1, 2 or 4 bytes) and this many buckets per row.
_GUIDE_ENTRIES = 1 << 19
_GUIDE_BUCKETS = 4096
# Below this log-probability a binomial entry is outside its row's window (exp(-745.2) is 0).
_LOG_FLOOR = -760.0


def binomial_cdf_table(n_max: int, p: float) -> np.ndarray:
    """``cdf[n, k] = P(Binomial(n, p) <= k)`` for ``n, k`` in ``0 .. n_max``; exactly 1 for ``k >= n``."""
    table = _banded_binomial_cdf_table(n_max, p) if 0.0 < p < 1.0 else None
    table = _full_binomial_cdf_table(n_max, p) if table is None else table
    # Read-only and registered: draw_from_cdf_table may keep a guide and row lists built from
    # it (_guide_for, _rows_as_lists), for tables made here only: a caller's read-only array
    # could be unlocked, changed and locked again under them.
    table.flags.writeable = False
    _MADE_HERE.add(id(table))
    weakref.finalize(table, _MADE_HERE.discard, id(table))
    return table


def _full_binomial_cdf_table(n_max: int, p: float) -> np.ndarray:
    """:func:`binomial_cdf_table` over every ``(n, k)``."""
    n = np.arange(n_max + 1)[:, None]
    k = np.arange(n_max + 1)[None, :]
    valid = k <= n
    if p in (0.0, 1.0):
        pmf = (k == (n if p == 1.0 else 0 * n)).astype(np.float64)
    else:
        log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n_max + 1)))])
        log_choose = log_fact[n] - log_fact[k] - log_fact[np.where(valid, n - k, 0)]
        log_pmf = log_choose + k * math.log(p) + (n - k) * math.log1p(-p)
        pmf = np.where(valid, np.exp(np.where(valid, log_pmf, 0.0)), 0.0)
    return np.where(k >= n, 1.0, np.minimum(np.cumsum(pmf, axis=1), 1.0))


def _banded_binomial_cdf_table(n_max: int, p: float) -> np.ndarray | None:
    """:func:`binomial_cdf_table` bit for bit, its probabilities computed only where they do
    not underflow to 0: in each row's own window (a long stock: within some ``40 sd`` of the
    row's mode, not ``n_max``).

    A row's cumulative sums start on exact zeros and end on them, so summing its window
    alone gives the same numbers. The window of row ``n`` is the ``k`` whose log-probability
    is at least ``_LOG_FLOOR`` (``exp`` gives exactly 0 below about -745), found by a binary
    search on each side of the mode (the log-probabilities are concave in ``k``). It is
    checked, not assumed: the entries just beyond it must be exactly 0; ``None`` (the full
    computation) where they are not, or where the windows save little (most rows whole).
    """
    size = n_max + 1
    rows = np.arange(size)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n_max + 1)))])
    log_p, log_q = math.log(p), math.log1p(-p)

    def log_pmf(n: np.ndarray, k: np.ndarray) -> np.ndarray:
        # As _full_binomial_cdf_table computes it, term for term (0 <= k <= n).
        return log_fact[n] - log_fact[k] - log_fact[n - k] + k * log_p + (n - k) * log_q

    mode = np.minimum(np.floor((rows + 1) * p).astype(np.int64), rows)
    low, high = np.zeros(size, dtype=np.int64), mode.copy()  # the first k above the floor
    top, bottom = mode.copy(), rows.copy()  # the last one
    for _ in range(math.ceil(math.log2(size + 1))):
        middle = (low + high) >> 1
        above = log_pmf(rows, middle) >= _LOG_FLOOR
        high, low = np.where(above, middle, high), np.where(above, low, middle + 1)
        middle = (top + bottom + 1) >> 1
        above = log_pmf(rows, middle) >= _LOG_FLOOR
        top, bottom = np.where(above, middle, top), np.where(above, bottom, middle - 1)
    start, stop = low, top + 1  # row n's window: start .. stop - 1
    counts = stop - start
    total = int(counts.sum())
    if total > 0.45 * size * size:
        return None
    for edge, inside in ((start - 1, start > 0), (stop, stop <= rows)):
        if np.any(np.exp(log_pmf(rows[inside], edge[inside])) != 0.0):
            return None
    offsets = np.cumsum(counts) - counts  # of each row's window in the flat probabilities
    flat_rows = np.repeat(rows, counts)
    pmf = np.exp(log_pmf(flat_rows, np.arange(total) - np.repeat(offsets - start, counts)))
    table = np.zeros((size, size))
    for n, first, last, offset in zip(
        rows.tolist(), start.tolist(), stop.tolist(), offsets.tolist(), strict=True
    ):
        through = np.cumsum(pmf[offset : offset + last - first])
        np.minimum(through, 1.0, out=through)
        table[n, first:last] = through
        table[n, last:] = through[-1]
        table[n, n:] = 1.0
    return table


def pmf_from_cdf(cdf: np.ndarray) -> np.ndarray:
    """Probabilities ``P(X = k)`` from a CDF table along its last axis."""
    # np.diff(cdf, prepend=0.0)'s numbers without its concatenated copy (a long stock's is large).
    out = np.empty(cdf.shape, dtype=np.result_type(cdf, 0.0))
    out[..., :1] = cdf[..., :1]
    np.subtract(cdf[..., 1:], cdf[..., :-1], out=out[..., 1:])
    return out


def draw_from_cdf(cdf_rows: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: the number of entries of each row of ``cdf_rows`` (``(B, K)``)
    that are ``<= u`` for the matching uniform ``u`` (``(B,)``), i.e. ``min{k: cdf[k] > u}``."""
    return np.add.reduce(cdf_rows <= uniforms[:, None], axis=1)  # ndarray.sum's wrapper costs at B = 1


def draw_from_cdf_table(table: np.ndarray, rows: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """``draw_from_cdf(table[rows], uniforms)`` without gathering whole rows: a binary search
    per draw, ``ceil(log2 K)`` vectorized steps instead of ``B * K`` comparisons, or, for a
    read-only table (:func:`binomial_cdf_table`'s), a look-up in a guide built from it.

    Every row of ``table`` (``(R, K)``) must be non-decreasing and end at 1, and the
    uniforms must lie in ``[0, 1)``, so the result, ``min{k: table[row, k] > u}``, is the
    same integer as the comparison count. Guides and row lists are kept only for tables
    :func:`binomial_cdf_table` made; any other table is searched as it is.
    """
    n_columns = table.shape[1]
    if type(rows) is np.ndarray and rows.shape == (1,):
        # One draw (a single env): a binary search on its row, the same count; on the row as
        # a list of floats where the table is read-only and small (bisect there beats numpy's
        # call overhead, with the very comparisons).
        lists = _rows_as_lists(table)
        if lists is not None:
            return np.array([bisect.bisect_right(lists[rows.item()], float(uniforms[0]))])
        return np.array([table[rows[0]].searchsorted(uniforms[0], side="right")])
    guide = None if np.size(rows) * n_columns <= _GATHER_LIMIT else _guide_for(table)
    return _search_rows(table, rows, uniforms) if guide is None else guide.draw(rows, uniforms)


def _search_rows(table: np.ndarray, rows: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """:func:`draw_from_cdf_table` by a comparison count over the gathered rows (few draws:
    fewer numpy calls) or a vectorized binary search over each row."""
    n_columns = table.shape[1]
    if np.size(rows) * n_columns <= _GATHER_LIMIT:
        return draw_from_cdf(table[rows], uniforms)
    flat = table.reshape(-1)
    base = np.asarray(rows, dtype=np.int64) * n_columns
    low = np.zeros(base.shape, dtype=np.int64)
    high = np.full(base.shape, n_columns - 1, dtype=np.int64)
    for _ in range(max(1, math.ceil(math.log2(n_columns)))):
        middle = (low + high) >> 1
        right = flat[base + middle] <= uniforms
        low = np.where(right, middle + 1, low)
        high = np.where(right, high, middle)
    return low


class _Guide:
    """A guide table (Chen and Asau's "indexed search") for the inverse-CDF draws of a table.

    Bucket ``j`` of row ``n`` holds the uniforms ``[j / M, (j + 1) / M)``. Its draws lie
    between ``draw(j / M)`` and ``draw((j + 1) / M)``, exact integers computed here by the
    very comparison count (``j / M`` is a float exactly, ``M`` a power of 2). Where they
    differ by at most 1 (nearly every bucket of a binomial law) one comparison with the
    table finishes the draw; the few buckets that span more (the far tails) are marked
    and drawn by the row search.
    """

    def __init__(self, table: np.ndarray, buckets: int) -> None:
        n_rows, n_columns = table.shape
        edges = np.arange(buckets + 1) / buckets
        # Each bucket's first draw as a column, in the narrowest unsigned type that holds the
        # columns and a mark above them: a batch's look-ups touch a few rows of a small table
        # (uint8 for stocks up to 253: 2 KiB a row at 2,048 buckets), not a flat int32 one.
        types = (np.uint8, np.uint16, np.uint32)
        self.dtype = next(np.dtype(t) for t in types if n_columns < np.iinfo(t).max)
        self.far = int(np.iinfo(self.dtype).max)  # marks a bucket spanning more than two draws
        entries = np.empty((n_rows, buckets), dtype=self.dtype)  # row by row: no (R, M) temporaries
        for index, row in enumerate(table):
            bounds = row.searchsorted(edges, side="right")  # the draws at the bucket edges
            entries[index] = bounds[:-1]
            entries[index, np.diff(bounds) > 1] = self.far
        self.entries = entries.reshape(-1)
        self.table = table
        self.flat = table.reshape(-1)
        self.buckets = buckets
        self.n_columns = n_columns

    def draw(self, rows: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """The draws of ``rows`` from ``uniforms`` in ``[0, 1)``."""
        rows = np.asarray(rows, dtype=np.int64)
        where = rows * self.buckets + (uniforms * float(self.buckets)).astype(np.int64)
        start = self.entries[where].astype(np.int64)
        far = np.flatnonzero(start == self.far) if _max(start) == self.far else None
        if far is not None:
            start[far] = 0  # any valid column: redrawn below
        out = start + (self.flat[rows * self.n_columns + start] <= uniforms)
        if far is not None:
            out[far] = _search_rows(self.table, rows[far], uniforms[far])
        return out


# Ids of the tables binomial_cdf_table made (read-only): only these get guides and row lists.
_MADE_HERE: set[int] = set()
# What was built from them (row lists, guides), by kind and id; an entry goes when its table does.
_BUILT: dict[tuple[str, int], object] = {}
_ROW_LIST_ENTRIES = 1 << 16  # at most this many floats (about 2 MiB of Python floats)


def _built_for(kind: str, table: np.ndarray, build: Callable[[np.ndarray], Any]) -> Any:
    """``build(table)`` made once for a table :func:`binomial_cdf_table` made (``build`` may
    answer ``None``), or ``None`` for any other table: it could change under what was built."""
    key = (kind, id(table))
    if key in _BUILT:
        return _BUILT[key]
    if key[1] not in _MADE_HERE or table.flags.writeable or table.ndim != 2 or table.base is not None:
        return None
    built = _BUILT[key] = build(table)
    weakref.finalize(table, _BUILT.pop, key, None)
    return built


def _rows_as_lists(table: np.ndarray) -> list[list[float]] | None:
    """The rows of a table :func:`binomial_cdf_table` made as Python lists (single draws),
    or ``None`` for any other table or a large one."""
    return _built_for("rows", table, lambda t: t.tolist() if t.size <= _ROW_LIST_ENTRIES else None)


def _guide_for(table: np.ndarray) -> _Guide | None:
    """The guide of a table :func:`binomial_cdf_table` made (built at its first large draw),
    or ``None`` for any other table or one too large for a useful guide."""
    return _built_for("guide", table, _new_guide)


def _new_guide(table: np.ndarray) -> _Guide | None:
    if table.size >= 2**31:
        return None
    buckets = _GUIDE_BUCKETS
    while buckets > 64 and table.shape[0] * buckets > _GUIDE_ENTRIES:
        buckets //= 2
    return _Guide(table, buckets) if table.shape[0] * buckets <= _GUIDE_ENTRIES else None
