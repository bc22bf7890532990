"""Reliability across every form: one seed rule, one after-the-end rule, deep copies, and
hypothesis sequences of valid and invalid calls.

The forms: the parallel env, the AEC env (``env()`` and ``raw_env``), the agents-only
mechanism env, both gymnasium views (``gymnasium.make``), both vector views
(``gymnasium.make_vec``) and SB3's ``MechanismVecEnv``; each over every env of the registry.

The sequence tests drive two copies of a form built alike: the *subject* gets valid and
invalid calls interleaved, its *twin* the valid calls only. Every invalid call must raise
a ``ValueError`` or a ``TypeError`` of Python or pa_envs (never an ``IndexError``, a
``KeyError`` or a numpy error), and every valid call must give both the same output, bit
for bit: a rejected call changed nothing. Rewards stay finite and, in the forms where every
player is rewarded (parallel, AEC), sum to the period's social welfare.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import gymnasium
import numpy as np
import pytest
from helpers import assert_identical
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pa_envs import ENVS, PRINCIPAL
from pa_envs.core.parallel import EpisodeOverError
from pa_envs.mechanisms import mechanism_env
from pa_envs.sb3 import MechanismVecEnv
from pa_envs.vector import AgentVectorView
from pa_envs.views import AgentView, view_ids

NAMES = sorted(ENVS)
KWARGS = {"n_agents": 2, "max_cycles": 2}
COPIES = 2
# A few sequences per form and env under the fast profile (tests/conftest.py), 15 in the full
# tier, where the slow, long version runs too.
FEW = settings(
    max_examples=min(15, settings.default.max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

BAD_SEEDS = [(-1, ValueError), (-(2**70), ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)]
BAD_OPTIONS = [({1: 0, "a": 0}, TypeError), ([("contract", 0)], TypeError), ({("contract",): 0}, TypeError)]


def rejects(call: Callable[[], Any]) -> BaseException:
    """Run ``call``, which must raise a ValueError or TypeError of Python's or pa_envs's own."""
    with pytest.raises((ValueError, TypeError)) as caught:
        call()
    error = caught.value
    module = type(error).__module__
    assert module == "builtins" or module.startswith("pa_envs"), f"{type(error)} leaked: {error}"
    assert not isinstance(error, (IndexError, KeyError)), error
    assert str(error), "an error without a message"
    return error


def finite(values: Any) -> None:
    array = np.asarray(list(values.values()) if isinstance(values, dict) else values, dtype=np.float64)
    assert np.all(np.isfinite(array)), values


# -- the forms --------------------------------------------------------------------------------


class Form:
    """How to build, reset and step one form, what a valid and an invalid call are."""

    name = "form"
    vector = False  # vector forms autoreset: no step after the end
    seeds_at_reset = True

    def make(self, env_name: str) -> Any:
        raise NotImplementedError

    def reset(self, env: Any, seed: Any = None, options: Any = None) -> Any:
        return env.reset(seed=seed, options=options)

    def step(self, env: Any, action: Any) -> Any:
        return env.step(action)

    def over(self, env: Any) -> bool:
        return False

    def valid(self, env: Any, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def invalid(self, env: Any, rng: np.random.Generator) -> list[Any]:
        """Actions that must be rejected in the env's present state."""
        raise NotImplementedError

    def check(self, env: Any, output: Any) -> None:
        """What every valid step's output must satisfy (finite rewards, welfare)."""

    def after_end(self, env: Any, rng: np.random.Generator) -> Any:
        """An action sent once the episode is over (must raise)."""
        return self.valid_live(env, rng)

    def valid_live(self, env: Any, rng: np.random.Generator) -> Any:
        return self.valid(env, rng)


def contract(space: gymnasium.spaces.Box, rng: np.random.Generator) -> np.ndarray:
    bound = float(space.high.flat[0])
    return rng.uniform(-bound, bound, space.shape).astype(np.float32)


def bad_contracts(space: gymnasium.spaces.Box) -> list[Any]:
    bound, shape = float(space.high.flat[0]), space.shape
    size = int(np.prod(shape))
    return [
        np.full(shape, 2 * bound + 1, np.float32),
        np.full(shape, np.nan, np.float32),
        np.full(shape, -np.inf),
        np.zeros(size + 1, np.float32),
        np.zeros((*shape[:-1], shape[-1] - 1), np.float32) if size > 1 else np.zeros((2, 2)),
        np.full(shape, "x"),
        "0.5",
        None,
        [[0.0, 1.0], [0.0]],
    ]


def bad_agent_actions(n: int) -> list[Any]:
    return [n, -1, 1.5, "0", None, True, np.array([0, 1]), float("nan"), 2**70]


class Parallel(Form):
    name = "parallel"

    def make(self, env_name: str) -> Any:
        return ENVS[env_name].parallel_env(**KWARGS)

    def over(self, env: Any) -> bool:
        return not env.agents

    def valid(self, env: Any, rng: np.random.Generator) -> Any:
        actions = {PRINCIPAL: contract(env.action_space(PRINCIPAL), rng)}
        for agent in env.possible_agents[1:]:
            actions[agent] = int(rng.integers(env.action_space(agent).n))
        return actions

    def invalid(self, env: Any, rng: np.random.Generator) -> list[Any]:
        good = self.valid(env, rng)
        n = env.action_space("agent_0").n
        out = [{**good, "agent_1": bad} for bad in bad_agent_actions(n)]
        out += [{**good, PRINCIPAL: bad} for bad in bad_contracts(env.action_space(PRINCIPAL))]
        missing = dict(good)
        del missing["agent_0"]
        out += [missing, {**good, "agent_9": 0}, {**good, 7: 0}, [good]]
        # None is no action: after the end a no-op, as step({}) and the AEC form's None are.
        return out if self.over(env) else [*out, None]

    def check(self, env: Any, output: Any) -> None:
        _, rewards, _, _, infos = output
        finite(rewards)
        welfare = infos[PRINCIPAL]["social_welfare"]
        assert math.isclose(math.fsum(rewards.values()), welfare, rel_tol=1e-9, abs_tol=1e-9)


class AEC(Form):
    """One call is one player's move; the output is what the next player sees."""

    def __init__(self, factory: str) -> None:
        self.factory = factory
        self.name = f"aec-{factory}"

    def make(self, env_name: str) -> Any:
        return getattr(ENVS[env_name], self.factory)(**KWARGS)

    def reset(self, env: Any, seed: Any = None, options: Any = None) -> Any:
        env.reset(seed=seed, options=options)
        return self.seen(env)

    def step(self, env: Any, action: Any) -> Any:
        before = env.period
        env.step(action)
        return self.seen(env), env.period > before

    def seen(self, env: Any) -> Any:
        if not env.agents:
            return "over", env.state()
        return env.agent_selection, env.last(), dict(env.rewards), env.state()

    def over(self, env: Any) -> bool:
        return not env.agents

    def valid(self, env: Any, rng: np.random.Generator) -> Any:
        player = env.agent_selection
        if env.terminations[player] or env.truncations[player]:
            return None  # a finished player passes, as PettingZoo's api_test sends
        if player == PRINCIPAL:
            return contract(env.action_space(PRINCIPAL), rng)
        return int(rng.integers(env.action_space(player).n))

    def invalid(self, env: Any, rng: np.random.Generator) -> list[Any]:
        player = env.agent_selection
        if not env.agents or env.terminations[player] or env.truncations[player]:
            return []  # a finished player's only move is None (after the end: see after_end)
        if player == PRINCIPAL:
            return bad_contracts(env.action_space(PRINCIPAL))
        return bad_agent_actions(env.action_space(player).n)

    def after_end(self, env: Any, rng: np.random.Generator) -> Any:
        return 0

    def check(self, env: Any, output: Any) -> None:
        _, resolved = output
        finite(env.rewards)
        if resolved:  # a period was played: every player's reward, summing to welfare
            welfare = env.infos[PRINCIPAL]["social_welfare"]
            total = math.fsum(env.rewards.values())
            assert math.isclose(total, welfare, rel_tol=1e-9, abs_tol=1e-9)


class Mechanism(Form):
    name = "mechanism"

    def make(self, env_name: str) -> Any:
        return mechanism_env(ENVS[env_name].parallel_env(**KWARGS), "pigouvian")

    def over(self, env: Any) -> bool:
        return not env.agents

    def valid(self, env: Any, rng: np.random.Generator) -> Any:
        return {a: int(rng.integers(env.action_space(a).n)) for a in env.possible_agents}

    def invalid(self, env: Any, rng: np.random.Generator) -> list[Any]:
        good = self.valid(env, rng)
        n = env.action_space("agent_0").n
        out = [{**good, "agent_0": bad} for bad in bad_agent_actions(n)]
        out += [{**good, PRINCIPAL: np.zeros(1)}, {"agent_0": 0}]
        return out if self.over(env) else [*out, None]  # None after the end: a no-op

    def check(self, env: Any, output: Any) -> None:
        finite(output[1])


class View(Form):
    """A gymnasium view, as ``gymnasium.make`` builds it."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.name = f"view-{role}"

    def make(self, env_name: str) -> Any:
        principal, agent = view_ids(env_name)
        if self.role == "principal":
            return gymnasium.make(principal, **KWARGS)
        return gymnasium.make(agent, mechanism="pigouvian", **KWARGS)

    def over(self, env: Any) -> bool:
        return not env.unwrapped.env.agents

    def valid(self, env: Any, rng: np.random.Generator) -> Any:
        if self.role == "principal":
            return contract(env.action_space, rng)
        return int(rng.integers(env.action_space.n))

    def invalid(self, env: Any, rng: np.random.Generator) -> list[Any]:
        if self.role == "principal":
            return bad_contracts(env.action_space)
        return bad_agent_actions(env.action_space.n)

    def check(self, env: Any, output: Any) -> None:
        _, reward, _, _, info = output
        assert type(reward) is float and math.isfinite(reward)
        if self.role == "principal":
            assert math.isfinite(info["social_welfare"])


class Vector(View):
    """A vector view, as ``gymnasium.make_vec`` builds it (NEXT_STEP autoreset)."""

    vector = True

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.name = f"vector-{role}"

    def over(self, env: Any) -> bool:
        return False

    def make(self, env_name: str) -> Any:
        principal, agent = view_ids(env_name)
        if self.role == "principal":
            return gymnasium.make_vec(principal, num_envs=COPIES, **KWARGS)
        return gymnasium.make_vec(agent, num_envs=COPIES, mechanism="pigouvian", **KWARGS)

    def valid(self, env: Any, rng: np.random.Generator) -> Any:
        if self.role == "principal":
            return np.stack([contract(env.single_action_space, rng) for _ in range(COPIES)])
        return rng.integers(env.single_action_space.n, size=COPIES)

    def invalid(self, env: Any, rng: np.random.Generator) -> list[Any]:
        good = self.valid(env, rng)
        if self.role == "principal":
            bound = float(env.single_action_space.high.flat[0])
            nan, big = good.copy(), good.copy()
            nan[1, 0], big[1, -1] = np.nan, 2 * bound + 1  # one bad transfer, in the second copy
            return [nan, big, good[:1], good.reshape(-1), good[:, :-1], np.full(good.shape, "x"), None, "x"]
        n = env.single_action_space.n
        return [np.array([0, n]), np.array([-1, 0]), np.array([0.5, 1]), np.array(["a", "b"]), good[:1], None]

    def check(self, env: Any, output: Any) -> None:
        _, rewards, _, _, infos = output
        finite(rewards)
        finite(infos["social_welfare"])


class SB3(Form):
    """SB3's VecEnv of the agents under a mechanism: B copies x N agents; seeds go by ``seed()``."""

    name = "sb3"
    vector = True
    seeds_at_reset = False

    def make(self, env_name: str) -> Any:
        return MechanismVecEnv(env_name, "pigouvian", num_copies=COPIES, **KWARGS)

    def reset(self, env: Any, seed: Any = None, options: Any = None) -> Any:
        if seed is not None:
            env.seed(seed)
        return env.reset()

    def valid(self, env: Any, rng: np.random.Generator) -> Any:
        return rng.integers(env.action_space.n, size=env.num_envs)

    def invalid(self, env: Any, rng: np.random.Generator) -> list[Any]:
        n, size = env.action_space.n, env.num_envs
        return [
            np.full(size, n),
            np.full(size, -1),
            np.full(size, 0.5),
            np.full(size, "a"),
            np.zeros(size + 1),
        ]

    def check(self, env: Any, output: Any) -> None:
        finite(output[1])


FORMS = [Parallel(), AEC("env"), AEC("raw_env"), Mechanism(), View("principal"), View("agent")]
FORMS += [Vector("principal"), Vector("agent"), SB3()]
form_ids = pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
names = pytest.mark.parametrize("name", NAMES)


# -- one seed rule ----------------------------------------------------------------------------


def _first_steps(form: Form, env: Any, seed: Any) -> list[Any]:
    out = [form.reset(env, seed=seed)]
    rng = np.random.default_rng(0)
    for _ in range(KWARGS["max_cycles"]):
        out.append(form.step(env, form.valid(env, rng)))
    return out


@form_ids
@names
def test_every_form_takes_numpy_int_seeds_as_ints(form, name):
    """``np.int64(s)`` seeds as ``s`` in every form (the gymnasium views refused it)."""
    assert_identical(_first_steps(form, form.make(name), np.int64(7)), _first_steps(form, form.make(name), 7))
    assert_identical(_first_steps(form, form.make(name), np.uint8(3)), _first_steps(form, form.make(name), 3))


@form_ids
@pytest.mark.parametrize(("seed", "error"), BAD_SEEDS, ids=[repr(s) for s, _ in BAD_SEEDS])
def test_every_form_refuses_bad_seeds_alike(form, seed, error):
    """A negative seed is a ValueError naming it, a non-integer a TypeError, in every form
    (the gymnasium views raised gymnasium.error.Error)."""
    env = form.make("pollution_v0")
    with pytest.raises(error, match="seed must be a non-negative int or None") as caught:
        form.reset(env, seed=seed)
    assert type(caught.value) is error
    assert f"got {seed!r}" in str(caught.value)


@pytest.mark.parametrize("form", [f for f in FORMS if f.vector], ids=lambda f: f.name)
def test_vector_forms_check_every_copys_seed(form):
    env = form.make("pollution_v0")
    with pytest.raises(ValueError, match=r"seed\[1\] must be a non-negative int or None, got -2"):
        form.reset(env, seed=[1, -2])
    with pytest.raises(TypeError, match=r"seed\[0\] must be a non-negative int or None, got 0.5"):
        form.reset(env, seed=[0.5, 1])
    assert_identical(
        form.reset(form.make("pollution_v0"), seed=[np.int64(4), 5]), form.reset(env, seed=[4, 5])
    )


# -- one after-the-end rule -------------------------------------------------------------------


def _play_to_the_end(form: Form, env: Any) -> None:
    form.reset(env, seed=0)
    rng = np.random.default_rng(1)
    while not form.over(env):
        form.step(env, form.valid(env, rng))


@pytest.mark.parametrize("form", [f for f in FORMS if not f.vector], ids=lambda f: f.name)
@names
def test_an_action_after_the_end_raises_in_every_form(form, name):
    """PettingZoo's order-enforcing wrapper only logged a warning for env(); now every form
    raises, a ValueError (the PettingZoo forms' type) that is also a RuntimeError (the views')."""
    env = form.make(name)
    _play_to_the_end(form, env)
    rng = np.random.default_rng(2)
    error = rejects(lambda: form.step(env, form.after_end(env, rng)))
    assert "episode is over" in str(error) and "reset()" in str(error)
    if form.name != "mechanism":  # pa_envs/mechanisms.py keeps its own ValueError
        assert isinstance(error, (EpisodeOverError, RuntimeError))


def test_the_wrapped_aec_env_keeps_none_a_no_op_and_checks_reset_first():
    env = ENVS["pollution_v0"].env(**KWARGS)
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.step(0)
    _play_to_the_end(AEC("env"), env)
    state = env.state()
    env.step(None)  # PettingZoo's api_test steps finished players with None
    assert np.array_equal(env.state(), state)
    with pytest.raises(EpisodeOverError, match="action 1"):
        env.step(1)


# -- copy.copy is deep ------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
def test_copy_copy_is_deep_in_every_form(form):
    """A shallow copy shared the episode: stepping the copy moved the original. (The
    gymnasium views are copied unwrapped: gymnasium's own wrappers copy shallowly.)"""
    env = form.make("pollution_v0")
    form.reset(env, seed=0)
    twin = form.make("pollution_v0")
    form.reset(twin, seed=0)
    clone = copy.copy(env.unwrapped if isinstance(env, gymnasium.Wrapper) else env)
    assert type(clone) is type(env.unwrapped if isinstance(env, gymnasium.Wrapper) else env)
    form.step(clone, form.valid(clone, np.random.default_rng(3)))  # mid-episode: period 1 of 2
    action = form.valid(env, np.random.default_rng(4))
    assert_identical(form.step(env, action), form.step(twin, action))


# -- reset options and behaviour specs ----------------------------------------------------------


@pytest.mark.parametrize("form", [f for f in FORMS if f.seeds_at_reset], ids=lambda f: f.name)
@pytest.mark.parametrize(("options", "error"), BAD_OPTIONS, ids=["mixed-keys", "not-a-dict", "tuple-key"])
def test_reset_options_are_checked_with_a_clear_error(form, options, error):
    """``reset(options={1: 0, "a": 0})`` raised sorted()'s TypeError, naming nothing."""
    env = form.make("pollution_v0")
    caught = rejects(lambda: form.reset(env, options=options))
    assert type(caught) is error
    message = str(caught)
    assert "options" in message
    if isinstance(options, dict):
        assert repr(next(k for k in options if not isinstance(k, str))) in message
        if not form.vector:  # the vector views take no options at all
            assert "'contract'" in message


@pytest.mark.parametrize(
    ("others", "fragment"),
    [(99, "fixed action 99 for agent_1"), (-1, "fixed action -1"), ([0], "1 fixed actions [0] given for 2")],
)
def test_fixed_others_are_checked_at_construction_by_one_parser(others, fragment):
    """``others=99`` was accepted by the agent view until its first step; the single and the
    vector view now read the spec with one parser and give the same error when built."""
    messages = []
    for build in (AgentView, lambda **kw: AgentVectorView(COPIES, **kw)):
        with pytest.raises(ValueError, match="others: ") as caught:
            build(env_name="pollution_v0", others=others, n_agents=3)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert fragment in messages[0]


def test_bools_are_not_fixed_actions_in_either_view():
    for build in (AgentView, lambda **kw: AgentVectorView(COPIES, **kw)):
        with pytest.raises((TypeError, ValueError), match="others"):
            build(env_name="pollution_v0", others=[True, False], n_agents=3)


# -- sequences of valid and invalid calls -----------------------------------------------------

CALLS = ("step", "step", "step", "reset", "bad_action", "bad_seed", "bad_options", "after_end")


def sequences(length: int) -> st.SearchStrategy:
    """A first seed, then ``length`` calls, each with the number its random choices come from."""
    call = st.tuples(st.sampled_from(CALLS), st.integers(0, 2**32))
    return st.tuples(st.integers(0, 2**32), st.lists(call, min_size=length, max_size=length))


def run_sequence(form: Form, name: str, sequence: tuple[int, list[tuple[str, int]]]) -> None:
    """Drive a subject and its twin through ``sequence``; see the module docstring."""
    subject, twin = form.make(name), form.make(name)
    seed, calls = sequence
    assert_identical(form.reset(subject, seed=np.int64(seed)), form.reset(twin, seed=seed))
    for call, draw in calls:
        rng = np.random.default_rng(draw)
        if call == "step" and form.over(subject):
            call = "reset"
        if call == "step":
            action = form.valid(subject, rng)
            out = form.step(subject, action)
            assert_identical(out, form.step(twin, action))
            form.check(subject, out)
        elif call == "reset":
            new = None if rng.random() < 0.5 else int(rng.integers(6))
            assert_identical(form.reset(subject, seed=new), form.reset(twin, seed=new))
        elif call == "bad_action":
            bad = form.invalid(subject, rng)
            if bad:
                rejects(partial(form.step, subject, bad[rng.integers(len(bad))]))
        elif call == "bad_seed":
            rejects(partial(form.reset, subject, seed=BAD_SEEDS[rng.integers(len(BAD_SEEDS))][0]))
        elif call == "bad_options" and form.seeds_at_reset:
            options = BAD_OPTIONS[rng.integers(len(BAD_OPTIONS))][0]
            rejects(partial(form.reset, subject, options=options))
        elif call == "after_end" and not form.vector and form.over(subject):
            rejects(partial(form.step, subject, form.after_end(subject, rng)))


@form_ids
@names
@pytest.mark.parametrize("length", [14, pytest.param(60, marks=pytest.mark.slow)], ids=["short", "long"])
@FEW
@given(data=st.data())
def test_rejected_calls_change_nothing(form, name, length, data):
    run_sequence(form, name, data.draw(sequences(length), label="sequence"))


def test_the_mechanism_env_names_a_non_dict_step_and_its_aec_form_raises_after_the_end():
    """``MechanismEnv.step(None)`` said "argument of type 'NoneType' is not iterable", and
    ``mechanism_aec_env`` (PettingZoo's ``parallel_to_aec``) only logged an action after the end."""
    from pa_envs.mechanisms import mechanism_aec_env, mechanism_env

    menv = mechanism_env(ENVS["pollution_v0"].parallel_env(max_cycles=1), "pigouvian")
    menv.reset(seed=0)
    with pytest.raises(TypeError, match="dict from agent name"):
        menv.step(None)
    aec = mechanism_aec_env(ENVS["pollution_v0"].parallel_env(max_cycles=1), "pigouvian")
    aec.reset(seed=0)
    for agent in aec.agent_iter():
        aec.step(None if aec.terminations[agent] or aec.truncations[agent] else 0)
    with pytest.raises(EpisodeOverError):
        aec.step(0)


def test_a_game_returning_a_signal_past_the_end_is_named_not_paid_anothers_transfer():
    """resolve_period's flat gather would have read the next agent's contract row."""
    from pa_envs.core.game import resolve_period

    env = ENVS["pollution_v0"].parallel_env(n_agents=2)
    game = env.game
    real_step = game.step

    def bad_step(state, actions, noise):
        return real_step(state, actions, noise)._replace(signals=np.full_like(actions, game.n_signals))

    game.step = bad_step
    contracts = np.arange(2 * game.n_signals, dtype=float).reshape(1, 2, game.n_signals)
    state = game.initial_state(np.zeros((1, game.noise_size)))
    with pytest.raises(ValueError, match="signals outside"):
        actions, noise = np.zeros((1, 2), dtype=np.int64), np.full((1, game.noise_size), 0.5)
        resolve_period(game, state, actions, contracts, noise)


def test_the_driver_keeps_its_own_copy_of_a_mechanisms_writeable_contracts():
    """A mechanism that refills one buffer each period must not rewrite the contracts in force."""
    from pa_envs.core.mechanism import Mechanism, MechanismDriver

    class Refill(Mechanism):
        name = "refill"

        def bind(self, game):
            self.buffer = np.zeros((1, game.n_agents, game.n_signals))

        def post(self, state, periods):
            self.buffer[...] = float(periods[0] % 2)
            return self.buffer

    game = ENVS["pollution_v0"].parallel_env(n_agents=2).game
    mechanism = Refill()
    driver = MechanismDriver(mechanism, game, 1)
    first = driver.post(np.zeros((1, 1), dtype=np.int64), np.array([1]))
    kept = first.copy()
    mechanism.post(np.zeros((1, 1), dtype=np.int64), np.array([2]))
    assert np.array_equal(driver.contracts, kept)
