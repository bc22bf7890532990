"""The two-phase mechanism: its parts against known answers, its play on every env, and what it reads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from pa_envs import ENVS, analysis, get_env_module, pollution_v0, presets
from pa_envs.learning_loop import play
from pa_envs.mechanisms import MechanismEnv, MechanismInput, make_mechanism
from pa_envs.two_phase import EmpiricalModel, PriceSearch, Schedule, TwoPhaseMechanism, plan

# -- the price search ---------------------------------------------------------------------------


def search(truth: np.ndarray, visible: bool, steps: int = 6, bound: float = 5.0, blocks: int = 40):
    """Agents (one copy) that send signal 0 exactly when offered at least ``truth`` (inf: never).
    With outcome signals the signal is sent with probability 0.3, or 0.6 when the agent complies,
    and blocks are long enough (4,000 periods) that a response of 0.3 is told from 0.8 of it."""
    n = len(truth)
    prices = PriceSearch((1, n), 1, bound, np.array([steps]), 0.8, visible)
    rows, signal = np.array([0]), np.array([0])
    prices.open(rows, signal)
    generator = np.random.default_rng(0)
    for _ in range(blocks):
        if prices.done(rows).all():
            break
        hits, offered = np.zeros((1, n)), np.zeros((1, n))
        for _ in range(600 if visible else 4000):
            bonus = prices.bonus(rows, signal, generator.random((1, n)))
            comply = bonus >= truth[None, :]
            sent = comply if visible else generator.random((1, n)) < np.where(comply, 0.6, 0.3)
            h, o = prices.observe(rows, signal, sent, np.array([True]))
            hits, offered = hits + h, offered + o
        prices.close_block(rows, signal, hits, offered)
    return prices


@pytest.mark.parametrize("visible", [True, False])
@pytest.mark.slow
def test_the_search_brackets_each_agents_least_working_bonus(visible):
    truth = np.array([0.4, 1.0, 3.3, 4.9])
    prices = search(truth, visible)
    tau = prices.tau[0, :, 0]
    assert np.all(tau >= truth) and np.all(tau <= truth + 5.0 / 2**6 + 1e-12)


def test_favourites_cost_nothing_and_the_unreachable_cost_infinity():
    prices = search(np.array([0.0, np.inf]), visible=True)
    assert prices.tau[0, :, 0].tolist() == [0.0, np.inf]


@pytest.mark.slow
def test_an_outcome_that_does_not_move_is_not_implementable():
    prices = search(np.array([np.inf]), visible=False)
    assert prices.tau[0, 0, 0] == np.inf


# -- the schedule ---------------------------------------------------------------------------------


def test_the_schedule_follows_the_theory_as_t_grows():
    """Phase 1 grows like T**(2/3), tolerance and margin shrink like T**(-1/3): fitted across T."""
    episodes = np.array([100, 400, 1600, 6400])
    schedule = Schedule.of(
        episodes * 50, 50, 5.0, 3, phase1_scale=3.0, warmup_share=0.15, pricing_share=0.55,
        min_block=50, tolerance_scale=0.05, margin_scale=0.02,
    )  # fmt: skip
    slope = np.polyfit(np.log(episodes), np.log(schedule.phase1), 1)[0]
    assert slope == pytest.approx(2 / 3, abs=0.01)
    for shrinking in (schedule.tolerance, schedule.margin):
        assert np.polyfit(np.log(episodes), np.log(shrinking), 1)[0] == pytest.approx(-1 / 3, abs=1e-9)
    assert np.all(np.diff(schedule.steps) >= 0) and np.all(schedule.phase1 <= schedule.total)
    assert np.all(schedule.phase1 / schedule.total < [0.7, 0.5, 0.3, 0.2])


# -- the estimator and the planner ------------------------------------------------------------------


def test_the_estimator_is_exact_on_what_it_saw_and_fits_what_it_did_not():
    """Welfare linear in the state: fitted exactly, seen or not; a deterministic move: its law."""
    coordinates = np.arange(10)[:, None]
    model = EmpiricalModel(1, coordinates, n_labels=2, choices=np.array([[0], [1]]))  # one agent
    for state in (1, 2, 3, 6, 7):
        for label in (0, 1):
            welfare = 2.0 * state + (5.0 if label else 0.0)
            model.record(
                np.array([0]),
                np.array([state]),
                np.array([label]),
                np.array([welfare]),
                np.array([min(9, state + label)]),
            )
    welfare = model.welfare(0, np.array([0, 1]))
    np.testing.assert_allclose(welfare, 2.0 * coordinates + np.array([0.0, 5.0]), atol=1e-3)
    law = model.transitions(0, np.array([0, 1]))
    np.testing.assert_allclose(law.sum(axis=2), 1.0)
    assert law[2, 1, 3] == pytest.approx(1.0) and law[6, 0, 6] == pytest.approx(1.0)
    assert law[4, 1].argmax() == 5  # unseen: borrowed from the label's other states


def test_the_planner_solves_a_known_problem():
    """Two states, two labels: label 1 pays 1 now but moves to state 1, where everything pays 0;
    over 3 periods the planner waits (label 0, 0.5 a period) until the last."""
    welfare = np.array([[0.5, 1.0], [0.0, 0.0]])
    moves = np.zeros((2, 2, 2))
    moves[0, 0, 0] = moves[0, 1, 1] = moves[1, :, 1] = 1.0
    policy = plan(welfare, moves, np.ones((2, 2), bool), 3)
    assert policy[:, 0].tolist() == [0, 0, 1]
    blocked = plan(welfare, moves, np.array([[True, False], [True, True]]), 3)
    assert blocked[:, 0].tolist() == [0, 0, 0]


# -- what it reads ---------------------------------------------------------------------------------


def scrambled(model):
    """The model with its payoffs, transition probabilities and classes shuffled."""
    generator = np.random.default_rng(0)
    transitions = model.transitions
    return dataclasses.replace(
        model,
        private_utility=generator.permutation(model.private_utility.ravel()).reshape(
            model.private_utility.shape
        ),
        principal_payoff=-model.principal_payoff,
        externality=np.zeros_like(model.externality),
        transition_class=generator.permutation(model.transition_class),
        transitions=type(transitions)(
            transitions.kernel_successors,
            transitions.kernel_probabilities[:, ::-1].copy(),
            transitions.class_map[::-1].copy(),
        ),
    )


@pytest.mark.slow
def test_it_reads_no_payoff_probability_or_class_from_the_model(monkeypatch):
    """The same play, bit for bit, when every model the game offers is scrambled; and a run
    told the transition classes does play differently (the argument is used)."""
    game = pollution_v0.parallel_env(n_agents=2, max_cycles=20).game
    model = game.tabular_model()  # the truth, for the agents' regret accounting only
    first = TwoPhaseMechanism(60 * 20)
    honest = play(game, model, first, [0, 1], 60)
    fake = scrambled(model)
    for method in ("tabular_model", "exact_model", "count_model"):
        monkeypatch.setattr(type(game), method, lambda self, fake=fake: fake)
    second = TwoPhaseMechanism(60 * 20)
    fooled = play(game, model, second, [0, 1], 60)
    np.testing.assert_array_equal(honest.welfare, fooled.welfare)
    np.testing.assert_array_equal(first.policy, second.policy)
    assert first.stage.tolist() == second.stage.tolist() == [3, 3]  # both steered
    told = TwoPhaseMechanism(60 * 20, transition_classes=model.transition_class)
    monkeypatch.undo()
    assert not np.array_equal(play(game, model, told, [0, 1], 60).welfare, honest.welfare)


class Spaces:
    """What a principal may know of a game: the spaces, its observation and the horizon; any
    other attribute raises (payoffs, dynamics, parameters of the economics, the model)."""

    def __init__(self, game):
        self._game = game
        self.params = type(
            "Params", (), {"max_cycles": game.params.max_cycles, "max_transfer": game.params.max_transfer}
        )()
        for name in ("name", "n_agents", "n_actions", "n_signals", "signal_names", "action_names"):
            setattr(self, name, getattr(game, name))

    def principal_features(self, state):
        return self._game.principal_features(state)

    def principal_features_high(self):
        return self._game.principal_features_high()


class Blinkered(TwoPhaseMechanism):
    """The mechanism bound to :class:`Spaces` instead of the game."""

    def bind(self, game):
        super().bind(Spaces(game))


@pytest.mark.parametrize("name", ["pollution_v0", "platform_v0"])
@pytest.mark.slow
def test_it_needs_nothing_but_the_spaces_and_its_observation(name):
    """Bound to a game that exposes only the spaces, the principal's observation and the
    horizon (any other read raises), it plays exactly as when bound to the whole game."""
    game = get_env_module(name).parallel_env(n_agents=2, max_cycles=10).game
    model = game.exact_model()
    whole, blind = TwoPhaseMechanism(50 * 10, min_block=10), Blinkered(50 * 10, min_block=10)
    first, second = play(game, model, whole, [0], 50), play(game, model, blind, [0], 50)
    np.testing.assert_array_equal(first.welfare, second.welfare)
    assert blind.stage[0] == whole.stage[0] == 3  # it got to steering


def test_transition_classes_only_where_signals_are_actions():
    game = get_env_module("insurance_v0").parallel_env(n_agents=2).game
    with pytest.raises(ValueError, match="signals are actions"):
        TwoPhaseMechanism(1000, transition_classes=np.zeros(4, np.int64)).bind(game)
    with pytest.raises(ValueError, match="one per joint signal"):
        TwoPhaseMechanism(1000, transition_classes=np.zeros(5, np.int64)).bind(
            pollution_v0.parallel_env(n_agents=2).game
        )


# -- it learns and steers ---------------------------------------------------------------------------


@pytest.mark.slow
def test_it_learns_the_firms_costs_and_steers_near_the_optimum():
    """pollution_v0 (3 firms): the prices sit just above the true profit gaps (4 for low, 1 for
    medium, 0 for high) and the last episodes come close to W*."""
    env = pollution_v0.parallel_env(n_agents=3)
    game, model = env.game, env.tabular_model()
    episodes = 200
    mechanism = TwoPhaseMechanism(episodes * game.params.max_cycles)
    result = play(game, model, mechanism, [0], episodes)
    tau = mechanism.estimates(0)["tau"]
    true_gaps = np.array([4.0, 1.0, 0.0])
    assert np.all(tau >= true_gaps - 1e-9) and np.all(tau <= true_gaps + 0.1)
    assert mechanism.estimates(0)["phase"] == 2
    optimum = analysis.social_optimum(model).social_welfare
    assert result.welfare[0, -20:].mean() >= 0.93 * optimum


@pytest.mark.parametrize("name", sorted(ENVS))
@pytest.mark.slow
def test_it_runs_on_every_env_and_says_which_assumptions_fail(name):
    """Signals that are outcomes (insurance, platform) or not the action (grid) included: it
    reaches phase 2, posts transfers within the bound, and reports what it saw."""
    env = get_env_module(name).parallel_env(n_agents=2, max_cycles=10)
    game = env.game
    mechanism = TwoPhaseMechanism(80 * 10, min_block=10)
    play(game, game.exact_model(), mechanism, [0, 1], 80)
    assert mechanism.stage.tolist() == [3, 3]
    state = np.zeros((2, game.state_high.size), np.int64)
    inputs = MechanismInput(state, game.principal_features(state).astype(np.float32), np.zeros(2, np.int64))
    contract = mechanism.contract(inputs)
    assert contract.shape == (2, 2, game.n_signals)
    assert np.all(np.abs(contract) <= game.params.max_transfer)
    report = mechanism.assumptions(0)
    visible = game.signal_names == game.action_names
    assert report["signals_are_actions"] == visible
    if visible:  # it priced signals it can induce
        tau = mechanism.estimates(0)["tau"]
        assert np.isfinite(tau).any() and np.all(tau[np.isfinite(tau)] <= game.params.max_transfer)
    else:
        assert any("outcomes, not actions" in note for note in report["notes"])


def test_the_offers_posted_follow_the_prices_as_they_are_raised():
    """Phase 2 posts from a table of offers (price plus margin, capped; 0 where unpaid) kept
    with the prices: after a run whose compliance checks raised prices, and after a reload,
    it is what the prices give."""
    game = presets.parallel_env("pollution_v0", max_cycles=20).game
    mechanism = TwoPhaseMechanism([16 * 20] * 2, phase1_scale=0.05, min_block=4)
    play(game, game.exact_model(), mechanism, [0, 1], 16, "situations")
    assert mechanism.stage.tolist() == [3, 3] and mechanism.failures.sum() > 0  # prices were raised

    def offers(price: np.ndarray) -> np.ndarray:
        margin = mechanism.schedule.margin[:, None, None, None]
        paid = np.isfinite(price) & (price > 0)
        return np.where(paid, np.minimum(price + margin, game.params.max_transfer), 0.0)

    np.testing.assert_array_equal(mechanism.offer, offers(mechanism.price))
    reloaded = TwoPhaseMechanism([16 * 20] * 2, phase1_scale=0.05, min_block=4)
    reloaded.bind(game)
    state = mechanism.state_dict()
    state["arrays"]["price"][0, 0, 0, -1] = 1.5  # a price the run never set: its offer follows
    reloaded.load_state_dict(state)
    np.testing.assert_array_equal(reloaded.offer, offers(reloaded.price))


def test_it_binds_to_a_mechanism_env_and_passes_pettingzoo():
    env = MechanismEnv(pollution_v0.parallel_env(n_agents=2), make_mechanism("two_phase", total_periods=5000))
    parallel_api_test(env, num_cycles=150)


@pytest.mark.slow
def test_it_resumes_mid_search_and_in_phase_2():
    """Save mid-search and in phase 2: a restored copy plays on as the original does, period
    after period (the same contracts, fed the same feedback)."""
    from pa_envs.core import rng
    from pa_envs.core.game import resolve_period
    from pa_envs.mechanisms import PeriodFeedback

    game = pollution_v0.parallel_env(n_agents=2, max_cycles=20).game
    model = game.tabular_model()
    generator = np.random.default_rng(5)
    for episodes in (12, 60):
        first = TwoPhaseMechanism(60 * 20)
        play(game, model, first, [0], episodes)
        second = TwoPhaseMechanism(60 * 20)
        second.bind(game)
        second.load_state_dict(first.state_dict())
        for key, value in first.estimates(0).items():
            np.testing.assert_array_equal(second.estimates(0)[key], value)
        state = np.array([[5]])
        for t in range(200):  # random agents, the same for both
            period = np.array([t % 20])
            contracts = [m.post(state, period) for m in (first, second)]
            np.testing.assert_array_equal(*contracts)
            actions = generator.integers(0, 3, size=(1, 2))
            noise = rng.batch_uniforms(np.array([1], np.uint64), np.array([t + 1], np.uint64), 1)
            outcome = resolve_period(game, state, actions, contracts[0], noise)
            done = np.array([t % 20 == 19])
            feedback = PeriodFeedback.of(
                state, period, contracts[0], outcome, outcome.dynamics.next_state, done
            )
            for mechanism in (first, second):
                mechanism.update(feedback)
            state = np.array([[0]]) if done[0] else outcome.dynamics.next_state
    assert second.estimates(0)["phase"] == 2
    state = first.state_dict()
    with pytest.raises(ValueError, match="settings"):
        TwoPhaseMechanism(60 * 20, margin_scale=0.5).load_state_dict(state)
    broken = {**state, "arrays": {k: v for k, v in state["arrays"].items() if k != "price"}}
    with pytest.raises(ValueError, match=r"lacks arrays\.price"):
        second.load_state_dict(broken)
    reshaped = {**state, "arrays": {**state["arrays"], "played": np.zeros(3)}}
    with pytest.raises(ValueError, match="shape"):
        second.load_state_dict(reshaped)


def test_copies_may_have_their_own_run_lengths():
    mechanism = TwoPhaseMechanism([2000, 8000, 32000])
    mechanism.bind(pollution_v0.parallel_env(n_agents=2, max_cycles=20).game)
    mechanism.start_episodes(3)
    assert np.all(np.diff(mechanism.schedule.phase1) > 0)
    with pytest.raises(ValueError, match="batch"):
        mechanism.start_episodes(2)
    other = TwoPhaseMechanism([2000, 8000])
    other.bind(pollution_v0.parallel_env(n_agents=2).game)
    with pytest.raises(ValueError, match="for 2 copies"):
        other.start_episodes(3)


def test_a_run_too_short_for_phase_1_says_so():
    with pytest.warns(UserWarning, match="may not reach phase 2"):
        TwoPhaseMechanism(50).bind(pollution_v0.parallel_env(n_agents=2).game)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"total_periods": 0}, "total_periods"),
        ({"total_periods": [10, -1]}, "total_periods"),
        ({"threshold": 1.5}, "threshold"),
        ({"margin_scale": -1.0}, "margin_scale"),
        ({"warmup_share": 0.6, "pricing_share": 0.6}, "at most 1"),
        ({"min_block": 1}, "min_block"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TwoPhaseMechanism(**{"total_periods": 1000, **kwargs})
