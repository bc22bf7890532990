"""How long each part of the two-phase mechanism lasts, as the run's length ``T`` grows.

With ``E = T / H`` episodes of ``H`` periods, the theory's schedule is:

- phase 1 (learning) lasts about ``phase1_scale * H * E**(2/3)`` periods: a
  warm-up without transfers (``warmup_share`` of it; the learners find their
  feet and the baseline is measured), the price searches (``pricing_share``,
  split into blocks of equal length, at least ``min_block`` periods: the
  time the learners need to answer a new contract and the principal to
  measure the answer) and an exploration of contract options
  (``explore_share``) that shows the principal what each combination does;
- the bisection tolerance and the margin added to every price shrink like
  ``E**(-1/3)``: ``tolerance_scale * max_transfer * E**(-1/3)`` and
  ``margin_scale * max_transfer * E**(-1/3)``;
- phase 2 (steering) plans again, with everything seen so far, whenever the
  periods seen have grown by 40%: ``O(log T)`` plans.

So phase 1 costs ``O(T**(2/3))`` of regret, and phase 2's per-episode regret
goes to 0 as its estimates sharpen. Every figure is per copy: copies of one
batch may have different ``T``.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Per-copy lengths (periods) and sizes, all ``(B,)`` arrays.

    Attributes
    ----------
    total, phase1, warmup, block, explore : periods
    steps : bisection steps
    tolerance, margin : transfer units
    """

    total: np.ndarray
    phase1: np.ndarray
    warmup: np.ndarray
    block: np.ndarray
    explore: np.ndarray
    steps: np.ndarray
    tolerance: np.ndarray
    margin: np.ndarray
    n_signals: int

    @classmethod
    def of(
        cls,
        total_periods: np.ndarray,
        horizon: int,
        bound: float,
        n_signals: int,
        *,
        phase1_scale: float,
        warmup_share: float,
        pricing_share: float,
        min_block: int,
        tolerance_scale: float,
        margin_scale: float,
    ) -> Schedule:
        """The schedule of copies whose runs last ``total_periods`` (``(B,)``) periods of
        episodes of ``horizon`` periods, with transfers up to ``bound`` on ``n_signals``
        signals; the keywords are the mechanism's constants (see the module docstring)."""
        total = np.asarray(total_periods, dtype=np.int64)
        episodes = np.maximum(total / horizon, 1.0)
        phase1 = np.minimum(total, np.ceil(phase1_scale * horizon * episodes ** (2 / 3))).astype(np.int64)
        warmup = np.maximum(np.ceil(warmup_share * phase1), 1).astype(np.int64)
        tolerance = tolerance_scale * bound * episodes ** (-1 / 3)
        steps = np.maximum(1, np.ceil(np.log2(bound / tolerance))).astype(np.int64)
        blocks = n_signals * steps
        block = np.maximum(min_block, np.floor(pricing_share * phase1 / blocks)).astype(np.int64)
        explore = np.maximum(phase1 - warmup - block * blocks, np.ceil(0.1 * phase1)).astype(np.int64)
        margin = margin_scale * bound * episodes ** (-1 / 3)
        return cls(total, phase1, warmup, block, explore, steps, tolerance, margin, n_signals)

    def longest_phase1(self) -> np.ndarray:
        """Phase 1's length when every search runs every block (searches that settle early end sooner)."""
        return self.warmup + self.block * self.n_signals * self.steps + self.explore
