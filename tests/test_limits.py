"""Numeric and size limits of every env's parameters (issue 14, items 1 and 6).

No parameter value accepted at construction may make a reward, observation, state or
transfer non-finite or wrapped, and a value just beyond each bound is a ``ValueError``
naming the parameter. The bounds are not written here: :func:`extreme` finds each by
bisection on what the params class accepts, so a new env of ``pa_envs.ENV_NAMES`` (or a
changed bound) is covered as it stands.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pa_envs
from pa_envs import ENVS, PRINCIPAL
from pa_envs.core import game as core

NAMES = list(pa_envs.ENV_NAMES)
FEW = settings(
    max_examples=min(20, settings.default.max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
STEPS = 12  # periods played per example (max_cycles may be 2**32 - 1)
# Parameters the run tests draw small: a step and a reset grow with them (their own tests are below).
SIZES = ("n_agents", "max_cycles")


def params_class(name: str) -> type[core.GameParams]:
    return ENVS[name].raw_env.game_class.params_class


def numeric_fields(cls: type[core.GameParams]) -> dict[str, str]:
    """``{field: "int" or "float"}`` for every numeric field, from its annotation."""
    kinds = {}
    for field in dataclasses.fields(cls):
        annotation = str(field.type)
        for kind in ("int", "float"):
            if annotation.split(" ")[0] == kind:
                kinds[field.name] = kind
    return kinds


# -- finding a bound: bisection over ints, or over floats in their bit order ----------------


def _ordinal(x: float) -> int:
    """An int that orders like the float ``x`` (adjacent floats: adjacent ints)."""
    bits = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def _from_ordinal(i: int) -> float:
    if i < 0:
        return -_from_ordinal(-i)
    return struct.unpack("<d", struct.pack("<q", i))[0]


_LARGEST = {"int": 2**80, "float": _ordinal(np.finfo(np.float64).max)}


def accepts(cls: type[core.GameParams], kwargs: dict[str, Any]) -> bool:
    try:
        cls(**kwargs)
    except ValueError:
        return False
    return True


def extreme(
    cls: type[core.GameParams], kwargs: dict[str, Any], name: str, kind: str, direction: int
) -> tuple[Any, Any] | None:
    """``(the farthest accepted value of field `name` in `direction` (+1 up, -1 down), the
    nearest rejected one beyond it or None)``, the other fields as in ``kwargs`` (accepted);
    ``None`` if no value of the field is found accepted to start from."""
    start = kwargs.get(name)
    if start is None:  # an optional field: start from a small value it accepts
        start = next((v for v in (1, 0, 2, 10) if accepts(cls, {**kwargs, name: v})), None)
        if start is None:
            return None
    to_value = int if kind == "int" else _from_ordinal
    position = int(start) if kind == "int" else _ordinal(float(start))
    limit = _LARGEST[kind]

    def ok(i: int) -> bool:
        return abs(i) <= limit and accepts(cls, {**kwargs, name: to_value(i)})

    step = 1
    while ok(position + direction * step):  # gallop out, then bisect the last step
        position += direction * step
        step *= 2
    if step == 1 and not ok(position):
        return None
    rejected = position + direction * step
    while abs(rejected - position) > 1:
        middle = (position + rejected) // 2
        if ok(middle):
            position = middle
        else:
            rejected = middle
    beyond = to_value(rejected) if abs(rejected) <= limit else None
    return to_value(position), beyond


# -- running an env at drawn parameters ----------------------------------------------------


@st.composite
def extreme_kwargs(draw, name: str, reals_only: bool) -> dict[str, Any]:
    """Parameters of env ``name`` with a drawn subset pushed to (or next to) their bounds, one
    after the other (each bound given the fields set before it)."""
    cls = params_class(name)
    kwargs: dict[str, Any] = {
        "n_agents": draw(st.integers(1, 3)),
        "max_cycles": draw(st.sampled_from([1, 3, STEPS, core.MAX_CYCLES])),
        "principal_objective": draw(st.sampled_from(core.PRINCIPAL_OBJECTIVES)),
    }
    if not accepts(cls, kwargs):
        kwargs["n_agents"] = 3  # an env may need more agents (e.g. an even number)
    fields = [
        f for f, kind in numeric_fields(cls).items() if f not in SIZES and (kind == "float" or not reals_only)
    ]
    for field in draw(st.permutations(fields))[: draw(st.integers(1, len(fields)))]:
        kind = numeric_fields(cls)[field]
        found = extreme(cls, kwargs, field, kind, draw(st.sampled_from([1, -1])))
        if found is None:
            continue
        value = found[0]
        back = draw(st.sampled_from([0, 0, 1, 1000]))  # at the bound, or a little inside it
        if back and kind == "float" and math.isfinite(value):
            toward = _ordinal(float(kwargs.get(field) or 0.0))
            moved = _from_ordinal(_ordinal(value) + back * (1 if toward > _ordinal(value) else -1))
            value = moved if accepts(cls, {**kwargs, field: moved}) else value
        if back and kind == "int":
            moved = value - back if value > (kwargs.get(field) or 0) else value + back
            value = moved if accepts(cls, {**kwargs, field: moved}) else value
        kwargs[field] = value
    return kwargs


def assert_finite(what: str, value: Any) -> None:
    array = np.asarray(value, dtype=np.float64)
    assert np.all(np.isfinite(array)), f"{what} is not finite: {value!r}"


def play_at(name: str, kwargs: dict[str, Any], seed: int) -> None:
    """Play up to STEPS periods with random actions and contracts at (and within) ±max_transfer,
    checking every number the env gives out and the welfare accounting of every period."""
    env = ENVS[name].parallel_env(**kwargs)
    params, game = env.game.params, env.game
    for field, kind in numeric_fields(type(params)).items():  # converted at construction
        value = getattr(params, field)
        assert value is None or type(value) is {"int": int, "float": float}[kind], (field, value)
    assert np.all(game.state_high <= core.FLOAT32_EXACT), game.state_high  # exact in float32
    rng = np.random.default_rng(seed)
    space = env.action_space(PRINCIPAL)
    bound = float(space.high[0])
    observations, _ = env.reset(seed=seed)
    for _ in range(STEPS):
        if not env.agents:
            break
        contract = rng.choice([-bound, bound, 0.0], size=space.shape).astype(np.float32)
        contract[rng.random(space.shape) < 0.3] = rng.uniform(-bound, bound)
        actions = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents[1:]}
        observations, rewards, _, _, infos = env.step({PRINCIPAL: contract, **actions})
        principal = infos[PRINCIPAL]
        for player, observation in observations.items():
            assert_finite(f"{player}'s observation", observation)
        assert_finite("state()", env.state())
        assert_finite("rewards", list(rewards.values()))
        utility = np.array([infos[a]["private_utility"] for a in env.possible_agents[1:]])
        transfers = principal["transfers"]
        for key in ("social_welfare", "externality", "principal_payoff", "total_transfers"):
            assert_finite(key, principal[key])
        assert_finite("transfers", transfers)
        assert_finite("private utilities", utility)
        assert np.all(np.abs(transfers) <= bound)
        state = np.array([principal[s] for s in game.state_names])
        assert np.all((0 <= state) & (state <= game.state_high)), state
        # The accounting, to float64's rounding of the terms summed.
        scale = np.abs(utility).sum() + abs(principal["principal_payoff"]) + 2 * np.abs(transfers).sum()
        tolerance = 1e-12 * scale + 1e-9
        welfare = principal["social_welfare"]
        assert abs(utility.sum() + principal["principal_payoff"] - welfare) <= tolerance
        agents = math.fsum(rewards[a] for a in env.possible_agents[1:])
        if params.principal_objective == "payoff":
            assert abs(agents + rewards[PRINCIPAL] - welfare) <= tolerance
        else:
            cost = params.cost_of_public_funds * np.abs(transfers).sum()
            assert abs(rewards[PRINCIPAL] - (welfare - cost)) <= tolerance + 1e-12 * cost


@pytest.mark.parametrize("name", NAMES)
@FEW
@given(data=st.data())
def test_real_parameters_at_their_bounds_keep_every_value_finite(name, data):
    """Real parameters at and next to their bounds: every reward, observation, state value and
    transfer stays finite for a whole run, and rewards still sum to welfare."""
    play_at(name, data.draw(extreme_kwargs(name, reals_only=True)), data.draw(st.integers(0, 2**32)))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@FEW
@given(data=st.data())
def test_all_parameters_at_their_bounds_keep_every_value_finite(name, data):
    """As above with the int parameters (state caps, levels, sizes) at their bounds too, which
    can build the largest tables an env allows."""
    play_at(name, data.draw(extreme_kwargs(name, reals_only=False)), data.draw(st.integers(0, 2**32)))


# -- just beyond each bound: a ValueError naming the parameter ------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_value_just_beyond_each_bound_names_the_parameter(name):
    """From the defaults, every numeric parameter's nearest rejected value, up and down."""
    cls = params_class(name)
    checked, unnamed = 0, []
    for field, kind in numeric_fields(cls).items():
        for direction in (1, -1):
            found = extreme(cls, {}, field, kind, direction)
            if found is None or found[1] is None:
                continue
            with pytest.raises(ValueError) as error:
                cls(**{field: found[1]})
            if field not in str(error.value):
                unnamed.append((field, found[1], str(error.value)))
            checked += 1
    assert not unnamed
    assert checked >= len(numeric_fields(cls))  # at least one bound per field on average


HUGE = [2**62, 2**63, 2**64, 10**400, 1e308, -1e308, -(2**62), math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", HUGE, ids=repr)
def test_a_huge_value_of_any_numeric_parameter_is_refused_by_name(name, value):
    """Huge ints (which numpy int64 arithmetic would wrap) and huge or non-finite floats: a
    ValueError naming the parameter, for every numeric parameter, never a wrapped or infinite
    reward. (An int parameter given a float is a TypeError, as before.)"""
    cls = params_class(name)
    for field, kind in numeric_fields(cls).items():
        if kind == "int" and isinstance(value, float):
            with pytest.raises(TypeError, match=field):
                cls(**{field: value})
            continue
        with pytest.raises(ValueError, match=field):
            cls(**{field: value})


# -- the cases of the issue -------------------------------------------------------------------


def test_pollution_firm_damage_2_62_is_refused_not_wrapped():
    """issue 14: ``firm_damage=2**62`` gave agent_0 rewards ``[9.0, -4.6e18, +4.6e18, ...]``."""
    with pytest.raises(ValueError, match=r"firm_damage must be a finite number in \[0, .*PAYOFF_BOUND"):
        pa_envs.pollution_v0.parallel_env(firm_damage=2**62)


def test_an_int_given_for_a_real_is_stored_as_a_float():
    """Ints are accepted for reals but converted, so numpy never does int64 arithmetic with them."""
    env = pa_envs.pollution_v0.parallel_env(firm_damage=1, price=np.int64(7), max_stock=np.int64(50))
    params = env.game.params
    assert type(params.firm_damage) is float and type(params.price) is float
    assert type(params.max_stock) is int and params.max_stock == 50


@pytest.mark.parametrize(
    ("name", "field"),
    [
        (name, field)
        for name in NAMES
        for field in ("price", "cost_of_public_funds")
        if field in numeric_fields(params_class(name))
    ],
)
def test_1e308_price_or_cost_of_public_funds_is_refused(name, field):
    """issue 14: ``price=1e308`` and ``cost_of_public_funds=1e308`` gave infinite rewards."""
    with pytest.raises(ValueError, match=f"{field} must be a finite number in .*PAYOFF_BOUND"):
        ENVS[name].parallel_env(**{field: 1e308})


def test_check_players_is_linear_in_the_number_of_agents():
    """issue 14: ``check_players`` scanned a list per name, O(N**2): 0.357 s at N = 5,000, so about
    140 s at N = 10**5. Linear, it takes milliseconds; the bound leaves a wide margin for a busy machine."""
    env = pa_envs.congestion_v0.parallel_env(n_agents=2000, max_queue=0)
    episode = env.unwrapped._episode
    n = 100_000
    live = [PRINCIPAL, *(f"agent_{i}" for i in range(n))]
    given = dict.fromkeys(live, 0)
    start = time.perf_counter()
    episode.check_players(given, live)
    assert time.perf_counter() - start < 2.0
    with pytest.raises(ValueError, match="no action for live players"):
        episode.check_players(dict.fromkeys(live[:-1], 0), live)


def test_insurance_with_10_4_agents_is_refused_at_once():
    """issue 14: ``n_agents=10**4`` built an N x (N - 1) list and died of MemoryError after 32 s."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"n_agents x .*MAX_STEP_ENTRIES = 10,000,000"):
        pa_envs.insurance_v0.parallel_env(n_agents=10**4)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("value", [2**63, 2**31, core.MAX_ACTIONS + 1])
def test_commons_n_efforts_beyond_max_actions_is_refused_at_once(value):
    """issue 14: ``commons_v0.parallel_env(n_efforts=2**63)`` hung."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"n_efforts must be an int in \[2, {core.MAX_ACTIONS}\]"):
        pa_envs.commons_v0.parallel_env(n_efforts=value)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("name", NAMES)
def test_more_than_max_agents_is_refused_by_name(name):
    with pytest.raises(ValueError, match=rf"n_agents must be an int in \[1, {core.MAX_AGENTS}\]"):
        params_class(name)(n_agents=core.MAX_AGENTS + 1)


@pytest.mark.parametrize("name", NAMES)
def test_max_cycles_beyond_the_random_counter_is_refused(name):
    """A period is the low 32 bits of the random counter: a longer episode replays the next one's draws."""
    cls = params_class(name)
    assert cls(max_cycles=2**32 - 1).max_cycles == core.MAX_CYCLES
    with pytest.raises(ValueError, match=r"max_cycles must be an int in \[1, 4294967295\]"):
        cls(max_cycles=2**32)


def test_congestion_refuses_a_carry_over_table_beyond_its_limit():
    """The carry-over law is an (N + queue cap + 1)**2 table: 10**4 commuters would need 3 GB."""
    with pytest.raises(ValueError, match=r"n_agents \+ queue cap must be at most MAX_LOAD = 4000"):
        pa_envs.congestion_v0.parallel_env(n_agents=10**4, max_queue=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("pollution_v0", {"n_agents": core.MAX_AGENTS, "max_stock": 4000}),
        ("commons_v0", {"n_agents": core.MAX_AGENTS}),
        ("insurance_v0", {"n_agents": 3150}),
    ],
)
def test_the_largest_sizes_step(name, kwargs):
    """At the largest sizes accepted a step completes (it never did at 10**5 agents)."""
    env = ENVS[name].parallel_env(**kwargs)
    env.reset(seed=0)
    actions = {a: 1 for a in env.agents[1:]}
    contract = np.full(env.action_space(PRINCIPAL).shape, env.game.params.max_transfer, np.float32)
    start = time.perf_counter()
    _, rewards, _, _, infos = env.step({PRINCIPAL: contract, **actions})
    assert time.perf_counter() - start < 60.0
    assert np.all(np.isfinite(list(rewards.values())))
    assert math.isclose(
        math.fsum(rewards.values()), infos[PRINCIPAL]["social_welfare"], rel_tol=1e-9, abs_tol=1e-6
    )


def test_a_finite_horizon_analysis_too_long_to_hold_is_refused_before_allocating():
    """Backward induction keeps (period, state) tables: a horizon of 10**7 periods over 61 stocks
    would need 6.1e8 entries of each (gigabytes); refused at once, naming the limit."""
    from pa_envs import analysis

    model = pa_envs.pollution_v0.parallel_env(n_agents=2, max_cycles=10**7).game.exact_model()
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"10000000-period analysis over 61 states .*MAX_POLICY_ENTRIES"):
        analysis.social_optimum(model)
    assert time.perf_counter() - start < 1.0
    assert analysis.social_optimum(model, horizon=5).policy.shape == (5, model.n_states)
