"""The single-agent gymnasium views, over every registered gymnasium id.

Registration and ``gymnasium.make`` (in this process and in a fresh one),
gymnasium's and SB3's env checkers, time limits, keyword pass-through,
determinism, the principal view's behaviours, the agent view's mechanisms,
bad input and a short PPO run.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from helpers import assert_identical, ppo_smoke

import pa_envs
from pa_envs.behaviours import LearnerBehaviour
from pa_envs.learners import QLearner
from pa_envs.views import AgentView, PrincipalView

IDS = list(pa_envs.GYMNASIUM_IDS)


def view_class(env_id: str) -> type:
    return {"PrincipalView": PrincipalView, "AgentView": AgentView}[
        gymnasium.spec(env_id).entry_point.split(":")[1]
    ]


PRINCIPAL_IDS = [i for i in IDS if view_class(i) is PrincipalView]
AGENT_IDS = [i for i in IDS if view_class(i) is AgentView]

all_ids = pytest.mark.parametrize("env_id", IDS)
principal_ids = pytest.mark.parametrize("env_id", PRINCIPAL_IDS)
agent_ids = pytest.mark.parametrize("env_id", AGENT_IDS)

POLLUTION_PRINCIPAL = "pa_envs/Pollution-Principal-v0"
POLLUTION_AGENT = "pa_envs/Pollution-Agent-v0"


def env_name_of(env_id: str) -> str:
    return gymnasium.spec(env_id).kwargs["env_name"]


def default_max_cycles(env_id: str) -> int:
    return pa_envs.ENVS[env_name_of(env_id)].parallel_env().params.max_cycles


def behaviour_keyword(env_id: str) -> str:
    """What the non-learning agents are called in this view's keywords."""
    return "behaviour" if view_class(env_id) is PrincipalView else "others"


def rollout(env, seed: int, steps: int, action_seed: int = 0) -> list:
    space = env.action_space
    space.seed(action_seed)
    trace = [env.reset(seed=seed)]
    for _ in range(steps):
        trace.append(env.step(space.sample()))
        if trace[-1][2] or trace[-1][3]:
            break
    return trace


# -- registration and checkers ------------------------------------------------------------


def test_every_env_has_both_views():
    assert len(IDS) == 2 * len(pa_envs.ENVS)
    assert sorted(env_name_of(i) for i in PRINCIPAL_IDS) == sorted(pa_envs.ENVS)
    assert sorted(env_name_of(i) for i in AGENT_IDS) == sorted(pa_envs.ENVS)


@all_ids
def test_make_and_gymnasium_check_env(env_id):
    env = gymnasium.make(env_id)
    assert isinstance(env.unwrapped, view_class(env_id))
    gymnasium_check_env(env.unwrapped, skip_render_check=False)
    env.close()


@all_ids
def test_sb3_check_env(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(gymnasium.make(env_id).unwrapped, warn=True)


@all_ids
def test_step_types(env_id):
    env = gymnasium.make(env_id)
    observation, info = env.reset(seed=0)
    assert env.observation_space.contains(observation)
    assert isinstance(info, dict)
    observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(observation)
    assert type(reward) is float
    assert type(terminated) is bool and type(truncated) is bool


@all_ids
def test_no_time_limit_is_registered_and_episodes_are_truncated(env_id):
    """The views end their own episodes; a registered TimeLimit would cut a longer max_cycles."""
    horizon = default_max_cycles(env_id)
    env = gymnasium.make(env_id)
    assert env.spec.max_episode_steps is None
    env.reset(seed=0)
    for t in range(1, horizon + 1):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        assert truncated == (t == horizon)


@all_ids
def test_view_truncates_at_its_own_max_cycles(env_id):
    env = gymnasium.make(env_id, max_cycles=6)
    env.reset(seed=0)
    truncations = [env.step(env.action_space.sample())[3] for _ in range(6)]
    assert truncations == [False] * 5 + [True]
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step(env.action_space.sample())


def _episode_length(env) -> int:
    env.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
        steps += 1
    return steps


@all_ids
def test_max_cycles_given_to_make_is_honoured(env_id):
    """gymnasium.make(id, max_cycles=longer) runs `longer` periods; an explicit
    max_episode_steps is gymnasium's TimeLimit and cuts where the user asked."""
    horizon = default_max_cycles(env_id)
    longer = horizon + 5
    assert _episode_length(gymnasium.make(env_id, max_cycles=longer, n_agents=2)) == longer
    cut = gymnasium.make(env_id, max_cycles=longer, n_agents=2, max_episode_steps=horizon + 2)
    assert _episode_length(cut) == horizon + 2


@all_ids
def test_render_through_make(env_id):
    env = gymnasium.make(env_id, render_mode="ansi", n_agents=2)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    text = env.render()
    assert isinstance(text, str) and "period 1" in text
    frame = gymnasium.make(env_id, render_mode="rgb_array", n_agents=2)
    frame.reset(seed=0)
    image = frame.render()
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


@all_ids
def test_make_with_a_render_mode_does_not_warn(env_id):
    assert "ansi" in view_class(env_id).metadata["render_modes"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gymnasium.make(env_id, render_mode="ansi")


@all_ids
def test_keywords_pass_through_make(env_id):
    default = gymnasium.make(env_id, n_agents=2)
    four = gymnasium.make(env_id, n_agents=4, max_cycles=9)
    inner = four.unwrapped.env
    assert inner.game.n_agents == 4
    assert inner.game.params.max_cycles == 9
    if view_class(env_id) is PrincipalView:
        n_signals = inner.game.n_signals
        assert four.action_space.shape == (4 * n_signals,)
        assert default.action_space.shape == (2 * n_signals,)
        assert len(inner.possible_agents) == 5
    else:
        assert len(inner.possible_agents) == 4
        if env_name_of(env_id) == "pollution_v0":  # the stock cap grows with the number of firms
            assert four.observation_space.high[0] == 2 * default.observation_space.high[0]
    observation, _ = four.reset(seed=0)
    assert four.observation_space.contains(observation)
    four.step(four.action_space.sample())


@all_ids
@pytest.mark.parametrize("behaviour", ["best_response", "tabular_q"])
def test_same_seed_same_trajectory(env_id, behaviour):
    kwargs = {behaviour_keyword(env_id): behaviour, "n_agents": 2, "max_cycles": 15}
    first = rollout(gymnasium.make(env_id, **kwargs), seed=5, steps=15)
    second = rollout(gymnasium.make(env_id, **kwargs), seed=5, steps=15)
    assert len(first) == 16
    assert_identical(first, second)


@all_ids
@pytest.mark.slow
def test_make_in_a_fresh_process(env_id, tmp_path):
    code = f"""
import sys
import gymnasium
assert "pa_envs" not in sys.modules
env = gymnasium.make("pa_envs:{env_id}", n_agents=2)
observation, info = env.reset(seed=0)
assert env.observation_space.contains(observation)
observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
print("made", env.spec.max_episode_steps, env.unwrapped.env.game.n_agents, type(reward).__name__)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["made", "None", "2", "float"]


# -- the principal view --------------------------------------------------------------------


def test_principal_view_tax_moves_best_responders_down():
    env = gymnasium.make(POLLUTION_PRINCIPAL, n_agents=2)
    env.reset(seed=0)
    n_signals = env.unwrapped.env.game.n_signals
    top = n_signals - 1

    def taxing(amount: float) -> np.ndarray:
        contract = np.zeros((2, n_signals), dtype=np.float32)
        contract[:, top] = -amount
        return contract.reshape(-1)

    # Laissez-faire: both firms produce at the top level.
    _, reward, _, _, info = env.step(taxing(0.0))
    assert info["actions"].tolist() == [top, top]
    assert reward == info["principal_payoff"] - info["total_transfers"]
    # A small tax changes nothing but is collected: the principal's reward counts it.
    _, reward, _, _, info = env.step(taxing(0.5))
    assert info["actions"].tolist() == [top, top]
    assert info["total_transfers"] == -1.0
    assert reward == info["principal_payoff"] + 1.0
    # A large tax every step: they produce less (and so pay nothing).
    for _ in range(3):
        _, reward, _, _, info = env.step(taxing(5.0))
        assert np.all(info["actions"] < top)
        assert info["total_transfers"] == 0.0
        assert type(reward) is float
        assert reward == info["principal_payoff"] - info["total_transfers"]


@principal_ids
def test_principal_view_reward_is_the_principals(env_id):
    env = gymnasium.make(env_id, n_agents=2, max_cycles=10)
    for _, reward, _, _, info in rollout(env, seed=1, steps=10)[1:]:
        assert reward == pytest.approx(info["principal_payoff"] - info["total_transfers"], abs=1e-12)


@principal_ids
def test_principal_view_tabular_q_behaviour(env_id):
    env = gymnasium.make(env_id, behaviour="tabular_q", n_agents=2, max_cycles=8)
    behaviour = env.unwrapped.behaviour
    assert isinstance(behaviour, LearnerBehaviour) and isinstance(behaviour.learner, QLearner)
    trace = rollout(env, seed=0, steps=8)
    assert len(trace) == 9
    n_actions = env.unwrapped.env.game.n_actions
    for *_, info in trace[1:]:
        assert np.all((info["actions"] >= 0) & (info["actions"] < n_actions))
    assert np.any(behaviour.learner.q != 0)  # it learned something
    assert behaviour.learner.episodes == 1  # the episode's end was counted


@principal_ids
@pytest.mark.parametrize("action", [0, 1])
def test_principal_view_fixed_action_behaviour(env_id, action):
    env = gymnasium.make(env_id, behaviour=action, n_agents=3, max_cycles=6)
    for *_, info in rollout(env, seed=0, steps=6)[1:]:
        assert info["actions"].tolist() == [action] * 3


@principal_ids
def test_principal_view_callable_behaviour(env_id):
    seen = []

    def policy(observations):
        seen.append(sorted(observations))
        return dict.fromkeys(observations, 0)

    env = gymnasium.make(env_id, behaviour=policy, n_agents=2, max_cycles=4)
    for *_, info in rollout(env, seed=0, steps=4)[1:]:
        assert info["actions"].tolist() == [0, 0]
    assert seen == [["agent_0", "agent_1"]] * 4


@principal_ids
def test_normalized_principal_actions_pay_a_times_max_transfer(env_id):
    """A normalized action a gives, bit for bit, the episode of the raw contract a * max_transfer."""
    raw = gymnasium.make(env_id, n_agents=2, max_cycles=6)
    unit = gymnasium.make(env_id, n_agents=2, max_cycles=6, normalize_actions=True)
    bound = float(raw.action_space.high[0])
    assert unit.action_space == gymnasium.spaces.Box(-1.0, 1.0, raw.action_space.shape, np.float32)
    rng = np.random.default_rng(3)
    actions = [rng.uniform(-1, 1, unit.action_space.shape).astype(np.float32) for _ in range(6)]
    actions[0][:] = 1.0  # the corners reach the bounds exactly
    actions[1][:] = -1.0
    raw.reset(seed=4)
    unit.reset(seed=4)
    for a in actions:
        expected = raw.step(a.astype(np.float64) * bound)
        got = unit.step(a)
        assert_identical(got, expected)
    assert float(np.abs(expected[4]["transfers"]).max()) <= bound


@principal_ids
def test_normalized_principal_actions_refuse_outside_the_unit_box(env_id):
    env = gymnasium.make(env_id, n_agents=2, normalize_actions=True)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, np.float32)
    action[1] = 1.5
    with pytest.raises(ValueError, match=r"principal_0 \(normalized actions\).*1\.5.*Box\(-1, 1"):
        env.step(action)
    action[1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        env.step(action)
    with pytest.raises(TypeError, match="normalize_actions must be True or False"):
        gymnasium.make(env_id, normalize_actions="yes")


@principal_ids
def test_normalized_principal_view_passes_the_checkers_without_warnings(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gymnasium_check_env(gymnasium.make(env_id, normalize_actions=True).unwrapped, skip_render_check=True)
        sb3_check_env(gymnasium.make(env_id, normalize_actions=True).unwrapped, warn=True)


@principal_ids
def test_principal_view_unknown_behaviour_hints(env_id):
    with pytest.raises(ValueError, match="best_response") as error:
        gymnasium.make(env_id, behaviour="best_reponse")
    assert "did you mean" in str(error.value)


# -- the agent view -----------------------------------------------------------------------


def test_agent_view_pigouvian_pays_for_the_medium_level():
    medium, high = 1, 2
    env = gymnasium.make(POLLUTION_AGENT, mechanism="pigouvian", others="best_response")
    observation, _ = env.reset(seed=0)
    n_signals = env.unwrapped.env.game.n_signals
    assert observation[-n_signals:][medium] > 0  # the posted bonus is visible before acting
    _, reward, _, _, info = env.step(medium)
    assert info["period"] == 1
    assert info["transfer"] > 0
    assert reward == pytest.approx(info["private_utility"] + info["transfer"])
    # Producing high earns no bonus; without a mechanism nothing is paid.
    env.reset(seed=0)
    assert env.step(high)[4]["transfer"] == 0.0
    laissez_faire = gymnasium.make(POLLUTION_AGENT, mechanism="no_transfers")
    laissez_faire.reset(seed=0)
    assert laissez_faire.step(medium)[4]["transfer"] == 0.0


@agent_ids
@pytest.mark.parametrize("learner", [2, -1, True, 1.0])
def test_agent_view_learner_out_of_range(env_id, learner):
    with pytest.raises(ValueError, match="learner"):
        gymnasium.make(env_id, n_agents=2, learner=learner)


@agent_ids
def test_agent_view_learner_index(env_id):
    env = gymnasium.make(env_id, n_agents=3, learner=2)
    assert env.unwrapped.agent == "agent_2"
    assert env.unwrapped.others.agents == ["agent_0", "agent_1"]


@all_ids
def test_unknown_env_name_lists_the_registered_envs(env_id):
    with pytest.raises(ValueError) as error:
        gymnasium.make(env_id, env_name="no_such_env_v0")
    for name in pa_envs.ENVS:
        assert name in str(error.value)


# -- a short SB3 run ----------------------------------------------------------------------


@all_ids
def test_ppo_trains_through_a_view_smoke(env_id, one_torch_thread):
    """PPO updates its policy with finite losses, and every step's info carries the
    welfare accounting as finite numbers."""
    from stable_baselines3 import PPO

    model = PPO(
        "MlpPolicy", gymnasium.make(env_id), n_steps=64, batch_size=32, n_epochs=2, seed=0, device="cpu"
    )
    ppo_smoke(model, 64, ("social_welfare", "externality", "total_transfers"))


def test_principal_view_with_many_agents_and_agent_specific_contracts():
    """With 8 firms the best responders use the count model; contracts that differ between
    firms must still be answered firm by firm (a tax on one firm moves only that firm)."""
    env = gymnasium.make("pa_envs/Pollution-Principal-v0", n_agents=8)
    env.reset(seed=0)
    contract = np.zeros((8, 3), dtype=np.float32)
    contract[3, 2] = -5.0  # tax firm 3's top level only
    *_, info = env.step(contract.reshape(-1))
    assert info["actions"].tolist() == [2, 2, 2, 1, 2, 2, 2, 2]
