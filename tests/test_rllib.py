"""RLlib: every env under RLlib's multi-agent API, and PPO training principal and agents together.

Skipped when Ray is not installed: CI runs it in its own step and venv
(``.ci/rllib``, ``pip install -e ".[rllib]"``), since Ray pins its own
gymnasium. The training tests share one local Ray instance of one CPU;
sampling and learning run in the driver (no remote actors).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

ray = pytest.importorskip("ray")
gymnasium = pytest.importorskip("gymnasium")

from ray.rllib.env.multi_agent_env import MultiAgentEnv  # noqa: E402
from ray.rllib.utils.pre_checks.env import check_multiagent_environments  # noqa: E402

from pa_envs import ENVS, PRINCIPAL  # noqa: E402
from pa_envs.rllib import (  # noqa: E402
    AGENTS_POLICY,
    PRINCIPAL_POLICY,
    PrincipalAgentRLlibEnv,
    make_parallel_env,
    policy_mapping_fn,
    ppo_config,
    register_rllib_env,
    rllib_env_creator,
)

# Tiny and fast: 20-period episodes, 2 env copies, 8-unit networks, one epoch.
TINY_ENV = {"max_cycles": 20}
TINY = {
    "num_envs_per_env_runner": 2,
    "train_batch_size": 120,
    "minibatch_size": 60,
    "num_epochs": 1,
    "hidden": (8,),
    "seed": 0,
}


@pytest.mark.parametrize("name", sorted(ENVS))
def test_every_env_steps_a_full_episode_through_the_rllib_wrapper(name):
    env = PrincipalAgentRLlibEnv({"env_name": name, "n_agents": 2})
    assert isinstance(env, MultiAgentEnv)
    players = [PRINCIPAL, "agent_0", "agent_1"]
    assert env.possible_agents == players and env.agents == players
    principal_action = env.get_action_space(PRINCIPAL)
    assert isinstance(principal_action, gymnasium.spaces.Box) and len(principal_action.shape) == 1
    assert isinstance(env.get_action_space("agent_1"), gymnasium.spaces.Discrete)
    assert {policy_mapping_fn(p) for p in players} == {PRINCIPAL_POLICY, AGENTS_POLICY}

    check_multiagent_environments(env)  # RLlib's own checker: reset, a random step, the dict keys

    for space in (*env.observation_spaces.values(), *env.action_spaces.values()):
        space.seed(0)
    observations, infos = env.reset(seed=0)
    assert set(observations) == set(players) and "social_welfare" in infos[PRINCIPAL]
    steps, welfare, rewards_total = 0, 0.0, 0.0
    while True:
        actions = {p: env.get_action_space(p).sample() for p in players}
        observations, rewards, terminateds, truncateds, infos = env.step(actions)
        steps += 1
        for p in players:
            assert env.get_observation_space(p).contains(observations[p]), (p, observations[p])
        rewards_total += sum(rewards.values())
        welfare += infos[PRINCIPAL]["social_welfare"]
        if terminateds["__all__"] or truncateds["__all__"]:
            break
        assert steps <= env.par_env.params.max_cycles
    assert steps == env.par_env.params.max_cycles
    # Rewards add up to social welfare (the principal's default objective is its payoff).
    assert rewards_total == pytest.approx(welfare, rel=1e-9, abs=1e-6)


def test_out_of_bound_contract_is_clipped_by_default_and_render_takes_the_env_mode():
    env = PrincipalAgentRLlibEnv({"env_name": "pollution_v0", "render_mode": "ansi"})
    env.reset(seed=1)
    huge = np.full(env.get_action_space(PRINCIPAL).shape, 1e6, dtype=np.float32)
    actions = {PRINCIPAL: huge, **{a: 0 for a in env.possible_agents[1:]}}
    env.step(actions)
    bound = env.par_env.params.max_transfer
    assert np.all(np.abs(env.par_env.contract_in_force()) <= bound + 1e-6)
    assert isinstance(env.render(), str)


def test_creator_registration_and_mapping():
    name = register_rllib_env("commons_v0")
    assert name == "pa_envs_commons_v0"
    env = rllib_env_creator("congestion_v0")({"n_agents": 2})
    assert env.env_name == "congestion_v0" and env.par_env.game.n_agents == 2
    with pytest.raises(KeyError, match="did you mean"):
        rllib_env_creator("polution_v0")
    with pytest.raises(ValueError, match="no policy"):
        policy_mapping_fn("referee_0")
    with pytest.raises(ValueError, match="policies_to_train"):
        ppo_config("pollution_v0", policies_to_train=["regulator"])


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance of one CPU for the training tests."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


def _parameters(algo, module_id: str) -> np.ndarray:
    module = algo.get_module(module_id)
    return np.concatenate([p.detach().cpu().numpy().ravel() for p in module.parameters()])


def test_ppo_trains_principal_and_agents_together_on_pollution(local_ray, one_torch_thread):
    algo = ppo_config("pollution_v0", {**TINY_ENV, "n_agents": 2}, **TINY).build_algo()
    try:
        before = {m: _parameters(algo, m) for m in (PRINCIPAL_POLICY, AGENTS_POLICY)}
        for _ in range(3):
            result = algo.train()
        assert result["training_iteration"] == 3
        runners = result["env_runners"]
        returns = runners["module_episode_returns_mean"]
        assert set(returns) == {PRINCIPAL_POLICY, AGENTS_POLICY}
        # Transfers cancel out: the two policies' returns add up to the episode's social welfare.
        assert returns[PRINCIPAL_POLICY] + returns[AGENTS_POLICY] == pytest.approx(runners["social_welfare"])
        assert np.isfinite(runners["total_transfers"]) and np.isfinite(runners["externality"])
        for module_id, weights in before.items():  # both policies learned
            assert not np.array_equal(weights, _parameters(algo, module_id)), module_id
    finally:
        algo.stop()


def test_train_rllib_example_runs_saves_and_restores(local_ray, one_torch_thread, tmp_path, capsys):
    from baselines import train_rllib

    tiny = ["--train-batch-size", "120", "--minibatch-size", "60", "--num-epochs", "1", "--hidden", "8"]
    config = ["--env", "grid_v0", "--env-config", json.dumps({**TINY_ENV, "n_agents": 2})]
    log = tmp_path / "log.jsonl"
    rows = train_rllib.main(
        [*config, *tiny, "--iterations", "2", "--save", str(tmp_path / "ckpt"), "--log-json", str(log)]
    )
    out = capsys.readouterr().out
    assert "W* = " in out and "W_LF = " in out and "checkpoint saved" in out
    assert [row["iteration"] for row in rows] == [1, 2]
    assert rows[-1]["social_welfare"] is not None and rows[-1]["share_of_W*"] is not None
    assert len(log.read_text().splitlines()) == 2
    assert (tmp_path / "ckpt" / "rllib_checkpoint.json").is_file()

    # Only the agents learn after a restore: the run goes on from iteration 2.
    rows = train_rllib.main(
        [*config, *tiny, "--iterations", "1", "--restore", str(tmp_path / "ckpt"), "--train", "agents"]
    )
    assert [row["iteration"] for row in rows] == [3]
    assert ray.is_initialized()  # it used the caller's session and left it open


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "polution_v0"], "did you mean"),
        (["--env-config", '{"n_agent": 3}'], "unknown parameter(s) ['n_agent']"),
        (["--env-config", "[3]"], "expected a JSON object"),
    ],
)
def test_train_rllib_rejects_bad_arguments_before_starting_ray(argv, message, capsys):
    from baselines import train_rllib

    with pytest.raises(SystemExit):
        train_rllib.main(argv)
    assert message in capsys.readouterr().err


def test_make_parallel_env_is_the_library_one_with_clipped_transfers():
    """``pa_envs.rllib.make_parallel_env`` takes a preset name too (through
    ``pa_envs.make_parallel_env``) and clips out-of-bound transfers by default."""
    env = make_parallel_env("pollution_v0:hard", {"max_cycles": 4})
    assert env.game.params.max_cycles == 4 and env.game.n_agents == 3
    assert env._episode.clip_transfers
