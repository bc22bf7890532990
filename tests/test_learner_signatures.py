"""Every learner takes the base class's calls (the learning loop's keywords), and a seed that
is text is refused by name (found while type-checking the learners)."""

import numpy as np
import pytest

from pa_envs.learners import LEARNERS, MyopicBestResponder


def test_a_best_responder_takes_the_loops_keywords_and_learns_the_same():
    """``act(..., contracts=)`` and ``learn(..., transfers=, signals=, check=False)``, as
    :func:`pa_envs.learning_loop.play` calls every learner, give what the plain calls give."""
    generator = np.random.default_rng(4)
    plain = MyopicBestResponder(1, 3, 2, batch=2, seed=0)
    keyed = MyopicBestResponder(1, 3, 2, batch=2, seed=0)
    states = np.zeros(2, dtype=np.int64)
    for _ in range(30):
        table = generator.normal(size=(2, 2, 3))
        actions = plain.act(states, table)
        np.testing.assert_array_equal(keyed.act(states, table, contracts=np.zeros((2, 2, 3))), actions)
        earned = np.take_along_axis(table, actions[:, :, None], axis=2)[:, :, 0]
        plain.learn(states, actions, earned, states, np.zeros(2, bool), table)
        keyed.learn(
            states, actions, earned, states, np.zeros(2, bool), table,
            transfers=np.zeros((2, 2)), signals=actions, check=False,
        )  # fmt: skip
    np.testing.assert_array_equal(keyed.regret, plain.regret)
    with pytest.raises(ValueError, match="counterfactual"):
        keyed.learn(states, actions, earned, states, np.zeros(2, bool), check=False)


@pytest.mark.parametrize("name", sorted(LEARNERS))
@pytest.mark.parametrize("seed", ["7", b"\x07"])
def test_a_seed_given_as_text_is_refused_by_name(name, seed):
    with pytest.raises(TypeError, match=r"seed must be an int, one int per copy or None, got .*7"):
        LEARNERS[name](2, 3, 1, batch=1, seed=seed)
