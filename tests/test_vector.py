"""The vector forms step B copies in one call and follow B PettingZoo envs bit for bit."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import supersuit as ss
from helpers import ppo_smoke

from pa_envs import ENVS, GYMNASIUM_IDS, pollution_v0
from pa_envs.mechanisms import NoTransfers, mechanism_env
from pa_envs.sb3 import MechanismVecEnv
from pa_envs.vector import AgentVectorView, PrincipalVectorView

COPIES, N_AGENTS, MAX_CYCLES, STEPS, SEED = 3, 2, 5, 12, 7
MECHANISMS = [
    ("no_transfers", {}),
    ("flat_tax", {"amount": 1.0}),
    ("pigouvian", {}),
    ("budgeted", {"mechanism": "pigouvian", "budget": 2.0}),  # per-copy budgets
]


def random_actions(env, steps: int) -> np.ndarray:
    generator = np.random.default_rng(0)
    return generator.integers(0, env.game.n_actions, size=(steps, COPIES * N_AGENTS))


def pettingzoo_copies(name: str, mechanism: str, kwargs: dict):
    return [
        mechanism_env(ENVS[name].parallel_env(n_agents=N_AGENTS, max_cycles=MAX_CYCLES), mechanism, **kwargs)
        for _ in range(COPIES)
    ]


def vector_env(name: str, mechanism: str, kwargs: dict) -> MechanismVecEnv:
    return MechanismVecEnv(
        name, mechanism, COPIES, seed=SEED, mechanism_kwargs=kwargs, n_agents=N_AGENTS, max_cycles=MAX_CYCLES
    )


@pytest.mark.parametrize(("mechanism", "kwargs"), MECHANISMS, ids=[m for m, _ in MECHANISMS])
def test_vector_env_follows_independent_pettingzoo_envs(env_module, mechanism, kwargs):
    name = env_module.parallel_env_class.game_class.name
    venv = vector_env(name, mechanism, kwargs)
    envs = pettingzoo_copies(name, mechanism, kwargs)
    observations = venv.reset()
    expected = [env.reset(seed=SEED + b)[0] for b, env in enumerate(envs)]
    assert np.array_equal(observations, np.concatenate([np.stack(list(o.values())) for o in expected]))
    for step, actions in enumerate(random_actions(venv, STEPS)):
        observations, rewards, dones, infos = venv.step(actions)
        for b, env in enumerate(envs):
            rows = range(b * N_AGENTS, (b + 1) * N_AGENTS)
            joint = dict(zip(env.agents, actions[rows.start : rows.stop].tolist(), strict=True))
            obs, rew, _, _, info = env.step(joint)
            done = not env.agents
            assert np.array_equal(dones[rows.start : rows.stop], [done] * N_AGENTS), step
            expected_rewards = np.array(list(rew.values()), dtype=np.float32)
            assert np.array_equal(rewards[rows.start : rows.stop], expected_rewards), step
            assert venv.last_period.social_welfare[b] == info["agent_0"]["social_welfare"]
            if done:
                final = np.stack([infos[r]["terminal_observation"] for r in rows])
                assert np.array_equal(final, np.stack(list(obs.values())))
                assert all(infos[r]["TimeLimit.truncated"] for r in rows)
                obs, _ = env.reset()  # unseeded: the copy's stream goes on
            assert np.array_equal(observations[rows.start : rows.stop], np.stack(list(obs.values()))), step


@pytest.mark.parametrize(("mechanism", "kwargs"), MECHANISMS[:2], ids=[m for m, _ in MECHANISMS[:2]])
def test_vector_env_is_a_drop_in_for_supersuit(env_module, mechanism, kwargs):
    name = env_module.parallel_env_class.game_class.name
    venv = vector_env(name, mechanism, kwargs)
    base = pettingzoo_copies(name, mechanism, kwargs)[0]
    reference = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(base), COPIES, num_cpus=0, base_class="stable_baselines3"
    )
    assert reference.num_envs == venv.num_envs
    assert reference.observation_space == venv.observation_space
    assert reference.action_space == venv.action_space
    ours = venv.reset()
    theirs, _ = reference.venv.reset(seed=SEED)
    assert np.array_equal(ours, theirs)
    for actions in random_actions(venv, STEPS):
        ours = venv.step(actions)
        theirs = reference.step(actions)
        for a, b in zip(ours[:3], theirs[:3], strict=True):
            assert np.array_equal(a, b)


def test_ppo_trains_on_the_vector_env_smoke(one_torch_thread):
    """PPO updates its policy with finite losses, and the batch records a finite welfare."""
    from stable_baselines3 import PPO

    venv = MechanismVecEnv("pollution_v0", "pigouvian", 4, n_agents=2, max_cycles=8)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=3, device="cpu")
    ppo_smoke(model, 64)
    assert np.all(np.isfinite(venv.last_period.social_welfare))


def test_seeding_through_sb3_seed_matches_the_constructor_seed():
    a = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=5, n_agents=2)
    b = MechanismVecEnv("pollution_v0", "no_transfers", 2, n_agents=2)
    b.seed(5)
    assert np.array_equal(a.reset(), b.reset())
    actions = np.full(4, 2)
    for _ in range(4):
        for x, y in zip(a.step(actions)[:3], b.step(actions)[:3], strict=True):
            assert np.array_equal(x, y)


@pytest.mark.parametrize(
    ("actions", "error", "fragment"),
    [
        (np.array([0, 1, 2, 3]), ValueError, "copy 1, agent_1: action 3"),
        (np.array([0, 1, 2]), ValueError, "shape"),
        (np.array([0.5, 1, 2, 0]), TypeError, "ints"),
        (np.array([0, -1, 0, 0]), ValueError, "copy 0, agent_1"),
    ],
)
def test_bad_actions_name_the_copy_and_the_agent(actions, error, fragment):
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=2)
    venv.reset()
    with pytest.raises(error, match=fragment):
        venv.step(actions)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="num_copies"):
        MechanismVecEnv("pollution_v0", "no_transfers", 0)
    with pytest.raises(KeyError, match="pollution_v0"):
        MechanismVecEnv("polution_v0", "no_transfers", 2)
    with pytest.raises(ValueError, match="2 seeds"):
        MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=[1, 2, 3])
    with pytest.raises(TypeError, match="mechanism_kwargs"):
        MechanismVecEnv("pollution_v0", NoTransfers(), 2, mechanism_kwargs={"amount": 1})


# -- gymnasium vector views ----------------------------------------------------------------


def sync_and_vector(env_id: str, **kwargs):
    fast = gymnasium.make_vec(env_id, num_envs=COPIES, **kwargs)
    slow = gymnasium.make_vec(env_id, num_envs=COPIES, vectorization_mode="sync", **kwargs)
    return fast, slow


def assert_same_step(fast, slow, step) -> None:
    for name, a, b in zip(("obs", "reward", "terminated", "truncated"), fast[:4], slow[:4], strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b)), (name, step, a, b)
    for key in ("social_welfare", "total_transfers"):
        assert np.array_equal(fast[4][key], slow[4][key]), (key, step)


@pytest.mark.parametrize("env_id", GYMNASIUM_IDS)
def test_make_vec_follows_the_sync_vector_env_of_single_views(env_id):
    kwargs = {"n_agents": N_AGENTS, "max_cycles": MAX_CYCLES}
    if "Agent" in env_id:
        kwargs["mechanism"] = "pigouvian"
    fast, slow = sync_and_vector(env_id, **kwargs)
    assert isinstance(fast, (PrincipalVectorView, AgentVectorView))
    assert fast.observation_space == slow.observation_space
    assert fast.action_space == slow.action_space
    obs_fast, _ = fast.reset(seed=SEED)
    obs_slow, _ = slow.reset(seed=SEED)
    assert np.array_equal(obs_fast, obs_slow)
    fast.action_space.seed(0)
    for step in range(2 * MAX_CYCLES + 3):  # through two autoresets
        actions = fast.action_space.sample()
        assert_same_step(fast.step(actions), slow.step(actions), step)


@pytest.mark.parametrize("env_id", [i for i in GYMNASIUM_IDS if "Principal" in i])
def test_normalized_principal_vector_view_follows_the_single_views(env_id):
    kwargs = {"n_agents": N_AGENTS, "max_cycles": MAX_CYCLES, "normalize_actions": True}
    fast, slow = sync_and_vector(env_id, **kwargs)
    unit = gymnasium.spaces.Box(-1.0, 1.0, fast.single_action_space.shape, np.float32)
    assert fast.single_action_space == unit
    fast.reset(seed=SEED)
    slow.reset(seed=SEED)
    fast.action_space.seed(1)
    for step in range(MAX_CYCLES + 2):
        actions = fast.action_space.sample()
        assert_same_step(fast.step(actions), slow.step(actions), step)
    actions[1, 0] = -1.25
    with pytest.raises(ValueError, match=r"principal_0, copy 1 \(normalized actions\).*-1\.25"):
        fast.step(actions)


@pytest.mark.parametrize("env_id", GYMNASIUM_IDS)
def test_max_episode_steps_cuts_the_vector_views_as_time_limit_cuts_single_views(env_id):
    kwargs = {"n_agents": N_AGENTS, "max_cycles": MAX_CYCLES, "max_episode_steps": MAX_CYCLES - 2}
    if "Agent" in env_id:
        kwargs["mechanism"] = "pigouvian"
    fast, slow = sync_and_vector(env_id, **kwargs)
    fast.reset(seed=SEED)
    slow.reset(seed=SEED)
    fast.action_space.seed(2)
    truncations = []
    for step in range(2 * MAX_CYCLES):
        actions = fast.action_space.sample()
        step_fast = fast.step(actions)
        assert_same_step(step_fast, slow.step(actions), step)
        truncations.append(bool(step_fast[3][0]))
    assert truncations.index(True) == MAX_CYCLES - 3  # cut after max_episode_steps steps


def test_vector_views_refuse_what_they_cannot_batch():
    with pytest.raises(ValueError, match="vectorization_mode='sync'"):
        PrincipalVectorView(2, behaviour="hedge")
    with pytest.raises(ValueError, match="learner"):
        AgentVectorView(2, learner=5)
    with pytest.raises(ValueError, match="max_episode_steps must be an int >= 1 or None, got 0"):
        gymnasium.make_vec("pa_envs/Pollution-Agent-v0", num_envs=2, max_episode_steps=0)
    view = AgentVectorView(2, n_agents=2)
    view.reset(seed=0)
    with pytest.raises(ValueError, match="copy 1, agent_0: action 7"):
        view.step(np.array([0, 7]))
    with pytest.raises(ValueError, match=r"shape \(3,\), expected MultiDiscrete"):
        view.step(np.array([0, 1, 2]))
    principal = PrincipalVectorView(2, n_agents=2)
    principal.reset(seed=0)
    with pytest.raises(ValueError, match="outside"):
        principal.step(np.full((2, 6), 99.0))


def test_vector_view_with_fixed_others():
    view = AgentVectorView(2, others=2, n_agents=3, max_cycles=3)
    view.reset(seed=0)
    _, _, _, _, infos = view.step(np.array([0, 1]))
    assert infos["signals"][:, 1:].tolist() == [[2, 2], [2, 2]]  # pollution: the signal is the level


def test_two_phase_learns_per_copy_in_the_vector_form_as_in_single_envs():
    """The batched two-phase mechanism (one principal per copy, no per-copy loop per period)
    posts what B single-copy mechanisms post, through probing into phase 2."""
    kwargs = {"total_periods": 400, "min_block": 4, "phase1_scale": 0.6, "tolerance_scale": 0.5}
    steps, copies = 120, 3
    venv = MechanismVecEnv(
        "pollution_v0", "two_phase", copies, seed=SEED, mechanism_kwargs=kwargs, n_agents=2, max_cycles=10
    )
    envs = [  # copy b of a batched mechanism draws its random arms as a single one seeded b
        mechanism_env(pollution_v0.parallel_env(n_agents=2, max_cycles=10), "two_phase", **kwargs, seed=b)
        for b in range(copies)
    ]
    venv.reset()
    for b, env in enumerate(envs):
        env.reset(seed=SEED + b)
    generator = np.random.default_rng(1)
    for step in range(steps):
        actions = generator.integers(0, 3, size=copies * 2)
        observations, rewards, _, _ = venv.step(actions)
        for b, env in enumerate(envs):
            obs, rew, _, _, _ = env.step(
                dict(zip(env.agents, actions[2 * b : 2 * b + 2].tolist(), strict=True))
            )
            if not env.agents:
                obs, _ = env.reset()
            assert np.array_equal(observations[2 * b : 2 * b + 2], np.stack(list(obs.values()))), step
            assert np.array_equal(rewards[2 * b : 2 * b + 2], np.array(list(rew.values()), np.float32))
    for b, env in enumerate(envs):
        for key, value in env.mechanism.estimates(0).items():
            np.testing.assert_array_equal(venv.mechanism.estimates(b)[key], value)
    assert (venv.mechanism.info()["phase"] == 2).any()  # the run got past probing


def test_the_engine_checks_what_it_is_given():
    from pa_envs.core.batch import BatchedEpisodes

    engine = BatchedEpisodes(pollution_v0.parallel_env(n_agents=2).game, 2)
    engine.reset(0)
    contracts = np.zeros((2, 2, 3))
    with pytest.raises(ValueError, match="copy 0, agent_1: action -1"):
        engine.play(np.array([[0, -1], [0, 0]]), contracts)
    with pytest.raises(ValueError, match="copy 1, agent_0: action 3"):
        engine.play(np.array([[0, 0], [3, 0]]), contracts)
    bad = contracts.copy()
    bad[1, 0, 2] = np.nan
    with pytest.raises(ValueError, match="in copy 1, a transfer of nan to agent_0 on signal 'high'"):
        engine.play(np.zeros((2, 2), dtype=int), bad)
    assert engine.periods.tolist() == [0, 0]  # nothing was played


def test_vector_views_name_the_player_and_the_space_on_bad_input():
    view = AgentVectorView(2, n_agents=2)
    view.reset(seed=0)
    with pytest.raises(TypeError, match=r"agent_0: actions must be ints, expected MultiDiscrete"):
        view.step(np.array(["a", "b"]))
    principal = PrincipalVectorView(2, n_agents=2)
    principal.reset(seed=0)
    with pytest.raises(TypeError, match="principal_0: actions must be numbers"):
        principal.step(np.full((2, 6), "x"))
    with pytest.raises(ValueError, match="render 'rgb_array' or 'ansi' \\(one per copy\\), not 'human'"):
        gymnasium.make_vec("pa_envs/Pollution-Agent-v0", num_envs=2, render_mode="human")
    with pytest.raises(ValueError, match="behaviour: the vector form"):
        PrincipalVectorView(2, behaviour="myopic")


def test_fixed_others_are_the_same_in_the_single_and_the_vector_view():
    fast, slow = sync_and_vector("pa_envs/Pollution-Agent-v0", n_agents=3, others=[0, 2], max_cycles=4)
    fast.reset(seed=1)
    slow.reset(seed=1)
    for step in range(6):
        actions = np.array([step % 3] * COPIES)
        assert_same_step(fast.step(actions), slow.step(actions), step)


def test_copies_that_sit_a_period_out_keep_their_state_and_period():
    from pa_envs.core.batch import BatchedEpisodes

    game = pollution_v0.parallel_env(n_agents=2, max_cycles=3).game
    both, one = BatchedEpisodes(game, 2), BatchedEpisodes(game, 2)
    for engine in (both, one):
        engine.reset(0)
    actions, contracts = np.full((2, 2), 2), np.zeros((2, 2, 3))
    for _ in range(2):
        both.play(actions, contracts)
        _, done = one.play(actions, contracts, active=np.array([True, False]))
    assert one.periods.tolist() == [2, 0] and one.state[1, 0] == 0 and not done[1]
    assert one.state[0, 0] == both.state[0, 0]  # the playing copy followed its own stream
    _, done = one.play(actions, contracts, active=np.array([True, False]))
    assert done.tolist() == [True, False]


# -- SB3's per-sub-environment calls: get_attr, set_attr, env_method ---------------------------


def test_seeding_one_copy_reseeds_that_copy_alone():
    """env_method("seed", 5, indices=[i]) reseeds copy i // N at the next reset; the other
    copies go on with their streams, as if nothing had been seeded."""
    n = 2

    def venv(seed):
        return MechanismVecEnv("commons_v0", "no_transfers", 3, seed=seed, n_agents=n, max_cycles=5)

    seeded, untouched = venv(0), venv(0)
    generator = np.random.default_rng(0)
    for env in (seeded, untouched):
        env.reset()
    for _ in range(7):  # into the second episode
        actions = generator.integers(0, 3, size=6)
        seeded.step(actions)
        untouched.step(actions)
    assert seeded.env_method("seed", 5, indices=[3]) == [5]  # agent_1 of copy 1
    assert seeded.get_attr("episode", [0, 2, 4]) == [1, 1, 1]
    fresh = venv([0, 5, 0])  # copy 1 from seed 5, as a PettingZoo env reset with seed=5
    first = [seeded.reset(), untouched.reset(), fresh.reset()]
    assert seeded.get_attr("episode") == [2, 2, 0, 0, 2, 2]
    copy_1, others = slice(2, 4), np.r_[0:2, 4:6]
    assert np.array_equal(first[0][copy_1], first[2][copy_1])
    assert np.array_equal(first[0][others], first[1][others])
    differs = False
    for _ in range(8):
        actions = generator.integers(0, 3, size=6)
        (obs_s, rew_s), (obs_u, rew_u), (obs_f, rew_f) = [
            env.step(actions)[:2] for env in (seeded, untouched, fresh)
        ]
        assert np.array_equal(obs_s[copy_1], obs_f[copy_1]) and np.array_equal(rew_s[copy_1], rew_f[copy_1])
        assert np.array_equal(obs_s[others], obs_u[others]) and np.array_equal(rew_s[others], rew_u[others])
        differs |= not np.array_equal(obs_s[copy_1], obs_u[copy_1])
    assert differs  # the reseeded copy left the stream it was on


def test_get_attr_answers_per_sub_environment():
    venv = MechanismVecEnv("pollution_v0", "pigouvian", 2, seed=0, n_agents=3)
    venv.reset()
    assert venv.get_attr("spec") == [None] * 6  # as SB3's DummyVecEnv of unregistered envs
    assert venv.get_attr("copy") == [0, 0, 0, 1, 1, 1]
    assert venv.get_attr("agent", indices=[4, -1]) == ["agent_1", "agent_2"]
    states = venv.get_attr("game_state")
    assert all(np.array_equal(state, venv.game_state[i // 3]) for i, state in enumerate(states))
    assert np.array_equal(venv.get_attr("contract", 4)[0], venv.contracts[1, 1])
    # What every copy shares comes back once per index, the very object.
    mechanisms = venv.get_attr("mechanism", [0, 5])
    assert mechanisms[0] is mechanisms[1] is venv.mechanism
    assert venv.has_attr("spec") and not venv.has_attr("no_such_attribute")
    with pytest.raises(AttributeError, match="no_such_attribute"):
        venv.get_attr("no_such_attribute")
    with pytest.raises(IndexError, match="6 \\(2 copies x 3 agents\\)"):
        venv.get_attr("copy", [6])


def test_set_attr_sets_shared_attributes_for_every_index_only():
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=2)
    venv.set_attr("note", "hello")
    assert venv.get_attr("note") == ["hello"] * 4
    venv.set_attr("note", "again", indices=[0, 1, 2, 3])
    assert venv.note == "again"
    with pytest.raises(ValueError, match=r"shared by all 4 sub-environments.*not for 1 of them"):
        venv.set_attr("note", "one", indices=[2])
    with pytest.raises(AttributeError, match="read-only"):
        venv.set_attr("copy", 1)
    # What the engine, spaces and renderer were built for cannot change under them.
    for name, value in [("num_envs", 99), ("observation_space", None), ("render_mode", "rgb_array")]:
        with pytest.raises(AttributeError, match=f"{name!r} of a MechanismVecEnv is fixed"):
            venv.set_attr(name, value)
    with pytest.raises(AttributeError, match="fixed"):
        venv.set_attr("_record", None)
    assert venv.num_envs == 4 and venv.render_mode is None


def test_get_attr_does_not_reach_private_state():
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=2)
    with pytest.raises(AttributeError, match="no attribute '_record'"):
        venv.get_attr("_record")


def test_a_batch_renders_rgb_array_only():
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=2, render_mode="rgb_array")
    venv.reset()
    assert venv.render().ndim == 3
    with pytest.raises(ValueError, match="renders 'rgb_array' only, got mode='human'"):
        venv.render("human")


def test_env_method_and_env_is_wrapped_honour_indices():
    from stable_baselines3.common.monitor import Monitor

    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=2)
    assert venv.env_method("seed", 3, indices=[0, 3]) == [3, 3]
    assert venv.env_method("get_wrapper_attr", "copy") == [0, 0, 1, 1]
    assert venv.env_is_wrapped(Monitor) == [False] * 4
    assert venv.env_is_wrapped(Monitor, indices=1) == [False]
    with pytest.raises(AttributeError, match="per-copy methods"):
        venv.env_method("reset")
    with pytest.raises(IndexError):
        venv.env_is_wrapped(Monitor, indices=[4])
    with pytest.raises(ValueError, match="non-negative"):
        venv.env_method("seed", -1, indices=[0])


def test_the_engine_reseeds_only_the_copies_given_a_seed():
    """BatchedEpisodes.reset([s, None]): copy 0 restarts from s, copy 1 goes on with its stream."""
    from pa_envs.core.batch import BatchedEpisodes
    from pa_envs.pollution_v0 import parallel_env

    game = parallel_env(n_agents=2).game
    mixed, plain = BatchedEpisodes(game, 2), BatchedEpisodes(game, 2)
    mixed.reset(7)
    plain.reset(7)
    mixed.reset([11, None])
    plain.reset()
    assert mixed.episodes.tolist() == [0, 1] and plain.episodes.tolist() == [1, 1]
    assert mixed.keys[1] == plain.keys[1] and mixed.keys[0] != plain.keys[0]


def test_lockstep_noise_drawn_ahead_is_each_copys_own_stream():
    """Copies in lockstep take their noise from a block drawn 64 periods ahead: across block
    edges, an episode end and a second episode, each copy still follows a PettingZoo env
    reset with its seed, and a restart of some copies only (not in lockstep) too."""
    from pa_envs.core.batch import BatchedEpisodes
    from pa_envs.core.rng import AHEAD

    length = AHEAD + 40  # an episode spans two blocks
    game = pollution_v0.parallel_env(n_agents=2, max_cycles=length).game
    engine = BatchedEpisodes(game, COPIES)
    envs = [
        mechanism_env(pollution_v0.parallel_env(n_agents=2, max_cycles=length), "no_transfers")
        for _ in range(COPIES)
    ]
    generator = np.random.default_rng(1)
    contract = np.zeros((COPIES, 2, game.n_signals))
    for episode in range(2):
        state = engine.reset([SEED + b for b in range(COPIES)] if episode == 0 else None)
        for b, env in enumerate(envs):
            env.reset(seed=SEED + b if episode == 0 else None)
            assert np.array_equal(env.env.game_state(), state[b])
        for period in range(length):
            actions = generator.integers(0, game.n_actions, (COPIES, 2))
            _, done = engine.play(actions, contract)
            for b, env in enumerate(envs):
                env.step({agent: int(a) for agent, a in zip(env.agents, actions[b], strict=True)})
                assert np.array_equal(env.env.game_state(), engine.state[b]), (episode, period, b)
        assert done.all()
    engine.restart(np.array([0]))  # copy 0 alone: periods differ, the per-copy path
    envs[0].reset()
    actions = generator.integers(0, game.n_actions, (COPIES, 2))
    engine.play(actions, contract, active=np.array([True, False, False]))
    envs[0].step({agent: int(a) for agent, a in zip(envs[0].agents, actions[0], strict=True)})
    assert np.array_equal(envs[0].env.game_state(), engine.state[0])
