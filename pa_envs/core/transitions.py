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
    def _dense_kernel(self) -> np.ndarray | None:
        """``(S, X)`` law of the intermediate state, when small enough to hold."""
        n_states, n_mid = self.n_states, self.class_map.shape[1]
        if n_states * n_mid > DENSE_KERNEL_LIMIT:
            return None
        kernel = np.zeros((n_states, n_mid))
        rows = np.broadcast_to(np.arange(n_states)[:, None], self.kernel_successors.shape)
        np.add.at(kernel, (rows, self.kernel_successors), self.kernel_probabilities)
        return kernel

    def expected_by_class(self, values: np.ndarray) -> np.ndarray:
        after = values[self.class_map]  # (G, X[, M]): value after the class moves x
        kernel = self._dense_kernel
        if kernel is not None:
            if after.ndim == 2:
                return kernel @ after.T  # (S, G)
            return np.einsum("sx,gxm->sgm", kernel, after)
        gathered = after[:, self.kernel_successors]  # (G, S, K[, M])
        if gathered.ndim == 3:
            return np.einsum("sk,gsk->sg", self.kernel_probabilities, gathered)
        return np.einsum("sk,gskm->sgm", self.kernel_probabilities, gathered)

    def expected_under(self, values: np.ndarray, classes: np.ndarray) -> np.ndarray:
        kernel = self._dense_kernel
        if kernel is None:
            gathered = values[self.class_map[classes[:, None], self.kernel_successors]]  # (S, K[, M])
            if gathered.ndim == 2:
                return np.einsum("sk,sk->s", self.kernel_probabilities, gathered)
            return np.einsum("sk,skm->sm", self.kernel_probabilities, gathered)
        # One matrix product per class, over the states that follow it.
        out = np.empty((self.n_states, *values.shape[1:]))
        for g in np.unique(classes):
            rows = np.flatnonzero(classes == g)
            out[rows] = kernel[rows] @ values[self.class_map[g]]
        return out

    def distribution(self, state: int, g: int) -> np.ndarray:
        out = np.zeros(self.n_states)
        np.add.at(out, self.class_map[g, self.kernel_successors[state]], self.kernel_probabilities[state])
        return out


Transitions = GatheredTransitions | ShockThenMap


def _check_law(probabilities: np.ndarray, axis: int, what: str) -> None:
    if np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=axis), 1.0, atol=1e-9):
        raise ValueError(f"{what}: some rows are negative or do not sum to 1")
