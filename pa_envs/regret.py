"""How regret grows: a fit across run lengths with a bootstrap confidence interval.

A claim that regret grows sublinearly is a claim about separate runs of
different lengths ``T``: a mechanism whose schedule depends on ``T`` is run
once per ``T`` (and seed), its cumulative regret ``R(T)`` measured at the end,
and ``log R(T) = a + alpha log T`` fitted across the lengths. ``alpha < 1`` is
sublinear growth; the theory of the two-phase mechanism gives ``alpha = 2/3``.
The confidence interval comes from resampling the seeds (every length of a
resampled seed together), so it covers what another set of seeds would give.
The slope of one run's cumulative regret over its own tail cannot show this:
a large early lump makes it small whatever comes after.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pa_envs.core.game import check_int

# Student's t quantile 0.975 for 1 to 9 degrees of freedom (the table's values).
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def t975(df: int) -> float:
    """Student's t quantile 0.975: the table up to 9 degrees of freedom, then the
    Cornish-Fisher expansion (within 0.004 of the table from 10 on)."""
    if df in _T975:
        return _T975[df]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_interval(values: list[float] | np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of a 95% confidence interval (Student t) over seeds
    (``nan`` values are left out; one value has no interval: ``nan``)."""
    kept = [float(v) for v in np.asarray(values, dtype=np.float64).ravel() if not math.isnan(v)]
    if not kept:
        return float("nan"), float("nan")
    if len(kept) == 1:
        return kept[0], float("nan")
    from statistics import mean, stdev

    return mean(kept), t975(len(kept) - 1) * stdev(kept) / math.sqrt(len(kept))


@dataclasses.dataclass(frozen=True)
class GrowthFit:
    """``log R(T) = intercept + alpha * log T`` over the mean regret of the seeds.

    Attributes
    ----------
    alpha : float
        The fitted exponent (``nan`` when a mean regret is not positive).
    intercept : float
    low, high : float
        The bootstrap confidence interval of ``alpha`` (``level``, percentile).
    level : float
    horizons : ndarray
        The run lengths ``T``.
    mean : ndarray
        The mean regret over seeds at each ``T``.
    resamples : int
        Bootstrap resamples whose fit was defined (every mean positive).
    """

    alpha: float
    intercept: float
    low: float
    high: float
    level: float
    horizons: np.ndarray
    mean: np.ndarray
    resamples: int

    def describe(self) -> str:
        """``alpha = 0.68 [0.61, 0.74]`` (or why there is no fit)."""
        if not np.isfinite(self.alpha):
            return "alpha: no fit (a mean regret is not positive)"
        return f"alpha = {self.alpha:.2f} [{self.low:.2f}, {self.high:.2f}]"


def fit_growth(
    horizons: np.ndarray,
    regret: np.ndarray,
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> GrowthFit:
    """Fit ``log R(T) = a + alpha log T`` to the seeds' mean regret, with a bootstrap CI.

    Parameters
    ----------
    horizons : (H,) run lengths, at least two distinct, positive.
    regret : (seeds, H) cumulative regret of each seed's run of each length.
    level : confidence level of the interval.
    resamples : bootstrap resamples of the seeds.
    seed : the bootstrap's random seed.
    """
    horizons = np.asarray(horizons, dtype=np.float64)
    regret = np.asarray(regret, dtype=np.float64)
    if horizons.ndim != 1 or len(np.unique(horizons)) < 2 or np.any(horizons <= 0):
        raise ValueError(f"horizons must be at least two distinct positive lengths, got {horizons.tolist()}")
    if regret.ndim != 2 or regret.shape[1] != len(horizons) or regret.shape[0] < 1:
        raise ValueError(f"regret must be (seeds, {len(horizons)}), got shape {regret.shape}")
    if not np.all(np.isfinite(regret)):
        raise ValueError("regret must be finite")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    check_int("resamples", resamples, 1)
    check_int("seed", seed, 0)
    log_t = np.log(horizons)
    design = np.column_stack([np.ones_like(log_t), log_t])

    def fit(means: np.ndarray) -> np.ndarray:
        """(intercept, alpha) per row of ``means`` ((M, H)); nan where a mean is not positive."""
        positive = np.all(means > 0, axis=1)
        logs = np.log(np.where(means > 0, means, 1.0))
        solution = np.linalg.lstsq(design, logs.T, rcond=None)[0].T  # (M, 2)
        solution[~positive] = np.nan
        return solution

    mean = regret.mean(axis=0)
    intercept, alpha = fit(mean[None])[0]
    generator = np.random.default_rng(seed)
    picks = generator.integers(0, regret.shape[0], size=(resamples, regret.shape[0]))
    boot = fit(regret[picks].mean(axis=1))[:, 1]
    boot = boot[np.isfinite(boot)]
    tail = (1 - level) / 2
    low, high = np.quantile(boot, [tail, 1 - tail]) if len(boot) else (np.nan, np.nan)
    return GrowthFit(
        float(alpha), float(intercept), float(low), float(high), level, horizons, mean, len(boot)
    )


__all__ = ["GrowthFit", "fit_growth", "mean_interval", "t975"]
