"""Small numeric helpers shared by the learners, the learning loop and the learning principal."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

P = ParamSpec("P")
R = TypeVar("R")

PRIOR_WEIGHT_CAP = 1e4
"""The most observations a fitted prior may count as (where the data cannot tell it from the truth)."""


def place_values(sizes: np.ndarray) -> np.ndarray:
    """Place values of a mixed-radix number whose digits range over ``sizes`` (most significant
    first): ``digits @ place_values(sizes)`` is the index of a grid point."""
    sizes = np.asarray(sizes, dtype=np.int64).reshape(-1)
    return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)


def dot_ints(values: np.ndarray, weights: np.ndarray | list[int]) -> np.ndarray:
    """``values @ weights`` over the last axis, in int64: the same (exact) numbers as numpy's
    integer matmul, which has no BLAS and loops slowly over a large array, by a few
    multiply-adds over whole arrays. A small array (a few thousand numbers) takes the matmul,
    which is faster there than several whole-array passes; both give int64 whatever the
    integer type of ``values`` (no narrower type to overflow in).

    Raises
    ------
    ValueError
        Unless there is one weight per entry of the last axis.
    """
    values = np.asarray(values, dtype=np.int64)  # no copy for int64
    weights = np.asarray(weights, dtype=np.int64)
    if values.shape[-1:] != weights.shape:
        raise ValueError(f"dot_ints: {weights.shape[0]} weights for a last axis of {values.shape[-1:]}")
    if values.size <= 3000:
        return values @ weights
    total = values[..., 0] * weights[0]
    for f in range(1, len(weights)):
        total += values[..., f] * weights[f]
    return total


def prior_weight(noise: np.ndarray | float, spread: np.ndarray | float, low: float) -> np.ndarray:
    """Empirical Bayes: how many observations a fitted prior is worth against a cell's own data.

    ``noise`` is one observation's variance, ``spread`` the variance of the cells' true
    values around the prior (what the spread of their averages leaves after their noise;
    it may come out at or below 0 when the prior explains them within their noise). The
    posterior mean ``(n * mean + k * prior) / (n + k)`` has ``k = noise / spread``, kept
    within ``[low, PRIOR_WEIGHT_CAP]``.
    """
    ratio = np.asarray(noise, dtype=np.float64) / np.maximum(np.asarray(spread, dtype=np.float64), 1e-12)
    return np.clip(ratio, low, PRIOR_WEIGHT_CAP)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()  # inspecting the loaded libraries once, not at every call


def one_blas_thread() -> contextlib.AbstractContextManager:
    """A context in which BLAS runs on one thread.

    The exact layer's and the learning loop's matrices are small: BLAS threads only fight
    over the cores (``social_optimum`` of pollution_v0 at N = 5, cap 410 ran several times
    slower with OpenBLAS's default threads on a busy 2-core machine; the figure with and
    without the limit: ``python -m baselines.bench_learning --sections exact``).
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def single_blas_thread(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` within :func:`one_blas_thread`."""

    @functools.wraps(function)
    def limited(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_blas_thread():
            return function(*args, **kwargs)

    return limited


class ObservationIndex:
    """Index of integer feature vectors on their grid ``0 .. high`` (``(..., F)`` -> ``(...)``)."""

    def __init__(self, high: np.ndarray) -> None:
        self.high = np.asarray(high, dtype=np.int64).reshape(-1)
        sizes = self.high + 1
        self.size = int(np.prod(sizes))
        self.radix = place_values(sizes)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, dtype=np.int64) @ self.radix

    def features(self, index: np.ndarray) -> np.ndarray:
        """``(..., F)`` feature vectors of indices (the inverse of calling it)."""
        index = np.asarray(index, dtype=np.int64)[..., None]
        return (index // self.radix) % (self.high + 1)
