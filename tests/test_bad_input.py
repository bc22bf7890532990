"""Bad input: each kind of misuse raises a precise error, and a rejected call changes nothing.

Every env test is parametrized over the registry ``pa_envs.ENVS``, so an env
registered later is covered. Messages are checked with :func:`mentions`, which
requires every given fragment (the player or parameter, the value received,
the expected space) to appear, so a vague message fails.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from pa_envs import ENVS, PRINCIPAL, pollution_v0
from pa_envs.pollution_v0 import PollutionParams

NAMES = sorted(ENVS)
N_AGENTS = 2
LAST = f"agent_{N_AGENTS - 1}"
AEC_FORMS = ("env", "raw_env")


def mentions(*fragments: str) -> str:
    """A regex matching a message that contains every fragment literally, in any order."""
    return "(?s)^" + "".join(f"(?=.*{re.escape(f)})" for f in fragments)


def parallel(name: str, seed: int | None = 0, **kwargs):
    """A parallel env of ``name`` with N_AGENTS agents, reset with ``seed``."""
    kwargs.setdefault("n_agents", N_AGENTS)
    kwargs.setdefault("max_cycles", 5)
    env = ENVS[name].parallel_env(**kwargs)
    env.reset(seed=seed)
    return env


def aec(name: str, form: str, **kwargs):
    """An AEC env of ``name`` (``env()`` or ``raw_env()``) with N_AGENTS agents, reset."""
    kwargs.setdefault("n_agents", N_AGENTS)
    kwargs.setdefault("max_cycles", 5)
    env = getattr(ENVS[name], form)(**kwargs)
    env.reset(seed=0)
    return env


def contract_size(env) -> int:
    return env.action_space(PRINCIPAL).shape[0]


def bound(env) -> float:
    return float(env.action_space(PRINCIPAL).high[0])


def n_actions(env) -> int:
    return env.action_space("agent_0").n


def n_signals(env) -> int:
    return contract_size(env) // N_AGENTS


def valid_actions(env, contract=None) -> dict:
    """A valid joint action: a zero contract (unless given) and every agent's top action."""
    actions = {PRINCIPAL: np.zeros(contract_size(env), np.float32) if contract is None else contract}
    actions.update({a: n_actions(env) - 1 for a in env.possible_agents if a != PRINCIPAL})
    return actions


def contract_with(env, value: float) -> np.ndarray:
    """A zero flat contract whose last entry is ``value``."""
    contract = np.zeros(contract_size(env))
    contract[-1] = value
    return contract


# -- parallel form: who acts ----------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("missing", [PRINCIPAL, LAST])
def test_parallel_missing_action(name, missing):
    """Leaving out a live player raises ValueError naming it."""
    env = parallel(name)
    actions = valid_actions(env)
    del actions[missing]
    with pytest.raises(ValueError, match=mentions("no action", repr(missing))):
        env.step(actions)


@pytest.mark.parametrize("name", NAMES)
def test_parallel_unknown_player(name):
    """An action for a name that is no player raises ValueError naming it and the live players."""
    env = parallel(name)
    with pytest.raises(ValueError, match=mentions("'agent_99'", "not a player", repr(env.agents))):
        env.step({**valid_actions(env), "agent_99": 0})


@pytest.mark.parametrize("name", NAMES)
def test_parallel_actions_not_a_dict(name):
    """A list of actions instead of a dict raises TypeError showing what was sent."""
    env = parallel(name)
    with pytest.raises(TypeError, match=mentions("must be a dict", "[0, 1, 2]")):
        env.step([0, 1, 2])


# -- parallel form: the principal's contract -------------------------------------


def wrong_shapes(env) -> list[tuple[int, ...]]:
    n, s = contract_size(env), n_signals(env)
    shapes = [(n - 1,), (n + 1,), (1, n), (N_AGENTS + 1, s), (s, N_AGENTS), ()]
    return [shape for shape in shapes if shape not in ((n,), (N_AGENTS, s))]


@pytest.mark.parametrize("name", NAMES)
def test_parallel_contract_wrong_shape(name):
    """A contract of the wrong shape raises ValueError naming the shape received and expected."""
    env = parallel(name)
    n = contract_size(env)
    for shape in wrong_shapes(env):
        with pytest.raises(ValueError, match=mentions(PRINCIPAL, f"shape {shape}", f"({n},)")):
            env.step(valid_actions(env, np.zeros(shape, np.float32)))


@pytest.mark.parametrize("name", NAMES)
def test_parallel_contract_matrix_layout_accepted(name):
    """The (n_agents, n_signals) matrix layout is accepted (the control for the shape test)."""
    env = parallel(name)
    matrix = np.full((N_AGENTS, n_signals(env)), bound(env), np.float32)
    env.step(valid_actions(env, matrix))
    _, _, _, _, infos = env.step(valid_actions(env))
    assert np.array_equal(infos[PRINCIPAL]["contract"], matrix)


@pytest.mark.parametrize("name", NAMES)
def test_parallel_contract_not_numeric(name):
    """A non-numeric contract raises TypeError showing the value and the expected space."""
    env = parallel(name)
    with pytest.raises(TypeError, match=mentions(PRINCIPAL, "numeric", "'abc'", f"({contract_size(env)},)")):
        env.step(valid_actions(env, "abc"))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("clip", [False, True])
def test_parallel_contract_nan_or_inf(name, value, clip):
    """A NaN or infinite transfer raises ValueError showing it, even when clipping."""
    env = parallel(name, out_of_bound_transfers="clip" if clip else "raise")
    with pytest.raises(ValueError, match=mentions(PRINCIPAL, "NaN or infinite", f", {value!r}]")):
        env.step(valid_actions(env, contract_with(env, value)))


@pytest.mark.parametrize("name", NAMES)
def test_parallel_transfer_out_of_bounds_raises(name):
    """By default a transfer outside ±max_transfer raises ValueError naming it and the bound."""
    env = parallel(name)
    b = bound(env)
    for value in (1.5 * b, -1.5 * b, float(np.nextafter(b, np.inf))):
        expected = mentions(PRINCIPAL, f"transfer {value!r}", f"[-{b:g}, {b:g}]", "'clip'")
        with pytest.raises(ValueError, match=expected):
            env.step(valid_actions(env, contract_with(env, value)))


@pytest.mark.parametrize("name", NAMES)
def test_parallel_transfer_at_bound_accepted(name):
    """Transfers exactly at ±max_transfer are accepted (the control for the bound test)."""
    env = parallel(name)
    contract = np.resize(np.array([bound(env), -bound(env)], np.float32), contract_size(env))
    env.step(valid_actions(env, contract))
    _, _, _, _, infos = env.step(valid_actions(env))
    assert np.array_equal(infos[PRINCIPAL]["contract"].reshape(-1), contract)


@pytest.mark.parametrize("name", NAMES)
def test_parallel_transfer_out_of_bounds_clipped(name):
    """With out_of_bound_transfers="clip" the contract is clipped: seen by agents, then paid."""
    env = parallel(name, out_of_bound_transfers="clip")
    b, s = bound(env), n_signals(env)
    signs = np.where(np.arange(N_AGENTS) % 2 == 0, 1.0, -1.0)  # agent_0 paid, agent_1 taxed
    posted = np.repeat(signs * 10 * b, s)
    observations, _, _, _, _ = env.step(valid_actions(env, posted))
    _, _, _, _, infos = env.step(valid_actions(env))
    for i in range(N_AGENTS):
        agent = f"agent_{i}"
        row = np.full(s, signs[i] * b, np.float32)
        assert np.array_equal(observations[agent][-s:], row)
        assert env.observation_space(agent).contains(observations[agent])
        assert infos[agent]["transfer"] == signs[i] * b
        assert infos[PRINCIPAL]["transfers"][i] == signs[i] * b
    assert np.array_equal(infos[PRINCIPAL]["contract"], np.repeat(signs * b, s).reshape(N_AGENTS, s))


# -- parallel form: the agents' actions ------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_parallel_agent_action_out_of_range(name):
    """A discrete action outside 0..n_actions-1 raises ValueError naming the agent and the space."""
    env = parallel(name)
    n = n_actions(env)
    for action in (n, -1, n + 10):
        with pytest.raises(ValueError, match=mentions(f"{LAST}: action {action}", f"Discrete({n})")):
            env.step({**valid_actions(env), LAST: action})


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "action", [1.0, "1", True, np.True_, np.float32(1.0), np.array([1]), np.array(1.0), None, [1]], ids=repr
)
def test_parallel_agent_action_not_an_int(name, action):
    """A float, string, bool, array, None or list action raises TypeError naming agent and value."""
    env = parallel(name)
    n = n_actions(env)
    shown = repr(action[()] if isinstance(action, np.ndarray) and action.ndim == 0 else action)
    with pytest.raises(TypeError, match=mentions(f"{LAST}: action must be", f"Discrete({n})", shown)):
        env.step({**valid_actions(env), LAST: action})


@pytest.mark.parametrize("name", NAMES)
def test_parallel_agent_numpy_integer_accepted(name):
    """numpy integers and 0-d integer arrays are valid actions (the control for the type test)."""
    env = parallel(name)
    _, _, _, _, infos = env.step({**valid_actions(env), "agent_0": np.int64(0), LAST: np.array(0)})
    assert infos["agent_0"]["action"] == 0
    assert infos[LAST]["action"] == 0


# -- parallel form: call order ---------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_parallel_step_before_reset(name):
    """step() and state() before reset() raise RuntimeError."""
    env = ENVS[name].parallel_env(n_agents=N_AGENTS)
    with pytest.raises(RuntimeError, match=mentions("reset()", "step()")):
        env.step(valid_actions(env))
    with pytest.raises(RuntimeError, match=mentions("reset()", "state()")):
        env.state()


@pytest.mark.parametrize("name", NAMES)
def test_parallel_actions_after_episode_end(name):
    """After the last step, actions raise ValueError naming the senders; step({}) is a no-op."""
    env = parallel(name, max_cycles=1)
    env.step(valid_actions(env))
    assert env.agents == []
    state = env.state()
    with pytest.raises(ValueError, match=mentions("episode is over", "'agent_0'", PRINCIPAL, "reset()")):
        env.step(valid_actions(env))
    assert env.step({}) == ({}, {}, {}, {}, {})
    assert np.array_equal(env.state(), state)
    env.reset(seed=0)
    _, _, _, _, infos = env.step(valid_actions(env))
    assert infos[PRINCIPAL]["period"] == 1


# -- parallel form: a rejected step changes nothing -------------------------------


BAD_JOINT_ACTIONS = {
    "missing": lambda env, a: {k: v for k, v in a.items() if k != LAST},
    "unknown": lambda env, a: {**a, "agent_99": 0},
    "shape": lambda env, a: {**a, PRINCIPAL: np.zeros(contract_size(env) + 1)},
    "nan": lambda env, a: {**a, PRINCIPAL: contract_with(env, np.nan)},
    "out_of_bounds": lambda env, a: {**a, PRINCIPAL: contract_with(env, 2 * bound(env))},
    "agent_range": lambda env, a: {**a, LAST: n_actions(env)},
    "agent_float": lambda env, a: {**a, LAST: 0.0},
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", sorted(BAD_JOINT_ACTIONS))
def test_parallel_rejected_step_changes_nothing(name, kind):
    """After a rejected step the env goes on exactly as a twin that never saw it."""
    env, twin = parallel(name, seed=3), parallel(name, seed=3)
    posted = np.full(contract_size(env), bound(env) / 2, np.float32)
    for e in (env, twin):
        e.step(valid_actions(e, posted))
    state = env.state()
    with pytest.raises((ValueError, TypeError)):
        env.step(BAD_JOINT_ACTIONS[kind](env, valid_actions(env)))
    assert np.array_equal(env.state(), state)
    observations, rewards, _, _, infos = env.step(valid_actions(env))
    twin_observations, twin_rewards, _, _, twin_infos = twin.step(valid_actions(twin))
    assert infos[PRINCIPAL]["period"] == 2
    assert rewards == twin_rewards
    assert np.array_equal(env.state(), twin.state())
    for player in env.possible_agents:
        assert np.array_equal(observations[player], twin_observations[player])
    assert np.array_equal(infos[PRINCIPAL]["contract"], twin_infos[PRINCIPAL]["contract"])


# -- parallel form: reset ---------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_reset_contract_option_invalid(name):
    """A bad options={"contract": ...} raises ValueError naming the option and the problem."""
    env = parallel(name)
    n, b = contract_size(env), bound(env)
    with pytest.raises(ValueError, match=mentions("options['contract']", f"shape ({n + 1},)", f"({n},)")):
        env.reset(seed=0, options={"contract": np.zeros(n + 1)})
    with pytest.raises(ValueError, match=mentions("options['contract']", "NaN", ", nan]")):
        env.reset(seed=0, options={"contract": contract_with(env, np.nan)})
    with pytest.raises(ValueError, match=mentions("options['contract']", f"transfer {-3 * b!r}")):
        env.reset(seed=0, options={"contract": contract_with(env, -3 * b)})
    with pytest.raises(TypeError, match=mentions("options['contract']", "numeric", "'abc'")):
        env.reset(seed=0, options={"contract": "abc"})


@pytest.mark.parametrize("name", NAMES)
def test_reset_contract_option_valid(name):
    """A valid reset contract is in force from the first step (the control), clipped if asked."""
    env = parallel(name, out_of_bound_transfers="clip")
    b = bound(env)
    observations, _ = env.reset(seed=0, options={"contract": np.full(contract_size(env), 3 * b)})
    assert np.all(observations["agent_0"][-n_signals(env) :] == np.float32(b))
    _, _, _, _, infos = env.step(valid_actions(env))
    assert infos["agent_0"]["transfer"] == b


@pytest.mark.parametrize("name", NAMES)
def test_reset_options_and_seed_invalid(name):
    """Non-dict options and bad seeds raise, naming what was given."""
    env = ENVS[name].parallel_env(n_agents=N_AGENTS)
    with pytest.raises(TypeError, match=mentions("options", "[1]")):
        env.reset(options=[1])
    with pytest.raises(ValueError, match=mentions("seed", "-1")):
        env.reset(seed=-1)
    with pytest.raises(TypeError, match=mentions("seed", "1.5")):
        env.reset(seed=1.5)


@pytest.mark.parametrize("name", NAMES)
def test_rejected_reset_changes_nothing(name):
    """A reset rejected for its contract option leaves the running episode as it was."""
    env, twin = parallel(name, seed=3, max_cycles=20), parallel(name, seed=3, max_cycles=20)
    for _ in range(10):
        for e in (env, twin):
            e.step(valid_actions(e))
    with pytest.raises(ValueError):
        env.reset(seed=99, options={"contract": np.zeros(contract_size(env) + 1)})
    _, _, _, _, infos = env.step(valid_actions(env))
    twin.step(valid_actions(twin))
    assert infos[PRINCIPAL]["period"] == 11
    assert np.array_equal(env.state(), twin.state())


# -- constructors -----------------------------------------------------------------


FACTORIES = ("parallel_env", "env", "raw_env")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("factory", FACTORIES)
def test_constructor_keywords_invalid(name, factory):
    """Bad out_of_bound_transfers / render_mode raise ValueError; unknown keywords TypeError."""
    make = getattr(ENVS[name], factory)
    with pytest.raises(ValueError, match=mentions("out_of_bound_transfers", "'wrap'", "'raise'", "'clip'")):
        make(out_of_bound_transfers="wrap")
    with pytest.raises(ValueError, match=mentions("render_mode", "'rgb'", "'ansi'", "'rgb_array'")):
        make(render_mode="rgb")
    with pytest.raises(TypeError, match=mentions("'colour'", "n_agents")):
        make(colour="red")
    with pytest.raises(TypeError, match=mentions("'n_agent'")):
        make(n_agent=2)


@pytest.mark.parametrize("name", NAMES)
def test_constructor_params_object_misuse(name):
    """params= of the wrong type, or with keywords as well, raises TypeError."""
    module = ENVS[name]
    params_class = module.raw_env.game_class.params_class
    with pytest.raises(TypeError, match=mentions(params_class.__name__, "str")):
        module.parallel_env(params="nope")
    with pytest.raises(TypeError, match=mentions("params=", "'n_agents'")):
        module.parallel_env(params=params_class(), n_agents=2)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_player_space(name):
    """Asking for the space of a name that is no player raises ValueError naming it."""
    env = ENVS[name].parallel_env(n_agents=N_AGENTS)
    with pytest.raises(ValueError, match=mentions("'agent_9'", "not a player")):
        env.observation_space("agent_9")
    with pytest.raises(ValueError, match=mentions("'boss'", "not a player")):
        env.action_space("boss")


COMMON_BAD_PARAMS = [
    ({"n_agents": 0}, ValueError, ("n_agents", "0")),
    ({"n_agents": 1.5}, TypeError, ("n_agents", "1.5")),
    ({"n_agents": True}, TypeError, ("n_agents", "True")),
    ({"max_cycles": 0}, ValueError, ("max_cycles", "0")),
    ({"max_transfer": 0}, ValueError, ("max_transfer", "0")),
    ({"max_transfer": np.inf}, ValueError, ("max_transfer", "inf")),
    ({"principal_objective": "nope"}, ValueError, ("principal_objective", "'nope'", "'payoff'", "'welfare'")),
    ({"cost_of_public_funds": -1}, ValueError, ("cost_of_public_funds", "-1")),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("kwargs", "error", "fragments"), COMMON_BAD_PARAMS, ids=repr)
def test_common_params_invalid(name, kwargs, error, fragments):
    """Every env rejects invalid shared parameters, naming the parameter and the value."""
    with pytest.raises(error, match=mentions(*fragments)):
        ENVS[name].parallel_env(**kwargs)


# -- AEC form -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", AEC_FORMS)
def test_aec_agent_action_out_of_range(name, form):
    """An out-of-range action raises ValueError naming the agent whose turn it is."""
    env = aec(name, form)
    n = n_actions(env)
    env.step(np.zeros(contract_size(env), np.float32))
    for agent in env.possible_agents[1:]:
        assert env.agent_selection == agent
        for action in (n, -1):
            with pytest.raises(ValueError, match=mentions(f"{agent}: action {action}", f"Discrete({n})")):
                env.step(action)
        with pytest.raises(TypeError, match=mentions(f"{agent}: action must be", "1.0")):
            env.step(1.0)
        env.step(0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", AEC_FORMS)
def test_aec_contract_wrong_shape_or_nan(name, form):
    """The principal's contract of the wrong shape, NaN or out of bounds raises ValueError."""
    env = aec(name, form)
    n, b = contract_size(env), bound(env)
    with pytest.raises(ValueError, match=mentions(PRINCIPAL, f"shape ({n - 1},)", f"({n},)")):
        env.step(np.zeros(n - 1, np.float32))
    with pytest.raises(ValueError, match=mentions(PRINCIPAL, "NaN or infinite", ", nan]")):
        env.step(contract_with(env, np.nan))
    with pytest.raises(ValueError, match=mentions(PRINCIPAL, f"transfer {2 * b!r}", f"[-{b:g}, {b:g}]")):
        env.step(contract_with(env, 2 * b))
    assert env.agent_selection == PRINCIPAL


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", AEC_FORMS)
def test_aec_none_for_live_player(name, form):
    """Passing None for a live player raises TypeError naming it."""
    env = aec(name, form)
    with pytest.raises(TypeError, match=mentions(PRINCIPAL, "None")):
        env.step(None)
    env.step(np.zeros(contract_size(env), np.float32))
    with pytest.raises(TypeError, match=mentions("agent_0", "None")):
        env.step(None)
    assert env.agent_selection == "agent_0"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", AEC_FORMS)
def test_aec_action_for_finished_player(name, form):
    """Once truncated, a player may only pass None (PettingZoo's dead-step rule)."""
    env = aec(name, form, max_cycles=1)
    env.step(np.zeros(contract_size(env), np.float32))
    for _ in range(N_AGENTS):
        env.step(0)
    assert all(env.truncations.values())
    with pytest.raises(ValueError, match=mentions("only valid action is None")):
        env.step(0)
    for _ in env.possible_agents:
        env.step(None)
    assert env.agents == []


@pytest.mark.parametrize("name", NAMES)
def test_aec_raw_actions_after_episode_end(name):
    """On raw_env, an action after every player left raises ValueError; None is a no-op."""
    env = aec(name, "raw_env", max_cycles=1)
    env.step(np.zeros(contract_size(env), np.float32))
    for _ in range(N_AGENTS):
        env.step(0)
    for _ in env.possible_agents:
        env.step(None)
    state = env.state()
    with pytest.raises(ValueError, match=mentions("episode is over", "action 0", "reset()")):
        env.step(0)
    assert env.step(None) is None
    assert env.agents == []
    assert np.array_equal(env.state(), state)


@pytest.mark.parametrize("name", NAMES)
def test_aec_raw_step_before_reset(name):
    """raw_env.step() and state() before reset() raise RuntimeError."""
    env = ENVS[name].raw_env(n_agents=N_AGENTS)
    with pytest.raises(RuntimeError, match=mentions("reset()", "step()")):
        env.step(0)
    with pytest.raises(RuntimeError, match=mentions("reset()", "state()")):
        env.state()


def play_aec_period(env, contract, actions) -> None:
    env.step(contract)
    for action in actions:
        env.step(action)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", AEC_FORMS)
def test_aec_rejected_step_changes_nothing(name, form):
    """Rejected AEC steps keep the turn, and the period resolves as in a twin that saw none."""
    env, twin = aec(name, form), aec(name, form)
    contract = np.full(contract_size(env), bound(env) / 2, np.float32)
    actions = [n_actions(env) - 1] * N_AGENTS
    for e in (env, twin):
        play_aec_period(e, contract, actions)
    period = env.infos[PRINCIPAL]["period"]
    with pytest.raises(ValueError):
        env.step(contract_with(env, np.nan))
    assert env.agent_selection == PRINCIPAL
    env.step(contract)
    with pytest.raises(ValueError):
        env.step(n_actions(env))
    assert env.agent_selection == "agent_0"
    for action in actions:
        env.step(action)
    play_aec_period(twin, contract, actions)
    assert env.infos[PRINCIPAL]["period"] == period + 1
    assert env.rewards == twin.rewards
    assert np.array_equal(env.state(), twin.state())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", AEC_FORMS)
def test_aec_rejected_step_keeps_rewards(name, form):
    """A rejected AEC step leaves what env.last() reports to the acting player unchanged."""
    env = aec(name, form)
    paid = np.full(contract_size(env), bound(env), np.float32)  # so the principal's reward is not 0
    play_aec_period(env, paid, [n_actions(env) - 1] * N_AGENTS)
    before = env.last()[1]
    with pytest.raises(ValueError):
        env.step(contract_with(env, np.nan))
    assert env.last()[1] == before


# -- pollution_v0 parameters ----------------------------------------------------------


POLLUTION_BAD_PARAMS = [
    ({"n_agents": 0}, ValueError, ("n_agents", "got 0")),
    ({"n_agents": 1.5}, TypeError, ("n_agents", "1.5")),
    ({"decay": -0.1}, ValueError, ("decay", "-0.1", "[0, 1]")),
    ({"decay": 1.5}, ValueError, ("decay", "1.5", "[0, 1]")),
    ({"decay": np.nan}, ValueError, ("decay", "nan")),
    ({"decay": "0.2"}, TypeError, ("decay", "'0.2'")),
    ({"max_transfer": 0}, ValueError, ("max_transfer", "got 0")),
    ({"max_cycles": 0}, ValueError, ("max_cycles", "got 0")),
    ({"principal_objective": "nope"}, ValueError, ("principal_objective", "'nope'")),
    ({"cost_of_public_funds": -1}, ValueError, ("cost_of_public_funds", "-1")),
    ({"price": 5.0}, ValueError, ("price", "5.0", "production_cost", "n_levels")),
    ({"n_levels": 2, "price": 3.0}, ValueError, ("price", "3.0", "production_cost")),
    ({"price": 0}, ValueError, ("price", "got 0")),
    ({"production_cost": -1}, ValueError, ("production_cost", "-1")),
    ({"max_stock": 10, "initial_stock": 11}, ValueError, ("initial_stock", "11", "[0, 10]")),
    ({"initial_stock": -1}, ValueError, ("initial_stock", "-1")),
    ({"max_stock": 0}, ValueError, ("max_stock", "got 0")),
    ({"n_levels": 1}, ValueError, ("n_levels", "got 1")),
    ({"emission_per_unit": 0}, ValueError, ("emission_per_unit", "got 0")),
    ({"firm_damage": -1}, ValueError, ("firm_damage", "-1")),
    ({"social_damage": -0.5}, ValueError, ("social_damage", "-0.5")),
]


@pytest.mark.parametrize(("kwargs", "error", "fragments"), POLLUTION_BAD_PARAMS, ids=repr)
@pytest.mark.parametrize("via", ["PollutionParams", "parallel_env", "env"])
def test_pollution_params_invalid(kwargs, error, fragments, via):
    """Each invalid pollution_v0 parameter raises, naming it and the value, however it is given."""
    make = {
        "PollutionParams": PollutionParams,
        "parallel_env": pollution_v0.parallel_env,
        "env": pollution_v0.env,
    }[via]
    with pytest.raises(error, match=mentions(*fragments)):
        make(**kwargs)


def test_pollution_params_valid_edges():
    """Boundary values are accepted (the control for the invalid-parameter test)."""
    for kwargs in (
        {"decay": 0.0},
        {"decay": 1.0},
        {"n_agents": 1},
        {"n_levels": 2, "price": 3.5},
        {"max_stock": 10, "initial_stock": 10},
        {"cost_of_public_funds": 0},
    ):
        params = PollutionParams(**kwargs)
        for key, value in kwargs.items():
            assert getattr(params, key) == value


def test_pollution_params_frozen():
    """PollutionParams is frozen, also as seen through an env."""
    params = PollutionParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.decay = 0.5
    env = pollution_v0.parallel_env(params=params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.params.n_agents = 7
    assert env.params.decay == 0.2
    assert env.params.n_agents == 3


def test_replace_rederives_the_default_stock_cap():
    """``max_stock=None`` stays None, so ``dataclasses.replace`` derives the cap anew."""
    import dataclasses

    from pa_envs.pollution_v0 import PollutionParams

    small = PollutionParams(n_agents=1)
    assert dataclasses.replace(small, n_agents=4).stock_cap == PollutionParams(n_agents=4).stock_cap
    assert PollutionParams(n_agents=4).stock_cap > small.stock_cap


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [None, np.zeros(3, dtype=complex)])
def test_none_or_complex_contract_is_a_type_error(name, bad):
    env = parallel(name, seed=0)
    actions = valid_actions(env)
    actions[PRINCIPAL] = bad
    with pytest.raises(TypeError, match=mentions(PRINCIPAL, "real numbers")):
        env.step(actions)


def test_huge_max_transfer_is_rejected():
    from pa_envs.pollution_v0 import PollutionParams

    with pytest.raises(ValueError, match=mentions("max_transfer", "1e+39")):
        PollutionParams(max_transfer=1e39)


def test_a_stock_cap_too_big_to_hold_is_rejected():
    from pa_envs.pollution_v0 import PollutionParams

    with pytest.raises(ValueError, match=mentions("max_stock", "30000")):
        PollutionParams(max_stock=30000)
    with pytest.raises(ValueError, match=mentions("n_agents=200", "max_stock")):
        PollutionParams(n_agents=200)
