"""pa_envs.make_parallel_env: the one way from a name (or a built env) to a parallel env."""

from __future__ import annotations

import pytest

import pa_envs
from pa_envs import make_parallel_env, presets
from pa_envs.core.names import UnknownNameError
from pa_envs.core.parallel import PrincipalAgentParallelEnv


@pytest.mark.parametrize("name", pa_envs.ENV_NAMES)
def test_a_registered_name_builds_its_env_with_the_keywords(name):
    env = make_parallel_env(name, n_agents=2, max_cycles=5)
    assert isinstance(env, PrincipalAgentParallelEnv) and type(env) is type(pa_envs.ENVS[name].parallel_env())
    assert env.game.n_agents == 2 and env.game.params.max_cycles == 5


def test_a_preset_name_builds_the_preset_with_overrides_on_top():
    env = make_parallel_env("pollution_v0:hard")
    assert env.game.n_agents == 3 and env.game.params.max_cycles == 40
    assert make_parallel_env("pollution_v0:hard", max_cycles=7).game.params.max_cycles == 7
    assert presets.parallel_env is make_parallel_env


def test_a_built_env_is_returned_as_it_is():
    env = pa_envs.pollution_v0.parallel_env(n_agents=2)
    assert make_parallel_env(env) is env
    with pytest.raises(TypeError, match=r"\['n_agents'\] go with an env name"):
        make_parallel_env(env, n_agents=3)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("polution_v0", "no env named 'polution_v0'; did you mean 'pollution_v0'?"),
        ("polution_v0:hard", "did you mean 'pollution_v0'?"),
        ("pollution_v0:hrd", "no preset named 'pollution_v0:hrd'; did you mean 'pollution_v0:hard'?"),
    ],
)
def test_an_unknown_name_is_a_value_error_with_the_closest_names(name, fragment):
    with pytest.raises(ValueError, match=fragment) as caught:
        make_parallel_env(name)
    assert isinstance(caught.value, UnknownNameError) and isinstance(caught.value, KeyError)
    assert str(caught.value).startswith("no ")  # no KeyError quotes


def test_anything_else_is_a_type_error_naming_what_was_expected():
    with pytest.raises(TypeError, match=r"must be a str .* or a pa_envs parallel env, got 3 \(int\)"):
        make_parallel_env(3)


def test_the_views_and_the_vector_envs_go_through_it():
    """The gymnasium views, the vector forms and the SB3 vector env take preset names too
    (RLlib's ``pa_envs.rllib.make_parallel_env``: tests/test_rllib.py)."""
    import gymnasium

    from pa_envs.sb3 import MechanismVecEnv
    from pa_envs.vector import PrincipalVectorView

    env = gymnasium.make("pa_envs/Pollution-Principal-v0", env_name="pollution_v0:hard")
    assert env.unwrapped.env.game.n_agents == 3
    assert PrincipalVectorView(num_envs=2, env_name="pollution_v0:hard").base.game.n_agents == 3
    built = pa_envs.pollution_v0.parallel_env(n_agents=2)
    assert MechanismVecEnv(built, "no_transfers", 2).num_envs == 4
