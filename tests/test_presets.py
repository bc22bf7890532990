"""Every preset is hard where it says: a flat incentive falls short, contingent transfers reach W*."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import ENVS, analysis, presets

PRESETS = sorted(presets.PRESETS)


@pytest.fixture(scope="module", params=PRESETS)
def solved(request):
    preset = presets.get_preset(request.param)
    env = presets.parallel_env(preset.name)
    model = env.game.exact_model()
    references = analysis.exact_references(model, epsilon=0.25)
    _, _, flat = analysis.best_flat_incentive(model, float(env.game.params.max_transfer))
    return preset, env, references, flat


@pytest.mark.slow
def test_the_best_flat_incentive_closes_at_most_the_limit_of_the_gap(solved):
    preset, _, references, flat = solved
    lf, optimum = references.laissez_faire.social_welfare, references.optimum.social_welfare
    assert optimum - lf > 1e-6, preset.name
    share = (flat.social_welfare - lf) / (optimum - lf)
    assert share <= presets.FLAT_SHARE_LIMIT, (preset.name, share)


@pytest.mark.slow
def test_contingent_transfers_implement_the_optimum_within_the_bound(solved):
    _, env, references, _ = solved
    assert references.pigouvian_outcome.social_welfare == pytest.approx(
        references.optimum.social_welfare, abs=1e-6
    )
    assert np.abs(references.pigouvian).max() <= env.game.params.max_transfer


def test_every_env_has_a_hard_preset_and_every_preset_says_why():
    assert {presets.split_name(name)[0] for name in presets.PRESETS} == set(ENVS)
    for preset in presets.PRESETS.values():
        assert preset.name == f"{preset.env}:hard" and preset.summary and len(preset.why) > 40


def test_a_preset_name_is_checked_and_overriding_it_warns():
    with pytest.raises(TypeError, match="must be a str"):
        presets.parallel_env(3)
    with pytest.raises(ValueError, match="names no preset"):
        presets.env_kwargs("pollution_v0:")
    with pytest.warns(UserWarning, match="overriding the preset's"):
        presets.env_kwargs("pollution_v0:hard", decay=0.2)


def test_names_resolve_like_env_names():
    env, kwargs = presets.env_kwargs("pollution_v0:hard", max_cycles=7)
    assert env == "pollution_v0" and kwargs["max_cycles"] == 7 and kwargs["decay"] == 0.1
    assert presets.env_kwargs("grid_v0") == ("grid_v0", {})
    with pytest.raises(KeyError, match="no preset named"):
        presets.get_preset("pollution_v0:easy")
    with pytest.raises(KeyError, match="no env named"):
        presets.parallel_env("nope_v0:hard")


def test_the_harness_takes_a_preset_name():
    from pa_envs.experiments import harness

    specs = harness.grid(["pollution_v0:hard"], ["no_transfers"], ["q_learning"], seeds=[0], steps=10)
    assert specs[0].env == "pollution_v0:hard"
    env, kwargs = harness.env_parameters(specs[0])
    assert env == "pollution_v0" and kwargs["decay"] == 0.1 and kwargs["n_agents"] == 3
