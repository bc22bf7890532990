"""The fast paths of the learning loop and the exact layer: the same results as the plain ones."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest

from pa_envs import presets
from pa_envs.learning_loop import play
from pa_envs.mechanisms import FlatSchedule, NoTransfers, Pigouvian, Stacked
from pa_envs.two_phase import TwoPhaseMechanism

# Regression guard, not a derived value: these digests were measured by running this very
# play() set-up on main at 378ac4a (before the learning loop was vectorized), x86-64 Linux,
# numpy's OpenBLAS. Same seeds must give the same trajectories, rewards and regret bit for
# bit; a different BLAS or CPU could move the last bits of a planning sum and so the digest.
FINGERPRINTS = {
    ("pollution_v0", "situations"): "5f4a378f424de837",
    ("pollution_v0:hard", "theory"): "e40c098a63f7bebb",
    ("insurance_v0:hard", "floor"): "c297797e94f59250",
}


def _digest(result) -> str:
    digest = hashlib.sha256()
    for array in (result.welfare, result.transfers, result.agent_regret, result.agent_regret_at):
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize(("env_name", "agents"), sorted(FINGERPRINTS))
def test_play_reproduces_mains_runs_bit_for_bit(env_name, agents):
    """Four principals side by side, the two-phase one reaching phase 2 and planning several times."""
    episodes, length = 16, 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the preset's length is overridden: a smaller, quicker run
        game = presets.parallel_env(env_name, max_cycles=length).game
        model = game.exact_model()
        two_phase = TwoPhaseMechanism([episodes * length] * 2, phase1_scale=0.05, min_block=4)
        row = np.zeros(game.n_signals)
        row[-1] = 0.5
        mechanism = Stacked([(NoTransfers(), 2), (FlatSchedule(row), 2), (Pigouvian(), 2), (two_phase, 2)])
        result = play(game, model, mechanism, [0, 1] * 4, episodes, agents, checkpoints=(8, 16))
    assert two_phase.stage.tolist() == [3, 3] and two_phase.plans.min() >= 3  # phase 2 was played
    assert _digest(result) == FINGERPRINTS[(env_name, agents)]
