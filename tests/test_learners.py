"""The agents' learners: they learn, keep learning when the contract moves, and account regret."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from baselines.learners import (
    ContractQLearner,
    HedgeLearner,
    LearnerBehaviour,
    MyopicBestResponder,
    QLearner,
    counterfactual_rewards,
)
from pa_envs import pollution_v0
from pa_envs.core.tabular import TabularModel, enumerate_joint_actions
from pa_envs.core.transitions import GatheredTransitions

LEARNER_CLASSES = [QLearner, HedgeLearner]


def play_bandit(learner, rewards_of, periods: int, full_information: bool = True) -> list[np.ndarray]:
    """One state, fixed per-action rewards ``rewards_of(t)`` (L,) for every agent; returns actions."""
    batch, n = learner.batch, learner.n_agents
    states = np.zeros(batch, dtype=np.int64)
    history = []
    for t in range(periods):
        table = np.broadcast_to(rewards_of(t), (batch, n, learner.n_actions))
        actions = learner.act(states, table)
        earned = np.take_along_axis(table, actions[:, :, None], axis=2)[:, :, 0]
        learner.learn(
            states, actions, earned, states, np.zeros(batch, bool), table if full_information else None
        )
        if t % 20 == 19:
            learner.end_episode()
        history.append(actions)
    return history


@pytest.mark.parametrize("cls", LEARNER_CLASSES)
@pytest.mark.parametrize("full_information", [True, False])
@pytest.mark.slow
def test_learners_find_the_best_action(cls, full_information):
    learner = cls(1, 3, 2, batch=4, seed=0)
    history = play_bandit(learner, lambda t: np.array([0.0, 1.0, 0.3]), 3000, full_information)
    late = np.array(history[-300:])
    assert (late == 1).mean() > 0.9


@pytest.mark.parametrize("cls", LEARNER_CLASSES)
@pytest.mark.slow
def test_learners_follow_a_contract_that_changes(cls):
    """Halfway the principal starts paying 2 on action 0: the learners move there
    (Hedge with a finite memory; classic Hedge would need as long again)."""
    learner = cls(1, 3, 2, batch=4, seed=1, **({"alpha": 0.2} if cls is QLearner else {"memory": 0.995}))

    def rewards(t: int) -> np.ndarray:
        base = np.array([0.0, 1.0, 0.3])
        return base + (np.array([2.0, 0.0, 0.0]) if t >= 3000 else 0.0)

    history = np.array(play_bandit(learner, rewards, 6000))
    assert (history[2700:3000] == 1).mean() > 0.85
    assert (history[-300:] == 0).mean() > 0.85


def test_hedge_regret_grows_sublinearly():
    learner = HedgeLearner(1, 3, 1, batch=8, seed=2, eta=0.05)
    generator = np.random.default_rng(0)
    draws = generator.uniform(size=(4000, 3)) * np.array([0.6, 1.0, 0.8])
    regrets = []
    for t in range(4000):
        table = np.broadcast_to(draws[t], (8, 1, 3))
        states = np.zeros(8, dtype=np.int64)
        actions = learner.act(states)
        earned = np.take_along_axis(table, actions[:, :, None], axis=2)[:, :, 0]
        learner.learn(states, actions, earned, states, np.zeros(8, bool), table)
        if t + 1 in (1000, 4000):
            regrets.append(learner.regret.mean())
    # Hedge's bound: log(L)/eta + eta * T / 8 -> at T=4000 about 47; linear growth would be 4x.
    assert regrets[1] < np.log(3) / 0.05 + 0.05 * 4000 / 8 + 5
    assert regrets[1] < 3.0 * max(regrets[0], 1.0)


def test_myopic_best_responder_has_no_regret():
    learner = MyopicBestResponder(1, 3, 2, batch=2, seed=0)
    generator = np.random.default_rng(3)
    for _ in range(200):
        table = generator.normal(size=(2, 2, 3))
        states = np.zeros(2, dtype=np.int64)
        actions = learner.act(states, table)
        assert np.array_equal(actions, table.argmax(axis=2))
        earned = np.take_along_axis(table, actions[:, :, None], axis=2)[:, :, 0]
        learner.learn(states, actions, earned, states, np.zeros(2, bool), table)
    assert np.all(learner.regret <= 1e-9)
    with pytest.raises(ValueError, match="payoffs"):
        learner.act(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="counterfactual"):
        learner.learn(np.zeros(2, np.int64), actions, earned, np.zeros(2, np.int64), np.zeros(2, bool))


def test_regret_counts_what_the_best_fixed_action_would_have_earned():
    learner = QLearner(2, 2, 1, batch=1, seed=0)
    visits = [(0, 0, [1.0, 3.0]), (0, 1, [2.0, 0.0]), (1, 0, [5.0, 1.0])]
    for state, action, table in visits:
        s = np.array([state])
        learner.learn(
            s, np.array([[action]]), np.array([[table[action]]]), s, np.array([False]), np.array([[table]])
        )
    # state 0: best fixed action 1 would have earned 3, the learner earned 1 + 0; state 1: 5 vs 5.
    assert learner.regret[0, 0] == pytest.approx(2.0)


def test_counterfactual_rewards_match_the_env_card():
    env = pollution_v0.parallel_env(n_agents=3)
    for model in (env.tabular_model(), env.game.count_model()):
        states = np.array([0, 17, 60])
        actions = np.array([[0, 1, 2], [2, 2, 2], [1, 0, 1]])
        contracts = np.random.default_rng(4).uniform(-2, 2, size=(3, 3, 3))
        got = counterfactual_rewards(model, states, actions, contracts)
        quantity = np.arange(1, 4)
        profit = 6.0 * quantity - quantity**2
        expected = profit[None, None, :] - 0.1 * states[:, None, None] + contracts
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_state_dict_resumes_the_same_run():
    first = QLearner(1, 3, 2, batch=3, seed=5)
    play_bandit(first, lambda t: np.array([0.0, 1.0, 0.3]), 50)
    saved = first.state_dict()
    second = QLearner(1, 3, 2, batch=3, seed=99)
    second.load_state_dict(saved)
    a = play_bandit(first, lambda t: np.array([0.0, 1.0, 0.3]), 30)
    b = play_bandit(second, lambda t: np.array([0.0, 1.0, 0.3]), 30)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    np.testing.assert_array_equal(first.regret, second.regret)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_states": 0}, "n_states"), ({"batch": 0}, "batch"), ({"alpha": 2.0}, "alpha")],
)
def test_bad_learner_settings(kwargs, match):
    settings = {"n_states": 1, "n_actions": 3, "n_agents": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        QLearner(**settings)


def test_bad_learner_inputs():
    learner = QLearner(4, 3, 2, batch=2)
    with pytest.raises(ValueError, match="states must be"):
        learner.act(np.array([0, 4]))
    with pytest.raises(ValueError, match="shape"):
        learner.learn(
            np.zeros(2, np.int64), np.zeros((2, 3), np.int64), np.zeros((2, 3)), np.zeros(2, np.int64), [0, 0]
        )


@pytest.mark.parametrize("name", ["q_learning", "hedge", "myopic_best_response"])
def test_learners_play_the_agents_of_the_principal_view(name):
    """Learning agents make the view non-stationary by design (gymnasium's reset-determinism
    check cannot hold), but two fresh views with the same seeds replay the same run."""

    def run() -> tuple[list, LearnerBehaviour]:
        behaviour = (
            LearnerBehaviour(name, seed=7) if name != "myopic_best_response" else LearnerBehaviour(name)
        )
        env = gymnasium.make("pa_envs/Pollution-Principal-v0", n_agents=2, max_cycles=10, behaviour=behaviour)
        env.action_space.seed(0)
        trace = []
        for episode in range(3):
            env.reset(seed=episode)
            done = False
            while not done:
                observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
                trace.append((observation.tolist(), reward, info["actions"].tolist()))
                done = terminated or truncated
        env.reset(seed=3)
        return trace, behaviour

    first, behaviour = run()
    second, _ = run()
    assert first == second
    assert behaviour.learner.episodes == 3
    assert np.all(np.isfinite(behaviour.learner.regret))
    if name == "myopic_best_response":
        assert np.all(behaviour.learner.regret <= 1e-9)


def prisoners_dilemma() -> TabularModel:
    """One state; cooperate (0) / defect (1); payoffs depend on the other's action."""
    joint = enumerate_joint_actions(2, 2)
    table = {(0, 0): (3, 3), (0, 1): (0, 5), (1, 0): (5, 0), (1, 1): (1, 1)}
    utility = np.array([[table[tuple(a)] for a in joint]], dtype=np.float64)
    return TabularModel(
        states=np.zeros((1, 1), dtype=np.int64),
        joint_actions=joint,
        initial_distribution=np.ones(1),
        transition_class=np.zeros(4, dtype=np.int64),
        transitions=GatheredTransitions(np.zeros((1, 1, 1), np.int64), np.ones((1, 1, 1))),
        private_utility=utility,
        principal_payoff=np.zeros((1, 4)),
        externality=np.zeros((1, 4)),
        signal_probabilities=np.eye(2)[joint][None],
        horizon=1,
    )


def test_counterfactual_rewards_hold_the_others_fixed_when_payoffs_interact():
    model = prisoners_dilemma()
    contracts = np.array([[[0.5, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, -1.0]]])
    got = counterfactual_rewards(model, np.zeros(2, np.int64), np.array([[0, 0], [1, 1]]), contracts)
    # copy 0: the other cooperates; agent 0 is paid 0.5 for cooperating.
    np.testing.assert_allclose(got[0], [[3.5, 5.0], [3.0, 5.0]])
    # copy 1: the other defects; agent 1 is taxed 1 for defecting.
    np.testing.assert_allclose(got[1], [[0.0, 1.0], [0.0, 0.0]])


def test_a_myopic_best_responder_can_have_regret_when_payoffs_interact():
    """Matching pennies against an alternating opponent: replying to the last move loses."""
    learner = MyopicBestResponder(1, 2, 1, batch=1)
    states = np.zeros(1, dtype=np.int64)
    opponent = 0
    for _ in range(50):
        # The payoff of matching the opponent's *last* move, while it switches every period.
        payoffs = np.array([[[1.0, -1.0] if opponent == 0 else [-1.0, 1.0]]])
        action = learner.act(states, payoffs)
        opponent = 1 - opponent
        realized = np.array([[1.0, -1.0] if opponent == 0 else [-1.0, 1.0]])
        learner.learn(states, action, realized[:, action[0]], states, np.zeros(1, bool), realized[None])
    assert learner.regret[0, 0] > 0


def test_agent_view_learners_read_the_trained_agents_real_action():
    behaviour = LearnerBehaviour("myopic_best_response")
    env = gymnasium.make("pa_envs/Pollution-Agent-v0", n_agents=3, max_cycles=6, others=behaviour)
    env.reset(seed=0)
    for action in (0, 2, 1):
        env.step(action)
        assert behaviour.joint[0] == action  # the trained agent's real action is the context
    assert behaviour.learner.n_agents == 2  # it plays the two other agents only
    assert np.all(behaviour.learner.regret <= 1e-9)


def test_best_responses_move_only_the_given_players():
    from pa_envs import analysis

    model = prisoners_dilemma()
    assert analysis.best_responses(model, 0, np.zeros((2, 2))).tolist() == [1, 1]
    fixed = analysis.best_responses(model, 0, np.zeros((2, 2)), start=np.array([0, 0]), players=[1])
    assert fixed.tolist() == [0, 1]


def test_state_dict_checks_kind_and_size_and_restores_settings():
    hedge = HedgeLearner(2, 3, 1, batch=2, seed=0, eta=0.3, memory=0.9)
    states = np.array([0, 1])
    hedge.learn(states, np.array([[0], [1]]), np.zeros((2, 1)), states, np.zeros(2, bool))  # EXP3 mode
    restored = HedgeLearner(2, 3, 1, batch=2, seed=1)
    restored.load_state_dict(hedge.state_dict())
    assert restored.eta == 0.3 and restored.memory == 0.9
    np.testing.assert_array_equal(restored.probabilities(states), hedge.probabilities(states))
    with pytest.raises(ValueError, match="sized"):
        HedgeLearner(2, 3, 1, batch=1).load_state_dict(hedge.state_dict())
    with pytest.raises(ValueError, match="q_learning"):
        QLearner(2, 3, 1, batch=2).load_state_dict(hedge.state_dict())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"actions": np.array([[-1], [0]])}, "actions must be ints"),
        ({"states": np.array([0.7, 0.0])}, "states must be"),
        ({"rewards": np.array([[np.nan], [0.0]])}, "rewards must be finite"),
        ({"done": np.zeros(3, bool)}, "done must have shape"),
    ],
)
def test_bad_inputs_to_learn(change, match):
    learner = QLearner(2, 3, 1, batch=2)
    call = {
        "states": np.array([0, 1]),
        "actions": np.array([[0], [1]]),
        "rewards": np.zeros((2, 1)),
        "next_states": np.array([1, 0]),
        "done": np.zeros(2, bool),
        **change,
    }
    with pytest.raises(ValueError, match=match):
        learner.learn(**call)


@pytest.mark.parametrize("settings", [{"alpha": "0.1"}, {"alpha": True}, {"decay": 1.5}])
def test_bad_q_settings_name_the_setting(settings):
    with pytest.raises(ValueError, match=next(iter(settings))):
        QLearner(1, 2, 1, **settings)


def test_behaviour_names_reach_the_learners():
    from pa_envs.behaviours import make_behaviour

    for name, cls in (("q_learning", QLearner), ("tabular_q", QLearner), ("hedge", HedgeLearner)):
        behaviour = make_behaviour(name)
        assert isinstance(behaviour, LearnerBehaviour)
        env = gymnasium.make("pa_envs/Pollution-Principal-v0", n_agents=2, behaviour=behaviour)
        env.reset(seed=0)
        assert isinstance(behaviour.learner, cls)


def test_power_schedule_explores_sublinearly():
    learner = QLearner(1, 3, 1, schedule="power", power=1 / 3, epsilon0=0.5, min_epsilon=0.0)
    epsilons = []
    for _ in range(1000):
        epsilons.append(learner.epsilon)
        learner.end_episode()
    assert epsilons[0] == 0.5 and epsilons[7] == pytest.approx(0.25)  # 0.5 * 8**(-1/3)
    # Total exploration over T episodes grows like T**(2/3): a fit across T says so.
    totals = np.cumsum(epsilons)
    slope = np.polyfit(np.log([100, 200, 400, 800]), np.log(totals[[99, 199, 399, 799]]), 1)[0]
    assert slope == pytest.approx(2 / 3, abs=0.03)
    with pytest.raises(ValueError, match="schedule"):
        QLearner(1, 3, 1, schedule="cosine")


def test_per_copy_seeds_make_a_copy_independent_of_its_batch():
    table = np.array([0.0, 1.0, 0.3])
    alone = QLearner(1, 3, 2, batch=1, seed=[5], epsilon0=1.0, decay=1.0)
    batch = QLearner(1, 3, 2, batch=3, seed=[9, 5, 1], epsilon0=1.0, decay=1.0)
    a = play_bandit(alone, lambda t: table, 40)
    b = play_bandit(batch, lambda t: table, 40)
    assert all(np.array_equal(x[0], y[1]) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="one seed per copy"):
        QLearner(1, 3, 2, batch=3, seed=[1, 2])


def contract_bandit(learner, utility, contract_of, periods, signal_of=None):
    """One state; each agent's utility ``utility`` (L,), the contract ``contract_of(t)`` (K,) paid on
    the signal ``signal_of(action)`` (default: the action). Returns the actions."""
    batch, n = learner.batch, learner.n_agents
    states = np.zeros(batch, dtype=np.int64)
    history = []
    for t in range(periods):
        contract = np.broadcast_to(contract_of(t), (batch, n, learner.n_signals)).astype(float)
        actions = learner.act(states, contracts=contract)
        signals = actions if signal_of is None else signal_of(actions)
        paid = np.take_along_axis(contract, signals[:, :, None], axis=2)[:, :, 0]
        rewards = utility[actions] + paid
        learner.learn(
            states, actions, rewards, states, np.zeros(batch, bool), transfers=paid, signals=signals
        )
        if t % 20 == 19:
            learner.end_episode()
        history.append(actions)
    return np.array(history)


def test_a_contract_aware_learner_answers_a_new_contract_at_once():
    """It learns utilities once; when the principal starts paying 2 on action 0 it moves there
    the next period, where a situation learner would learn the new contract from scratch."""
    learner = ContractQLearner(1, 3, 2, batch=4, seed=0, schedule="power", epsilon0=0.1, min_epsilon=0.0)
    utility = np.array([0.0, 1.0, 0.3])
    history = contract_bandit(learner, utility, lambda t: [2.0, 0, 0] if t >= 500 else [0.0, 0, 0], 520)
    assert (history[400:500] == 1).mean() > 0.9
    assert (history[501:520] == 0).mean() > 0.9
    np.testing.assert_allclose(learner.q[0, 0, 0], utility, atol=1e-9)  # utilities, net of transfers


def test_a_contract_aware_learner_learns_how_its_actions_move_its_signal():
    """Outcome signals: action 1 sends signal 1 with probability 0.9, action 0 with 0.2; a bonus
    of 2 on signal 1 is worth 1.4 more under action 1, which costs 1: the learner switches."""
    generator = np.random.default_rng(0)

    def signal_of(actions):
        return (generator.random(actions.shape) < np.where(actions == 1, 0.9, 0.2)).astype(np.int64)

    learner = ContractQLearner(1, 2, 1, batch=8, seed=1, n_signals=2, schedule="power", epsilon0=0.3)
    utility = np.array([0.0, -1.0])
    history = contract_bandit(
        learner, utility, lambda t: [0.0, 2.0] if t >= 400 else [0.0, 0.0], 800, signal_of
    )
    assert (history[300:400] == 0).mean() > 0.85
    assert (history[-100:] == 1).mean() > 0.85
    law = learner.signal_law(np.zeros(8, dtype=np.int64))[:, 0]  # (B, L, K)
    np.testing.assert_allclose(law[:, :, 1].mean(axis=0), [0.2, 0.9], atol=0.06)


def test_a_contract_aware_learner_needs_what_it_reads():
    learner = ContractQLearner(2, 3, 1, batch=2)
    states = np.array([0, 1])
    with pytest.raises(ValueError, match="needs contracts"):
        learner.act(states)
    with pytest.raises(ValueError, match="contracts must have shape"):
        learner.act(states, contracts=np.zeros((2, 1, 2)))
    with pytest.raises(ValueError, match="transfers and signals"):
        learner.learn(states, np.array([[0], [1]]), np.zeros((2, 1)), states, np.zeros(2, bool))
    with pytest.raises(ValueError, match="signals must be ints"):
        learner.learn(
            states, np.array([[0], [1]]), np.zeros((2, 1)), states, np.zeros(2, bool),
            transfers=np.zeros((2, 1)), signals=np.array([[0], [3]]),
        )  # fmt: skip
    with pytest.raises(ValueError, match="gamma"):
        ContractQLearner(2, 3, 1, gamma=0.5)


def test_a_restored_contract_learner_plays_on_identically():
    """Saved mid-run (its priors cached at the last refresh), restored into a learner built with
    other seeds: the same actions, utilities and regret from there on."""
    utility = np.array([0.0, 1.0, 0.3])

    def contract(t):
        return [1.5, 0.0, 0.0] if t % 50 < 25 else [0.0, 0.0, 0.0]

    first = ContractQLearner(2, 3, 2, batch=3, seed=[1, 2, 3], schedule="power", epsilon0=0.3)
    contract_bandit(first, utility, contract, 520)  # past episode 20: priors refresh every tenth
    second = ContractQLearner(2, 3, 2, batch=3, seed=[7, 8, 9], schedule="power", epsilon0=0.3)
    second.load_state_dict(first.state_dict())
    states = np.zeros((3, 2), dtype=np.int64)  # (B, N): every agent in state 0
    np.testing.assert_array_equal(first.utility(states), second.utility(states))
    a = contract_bandit(first, utility, contract, 60)
    b = contract_bandit(second, utility, contract, 60)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.regret, second.regret)
    with pytest.raises(ValueError, match="saved q has shape"):
        second.load_state_dict({**first.state_dict(), "q": np.zeros((1, 1, 1, 1))})


def test_an_early_checkpoint_restores_into_a_learner_that_has_played():
    """Saved before its first episode ended (its cached priors still None), restored into one
    whose caches are filled: it plays on as the saved learner does."""
    utility = np.array([0.0, 1.0, 0.3])

    def contract(t):
        return [1.5, 0.0, 0.0] if t % 50 < 25 else [0.0, 0.0, 0.0]

    early = ContractQLearner(2, 3, 2, batch=3, seed=[1, 2, 3], schedule="power", epsilon0=0.3)
    saved = early.state_dict()
    played = ContractQLearner(2, 3, 2, batch=3, seed=[7, 8, 9], schedule="power", epsilon0=0.3)
    contract_bandit(played, utility, contract, 520)
    played.load_state_dict(saved)
    np.testing.assert_array_equal(
        contract_bandit(early, utility, contract, 60), contract_bandit(played, utility, contract, 60)
    )


def test_a_view_refuses_the_contract_learner_with_a_reason():
    with pytest.raises(ValueError, match="contract_q_learning reads each agent's contract"):
        LearnerBehaviour("contract_q_learning")


def test_the_contract_learners_probabilities_are_those_it_played_with():
    learner = ContractQLearner(1, 2, 1, batch=1, seed=0, epsilon0=0.0, schedule="power", min_epsilon=0.0)
    states = np.zeros(1, dtype=np.int64)
    contract_bandit(learner, np.array([1.0, 0.0]), lambda t: [0.0, 0.0], 4)  # action 0 is better unpaid
    learner.act(states, contracts=np.array([[[0.0, 5.0]]]))  # paid 5 on action 1: it plays 1
    np.testing.assert_allclose(learner.probabilities(states)[0, 0], [0.0, 1.0])


def test_block_drawn_uniforms_are_the_period_by_period_draws_across_a_restore():
    """A seeded learner draws its uniforms 64 periods at a time: each period's row is still
    the counter-based draw of that period, and a learner restored mid-block goes on with it."""
    from pa_envs.core import rng as counter_rng
    from pa_envs.learners import DRAW_BLOCK, QLearner

    seeds = [3, 11, 7]
    learner = QLearner(4, 3, 2, batch=3, seed=seeds)
    keys = np.array([counter_rng.key_from_seed(s) for s in seeds], dtype=np.uint64)
    for draw in range(1, DRAW_BLOCK + 10):
        expected = counter_rng.batch_uniforms(keys, np.full(3, draw, dtype=np.uint64), 2)
        assert np.array_equal(learner._uniforms(), expected), draw
    saved = learner.state_dict()  # mid-block
    restored = QLearner(4, 3, 2, batch=3, seed=[0, 0, 0])
    for _ in range(DRAW_BLOCK + 6):  # a block of its own over the same counters, other keys: stale
        restored._uniforms()
    restored.load_state_dict(saved)
    for _ in range(2 * DRAW_BLOCK):
        assert np.array_equal(restored._uniforms(), learner._uniforms())


def test_regret_added_a_block_at_a_time_is_the_period_by_period_sum():
    """Regret sums are held back and added in play order: reading them every period, at the
    end, or after a save and restore gives the same bits as adding each period at once."""
    from pa_envs.learners import QLearner

    rng = np.random.default_rng(5)
    batch, n_agents, n_states, n_actions, periods = 4, 3, 6, 3, 700  # past REGRET_BLOCK
    eager, lazy = (QLearner(n_states, n_actions, n_agents, batch, seed=[1, 2, 3, 4]) for _ in range(2))
    would_have = np.zeros((batch, n_agents, n_states, n_actions))
    earned = np.zeros((batch, n_agents, n_states))
    copies, agents = np.arange(batch)[:, None], np.arange(n_agents)[None, :]
    for t in range(periods):
        states = rng.integers(0, n_states, (batch, n_agents))
        actions = rng.integers(0, n_actions, (batch, n_agents))
        rewards = rng.normal(size=(batch, n_agents)) * 10.0 ** rng.integers(-3, 4)
        counterfactual = rng.normal(size=(batch, n_agents, n_actions))
        done = np.full(batch, t % 50 == 49)
        for learner in (eager, lazy):
            learner.learn(states, actions, rewards, states, done, counterfactual)
        would_have[copies, agents, states] += counterfactual
        earned[copies, agents, states] += rewards
        assert eager.regret.shape == (batch, n_agents)  # read every period: nothing held back
        if t == 333:  # a save mid-block keeps what was held back
            restored = QLearner(n_states, n_actions, n_agents, batch, seed=[1, 2, 3, 4])
            for _ in range(3):  # periods of its own held back, which the restore must drop
                restored.learn(states, actions, rewards, states, np.zeros(batch, bool), counterfactual)
            restored.load_state_dict(lazy.state_dict())
            lazy = restored
    expected = (would_have.max(axis=3) - earned).sum(axis=2)
    assert np.array_equal(lazy.regret, expected)
    assert np.array_equal(eager.regret, expected)


def test_large_batches_draw_and_hold_back_smaller_blocks():
    """A batch of many agents holds fewer periods of uniforms and of regret (memory stays
    bounded), with the same numbers: one period a block past the bound."""
    from pa_envs.core import rng as counter_rng
    from pa_envs.learners import QLearner

    batch, n_agents = 700, 100  # 70,000 agents: past both bounds, one period a block
    learner = QLearner(2, 2, n_agents, batch=batch, seed=list(range(batch)))
    keys = np.array([counter_rng.key_from_seed(s) for s in range(batch)], dtype=np.uint64)
    for draw in (1, 2, 3):
        assert np.array_equal(
            learner._uniforms(), counter_rng.batch_uniforms(keys, np.full(batch, draw, np.uint64), n_agents)
        )
    assert learner._pending_rows.shape[0] == 1
    states = np.zeros((batch, n_agents), dtype=np.int64)
    actions = np.ones((batch, n_agents), dtype=np.int64)
    rewards = np.full((batch, n_agents), 2.0)
    learner.learn(states, actions, rewards, states, np.zeros(batch, bool), np.ones((batch, n_agents, 2)))
    assert np.array_equal(learner.regret, np.full((batch, n_agents), -1.0))
