"""insurance_v0: classic moral hazard in closed form, hidden types, outcome signals, contagion,
params validation, the model-size guard and the exact references at the defaults."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs import PRINCIPAL, analysis, insurance_v0
from pa_envs.core import rng
from pa_envs.insurance_v0 import InsuranceGame, InsuranceParams

SHIRK, PREVENT = 0, 1
NO_CLAIM, CLAIM = 0, 1


def game(**kwargs) -> InsuranceGame:
    return InsuranceGame(InsuranceParams(**kwargs))


def state_of(types: list[int], risks: list[int]) -> np.ndarray:
    return np.array([types + risks], dtype=np.int64)


def own_benefit(p: InsuranceParams, pi_shirk: float) -> float:
    """What prevention is worth to the agent itself this period: the expected loss it avoids
    plus the fall of its mean-variance risk premium."""
    pi_prevent = pi_shirk - p.effort_effect
    premium = 0.5 * p.risk_aversion * p.loss**2
    return p.effort_effect * p.loss + premium * (pi_shirk * (1 - pi_shirk) - pi_prevent * (1 - pi_prevent))


# -- 1. classic moral hazard: one agent, one risk level, myopic ---------------------------------


@pytest.mark.parametrize(
    ("effort_cost", "risk_aversion"),
    [(1.0, 0.05), (1.2, 0.05), (1.6, 0.05), (1.8, 0.2), (1.3, 0.0)],
)
def test_classic_moral_hazard_and_the_minimal_no_claim_bonus(effort_cost, risk_aversion):
    p = InsuranceParams(
        n_agents=1, n_risk_levels=1, contagion=0.0, effort_cost=effort_cost, risk_aversion=risk_aversion,
        max_cycles=4,
    )  # fmt: skip
    model = InsuranceGame(p).tabular_model()
    assert model.n_states == 2  # the type only
    benefit = {t: own_benefit(p, (p.base_low, p.base_high)[t]) for t in (0, 1)}

    lf = analysis.laissez_faire(model, agent_discount=0.0)
    for s, (theta, _) in enumerate(model.states):
        expected = PREVENT if effort_cost < benefit[theta] else SHIRK
        assert np.all(model.joint_actions[lf.policy[:, s], 0] == expected), (theta, benefit[theta])

    eps = 1e-3
    target = np.full((1, model.n_states), PREVENT)  # joint action index = the one agent's action
    contract = analysis.implementing_transfers(model, target, epsilon=eps)
    for s, (theta, _) in enumerate(model.states):
        bonus = max(0.0, (effort_cost - benefit[theta] + eps) / p.effort_effect)
        np.testing.assert_allclose(contract[:, s, 0, NO_CLAIM], bonus, rtol=0, atol=1e-9)
        assert np.all(contract[:, s, 0, CLAIM] == 0.0)  # never a payment for a claim
    # The bonus does make prevention the equilibrium everywhere.
    paid = analysis.equilibrium(model, contract=contract)
    assert np.all(model.joint_actions[paid.policy] == PREVENT)


def test_the_two_types_can_choose_differently():
    p = InsuranceParams(n_agents=1, n_risk_levels=1, effort_cost=1.2, max_cycles=2)
    low, high = own_benefit(p, p.base_low), own_benefit(p, p.base_high)
    assert high < 1.2 < low  # the premium falls more for the safer type at these base rates
    model = InsuranceGame(p).tabular_model()
    lf = analysis.laissez_faire(model)
    actions = {int(model.states[s, 0]): int(model.joint_actions[lf.policy[0, s], 0]) for s in range(2)}
    assert actions == {0: PREVENT, 1: SHIRK}


# -- 2. hidden types ------------------------------------------------------------------------------


def test_feature_functions_hide_the_other_agents_types():
    g = game(n_agents=3)
    base = state_of([0, 0, 0], [2, 0, 1])
    own_changed = state_of([1, 0, 0], [2, 0, 1])  # agent 0's type only
    states = np.concatenate([base, own_changed])
    principal = g.principal_features(states)
    assert np.array_equal(principal[0], principal[1]) and principal.tolist()[0] == [2, 0, 1]
    agents = g.agent_features(states)  # (2, N, F)
    assert agents.shape == (2, 3, 1 + 3)
    assert agents[1, 0, 0] == 1 and agents[0, 0, 0] == 0  # agent 0 sees its own type change
    assert np.array_equal(agents[0, 1:], agents[1, 1:])  # agents 1 and 2 do not
    # Own type, own risk, then the others' risks in agent order.
    assert agents[0].tolist() == [[0, 2, 0, 1], [0, 0, 2, 1], [0, 1, 2, 0]]
    assert g.agent_features_high().tolist() == [1, 2, 2, 2]
    assert g.principal_features_high().tolist() == [2, 2, 2]


def test_observations_through_the_env_reveal_only_the_own_type():
    env = insurance_v0.parallel_env(n_agents=3)
    seen: dict[tuple[int, ...], dict] = {}
    for seed in range(40):
        observations, _ = env.reset(seed=seed)
        types = tuple(env.state()[:3].astype(int).tolist())  # the global state leads with the types
        seen.setdefault(types, observations)
        for i in range(3):
            assert observations[f"agent_{i}"][0] == types[i]
    assert len(seen) >= 6  # the types are drawn at reset, not fixed
    keys = list(seen)
    for a in keys:
        for b in keys:
            assert np.array_equal(seen[a][PRINCIPAL], seen[b][PRINCIPAL])  # risks only: all 0 at reset
            for i in range(3):
                same = np.array_equal(seen[a][f"agent_{i}"], seen[b][f"agent_{i}"])
                assert same == (a[i] == b[i]), (a, b, i)  # changes with its own type, not the others'
    assert env.observation_space(PRINCIPAL).shape == (3,)
    assert env.observation_space("agent_0").shape == (1 + 3 + 2,)


def test_types_are_drawn_with_the_high_risk_share_and_held_for_the_episode():
    g = game(n_agents=3, high_risk_share=0.3)
    draws = 20_000
    noise = rng.batch_uniforms(np.full(draws, rng.key_from_seed(3)), np.arange(draws), g.noise_size)
    assert g.noise_size == 6  # reset: 3 type uniforms; a period: a loss and a risk-move uniform each
    states = g.initial_state(noise)
    assert np.array_equal(states[:, :3], (noise[:, :3] < 0.3).astype(np.int64))
    assert abs(states[:, :3].mean() - 0.3) < 6 * np.sqrt(0.21 / (3 * draws))
    assert np.all(states[:, 3:] == 0)
    d = g.step(states, np.ones((draws, 3), dtype=np.int64), noise)
    assert np.array_equal(d.next_state[:, :3], states[:, :3])
    model = g.tabular_model()
    high_share = (model.initial_distribution[:, None] * model.states[:, :3]).sum(axis=0)
    np.testing.assert_allclose(high_share, 0.3, atol=1e-12)


# -- 3. the signal is the outcome, not the action --------------------------------------------------


def test_signals_are_claims_with_frequency_pi_not_actions():
    g = game(n_agents=3)
    draws = 20_000
    state = np.repeat(state_of([1, 0, 1], [2, 1, 0]), draws, axis=0)
    actions = np.repeat(np.array([[SHIRK, PREVENT, PREVENT]]), draws, axis=0)
    noise = rng.batch_uniforms(np.full(draws, rng.key_from_seed(11)), np.arange(draws), g.noise_size)
    d = g.step(state, actions, noise)
    assert np.any(d.signals != actions) and np.any(d.signals == actions)
    # pi_i = base + risk_step r_i + contagion * mean of the others' levels - effort_effect * prevent.
    p = g.params
    pi = np.array([
        p.base_high + 2 * p.risk_step + p.contagion * 0.5,
        p.base_low + 1 * p.risk_step + p.contagion * 1.0 - p.effort_effect,
        p.base_high + 0 * p.risk_step + p.contagion * 1.5 - p.effort_effect,
    ])  # fmt: skip
    np.testing.assert_allclose(g.loss_probability(state[:1, :3], state[:1, 3:], actions[:1])[0], pi)
    frequency = d.signals.mean(axis=0)
    assert np.all(np.abs(frequency - pi) <= 6 * np.sqrt(pi * (1 - pi) / draws))
    # A claim is a loss: the agent's utility and the principal's public cost follow it.
    premium = 0.5 * p.risk_aversion * p.loss**2 * pi * (1 - pi)
    expected_utility = -p.loss * d.signals - p.effort_cost * actions - premium[None, :]
    np.testing.assert_allclose(d.private_utility, expected_utility, atol=1e-12)
    np.testing.assert_allclose(d.principal_payoff, -p.public_cost * d.signals.sum(axis=1))
    np.testing.assert_allclose(d.externality, -d.principal_payoff)


def test_env_infos_report_claims_that_differ_from_efforts():
    env = insurance_v0.parallel_env(n_agents=2, max_cycles=30)
    env.reset(seed=0)
    contract = np.zeros(env.action_space(PRINCIPAL).shape, dtype=np.float32)
    differ = agree = 0
    while env.agents:
        _, _, _, _, infos = env.step({PRINCIPAL: contract, "agent_0": SHIRK, "agent_1": PREVENT})
        for agent in ("agent_0", "agent_1"):
            if infos[agent]["signal"] == infos[agent]["action"]:
                agree += 1
            else:
                differ += 1
    assert differ > 0 and agree > 0


def test_a_contract_is_a_premium_and_coverage_per_outcome():
    """Premium p, coverage c: -p on no_claim and c - p on claim (here p = 2, c = 6)."""
    env = insurance_v0.parallel_env(n_agents=2, max_cycles=40)
    policy = np.array([[-2.0, 4.0], [-2.0, 4.0]])
    env.reset(seed=5, options={"contract": policy})
    flat = env.flat_contract(policy)
    claims = 0
    while env.agents:
        _, rewards, _, _, infos = env.step({PRINCIPAL: flat, "agent_0": SHIRK, "agent_1": SHIRK})
        for agent in ("agent_0", "agent_1"):
            info = infos[agent]
            claims += info["signal"]
            assert info["transfer"] == (4.0 if info["signal"] == CLAIM else -2.0)
            assert rewards[agent] == pytest.approx(info["private_utility"] + info["transfer"])
    assert claims > 0


# -- 4. contagion ------------------------------------------------------------------------------------


def test_others_risk_levels_raise_an_agents_loss_probability_in_the_model():
    model = game(n_agents=3).tabular_model()
    joint = int(model.joint_action_index(np.array([SHIRK, SHIRK, SHIRK])))
    p = InsuranceParams()
    for others in ([0, 0], [1, 0], [1, 1], [2, 1], [2, 2]):
        s = int(model.state_index(np.array([0, 1, 0, 1, *others])))
        expected = p.base_low + p.risk_step + p.contagion * np.mean(others)
        assert model.signal_probabilities[s, joint, 0, CLAIM] == pytest.approx(expected)
    lows = [model.state_index(np.array([0, 0, 0, 0, a, b])) for a, b in ([0, 0], [1, 0], [1, 2], [2, 2])]
    claim = model.signal_probabilities[lows, joint, 0, CLAIM]
    assert np.all(np.diff(claim) > 0)
    # Expected cost to the agent and to the public rise with it.
    assert np.all(np.diff(model.private_utility[lows, joint, 0]) < 0)
    assert np.all(np.diff(model.principal_payoff[lows, joint]) < 0)


@pytest.mark.parametrize("agent_discount", [0.0, 0.9])
def test_without_contagion_each_agent_plays_the_one_agent_solution(agent_discount):
    kwargs = {"contagion": 0.0, "max_cycles": 15, "effort_cost": 1.2}  # the two types differ (see above)
    many = game(n_agents=3, **kwargs).tabular_model()
    one = game(n_agents=1, **kwargs).tabular_model()
    lf_many = analysis.laissez_faire(many, agent_discount=agent_discount)
    lf_one = analysis.laissez_faire(one, agent_discount=agent_discount)
    for i in range(3):
        own = one.state_index(many.states[:, [i, 3 + i]])  # (type_i, risk_i) in the one-agent model
        for t in range(many.horizon):
            np.testing.assert_array_equal(
                many.joint_actions[lf_many.policy[t], i], one.joint_actions[lf_one.policy[t, own], 0]
            )
        assert lf_many.agent_values[i] == pytest.approx(lf_one.agent_values[0], rel=1e-12)
    assert len(np.unique(one.joint_actions[lf_one.policy])) == 2  # not a trivial all-same policy


def test_shirking_raises_the_own_level_and_prevention_lowers_it():
    model = game(n_agents=2).tabular_model()
    s = int(model.state_index(np.array([0, 1, 1, 1])))
    p = InsuranceParams()
    up, down = p.risk_up, p.risk_down
    stay_up, stay_down = 1 - up, 1 - down
    both_shirk = {(2, 2): up * up, (2, 1): up * stay_up, (1, 2): stay_up * up, (1, 1): stay_up**2}
    one_prevents = {(2, 0): up * down, (2, 1): up * stay_down, (1, 0): stay_up * down}
    one_prevents[1, 1] = stay_up * stay_down
    cases = [((SHIRK, SHIRK), both_shirk), ((SHIRK, PREVENT), one_prevents)]
    for actions, expected in cases:
        law = model.next_state_distribution(s, int(model.joint_action_index(np.array(actions))))
        for risks, probability in expected.items():
            assert law[model.state_index(np.array([0, 1, *risks]))] == pytest.approx(probability)
        assert law.sum() == pytest.approx(1.0)
    top = int(model.state_index(np.array([1, 1, 2, 0])))  # caps: shirk at the top, prevent at 0
    law = model.next_state_distribution(top, int(model.joint_action_index(np.array([SHIRK, PREVENT]))))
    assert law[top] == pytest.approx(1.0)


# -- 5. params validation, the size guard, the references ---------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("high_risk_share", 1.5, ValueError),
        ("high_risk_share", -0.1, ValueError),
        ("n_risk_levels", 0, ValueError),
        ("n_risk_levels", 2.5, TypeError),
        ("initial_risk", 3, ValueError),
        ("initial_risk", -1, ValueError),
        ("base_low", -0.2, ValueError),
        ("base_high", 1.2, ValueError),
        ("risk_step", -0.01, ValueError),
        ("contagion", -0.1, ValueError),
        ("effort_effect", -0.1, ValueError),
        ("effort_cost", -1.0, ValueError),
        ("effort_cost", float("nan"), ValueError),
        ("loss", 0.0, ValueError),
        ("loss", "10", TypeError),
        ("risk_aversion", -0.1, ValueError),
        ("risk_up", 1.1, ValueError),
        ("risk_down", -0.5, ValueError),
        ("public_cost", -1.0, ValueError),
        ("public_cost", True, TypeError),
        ("max_transfer", 0.0, ValueError),
    ],
)
def test_bad_parameter_is_named(field, value, error):
    with pytest.raises(error, match=field):
        InsuranceParams(**{field: value})


def test_loss_probability_outside_the_unit_interval_is_rejected():
    with pytest.raises(ValueError, match=r"below 0.*base_low"):
        InsuranceParams(base_low=0.05, effort_effect=0.1)
    with pytest.raises(ValueError, match=r"exceed 1.*base_high"):
        InsuranceParams(base_high=0.9, risk_step=0.1, contagion=0.0)  # 0.9 + 0.1 * 2
    with pytest.raises(ValueError, match="exceed 1"):
        InsuranceParams(base_high=0.9, risk_step=0.0, contagion=0.1, n_agents=2)
    # With one agent there are no others: the contagion term is 0 and pi stays <= 1.
    assert (
        InsuranceParams(base_high=0.9, risk_step=0.0, contagion=0.1, n_agents=1).loss_probability_range[1]
        == 0.9
    )
    with pytest.raises(ValueError, match="base_low must be <= base_high"):
        InsuranceParams(base_low=0.3, base_high=0.2)
    # At the edges pi is exactly 0 and 1, which is allowed.
    low, high = InsuranceParams(
        base_low=0.1, base_high=0.6, risk_step=0.1, contagion=0.1
    ).loss_probability_range
    assert low == pytest.approx(0.0) and high == pytest.approx(1.0)


def test_model_size_is_guarded():
    env = insurance_v0.parallel_env(n_agents=6)
    with pytest.raises(ValueError, match=r"n_agents=6.*n_risk_levels=3"):
        env.tabular_model()
    with pytest.raises(ValueError, match="n_agents=6"):
        env.game.exact_model()  # no count model: agents differ by type
    assert env.game.model_size() == (6**6, 2**6, 2**6)
    env.reset(seed=0)  # the env itself still runs
    assert insurance_v0.parallel_env(n_agents=4, n_risk_levels=2).tabular_model().n_states == 4**4


@pytest.fixture(scope="module")
def default_model():
    return insurance_v0.parallel_env().tabular_model()


def test_defaults_are_inefficient_and_the_pigouvian_outcome_reaches_the_optimum(default_model):
    model = default_model
    refs = analysis.exact_references(model, agent_discount=0.0)
    w_star, w_lf = refs.optimum.social_welfare, refs.laissez_faire.social_welfare
    assert w_star < 0 and refs.welfare_gap >= 0.1 * abs(w_star)
    assert refs.price_of_anarchy == pytest.approx(w_lf / w_star) and refs.price_of_anarchy > 1.1
    assert np.all(model.joint_actions[refs.laissez_faire.policy] == SHIRK)  # myopic agents shirk
    assert model.joint_actions[refs.optimum.policy].mean() > 0.95  # the optimum has them prevent
    assert refs.pigouvian_outcome.social_welfare == pytest.approx(w_star, abs=1e-9)
    assert refs.pigouvian_unique
    assert np.abs(refs.pigouvian).max() <= InsuranceParams().max_transfer
    assert np.all(refs.pigouvian[..., CLAIM] == 0.0)  # a no-claim bonus, never a claim payment


def test_a_flat_deductible_closes_the_gap_for_myopic_agents(default_model):
    model = default_model
    refs = analysis.exact_references(model)
    amount, outcome = analysis.best_flat_transfer(model, CLAIM, amounts=-np.linspace(0.0, 6.0, 13))
    assert -6.0 <= amount < 0  # a penalty on claims
    share = (outcome.social_welfare - refs.laissez_faire.social_welfare) / refs.welfare_gap
    assert share > 0.9


def test_forward_looking_references_at_two_agents():
    model = insurance_v0.parallel_env(n_agents=2, max_cycles=30).tabular_model()
    refs = analysis.exact_references(model, agent_discount=0.99)
    assert refs.welfare_gap >= 0.1 * abs(refs.optimum.social_welfare)
    assert np.all(model.joint_actions[refs.laissez_faire.policy] == SHIRK)
    assert refs.pigouvian_outcome.social_welfare == pytest.approx(refs.optimum.social_welfare, abs=1e-9)


def test_names_and_labels():
    g = game(n_agents=2)
    assert g.state_names == ("type_0", "type_1", "risk_0", "risk_1")
    assert g.action_names == ("shirk", "prevent") and g.signal_names == ("no_claim", "claim")
    assert g.taxed_signal == CLAIM
    assert g.describe_state(np.array([1, 0, 2, 1])) == {"type_0": 1, "type_1": 0, "risk_0": 2, "risk_1": 1}


def test_the_text_renderer_shows_the_outcome_signal():
    """Where the signal is an outcome (a claim), the text frame shows it beside the action."""
    from pa_envs import pollution_v0

    env = insurance_v0.parallel_env(n_agents=2, render_mode="ansi")
    env.reset(seed=0)
    _, _, _, _, infos = env.step({PRINCIPAL: np.zeros(4, np.float32), "agent_0": 0, "agent_1": 1})
    text = env.render()
    for i in range(2):
        signal = env.game.signal_names[infos[PRINCIPAL]["signals"][i]]
        assert f"agent_{i}   action {env.game.action_names[i]:<8} signal {signal}" in text
    pollution = pollution_v0.parallel_env(n_agents=2, render_mode="ansi")
    pollution.reset(seed=0)
    pollution.step({PRINCIPAL: np.zeros(6, np.float32), "agent_0": 0, "agent_1": 2})
    assert "signal" not in pollution.render()  # signals are the actions there
