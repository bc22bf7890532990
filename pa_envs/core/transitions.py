"""Transition laws of tabular models, by transition class, never a dense ``S x A x S`` matrix.

Joint actions that move the state alike share a *transition class* ``g``. Two
forms of the law of the next state given ``(s, g)``:

- :class:`GatheredTransitions`: ``successors[s, g, k]`` with probability
  ``probabilities[s, g, k]`` (``K`` outcomes at most; unused slots have
  probability 0). Any law fits.
- :class:`ShockThenMap`: first an action-free random step from ``s`` to an
  intermediate ``x`` (``kernel_successors[s, k]`` with probability
  ``kernel_probabilities[s, k]``), then the class moves ``x`` deterministically
  to ``class_map[g, x]``. Pollution is of this form (units decay at random,
  then emissions add); it stores ``S x K + G x X`` numbers instead of
  ``S x G x K`` and takes expectations with one matrix product.

Both give expectations of a value table ``(S,)`` or ``(S, M)``.
"""

from __future__ import annotations

import functools

import numpy as np

# Up to this many entries the action-free kernel is applied as a dense (S, X)
# matrix product; above it, by gathering.
DENSE_KERNEL_LIMIT = 20_000_000
# Above this many entries (a long stock), a kernel whose rows hold their mass in a narrow
# band (a binomial decay: within a few dozen units of its mean) is applied band by band:
# S x W instead of S x X numbers (see ShockThenMap._band). Smaller kernels stay dense and exact.
BAND_LIMIT = 250_000
TAIL_MASS = 1e-15
"""Most probability mass a banded kernel drops per row (its smallest entries), renormalized."""

# A banded kernel (ShockThenMap._band): row blocks (r0, r1, c0, c1, dense core) and the
# outliers' (rows, successors, probabilities).
_Band = tuple[list[tuple[int, int, int, int, np.ndarray]], tuple[np.ndarray, np.ndarray, np.ndarray]]


class GatheredTransitions:
    """``successors[s, g, k]`` with probability ``probabilities[s, g, k]``."""

    def __init__(self, successors: np.ndarray, probabilities: np.ndarray) -> None:
        if successors.shape != probabilities.shape or successors.ndim != 3:
            raise ValueError(
                f"successors {successors.shape} and probabilities {probabilities.shape} "
                "must both have shape (S, G, K)"
            )
        self.successors = np.asarray(successors, dtype=np.int64)
        self.probabilities = np.asarray(probabilities, dtype=np.float64)
        _check_law(self.probabilities, axis=2, what="GatheredTransitions.probabilities")

    @property
    def n_states(self) -> int:
        return self.successors.shape[0]

    @property
    def n_classes(self) -> int:
        return self.successors.shape[1]

    def check_states(self, n_states: int) -> None:
        if self.successors.min() < 0 or self.successors.max() >= n_states:
            raise ValueError("transition successors hold an index outside the states")

    def expected_by_class(self, values: np.ndarray) -> np.ndarray:
        gathered = values[self.successors]  # (S, G, K[, M])
        if gathered.ndim == 3:
            return np.einsum("sgk,sgk->sg", self.probabilities, gathered)
        return np.einsum("sgk,sgkm->sgm", self.probabilities, gathered)

    def expected_under(self, values: np.ndarray, classes: np.ndarray) -> np.ndarray:
        s = np.arange(self.n_states)
        gathered = values[self.successors[s, classes]]  # (S, K[, M])
        weights = self.probabilities[s, classes]
        if gathered.ndim == 2:
            return np.einsum("sk,sk->s", weights, gathered)
        return np.einsum("sk,skm->sm", weights, gathered)

    def distribution(self, state: int, g: int) -> np.ndarray:
        out = np.zeros(self.n_states)
        np.add.at(out, self.successors[state, g], self.probabilities[state, g])
        return out


class ShockThenMap:
    """An action-free random step ``s -> x``, then ``x -> class_map[g, x]`` for class ``g``."""

    def __init__(
        self, kernel_successors: np.ndarray, kernel_probabilities: np.ndarray, class_map: np.ndarray
    ) -> None:
        if kernel_successors.shape != kernel_probabilities.shape or kernel_successors.ndim != 2:
            raise ValueError("kernel_successors and kernel_probabilities must both have shape (S, K)")
        if class_map.ndim != 2:
            raise ValueError("class_map must have shape (G, X)")
        self.kernel_successors = np.asarray(kernel_successors, dtype=np.int64)
        self.kernel_probabilities = np.asarray(kernel_probabilities, dtype=np.float64)
        self.class_map = np.asarray(class_map, dtype=np.int64)
        _check_law(self.kernel_probabilities, axis=1, what="ShockThenMap.kernel_probabilities")
        if self.kernel_successors.min() < 0 or self.kernel_successors.max() >= self.class_map.shape[1]:
            raise ValueError("kernel_successors hold an index outside the intermediate states")

    @property
    def n_states(self) -> int:
        return self.kernel_successors.shape[0]

    @property
    def n_classes(self) -> int:
        return self.class_map.shape[0]

    def check_states(self, n_states: int) -> None:
        if self.class_map.min() < 0 or self.class_map.max() >= n_states:
            raise ValueError("class_map holds an index outside the states")

    @functools.cached_property
    def _band(self) -> _Band | None:
        """The kernel without its negligible entries, for a long stock (``None``: not worth it).

        Each row drops its entries below ``TAIL_MASS / K`` (at most ``TAIL_MASS`` of its mass
        in all) and is renormalized. What it keeps splits into its *core*, the run of kept
        entries around its largest (a binomial decay's bulk, ``W`` entries at most), and a
        few *outliers* elsewhere (the rounding mass a CDF table leaves on its last entry).
        Returns row blocks ``(r0, r1, c0, c1, dense (r1 - r0, c1 - c0) core)``, ``c0 .. c1 - 1``
        the intermediate states their cores reach (a matrix product per block instead of one
        over all ``X`` columns: ``S x (W + block rows)`` numbers in all), and the outliers'
        ``(rows, successors, probabilities)``; ``None`` where the cores are not narrow (a
        quarter of ``X`` or more).
        """
        n_states, n_mid = self.n_states, self.class_map.shape[1]
        if n_states * n_mid <= BAND_LIMIT:
            return None
        probabilities = self.kernel_probabilities
        # One pass over the (S, K) kernel finds the kept entries; the rest works on them alone.
        rows, columns = np.nonzero(probabilities >= TAIL_MASS / probabilities.shape[1])  # row-major
        kept = probabilities[rows, columns]
        # Runs of consecutive kept entries of a row share a number; the core is the run of the
        # row's largest entry (kept: a law's largest is at least 1 / K).
        runs = np.cumsum(np.concatenate([[True], (np.diff(rows) != 0) | (np.diff(columns) != 1)]))
        n_columns = probabilities.shape[1]
        largest = np.searchsorted(
            rows * n_columns + columns, np.arange(n_states) * n_columns + probabilities.argmax(axis=1)
        )
        core = runs == runs[largest][rows]
        counts = np.bincount(rows[core], minlength=n_states)
        width = int(counts.max())
        if 4 * width > n_mid:
            return None
        scale = 1.0 / np.bincount(rows, kept, minlength=n_states)  # renormalized
        outliers = (rows[~core], self.kernel_successors[rows[~core], columns[~core]], kept[~core])
        rows, columns, kept = rows[core], columns[core], kept[core]
        slot = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        successors = np.zeros((n_states, width), dtype=np.int64)
        weights = np.zeros((n_states, width))
        successors[rows, slot] = self.kernel_successors[rows, columns]
        weights[rows, slot] = kept * scale[rows]
        low = np.where(weights > 0, successors, n_mid).min(axis=1)
        high = np.where(weights > 0, successors, -1).max(axis=1) + 1
        blocks = []
        size = max(16, width // 4)  # rows per block: the columns a block reaches stay near W
        for r0 in range(0, n_states, size):
            r1 = min(r0 + size, n_states)
            c0, c1 = int(low[r0:r1].min()), int(high[r0:r1].max())
            local = (np.arange(r1 - r0)[:, None] * (c1 - c0) + successors[r0:r1] - c0).clip(0)
            dense = np.bincount(local.ravel(), weights[r0:r1].ravel(), (r1 - r0) * (c1 - c0))
            blocks.append((r0, r1, c0, c1, dense.reshape(r1 - r0, c1 - c0)))
        rows = outliers[0]
        return blocks, (rows, outliers[1], outliers[2] * scale[rows])

    @functools.cached_property
    def _dense_kernel(self) -> np.ndarray | None:
        """``(S, X)`` law of the intermediate state, when small enough to hold."""
        n_states, n_mid = self.n_states, self.class_map.shape[1]
        if n_states * n_mid > DENSE_KERNEL_LIMIT or self._band is not None:
            return None
        kernel = np.zeros((n_states, n_mid))
        rows = np.broadcast_to(np.arange(n_states)[:, None], self.kernel_successors.shape)
        np.add.at(kernel, (rows, self.kernel_successors), self.kernel_probabilities)
        return kernel

    def expected_by_class(self, values: np.ndarray) -> np.ndarray:
        after = values[self.class_map]  # (G, X[, M]): value after the class moves x
        band = self._band
        if band is not None:
            out = np.empty((self.n_states, *after.shape[:1], *after.shape[2:]))
            blocks, (_, successors, _) = band
            for r0, r1, c0, c1, block in blocks:
                part = after[:, c0:c1]
                out[r0:r1] = block @ part.T if part.ndim == 2 else np.matmul(block, part).transpose(1, 0, 2)
            self._add_outliers(out, np.moveaxis(after[:, successors], 0, 1), band)  # (outliers, G[, M])
            return out
        kernel = self._dense_kernel
        if kernel is not None:
            if after.ndim == 2:
                return kernel @ after.T  # (S, G)
            return np.einsum("sx,gxm->sgm", kernel, after)
        gathered = after[:, self.kernel_successors]  # (G, S, K[, M]): a wide kernel too big to hold
        if gathered.ndim == 3:
            return np.einsum("sk,gsk->sg", self.kernel_probabilities, gathered)
        return np.einsum("sk,gskm->sgm", self.kernel_probabilities, gathered)

    def expected_under(self, values: np.ndarray, classes: np.ndarray) -> np.ndarray:
        band = self._band
        if band is not None:
            return self._banded_under(values, classes, band)
        kernel = self._dense_kernel
        if kernel is None:
            gathered = values[self.class_map[classes[:, None], self.kernel_successors]]  # (S, K[, M])
            if gathered.ndim == 2:
                return np.einsum("sk,sk->s", self.kernel_probabilities, gathered)
            return np.einsum("sk,skm->sm", self.kernel_probabilities, gathered)
        # One matrix product per class, over the states that follow it (often all of them).
        if classes.min() == classes.max():
            return kernel @ values[self.class_map[classes[0]]]
        out = np.empty((self.n_states, *values.shape[1:]))
        for g in np.flatnonzero(np.bincount(classes)):  # the classes followed (np.unique sorts)
            rows = np.flatnonzero(classes == g)
            out[rows] = kernel[rows] @ values[self.class_map[g]]
        return out

    @property
    def banded(self) -> bool:
        """Whether the kernel is applied band by band (then :meth:`expected_by_class_and_under`
        reads it once for both expectations)."""
        return self._band is not None

    def expected_by_class_and_under(
        self, values: np.ndarray, other: np.ndarray, classes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(expected_by_class(values), expected_under(other, classes))``; for a banded kernel in
        one pass over it (a block's two products in one, where its rows follow one class)."""
        band = self._band
        if band is None:
            return self.expected_by_class(values), self.expected_under(other, classes)
        blocks, (rows, successors, _) = band
        after = values[self.class_map]  # (G, X)
        if after.ndim != 2:  # only one value per state is fused (what backward induction asks)
            return self.expected_by_class(values), self.expected_under(other, classes)
        n_classes = after.shape[0]
        by_class = np.empty((self.n_states, n_classes))
        under = np.empty((self.n_states, *other.shape[1:]))
        mixed = self._mixed_blocks(classes)
        for index, (r0, r1, c0, c1, block) in enumerate(blocks):
            part = after[:, c0:c1].T
            if index in mixed:
                by_class[r0:r1] = block @ part
                under[r0:r1] = self._mixed_under(block, other, classes[r0:r1], c0, c1)
                continue
            moved = other[self.class_map[classes[r0], c0:c1]]
            both = block @ np.concatenate([part, moved.reshape(c1 - c0, -1)], axis=1)
            by_class[r0:r1] = both[:, :n_classes]
            under[r0:r1] = both[:, n_classes:].reshape(r1 - r0, *other.shape[1:])
        self._add_outliers(by_class, after[:, successors].T, band)
        self._add_outliers(under, other[self.class_map[classes[rows], successors]], band)
        return by_class, under

    def _mixed_blocks(self, classes: np.ndarray) -> set[int]:
        """The blocks of :attr:`_band` whose rows follow more than one class."""
        starts = self._block_starts
        changes = np.flatnonzero(classes[1:] != classes[:-1]) + 1  # a row whose class is not the last row's
        block = np.searchsorted(starts, changes, side="right") - 1  # (np.isin costs more, per period)
        return set(block[starts[block] != changes].tolist())

    @functools.cached_property
    def _block_starts(self) -> np.ndarray:
        band = self._band
        assert band is not None  # read only where the band is in use
        return np.array([r0 for r0, *_ in band[0]], dtype=np.int64)

    def _mixed_under(
        self, block: np.ndarray, values: np.ndarray, local: np.ndarray, c0: int, c1: int
    ) -> np.ndarray:
        """``block``'s rows' expectations of ``values`` under their classes ``local`` (a product each)."""
        out = np.empty((len(local), *values.shape[1:]))
        for g in np.unique(local):
            mine = np.flatnonzero(local == g)
            out[mine] = block[mine] @ values[self.class_map[g, c0:c1]]
        return out

    def _banded_under(self, values: np.ndarray, classes: np.ndarray, band: _Band) -> np.ndarray:
        """:meth:`expected_under` block by block (``band`` is :attr:`_band`): a product per class
        a block's rows follow (policies change class at few states, so mostly one per block)."""
        blocks, (rows, successors, _) = band
        out = np.empty((self.n_states, *values.shape[1:]))
        mixed = self._mixed_blocks(classes)  # once, not a comparison per block
        for index, (r0, r1, c0, c1, block) in enumerate(blocks):
            if index in mixed:
                out[r0:r1] = self._mixed_under(block, values, classes[r0:r1], c0, c1)
            else:
                out[r0:r1] = block @ values[self.class_map[classes[r0], c0:c1]]
        self._add_outliers(out, values[self.class_map[classes[rows], successors]], band)
        return out

    def _add_outliers(self, out: np.ndarray, after: np.ndarray, band: _Band) -> None:
        """Add the banded kernel's (``band``'s) outliers, each its probability times ``after``
        (its row of values)."""
        _, (rows, _, weights) = band
        if not len(rows):
            return
        weighted = after * weights.reshape(-1, *[1] * (after.ndim - 1))
        if self._outliers_apart:
            out[rows] += weighted
        else:
            np.add.at(out, rows, weighted)

    @functools.cached_property
    def _outliers_apart(self) -> bool:
        """Whether no row has two outliers (a plain scatter adds them then)."""
        band = self._band
        assert band is not None  # read only by _add_outliers, which is handed the band
        rows = band[1][0]
        return len(np.unique(rows)) == len(rows)

    def distribution(self, state: int, g: int) -> np.ndarray:
        out = np.zeros(self.n_states)
        np.add.at(out, self.class_map[g, self.kernel_successors[state]], self.kernel_probabilities[state])
        return out


Transitions = GatheredTransitions | ShockThenMap


def _check_law(probabilities: np.ndarray, axis: int, what: str) -> None:
    # min() rather than any(p < 0): no (S, K) temporary; a NaN fails the sums.
    if (probabilities.size and probabilities.min() < 0) or not np.allclose(
        probabilities.sum(axis=axis), 1.0, atol=1e-9
    ):
        raise ValueError(f"{what}: some rows are negative or do not sum to 1")
