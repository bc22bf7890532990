"""Mechanisms and the MechanismEnv wrapper, over every registered env and bundled mechanism.

PettingZoo conformance (parallel and AEC forms), whole-episode determinism,
SuperSuit + SB3, the welfare accounting in infos, Stackelberg timing, the
Pigouvian oracle against the exact social optimum, budgets, state dicts and
bad input.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
from helpers import assert_identical, ppo_smoke
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

import pa_envs
from pa_envs import PRINCIPAL, analysis, pollution_v0
from pa_envs.mechanisms import (
    Budgeted,
    FlatSchedule,
    MechanismEnv,
    MechanismInput,
    NoTransfers,
    Pigouvian,
    make_mechanism,
    mechanism_aec_env,
    mechanism_env,
)

ENV_NAMES = sorted(pa_envs.ENVS)
N_AGENTS = 2
MAX_CYCLES = 12
TAX = 1.5

# Each bundled mechanism, built for a parallel env.
MECHANISMS = {
    "no_transfers": lambda env: NoTransfers(),
    "flat_tax": lambda env: FlatSchedule.tax(env, TAX),
    "best_flat_tax": lambda env: FlatSchedule.best_flat_tax(env),
    "pigouvian": lambda env: Pigouvian(),
    "budgeted": lambda env: Budgeted(Pigouvian(), 5.0),
}
MECHANISM_NAMES = list(MECHANISMS)
SHARED_INFO_KEYS = ("social_welfare", "externality", "total_transfers", "principal_reward")
# Warnings by which PettingZoo's parallel_api_test reports a broken protocol (it does not fail on them).
API_WARNINGS = ("was not given", "but was dead", "No agents present")

env_names = pytest.mark.parametrize("env_name", ENV_NAMES)
mechanism_names = pytest.mark.parametrize("mechanism_name", MECHANISM_NAMES)


def base_env(env_name: str, **kwargs):
    return pa_envs.ENVS[env_name].parallel_env(**{"n_agents": N_AGENTS, "max_cycles": MAX_CYCLES, **kwargs})


def wrapped(env_name: str, mechanism_name: str, **kwargs) -> MechanismEnv:
    env = base_env(env_name, **kwargs)
    return MechanismEnv(env, MECHANISMS[mechanism_name](env))


def random_actions(env, rng: np.random.Generator) -> dict[str, int]:
    return {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}


def play_episode(env, seed: int, action_seed: int = 0) -> list:
    """Reset with ``seed`` and play seeded random actions to the end; return everything returned."""
    rng = np.random.default_rng(action_seed)
    trace = [env.reset(seed=seed)]
    while env.agents:
        trace.append(env.step(random_actions(env, rng)))
    return trace


def spy_on_inner_step(env: MechanismEnv) -> list:
    """Record (deep copies of) everything the wrapped parallel env's ``step`` returns."""
    calls = []
    inner_step = env.env.step

    def step(actions):
        out = inner_step(actions)
        calls.append(copy.deepcopy(out))
        return out

    env.env.step = step
    return calls


def contract_row(observation: np.ndarray, n_signals: int) -> np.ndarray:
    """An agent observation ends with its row of the contract in force."""
    return observation[-n_signals:]


# -- PettingZoo conformance ------------------------------------------------------------


@env_names
@mechanism_names
def test_parallel_api(env_name, mechanism_name):
    env = wrapped(env_name, mechanism_name)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        parallel_api_test(env, num_cycles=3 * MAX_CYCLES)
    broken = [str(w.message) for w in record if any(s in str(w.message) for s in API_WARNINGS)]
    assert broken == []
    assert PRINCIPAL not in env.possible_agents
    assert env.possible_agents == env.env.possible_agents[1:]


@env_names
@mechanism_names
def test_aec_api(env_name, mechanism_name):
    env = base_env(env_name)
    aec = mechanism_aec_env(env, MECHANISMS[mechanism_name](env))
    api_test(aec, num_cycles=3 * MAX_CYCLES)
    assert PRINCIPAL not in aec.possible_agents


@env_names
@mechanism_names
def test_parallel_seed(env_name, mechanism_name):
    parallel_seed_test(lambda: wrapped(env_name, mechanism_name))


@env_names
@mechanism_names
def test_whole_episode_is_deterministic(env_name, mechanism_name):
    first = play_episode(wrapped(env_name, mechanism_name), seed=11)
    second = play_episode(wrapped(env_name, mechanism_name), seed=11)
    assert len(first) == MAX_CYCLES + 1
    assert_identical(first, second)


# -- SuperSuit and Stable-Baselines3 -----------------------------------------------------


def sb3_vec_env(env: MechanismEnv):
    import supersuit

    venv = supersuit.pettingzoo_env_to_vec_env_v1(env)
    return supersuit.concat_vec_envs_v1(venv, 2, num_cpus=0, base_class="stable_baselines3")


@env_names
@mechanism_names
def test_supersuit_vector_env(env_name, mechanism_name):
    horizon = 5
    env = wrapped(env_name, mechanism_name, max_cycles=horizon)
    n = len(env.possible_agents)
    space = env.observation_space(env.possible_agents[0])
    venv = sb3_vec_env(env)
    assert venv.num_envs == 2 * n
    assert venv.observation_space == space

    # SB3VecEnvWrapper.reset(seed=...) calls seed(), which SuperSuit's ConcatVecEnv lacks:
    # seed the inner ConcatVecEnv (copies get seed, seed + 1).
    observations, infos = venv.venv.reset(seed=3)
    again, _ = venv.venv.reset(seed=3)
    assert observations.shape == (2 * n, *space.shape)
    assert observations.dtype == space.dtype
    assert np.array_equal(observations, again)
    assert len(infos) == 2 * n
    assert all(space.contains(o) for o in observations)
    assert venv.reset().shape == (2 * n, *space.shape)

    rng = np.random.default_rng(0)
    for t in range(1, horizon + 3):
        actions = rng.integers(venv.action_space.n, size=2 * n)
        observations, rewards, dones, infos = venv.step(actions)
        assert observations.shape == (2 * n, *space.shape)
        assert rewards.shape == (2 * n,)
        assert np.all(np.isfinite(rewards))
        assert dones.shape == (2 * n,)
        assert dones.tolist() == [t % horizon == 0] * (2 * n)
        assert len(infos) == 2 * n
        assert all(space.contains(o) for o in observations)
        if t == horizon:
            assert all("terminal_observation" in info for info in infos)


# One PPO run per env (the mechanisms taken in turn): a smoke test, not a learning curve.
# test_supersuit_vector_env above checks every env and mechanism through SuperSuit's batch.
PPO_SMOKE = [(env, MECHANISM_NAMES[i % len(MECHANISM_NAMES)]) for i, env in enumerate(ENV_NAMES)]


@pytest.mark.parametrize(("env_name", "mechanism_name"), PPO_SMOKE, ids=[f"{e}-{m}" for e, m in PPO_SMOKE])
def test_ppo_trains_through_supersuit_smoke(env_name, mechanism_name, one_torch_thread):
    """PPO updates its policy with finite losses, and every step's infos carry the
    principal's accounting as finite numbers."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    set_random_seed(0)
    venv = sb3_vec_env(wrapped(env_name, mechanism_name))
    venv.venv.reset(seed=0)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=2, device="cpu")
    ppo_smoke(model, 64, SHARED_INFO_KEYS)


# -- infos and welfare accounting ------------------------------------------------------


@env_names
@mechanism_names
def test_infos_carry_the_principals_accounting(env_name, mechanism_name):
    env = wrapped(env_name, mechanism_name)
    inner = spy_on_inner_step(env)
    _, infos = env.reset(seed=2)
    assert set(infos) == set(env.possible_agents)
    for info in infos.values():
        assert {key: info[key] for key in SHARED_INFO_KEYS} == dict.fromkeys(SHARED_INFO_KEYS, 0.0)

    rng = np.random.default_rng(1)
    steps = 0
    while env.agents:
        _, rewards, terminations, truncations, infos = env.step(random_actions(env, rng))
        steps += 1
        _, inner_rewards, _, _, inner_infos = inner[-1]
        principal = inner_infos[PRINCIPAL]
        assert set(rewards) == set(terminations) == set(truncations) == set(infos) == set(env.possible_agents)
        for agent, info in infos.items():
            assert info["social_welfare"] == principal["social_welfare"]
            assert info["externality"] == principal["externality"]
            assert info["total_transfers"] == principal["total_transfers"]
            assert info["principal_reward"] == inner_rewards[PRINCIPAL]
            assert info["transfer"] == inner_infos[agent]["transfer"]  # the agent's own keys stay
            assert rewards[agent] == inner_rewards[agent]
        principal_reward = infos[env.possible_agents[0]]["principal_reward"]
        assert principal_reward == pytest.approx(principal["principal_payoff"] - principal["total_transfers"])
        assert sum(rewards.values()) + principal_reward == pytest.approx(
            principal["social_welfare"], rel=1e-12, abs=1e-9
        )
    assert steps == len(inner) == MAX_CYCLES


# -- timing -----------------------------------------------------------------------------


@env_names
def test_flat_tax_is_posted_from_reset_and_charged_on_the_taxed_signal(env_name):
    env = base_env(env_name)
    game = env.game
    n_signals, top = game.n_signals, game.taxed_signal
    expected_row = np.zeros(n_signals, dtype=np.float32)
    expected_row[top] = -TAX
    menv = MechanismEnv(env, FlatSchedule.tax(env, TAX))

    observations, _ = menv.reset(seed=0)
    for agent in menv.possible_agents:
        assert np.array_equal(contract_row(observations[agent], n_signals), expected_row)
    assert np.array_equal(env.contract_in_force(), np.tile(expected_row, (game.n_agents, 1)))

    charged = untaxed = 0
    period = 0
    while menv.agents:
        actions = {a: (period + i) % game.n_actions for i, a in enumerate(menv.agents)}
        observations, rewards, _, _, infos = menv.step(actions)
        period += 1
        for agent, info in infos.items():
            if env_name == "pollution_v0":
                assert info["signal"] == info["action"] == actions[agent]  # the signal is the level
            if info["signal"] == top:
                assert info["transfer"] == -TAX
                charged += 1
            else:
                assert info["transfer"] == 0.0
                untaxed += 1
            assert rewards[agent] == pytest.approx(info["private_utility"] + info["transfer"])
            if menv.agents:
                assert np.array_equal(contract_row(observations[agent], n_signals), expected_row)
    assert charged > 0 and untaxed > 0


# -- the Pigouvian oracle -----------------------------------------------------------------


@pytest.mark.parametrize("n_agents", [2, 3])
def test_pigouvian_posts_the_implementing_transfers_and_reaches_the_optimum(n_agents):
    horizon, seed = 20, 7
    mechanism = Pigouvian()
    env = MechanismEnv(pollution_v0.parallel_env(n_agents=n_agents, max_cycles=horizon), mechanism)
    twin = MechanismEnv(pollution_v0.parallel_env(n_agents=n_agents, max_cycles=horizon), NoTransfers())
    model = env.env.tabular_model()
    n_signals = env.game.n_signals
    optimum = analysis.social_optimum(model)
    table = analysis.implementing_transfers(model, optimum.policy, epsilon=mechanism.epsilon)
    assert table.shape[0] == horizon

    observations, _ = env.reset(seed=seed)
    twin.reset(seed=seed)
    welfare, optimal_welfare = [], []
    paid = 0.0
    while env.agents:
        period = env.env.period
        state = int(model.state_index(env.env.game_state()))
        posted = env.env.contract_in_force()
        assert np.array_equal(posted, table[period, state])
        for i, agent in enumerate(env.agents):
            assert np.array_equal(contract_row(observations[agent], n_signals), posted[i].astype(np.float32))

        # Myopic best responses to the posted contract ...
        profile = analysis.stage_equilibrium(model, posted)[state]
        responses = model.joint_actions[profile]
        # ... against the optimum's own actions, replayed without transfers.
        twin_state = int(model.state_index(twin.env.game_state()))
        optimal = optimum.joint_action(model, twin.env.period, twin_state)
        assert responses.tolist() == optimal.tolist()

        observations, _, _, _, infos = env.step(dict(zip(env.agents, responses.tolist(), strict=True)))
        _, _, _, _, twin_infos = twin.step(dict(zip(twin.agents, optimal.tolist(), strict=True)))
        welfare.append(infos["agent_0"]["social_welfare"])
        optimal_welfare.append(twin_infos["agent_0"]["social_welfare"])
        paid += sum(info["transfer"] for info in infos.values())
    assert len(welfare) == horizon
    assert welfare == optimal_welfare
    assert paid > 0  # the oracle did pay for the optimum


# -- budgets ------------------------------------------------------------------------------


def play_paid_action(menv: MechanismEnv, seed: int) -> tuple[float, list[dict]]:
    """Every agent plays the action its contract row pays most for; return payments and infos."""
    n_signals = menv.game.n_signals
    observations, infos = menv.reset(seed=seed)
    history = [infos["agent_0"]]
    paid = 0.0
    while menv.agents:
        actions = {a: int(np.argmax(contract_row(observations[a], n_signals))) for a in menv.agents}
        observations, _, _, _, infos = menv.step(actions)
        paid += sum(max(info["transfer"], 0.0) for info in infos.values())
        history.append({**infos["agent_0"], "paid_so_far": paid, "observations": observations})
    return paid, history


@env_names
def test_budget_caps_a_flat_payment(env_name):
    budget = 5.0
    env = base_env(env_name)
    n_signals = env.game.n_signals
    mechanism = Budgeted(FlatSchedule(np.ones(n_signals)), budget)  # pays 1 whatever the signal
    menv = MechanismEnv(env, mechanism)

    paid, history = play_paid_action(menv, seed=0)
    assert history[0]["budget_remaining"] == budget
    assert history[0]["budget_binding"] is False
    for info in history[1:]:
        assert info["paid_so_far"] <= budget + 1e-9
        assert info["budget_remaining"] == pytest.approx(max(budget - info["paid_so_far"], 0.0), abs=1e-9)
        # The binding flag describes the contract now posted: cut below the inner 1.0 or not.
        if info["observations"]:
            rows = [contract_row(o, n_signals) for o in info["observations"].values()]
            cut = any(not np.allclose(row, 1.0) for row in rows)
            assert info["budget_binding"] is cut
    assert paid == pytest.approx(budget)
    assert history[-1]["budget_remaining"] == pytest.approx(0.0, abs=1e-9)
    binding = [info["budget_binding"] for info in history]
    assert binding[0] is False and any(binding)
    assert mechanism.binding_periods > 0

    # A fresh episode restores the budget.
    observations, infos = menv.reset(seed=1)
    assert infos["agent_0"]["budget_remaining"] == budget
    assert infos["agent_0"]["budget_binding"] is False
    assert np.all(mechanism.spent == 0.0)
    for observation in observations.values():
        assert np.all(contract_row(observation, n_signals) == 1.0)


def play_optimum(menv: MechanismEnv, seed: int) -> tuple[float, list[dict]]:
    """Every agent plays its part of the social optimum (what the Pigouvian oracle pays for,
    on whatever signal: an action or an outcome); return payments and infos."""
    model = menv.game.exact_model()
    policy = analysis.social_optimum(model).policy
    _, infos = menv.reset(seed=seed)
    history = [infos["agent_0"]]
    paid = 0.0
    while menv.agents:
        state = int(model.state_index(menv.env.game_state()))
        joint = model.joint_actions[policy[min(menv.env.period, len(policy) - 1), state]]
        _, _, _, _, infos = menv.step(dict(zip(menv.agents, joint.tolist(), strict=True)))
        paid += sum(max(info["transfer"], 0.0) for info in infos.values())
        history.append({**infos["agent_0"], "paid_so_far": paid})
    return paid, history


@env_names
def test_budget_caps_the_pigouvian_oracle(env_name):
    uncapped, _ = play_optimum(wrapped(env_name, "pigouvian"), seed=4)
    assert uncapped > 0, f"the Pigouvian oracle paid nothing for the optimum in {env_name}"
    budget = uncapped / 2
    env = base_env(env_name)
    menv = MechanismEnv(env, Budgeted(Pigouvian(), budget))
    paid, history = play_optimum(menv, seed=4)
    assert all(info["paid_so_far"] <= budget + 1e-9 for info in history[1:])
    assert any(info["budget_binding"] for info in history)
    assert history[-1]["budget_remaining"] == pytest.approx(0.0, abs=1e-6)
    assert paid == pytest.approx(budget)

    _, infos = menv.reset(seed=4)
    assert infos["agent_0"]["budget_remaining"] == budget


@env_names
def test_zero_budget_keeps_taxes_and_drops_payments(env_name):
    env = base_env(env_name)
    transfers = np.linspace(-1.0, 1.0, env.game.n_signals)
    menv = MechanismEnv(env, Budgeted(FlatSchedule(transfers), 0.0))
    observations, infos = menv.reset(seed=0)
    expected = np.minimum(transfers, 0.0).astype(np.float32)
    for observation in observations.values():
        assert np.array_equal(contract_row(observation, env.game.n_signals), expected)
    assert infos["agent_0"]["budget_binding"] is True


@pytest.mark.parametrize("budget", [-1.0, float("nan"), float("inf"), -1e-9])
def test_bad_budget_raises(budget):
    with pytest.raises(ValueError, match="budget"):
        Budgeted(NoTransfers(), budget)


# -- state dicts ----------------------------------------------------------------------------


def other_mechanism(mechanism_name: str, env):
    """A mechanism of the same kind as MECHANISMS[mechanism_name] with different settings."""
    return {
        "no_transfers": lambda: NoTransfers(),
        "flat_tax": lambda: FlatSchedule(np.full(env.game.n_signals, 0.5)),
        "best_flat_tax": lambda: FlatSchedule(np.zeros(env.game.n_signals)),
        "pigouvian": lambda: Pigouvian(epsilon=0.75),
        "budgeted": lambda: Budgeted(Pigouvian(epsilon=0.5), 1.0),
    }[mechanism_name]()


def inputs_of(env, period: int) -> MechanismInput:
    observations, _ = env.reset(seed=0)
    return MechanismInput(env.game_state()[None], observations[PRINCIPAL][None], np.array([period]))


@env_names
@mechanism_names
def test_state_dict_round_trip(env_name, mechanism_name):
    env = base_env(env_name)
    menv = MechanismEnv(env, MECHANISMS[mechanism_name](env))
    original = menv.mechanism
    play = np.random.default_rng(0)
    menv.reset(seed=0)
    for _ in range(3):  # so that a budget has been spent
        menv.step(random_actions(menv, play))
    state = pickle.loads(pickle.dumps(original.state_dict()))

    target_env = base_env(env_name)
    restored = other_mechanism(mechanism_name, target_env)
    MechanismEnv(target_env, restored)  # binds it
    restored.load_state_dict(state)
    assert_identical(restored.state_dict(), original.state_dict())
    inputs = inputs_of(base_env(env_name), period=1)
    assert np.array_equal(restored.contract(inputs), original.contract(inputs))


@env_names
def test_loaded_flat_schedule_posts_the_loaded_transfers(env_name):
    env = base_env(env_name)
    source = FlatSchedule.tax(env, TAX)
    menv = MechanismEnv(base_env(env_name), FlatSchedule(np.zeros(env.game.n_signals)))
    menv.mechanism.load_state_dict(source.state_dict())
    observations, _ = menv.reset(seed=0)
    for observation in observations.values():
        assert np.array_equal(
            contract_row(observation, env.game.n_signals), source.transfers.astype(np.float32)
        )
    # The state dict is a copy: changing the source afterwards changes nothing loaded.
    source.transfers[:] = 0.0
    assert menv.mechanism.transfers[env.game.taxed_signal] == -TAX


@env_names
def test_loaded_pigouvian_posts_with_the_loaded_margin(env_name):
    env = base_env(env_name)
    reference = MechanismEnv(env, Pigouvian(epsilon=0.25)).mechanism
    menv = MechanismEnv(base_env(env_name), Pigouvian(epsilon=0.75))
    menv.mechanism.load_state_dict(reference.state_dict())
    assert menv.mechanism.epsilon == 0.25
    model = env.tabular_model()
    table = analysis.implementing_transfers(model, analysis.social_optimum(model).policy, epsilon=0.25)
    assert np.array_equal(menv.mechanism.table, table)
    menv.reset(seed=0)
    state = int(model.state_index(menv.env.game_state()))
    assert np.array_equal(menv.env.contract_in_force(), table[0, state])


@env_names
def test_loaded_budget_restores_spent(env_name):
    budget = 5.0
    env = base_env(env_name)
    spender = MechanismEnv(env, Budgeted(FlatSchedule(np.ones(env.game.n_signals)), budget))
    spender.reset(seed=0)
    rng = np.random.default_rng(0)
    spender.step(random_actions(spender, rng))
    state = spender.mechanism.state_dict()
    spent = spender.mechanism.spent.copy()
    assert spent.sum() > 0

    fresh = Budgeted(FlatSchedule(np.ones(env.game.n_signals)), 100.0)
    MechanismEnv(base_env(env_name), fresh)
    fresh.load_state_dict(state)
    assert fresh.budget == budget
    assert np.array_equal(fresh.spent, spent)
    assert fresh.info()["budget_remaining"].tolist() == [budget - spent[0]]
    spender.step(random_actions(spender, rng))  # keeps spending: the saved state must not follow
    assert np.array_equal(state["spent"], spent)


@env_names
def test_loading_a_flat_schedule_of_the_wrong_shape_is_rejected(env_name):
    env = base_env(env_name)
    menv = MechanismEnv(env, FlatSchedule(np.zeros(env.game.n_signals)))
    with pytest.raises(ValueError, match="FlatSchedule"):
        menv.mechanism.load_state_dict({"transfers": np.zeros(env.game.n_signals + 1)})


# -- bad input ---------------------------------------------------------------------------


@env_names
@mechanism_names
def test_principal_action_is_rejected(env_name, mechanism_name):
    env = wrapped(env_name, mechanism_name)
    env.reset(seed=0)
    actions = dict.fromkeys(env.agents, 0)
    actions[PRINCIPAL] = np.zeros(env.env.action_space(PRINCIPAL).shape, dtype=np.float32)
    with pytest.raises(ValueError, match=PRINCIPAL):
        env.step(actions)
    assert env.env.period == 0  # nothing was played


@env_names
def test_flat_schedule_of_the_wrong_shape_is_rejected_at_binding(env_name):
    env = base_env(env_name)
    n, s = env.game.n_agents, env.game.n_signals
    for shape in [(s + 1,), (n + 1, s), (n, s - 1)]:
        schedule = FlatSchedule(np.zeros(shape))  # fine until bound
        with pytest.raises(ValueError, match="shape"):
            MechanismEnv(env, schedule)
    MechanismEnv(env, FlatSchedule(np.zeros((n, s))))  # the per-agent shape is accepted


@env_names
def test_flat_schedule_beyond_max_transfer_is_rejected_at_binding(env_name):
    env = base_env(env_name, max_transfer=2.0)
    MechanismEnv(env, FlatSchedule.tax(env, 2.0))  # at the bound: fine
    for amount in (2.5, -2.5):
        with pytest.raises(ValueError, match="max_transfer"):
            MechanismEnv(env, FlatSchedule.tax(env, amount))


def test_budgeted_needs_a_mechanism():
    with pytest.raises(TypeError, match="Mechanism"):
        Budgeted("pigouvian", 5.0)


def test_make_mechanism_builds_a_budgeted_named_mechanism():
    env = pollution_v0.parallel_env(n_agents=2)
    budgeted = make_mechanism("budgeted", env, mechanism="pigouvian", budget=5.0)
    assert isinstance(budgeted, Budgeted) and isinstance(budgeted.inner, Pigouvian)
    assert budgeted.name == "budgeted(pigouvian)"


def test_step_before_reset_is_a_runtime_error():
    env = MechanismEnv(pollution_v0.parallel_env(n_agents=2), NoTransfers())
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"agent_0": 0, "agent_1": 0})


def test_unknown_mechanism_name_hints_the_close_match():
    with pytest.raises(ValueError, match="pigouvian") as error:
        make_mechanism("pigovian")
    assert "did you mean" in str(error.value)


@env_names
def test_mechanism_env_needs_a_parallel_env_of_the_suite(env_name):
    module = pa_envs.ENVS[env_name]
    for not_parallel in (object(), module.env(n_agents=N_AGENTS), module.raw_env(n_agents=N_AGENTS)):
        with pytest.raises(TypeError):
            MechanismEnv(not_parallel, NoTransfers())
    with pytest.raises(TypeError):
        MechanismEnv(base_env(env_name), "no_transfers")


@env_names
@mechanism_names
def test_unbound_mechanism_cannot_post(env_name, mechanism_name):
    env = base_env(env_name)
    mechanism = MECHANISMS[mechanism_name](env)
    with pytest.raises(RuntimeError, match="bind"):
        mechanism.contract(inputs_of(env, period=0))


# -- the best flat tax ---------------------------------------------------------------------


@pytest.mark.slow
def test_best_flat_tax_closes_most_of_the_welfare_gap():
    env = pollution_v0.parallel_env(n_agents=3)
    schedule = FlatSchedule.best_flat_tax(env)
    assert schedule.transfers[-1] < 0  # a tax on the top level
    assert np.all(schedule.transfers[:-1] == 0)
    model = env.tabular_model()
    references = analysis.exact_references(model)
    contract = np.broadcast_to(schedule.transfers, (env.game.n_agents, env.game.n_signals))
    taxed = analysis.equilibrium(model, contract=contract)
    lf, best = references.laissez_faire.social_welfare, references.optimum.social_welfare
    assert references.welfare_gap > 0
    assert (taxed.social_welfare - lf) / (best - lf) >= 0.8


@pytest.mark.slow
def test_pigouvian_falls_back_to_the_count_model_for_many_agents():
    """With 8 firms the joint model is too big; the oracle solves the count model and
    myopic best responders under it realize the optimum's welfare (within 4 std. errors)."""
    from pa_envs.behaviours import BestResponse

    env = pollution_v0.parallel_env(n_agents=8, max_cycles=30)
    with pytest.raises(ValueError, match="count_model"):
        env.tabular_model()
    model = env.game.exact_model()
    assert model.symmetric
    optimum = analysis.social_optimum(model).social_welfare
    wrapped = MechanismEnv(env, Pigouvian())
    responders = BestResponse()
    responders.bind(env, env.possible_agents[1:])
    welfare = []
    for seed in range(20):
        observations, _ = wrapped.reset(seed=seed)
        total = 0.0
        while wrapped.agents:
            observations, _, _, _, infos = wrapped.step(responders.act(observations))
            total += infos["agent_0"]["social_welfare"]
        welfare.append(total)
    error = np.std(welfare, ddof=1) / np.sqrt(len(welfare))
    assert abs(np.mean(welfare) - optimum) <= 4 * error + 1e-9


def test_mechanisms_by_name_take_their_keywords():
    env = pollution_v0.parallel_env(n_agents=2)
    budgeted = mechanism_env(env, "budgeted", mechanism="pigouvian", budget=5.0)
    assert isinstance(budgeted.mechanism, Budgeted) and budgeted.mechanism.budget == 5.0
    taxed = mechanism_env(pollution_v0.parallel_env(n_agents=2), "flat_tax", amount=1.5)
    observations, _ = taxed.reset(seed=0)
    assert observations["agent_0"][-1] == np.float32(-1.5)


def test_a_transfer_at_a_bound_that_float32_rounds_down_is_accepted():
    """float32(0.7) < 0.7: both 0.7 and the action space's own high are valid transfers."""
    env = pollution_v0.parallel_env(n_agents=1, max_transfer=0.7)
    env.reset(seed=0)
    high = env.action_space(PRINCIPAL).high
    assert float(high[0]) < 0.7
    for contract in (np.full(3, 0.7), high):
        env.step({PRINCIPAL: contract, "agent_0": 0})
    with pytest.raises(ValueError, match="outside"):
        env.step({PRINCIPAL: np.full(3, 0.7000001), "agent_0": 0})


def test_a_budgeted_named_mechanism_takes_its_own_keywords():
    env = pollution_v0.parallel_env(n_agents=2)
    wrapped = mechanism_env(
        env, "budgeted", mechanism="flat_tax", mechanism_kwargs={"amount": 1.5}, budget=3.0
    )
    assert isinstance(wrapped.mechanism.inner, FlatSchedule)
    assert wrapped.mechanism.inner.transfers[-1] == -1.5


def test_copies_that_sat_a_period_out_teach_the_mechanisms_nothing():
    """A vector form whose copies restart at different times marks the idle ones
    (``PeriodFeedback.active``): budgets and the two-phase counts ignore them."""
    from pa_envs.core import rng
    from pa_envs.core.game import resolve_period
    from pa_envs.mechanisms import PeriodFeedback
    from pa_envs.two_phase import TwoPhaseMechanism

    game = pollution_v0.parallel_env(n_agents=2).game
    state = np.array([[3], [3]])
    contract = np.ones((2, 2, 3))
    outcome = resolve_period(
        game, state, np.array([[1, 2], [0, 1]]), contract, rng.batch_uniforms(np.arange(2), np.ones(2), 1)
    )
    active = np.array([True, False])
    feedback = PeriodFeedback.of(
        state, np.zeros(2, int), contract, outcome, outcome.dynamics.next_state, np.zeros(2, bool), active
    )
    budgeted = Budgeted(FlatSchedule(np.ones(3)), 10.0)
    budgeted.bind(game)
    budgeted.start_episodes(2)
    budgeted.update(feedback)
    assert budgeted.spent.tolist() == [2.0, 0.0]
    two_phase = TwoPhaseMechanism(10_000)
    two_phase.bind(game)
    two_phase.start_episodes(2)
    two_phase.update(feedback)
    assert two_phase.model.visits[0].sum() == 1 and two_phase.model.visits[1].sum() == 0
    assert two_phase.played.tolist() == [1, 0]


def test_flat_schedule_posts_one_read_only_array_and_follows_its_transfers():
    env = base_env("pollution_v0")
    schedule = FlatSchedule(np.array([0.0, 0.0, -1.0]))
    schedule.bind(env.game)
    inputs = MechanismInput(np.zeros((4, 1), np.int64), np.zeros((4, 1), np.float32), np.zeros(4, np.int64))
    first = schedule.contract(inputs)
    assert first is schedule.contract(inputs) and not first.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0, 0] = 1.0
    schedule.transfers[2] = -2.0  # changed in place: the next contract follows
    assert schedule.contract(inputs)[:, :, 2].tolist() == [[-2.0] * N_AGENTS] * 4
    assert schedule.contract(MechanismInput(*(x[:2] for x in inputs))).shape[0] == 2
