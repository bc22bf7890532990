"""Regret growth is a fit across run lengths with a bootstrap interval, and it can fail."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs.regret import fit_growth, mean_interval, t975

HORIZONS = np.array([100, 200, 400, 800, 1600, 3200])


def noisy(
    alpha: float, seeds: int = 6, scale: float = 50.0, noise: float = 0.05, seed: int = 0
) -> np.ndarray:
    """``(seeds, H)`` regret ``scale * T**alpha`` with multiplicative noise per seed."""
    generator = np.random.default_rng(seed)
    factor = np.exp(noise * generator.standard_normal((seeds, len(HORIZONS))))
    return scale * HORIZONS[None, :] ** alpha * factor


@pytest.mark.parametrize("alpha", [0.5, 2 / 3, 0.8, 1.0])
def test_the_fit_recovers_the_exponent_and_its_interval_covers_it(alpha):
    fit = fit_growth(HORIZONS, noisy(alpha))
    assert fit.alpha == pytest.approx(alpha, abs=0.04)
    assert fit.low <= alpha <= fit.high
    assert fit.high - fit.low < 0.1
    assert fit.resamples == 2000


def test_a_lump_plus_linear_regret_fools_the_cumulative_fit_not_the_final_loss():
    """A large early lump plus a constant loss per episode (what the old two-phase run had) is
    linear regret, yet its cumulative exponent over these lengths reads well below 1: the
    cumulative fit alone cannot show sublinearity. The loss per episode at the end of each run
    can: its exponent across T is 0 for linear regret, negative only when the loss vanishes."""
    regret = 30_000 + 6.0 * HORIZONS * 50  # a lump, then 300 per episode forever
    seeds = np.stack([regret * f for f in (0.97, 1.0, 1.03)])
    lump = fit_growth(HORIZONS, seeds)
    assert 0.5 < lump.alpha < 0.9  # looks sublinear over 100..3,200
    flat = fit_growth(HORIZONS, noisy(0.0, scale=300.0))  # the final loss of linear regret
    assert abs(flat.alpha) < 0.05 and flat.low <= 0 <= flat.high
    vanishing = fit_growth(HORIZONS, noisy(-1 / 3, scale=300.0))
    assert vanishing.high < -0.25
    linear = fit_growth(HORIZONS, np.stack([5.0 * HORIZONS * f for f in (0.98, 1.0, 1.02)]))
    assert linear.low > 0.95


def test_a_noisy_set_of_seeds_gives_a_wide_interval():
    narrow = fit_growth(HORIZONS, noisy(0.7, noise=0.02))
    wide = fit_growth(HORIZONS, noisy(0.7, noise=0.5))
    assert wide.high - wide.low > 3 * (narrow.high - narrow.low)


def test_no_fit_when_a_mean_regret_is_not_positive():
    regret = np.stack([np.array([10.0, -50.0, 20, 40, 80, 160])] * 3)
    fit = fit_growth(HORIZONS, regret)
    assert np.isnan(fit.alpha) and "no fit" in fit.describe()


def test_bad_bootstrap_settings():
    with pytest.raises(ValueError, match="resamples"):
        fit_growth(HORIZONS, noisy(0.7), resamples=0)
    with pytest.raises(TypeError, match="seed"):
        fit_growth(HORIZONS, noisy(0.7), seed=1.5)


@pytest.mark.parametrize(
    ("horizons", "regret", "match"),
    [
        ([100], np.ones((2, 1)), "two distinct"),
        ([100, 100], np.ones((2, 2)), "two distinct"),
        ([100, -5], np.ones((2, 2)), "positive"),
        ([100, 200], np.ones((2, 3)), "seeds"),
        ([100, 200], np.array([[1.0, np.nan]]), "finite"),
    ],
)
def test_bad_inputs_are_named(horizons, regret, match):
    with pytest.raises(ValueError, match=match):
        fit_growth(np.array(horizons), regret)


def test_t_interval():
    assert t975(1) == 12.706 and t975(30) == pytest.approx(2.042, abs=0.004)
    mean, half = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.303 * 1.0 / np.sqrt(3))
    assert np.isnan(mean_interval([5.0])[1])
