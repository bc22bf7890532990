"""resolve_period refuses a Game's out-of-range signal on both of its checking paths.

A few copies' signals are checked in Python (cheaper at B = 1), many with numpy reductions;
either way a signal below 0 or past the last contract column is named, never paid from
another agent's contract row.
"""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import ENVS
from pa_envs.core.game import resolve_period


@pytest.mark.parametrize("copies", [1, 40])  # 2 and 80 signals: the Python and the numpy path
@pytest.mark.parametrize("bad", ["negative", "past_the_end"])
def test_an_out_of_range_signal_is_named_on_either_path(copies: int, bad: str) -> None:
    game = ENVS["pollution_v0"].parallel_env(n_agents=2).game
    value = -1 if bad == "negative" else game.n_signals
    real_step = game.step

    def bad_step(state, actions, noise):
        dynamics = real_step(state, actions, noise)
        signals = dynamics.signals.copy()
        signals[-1, -1] = value  # only the last copy's last agent: the check must see every entry
        return dynamics._replace(signals=signals)

    game.step = bad_step
    state = game.initial_state(np.zeros((copies, game.noise_size)))
    actions = np.zeros((copies, 2), dtype=np.int64)
    contracts = np.zeros((copies, 2, game.n_signals))
    noise = np.full((copies, game.noise_size), 0.5)
    with pytest.raises(ValueError, match=rf"signals outside 0\.\.{game.n_signals - 1}"):
        resolve_period(game, state, actions, contracts, noise)


@pytest.mark.parametrize("copies", [1, 40])
def test_in_range_signals_pay_each_agent_its_own_transfer(copies: int) -> None:
    game = ENVS["pollution_v0"].parallel_env(n_agents=2).game
    rng = np.random.default_rng(0)
    actions = rng.integers(0, game.n_actions, size=(copies, 2))
    contracts = rng.uniform(-1, 1, size=(copies, 2, game.n_signals))
    state = game.initial_state(np.zeros((copies, game.noise_size)))
    outcome = resolve_period(game, state, actions, contracts, np.full((copies, game.noise_size), 0.5))
    expected = np.take_along_axis(contracts, actions[:, :, None], axis=2)[:, :, 0]
    assert np.array_equal(outcome.transfers, expected)
