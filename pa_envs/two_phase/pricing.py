"""Phase 1's price search: the least bonus on a signal that shifts an agent's behaviour.

All agents of all copies are searched at once, one signal ``k`` at a time, by
bisection of ``[0, max_transfer]`` over blocks of periods. Within a block every
agent is offered, each period and at random, one of three *arms*: no bonus
(probability 1/4), the largest bonus ``max_transfer`` (1/4) or the bisection's
current level (1/2). The arms share the block's states and the others' play,
so comparing them is a randomized experiment: a block that leaves the state
high or low (trust, a stock) shifts every arm alike. Over the block's second
half (the first lets the learners adapt) the principal counts, per arm, the
share of periods in which the agent's signal was ``k``; the no-bonus and
largest-bonus counts accumulate over the signal's blocks.

What "works" means depends on what the principal sees:

- signals are actions (it sees choices): the agent chose ``k`` under the level
  in at least ``threshold`` times its share under the largest bonus. An agent
  whose share without a bonus already does is at its favourite: ``tau = 0``.
  An agent that chooses ``k`` in under half the periods even at the largest
  bonus cannot be made to: ``tau = inf``. Either verdict may end a search
  early, once each arm has 30 periods.
- signals are outcomes (it sees only what actions cause): the response, the
  share of ``k`` above its share without a bonus, reached ``threshold`` times
  the response to the largest bonus. A response to the largest bonus under
  ``z`` standard errors, over all of the signal's blocks, is no response the
  principal can see: ``tau = inf``.

The price ``tau`` is the upper end of the final bracket: the least level seen to work.
"""

from __future__ import annotations

import numpy as np

SIGNIFICANCE_Z = 3.0  # standard errors a largest-bonus response must clear (outcome signals)
LEAST_SATURATED_SHARE = 0.5  # share of k below which k is not implementable (action signals)
EVIDENT_PERIODS = 30  # periods per arm before a search may end early (favourite, not implementable)
ARM_NONE, ARM_MOST, ARM_LEVEL = 0, 1, 2


class PriceSearch:
    """Randomized bisection of the least working bonus, for ``(B, N)`` agents and ``K`` signals.

    Parameters
    ----------
    shape : (B, N)
    n_signals : int
    bound : float
        The largest bonus (``max_transfer``).
    steps : ndarray, shape (B,)
        Bisection steps per copy.
    threshold : float
        Share of the largest bonus's share (or response) that counts as working.
    choices_visible : bool
        Whether signals are the agents' actions.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        n_signals: int,
        bound: float,
        steps: np.ndarray,
        threshold: float,
        choices_visible: bool,
    ) -> None:
        b, n = shape
        self.bound, self.threshold, self.choices_visible = bound, threshold, choices_visible
        self.steps = np.asarray(steps, dtype=np.int64)
        self.tau = np.full((b, n, n_signals), np.nan)  # nan: not searched yet
        self.lo = np.zeros((b, n, n_signals))
        self.hi = np.full((b, n, n_signals), bound)
        # Per agent and signal: periods seen and periods with the signal, under no bonus and the largest.
        self.hits = np.zeros((b, n, n_signals, 2))
        self.seen = np.zeros((b, n, n_signals, 2))
        self.step = np.zeros((b, n), dtype=np.int64)  # bisection steps done on the current signal
        self.searching = np.zeros((b, n), dtype=bool)
        self.arm = np.full((b, n), ARM_NONE, dtype=np.int64)  # the arm offered this period

    # -- what is posted -----------------------------------------------------------------
    def bonus(self, rows: np.ndarray, signal: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """``(R, N)`` bonus each agent of copies ``rows`` is offered this period on its copy's
        ``signal``, its arm drawn from ``uniforms`` ``(R, N)``."""
        where = self._where(rows, signal)
        arm = np.where(uniforms < 0.25, ARM_NONE, np.where(uniforms < 0.5, ARM_MOST, ARM_LEVEL))
        self.arm[rows] = arm
        level = 0.5 * (self.lo[where] + self.hi[where])
        bonus = np.where(arm == ARM_MOST, self.bound, np.where(arm == ARM_LEVEL, level, 0.0))
        return np.where(self.searching[rows], bonus, 0.0)

    # -- what is learned ----------------------------------------------------------------
    def open(self, rows: np.ndarray, signal: np.ndarray) -> None:
        """Copies ``rows`` start searching ``signal`` for every agent."""
        self.searching[rows] = True
        self.step[rows] = 0
        where = self._where(rows, signal)
        self.lo[where], self.hi[where] = 0.0, self.bound

    def observe(
        self, rows: np.ndarray, signal: np.ndarray, sent: np.ndarray, counted: np.ndarray
    ) -> np.ndarray:
        """A period of copies ``rows``: ``sent`` ``(R, N)`` whether each agent's signal was its
        copy's ``signal``; only ``counted`` ``(R,)`` copies count it. Returns the ``(R, N)``
        hits of the level arm (for the block's tally kept by the caller) and whether it was offered."""
        arm = self.arm[rows]
        tally = counted[:, None] & self.searching[rows]
        where = self._where(rows, signal)
        for index, which in ((0, ARM_NONE), (1, ARM_MOST)):
            mine = tally & (arm == which)
            at = (*where, index)  # a tuple first: a starred subscript needs Python 3.11
            self.hits[at] += mine & sent
            self.seen[at] += mine
        level = tally & (arm == ARM_LEVEL)
        return np.stack([level & sent, level], axis=0)

    def close_block(
        self, rows: np.ndarray, signal: np.ndarray, level_hits: np.ndarray, level_seen: np.ndarray
    ) -> None:
        """A block of copies ``rows`` on ``signal`` ended; the level arm's tally ``(R, N)``."""
        where = self._where(rows, signal)
        searching = self.searching[rows]
        hits, seen = self.hits[where], self.seen[where]  # (R, N, 2)
        share = hits / np.maximum(seen, 1.0)
        none, most = share[..., 0], share[..., 1]
        level = level_hits / np.maximum(level_seen, 1.0)
        last = searching & (self.step[rows] + 1 >= self.steps[rows, None])
        # Early verdicts only on enough evidence; the last block decides on all of it.
        evident = last | (seen.min(axis=2) >= EVIDENT_PERIODS)
        if self.choices_visible:
            favourite = (
                searching & evident & (none >= self.threshold * most) & (most >= LEAST_SATURATED_SHARE)
            )
            unreachable = searching & evident & (most < LEAST_SATURATED_SHARE)
            works = level >= self.threshold * most
        else:
            pooled = hits.sum(axis=2) / np.maximum(seen.sum(axis=2), 1.0)
            error = np.sqrt(
                pooled * (1 - pooled) * (1 / np.maximum(seen[..., 0], 1) + 1 / np.maximum(seen[..., 1], 1))
            )
            favourite = np.zeros_like(searching)
            unreachable = searching & last & ~(most - none > SIGNIFICANCE_Z * np.maximum(error, 1e-12))
            works = level - none >= self.threshold * (most - none)
        self._settle(where, favourite, 0.0)
        self._settle(where, unreachable & ~favourite, np.inf)
        # A step is decided only on evidence: a block whose level arm was never offered
        # in its second half (a very short block) is repeated.
        bisecting = self.searching[rows] & (level_seen > 0)
        middle = 0.5 * (self.lo[where] + self.hi[where])
        self.hi[where] = np.where(bisecting & works, middle, self.hi[where])
        self.lo[where] = np.where(bisecting & ~works, middle, self.lo[where])
        self.step[rows] += bisecting
        finished = bisecting & (self.step[rows] >= self.steps[rows, None])
        self._settle(where, finished, self.hi[where])

    def _where(self, rows: np.ndarray, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return rows[:, None], np.arange(self.step.shape[1])[None, :], signal[:, None]

    def _settle(self, where: tuple, mask: np.ndarray, value: float | np.ndarray) -> None:
        self.tau[where] = np.where(mask, value, self.tau[where])
        rows = where[0][:, 0]
        self.searching[rows] &= ~mask

    def done(self, rows: np.ndarray) -> np.ndarray:
        """``(R,)`` whether every agent of copies ``rows`` finished its current search."""
        return ~self.searching[rows].any(axis=1)

    # -- saving -------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        names = ("tau", "lo", "hi", "hits", "seen", "step", "searching", "arm")
        return {name: getattr(self, name) for name in names}
