"""One mechanism driver under every agents-only form, one input check for both engines,
mechanism states loaded with checks, and the binding's errors (issues 13 and 14)."""

from __future__ import annotations

import numpy as np
import pytest

import pa_envs
from pa_envs import PRINCIPAL, pollution_v0
from pa_envs.core.batch import BatchedEpisodes
from pa_envs.core.contracts import transfer_bound
from pa_envs.core.episode import PlayerSpaces
from pa_envs.core.mechanism import MechanismDriver
from pa_envs.core.names import UnknownNameError
from pa_envs.mechanisms import (
    Budgeted,
    FlatSchedule,
    Mechanism,
    MechanismEnv,
    MechanismInput,
    NoTransfers,
    PeriodFeedback,
    Pigouvian,
    Stacked,
)
from pa_envs.sb3 import MechanismVecEnv
from pa_envs.vector import AgentVectorView

N_AGENTS = 2
MAX_CYCLES = 4


class Recorder(Mechanism):
    """Posts a contract that moves with the state and the period, and keeps every call."""

    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def start_episodes(self, batch_size: int, which: np.ndarray | None = None) -> None:
        self.calls.append(("start", batch_size, None if which is None else np.asarray(which).tolist()))

    def contract(self, inputs: MechanismInput) -> np.ndarray:
        game = self._bound_game()
        level = (inputs.state.sum(axis=1) % 3 + inputs.period % 2) * 0.25
        self.calls.append(("post", inputs.state.tolist(), inputs.period.tolist()))
        return np.broadcast_to(level[:, None, None], (len(level), game.n_agents, game.n_signals)).copy()

    def update(self, feedback: PeriodFeedback) -> None:
        self.calls.append(("update", *(None if f is None else np.asarray(f).tolist() for f in feedback)))


def actions_of(period: int) -> list[int]:
    return [(period + i) % 3 for i in range(N_AGENTS)]


def play_single(seed: int) -> Recorder:
    recorder = Recorder()
    env = MechanismEnv(pollution_v0.parallel_env(n_agents=N_AGENTS, max_cycles=MAX_CYCLES), recorder)
    assert isinstance(env.driver, MechanismDriver)
    env.reset(seed=seed)
    period = 0
    while env.agents:
        env.step(dict(zip(env.agents, actions_of(period), strict=True)))
        period += 1
    return recorder


def test_every_agents_only_form_runs_the_one_driver():
    """MechanismEnv (B = 1), the SB3 VecEnv and the vector agent view call one MechanismDriver,
    and a mechanism sees the same calls, with the same feedback, through each."""
    single = play_single(seed=3)

    recorder = Recorder()
    venv = MechanismVecEnv("pollution_v0", recorder, 1, seed=3, n_agents=N_AGENTS, max_cycles=MAX_CYCLES)
    assert isinstance(venv.driver, MechanismDriver) and venv.driver.mechanism is recorder
    venv.reset()
    for period in range(MAX_CYCLES):
        venv.step(np.array(actions_of(period)))
    # The SB3 form restarts a finished copy in the same step, the others at their next reset.
    finished = recorder.calls.index(("start", 1, [0]))
    assert recorder.calls[:finished] == single.calls

    recorder = Recorder()
    view = AgentVectorView(
        1, mechanism=recorder, others=actions_of(0)[1:], n_agents=N_AGENTS, max_cycles=MAX_CYCLES
    )
    assert isinstance(view.driver, MechanismDriver)
    view.reset(seed=3)
    for _ in range(MAX_CYCLES):
        view.step(np.array([actions_of(0)[0]]))
    fixed = Recorder()
    env = MechanismEnv(pollution_v0.parallel_env(n_agents=N_AGENTS, max_cycles=MAX_CYCLES), fixed)
    env.reset(seed=3)
    while env.agents:
        env.step(dict(zip(env.agents, actions_of(0), strict=True)))
    # The vector view marks which copies played (active), and its mechanism posts once more
    # after the last period (for the copies that go on: none here); the rest matches.
    strip = [call[:-1] if call[0] == "update" else call for call in recorder.calls]
    assert strip[: len(fixed.calls)] == [call[:-1] if call[0] == "update" else call for call in fixed.calls]
    assert [call[0] for call in strip[len(fixed.calls) :]] == ["post"]


def test_driver_posts_checked_contracts_and_keeps_earlier_ones():
    game = pollution_v0.parallel_env(n_agents=N_AGENTS).game
    engine = BatchedEpisodes(game, 3)
    engine.reset(0)
    driver = MechanismDriver(FlatSchedule.tax(game, 1.0), game, 3)
    driver.start(engine.state, engine.periods)
    first = driver.contracts
    driver.post(engine.state, engine.periods, np.array([1]))
    assert driver.contracts is not first  # what a mechanism kept of a period does not change
    outcome, done = driver.play(engine, np.zeros((3, N_AGENTS), dtype=np.int64))
    assert outcome.transfers.shape == (3, N_AGENTS) and done.tolist() == [False] * 3

    class Wild(NoTransfers):
        def contract(self, inputs):
            return np.full((len(inputs.period), game.n_agents, game.n_signals), np.inf)

    with pytest.raises(ValueError, match="no_transfers posted, in copy 0, a transfer of inf"):
        MechanismDriver(Wild(), game, 3).post(engine.state, engine.periods)
    with pytest.raises(TypeError, match="Mechanism"):
        MechanismDriver("pigouvian", game, 3)


# -- one input check for both engines --------------------------------------------------


def test_both_engines_refuse_float_actions_even_integral_ones():
    env = pollution_v0.parallel_env(n_agents=N_AGENTS)
    env.reset(seed=0)
    zeros = np.zeros(env.game.n_agents * env.game.n_signals, dtype=np.float32)
    with pytest.raises(TypeError, match=r"agent_0: action must be ints, expected Discrete\(3\).*got 1.0"):
        env.step({PRINCIPAL: zeros, "agent_0": 1.0, "agent_1": 0})
    engine = BatchedEpisodes(env.game, 2)
    engine.reset(0)
    with pytest.raises(
        TypeError, match=r"actions must be ints.*got dtype float64.*floats, even integral ones"
    ):
        engine.check_actions(np.ones((2, N_AGENTS)))
    with pytest.raises(TypeError, match="must be ints"):
        engine.check_actions(np.ones((2, N_AGENTS), dtype=bool))
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=N_AGENTS)
    venv.reset()
    with pytest.raises(TypeError, match="must be ints"):
        venv.step(np.ones(4))
    assert engine.check_actions([[0, 1], [2, np.int8(0)]]).dtype == np.int64


def test_vector_agent_view_errors_quote_the_users_shape():
    view = AgentVectorView(2, n_agents=N_AGENTS)
    view.reset(seed=0)
    for bad, error in ((np.array([0.5, 1.0]), TypeError), (np.array([0, 1, 2]), ValueError)):
        with pytest.raises(error, match=r"agent_0: actions") as caught:
            view.step(bad)
        assert (
            "(2,)" in str(caught.value)
            and "(2, 2)" not in str(caught.value)
            and "(4,)" not in str(caught.value)
        )
    with pytest.raises(ValueError, match=r"copy 1, agent_0: action 3 is outside Discrete\(3\)"):
        view.step(np.array([0, 3]))


def test_step_async_says_what_it_expected():
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=N_AGENTS)
    venv.reset()
    with pytest.raises(TypeError, match=r"Discrete\(3\).*an array of shape \(4,\).*got None"):
        venv.step_async(None)
    fresh = MechanismVecEnv("pollution_v0", "no_transfers", 2, seed=0, n_agents=N_AGENTS)
    with pytest.raises(RuntimeError, match="reset"):
        fresh.step_async(np.zeros(4, dtype=int))


@pytest.mark.parametrize(
    ("contract", "error", "fragment"),
    [
        (np.array(["1"] * 6), TypeError, "<U1"),
        (np.zeros(6, dtype="datetime64[D]"), TypeError, "datetime64"),
        (np.zeros(6, dtype=bool), TypeError, "bool"),
        ([[0.0, 1.0, 2.0], [0.0, 1.0]], ValueError, "ragged"),
    ],
    ids=["str", "datetime64", "bool", "ragged"],
)
def test_contracts_of_strings_dates_bools_or_ragged_lists_are_refused(contract, error, fragment):
    env = pollution_v0.parallel_env(n_agents=N_AGENTS)
    env.reset(seed=0)
    with pytest.raises(error, match=rf"(?s)principal_0: .*{fragment}") as caught:
        env.step({PRINCIPAL: contract, "agent_0": 0, "agent_1": 0})
    assert "Box(-" in str(caught.value)  # the expected space
    assert env.period == 0
    engine = BatchedEpisodes(env.game, 1)
    engine.reset(0)
    if error is TypeError:
        with pytest.raises(TypeError, match="the principal"):
            engine.check_contracts(np.asarray(contract).reshape(1, N_AGENTS, 3), "the principal")


def test_the_transfer_bound_is_one_rule():
    for max_transfer in (0.7, 5.0, 1e-3, 123.456):
        game = pollution_v0.parallel_env(n_agents=N_AGENTS, max_transfer=max_transfer).game
        bound = transfer_bound(max_transfer)
        assert PlayerSpaces(game).transfer_bound == bound
        assert bound >= max_transfer and bound >= float(np.float32(max_transfer))
        FlatSchedule(np.full(3, bound)).bind(game)  # the bound itself is a valid flat transfer
        with pytest.raises(ValueError, match="raise max_transfer"):
            FlatSchedule(np.full(3, np.nextafter(bound, np.inf))).bind(game)


# -- the binding's errors ----------------------------------------------------------------


def test_mechanism_env_refuses_a_reset_contract():
    env = MechanismEnv(pollution_v0.parallel_env(n_agents=N_AGENTS), NoTransfers())
    with pytest.raises(ValueError, match=r"no_transfers posts every contract.*FlatSchedule"):
        env.reset(seed=0, options={"contract": np.ones(6)})
    observations, _ = env.reset(seed=0)
    assert np.all(observations["agent_0"][-3:] == 0.0)


def test_unknown_env_name_in_the_vec_env():
    with pytest.raises(UnknownNameError, match="nope_v0"):
        MechanismVecEnv("nope_v0")


def test_a_built_mechanism_with_mechanism_kwargs_is_refused_by_the_vector_view():
    with pytest.raises(TypeError, match="mechanism_kwargs"):
        AgentVectorView(2, mechanism=NoTransfers(), mechanism_kwargs={"amount": 1.0})


# -- load_state_dict checks what it loads ---------------------------------------------------


def bound(mechanism: Mechanism) -> Mechanism:
    mechanism.bind(pollution_v0.parallel_env(n_agents=N_AGENTS).game)
    return mechanism


MECHANISMS = {
    "NoTransfers": lambda: NoTransfers(),
    "FlatSchedule": lambda: FlatSchedule(np.zeros(3)),
    "Pigouvian": lambda: Pigouvian(),
    "Budgeted": lambda: Budgeted(NoTransfers(), 2.0),
    "Stacked": lambda: Stacked([(NoTransfers(), 1), (FlatSchedule(np.zeros(3)), 2)]),
}


@pytest.mark.parametrize("name", MECHANISMS)
def test_a_state_with_a_missing_or_an_extra_key_is_refused(name):
    mechanism = bound(MECHANISMS[name]())
    state = mechanism.state_dict()
    mechanism.load_state_dict(state)  # the control: its own state loads
    with pytest.raises(ValueError, match=rf"{name} state.*unexpected \['bogus'\]"):
        mechanism.load_state_dict({**state, "bogus": 1})
    for key in state:
        with pytest.raises(ValueError, match=rf"{name} state.*lacks \['{key}'\]"):
            mechanism.load_state_dict({k: v for k, v in state.items() if k != key})
    with pytest.raises(TypeError, match=f"a {name} state must be a dict"):
        mechanism.load_state_dict([("budget", 1.0)])


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"budget": float("nan")}, "budget must be a finite number >= 0"),
        ({"budget": -1.0}, "budget must be a finite number >= 0"),
        ({"spent": np.array([np.nan])}, "spent must be finite"),
        ({"spent": np.array([-1.0])}, "spent must be finite and >= 0"),
        ({"spent": np.zeros((1, 1))}, r"shape \(B,\)"),
        ({"binding_periods": -2}, "binding_periods"),
    ],
)
def test_a_budget_state_is_checked_as_the_constructor_checks(change, fragment):
    mechanism = bound(Budgeted(FlatSchedule(np.ones(3)), 0.0))
    state = mechanism.state_dict()
    with pytest.raises(ValueError, match=fragment):
        mechanism.load_state_dict({**state, **change})
    assert mechanism.budget == 0.0  # a refused state leaves the mechanism as it was
    mechanism.start_episodes(1)
    game = mechanism.game
    posted = mechanism.contract(
        MechanismInput(np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1)), np.zeros(1, int))
    )
    assert posted.max() == 0.0 and game is not None  # budget 0 pays nothing


def test_other_mechanism_states_are_checked_too():
    with pytest.raises(ValueError, match="Pigouvian epsilon"):
        bound(Pigouvian()).load_state_dict({"agent_discount": 0.0, "epsilon": float("nan")})
    with pytest.raises(ValueError, match="Pigouvian agent_discount"):
        Pigouvian(agent_discount=2.0)
    with pytest.raises(TypeError, match="FlatSchedule transfers must be numbers"):
        bound(FlatSchedule(np.zeros(3))).load_state_dict({"transfers": np.array(["a", "b", "c"])})
    with pytest.raises(ValueError, match="FlatSchedule transfers must be finite"):
        FlatSchedule(np.zeros(3)).load_state_dict({"transfers": np.array([np.nan, 0.0, 0.0])})


def test_every_public_name_is_still_importable_from_pa_envs_mechanisms():
    import pa_envs.mechanisms as mechanisms

    for name in mechanisms.__all__:
        assert getattr(mechanisms, name) is not None
    assert set(mechanisms.MECHANISM_DESCRIPTIONS) == set(mechanisms.MECHANISM_NAMES)
    assert all(mechanisms.MECHANISM_DESCRIPTIONS.values())
    assert pa_envs.make_parallel_env is pa_envs.presets.make_parallel_env


def test_stacked_feeds_back_every_member_that_learns_and_skips_the_rest():
    """Stacked slices the feedback only for members whose update is not the base no-op: an
    overriding subclass and an update set on the instance are both called."""
    from pa_envs import pollution_v0
    from pa_envs.learning_loop import play
    from pa_envs.mechanisms import Mechanism, NoTransfers, Stacked

    class Counting(NoTransfers):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def update(self, feedback) -> None:
            self.calls += 1
            assert len(feedback.period) == 2  # its own copies only

    patched, seen = NoTransfers(), []
    patched.update = lambda feedback: seen.append(len(feedback.period))
    skipped = NoTransfers()
    assert type(skipped).update is Mechanism.update
    counting = Counting()
    game = pollution_v0.parallel_env(max_cycles=5).game
    play(game, game.exact_model(), Stacked([(counting, 2), (patched, 3), (skipped, 1)]), [0] * 6, 2, "floor")
    assert counting.calls == 10 and seen == [3] * 10
