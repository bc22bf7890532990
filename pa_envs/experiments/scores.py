"""The scores the experiment and the harness share: welfare as a share of ``W*``, and
regret across run lengths with its growth exponent (:func:`pa_envs.regret.fit_growth`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pa_envs.regret import GrowthFit, fit_growth


def share_of_optimum(welfare: float | np.ndarray, optimum: float) -> float | np.ndarray:
    """Welfare as a share of ``W*``: 1 at the optimum. For costs (negative welfare)
    ``1 - (W* - W) / |W*|``, so that higher is still better."""
    scale = abs(optimum) if optimum != 0 else 1.0
    return 1.0 - (optimum - welfare) / scale


def regret_at(welfare: np.ndarray, horizons: tuple[int, ...], reference: np.ndarray | float) -> np.ndarray:
    """``(seeds, H)`` cumulative regret after each horizon's run: ``sum_{e < T} (reference - W_e)``."""
    gap = np.asarray(reference) - welfare  # (H, seeds, E)
    return np.stack([gap[h, :, :t].sum(axis=1) for h, t in enumerate(horizons)], axis=1)


def final_regret(welfare: np.ndarray, horizons: tuple[int, ...], optimum: float) -> np.ndarray:
    """``(seeds, H)`` regret per episode over the last 10% of each horizon's run: what the
    principal still loses once it has learned. Sublinear regret means it goes to 0 as T grows
    (a negative exponent across T); a constant (exponent 0) is linear regret, however the
    cumulative fit reads over a range where an early lump still dominates."""
    gap = optimum - welfare  # (H, seeds, E)
    return np.stack([gap[h, :, t - max(1, t // 10) : t].mean(axis=1) for h, t in enumerate(horizons)], axis=1)


def prefix_horizons(episodes: int) -> tuple[int, ...]:
    """Run lengths ``E/8, E/4, E/2, E`` (distinct, at least 1) inside one run of ``E`` episodes."""
    return tuple(sorted({episodes // d for d in (8, 4, 2, 1) if episodes // d >= 1}))


def final_regret_growth(curves: Sequence[Sequence[float]], optimum: float) -> GrowthFit | None:
    """The final-regret exponent of seeds' learning curves (welfare per episode), as the
    experiment fits it (:func:`final_regret`, :func:`pa_envs.regret.fit_growth`): regret per
    episode over the last 10% of the first ``T`` episodes, fitted across ``T`` in
    :func:`prefix_horizons`, with a bootstrap interval over seeds. Below 0 the regret
    vanishes (sublinear cumulative regret); 0 is linear regret.

    Prefixes of one run stand for runs of those lengths because the harness's learners and
    principals do not depend on the run's length. ``None`` when the curves are too short
    (fewer than two lengths) or a mean final regret is not positive (nothing to fit in logs).
    """
    length = min((len(curve) for curve in curves), default=0)
    horizons = prefix_horizons(length)
    if len(horizons) < 2:
        return None
    welfare = np.array([curve[:length] for curve in curves], dtype=np.float64)
    final = final_regret(np.broadcast_to(welfare, (len(horizons), *welfare.shape)), horizons, optimum)
    if not np.all(np.isfinite(final)) or not np.all(final.mean(axis=0) > 0):
        return None
    return fit_growth(np.array(horizons), final)
