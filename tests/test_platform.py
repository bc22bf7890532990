"""platform_v0: the economics of the env card, checked against numbers computed here.

Expected values come from the *documented* economics (demand, review
probabilities, the trust update), worked out in this file by enumeration or by
hand, never from the model arrays under test. The exceptions say so (the count
model is compared with the joint model: agreeing is the point).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from baselines.platform_sweep import commission_sweep, format_sweep, main, path_statistics
from pa_envs import PRINCIPAL, analysis, platform_v0
from pa_envs.core import rng
from pa_envs.envs.marketplace import PlatformGame, PlatformParams

DEFAULTS = PlatformParams()
# Action a = (quality a // 2, price level a % 2); signals as in the env card.
LQ_LP, LQ_HP, HQ_LP, HQ_HP = 0, 1, 2, 3
NO_SALE, GOOD_LOW, BAD_LOW, GOOD_HIGH, BAD_HIGH = range(5)


def demand(p: PlatformParams, trust: int, action: int) -> float:
    """The documented chance of a sale."""
    sale = (p.sale_probability_low_price, p.sale_probability_high_price)[action % 2]
    return sale * (p.baseline_demand + (1 - p.baseline_demand) * trust / p.max_trust)


def good_review(p: PlatformParams, action: int) -> float:
    return (p.good_review_probability_low_quality, p.good_review_probability_high_quality)[action // 2]


def price(p: PlatformParams, action: int) -> float:
    return (p.low_price, p.high_price)[action % 2]


def next_trust_law(p: PlatformParams, trust: int, actions: tuple[int, ...]) -> np.ndarray:
    """Law of next trust by enumerating every seller's outcome (none, good, bad)."""
    law = np.zeros(p.max_trust + 1)
    for outcome in itertools.product(range(3), repeat=len(actions)):
        probability = 1.0
        for a, o in zip(actions, outcome, strict=True):
            d, g = demand(p, trust, a), good_review(p, a)
            probability *= (1 - d, d * g, d * (1 - g))[o]
        n_good, n_bad = outcome.count(1), outcome.count(2)
        law[min(max(trust + n_good - p.bad_review_weight * n_bad, 0), p.max_trust)] += probability
    return law


# -- the simulator against the documented laws --------------------------------------------


def test_sales_reviews_and_trust_update_frequencies_match_the_documented_laws():
    game = PlatformGame(PlatformParams(n_agents=4))
    p = game.params
    draws, trust = 40_000, 7
    actions = np.tile([LQ_LP, LQ_HP, HQ_LP, HQ_HP], (draws, 1))
    state = np.full((draws, 1), trust)
    noise = rng.batch_uniforms(np.full(draws, rng.key_from_seed(7)), np.arange(draws), game.noise_size)
    d = game.step(state, actions, noise)
    for i, a in enumerate([LQ_LP, LQ_HP, HQ_LP, HQ_HP]):
        signal = d.signals[:, i]
        sold = signal != NO_SALE
        good_signal, bad_signal = (GOOD_LOW, BAD_LOW) if a % 2 == 0 else (GOOD_HIGH, BAD_HIGH)
        # A sale shows the seller's own price, never the other one.
        assert set(np.unique(signal)) <= {NO_SALE, good_signal, bad_signal}
        q = demand(p, trust, a)
        assert abs(sold.mean() - q) <= 6 * math.sqrt(q * (1 - q) / draws)
        g = good_review(p, a)
        share_good = (signal[sold] == good_signal).mean()
        assert abs(share_good - g) <= 6 * math.sqrt(g * (1 - g) / sold.sum()) + 1e-12
        # Revenue on a sale, the effort cost every period of high quality.
        expected_utility = sold * price(p, a) - p.quality_cost * (a // 2)
        np.testing.assert_allclose(d.private_utility[:, i], expected_utility)
    n_good = np.isin(d.signals, [GOOD_LOW, GOOD_HIGH]).sum(axis=1)
    n_bad = np.isin(d.signals, [BAD_LOW, BAD_HIGH]).sum(axis=1)
    expected_next = np.clip(trust + n_good - p.bad_review_weight * n_bad, 0, p.max_trust)
    assert np.array_equal(d.next_state[:, 0], expected_next)
    np.testing.assert_allclose(d.principal_payoff, -p.refund * n_bad)
    np.testing.assert_allclose(d.externality, p.refund * n_bad)


@pytest.mark.parametrize(
    ("kwargs", "trust", "actions"),
    [
        ({"n_agents": 2}, 5, (LQ_LP, HQ_LP)),
        ({"n_agents": 2}, 0, (HQ_HP, HQ_LP)),
        ({"n_agents": 2, "bad_review_weight": 0}, 10, (LQ_LP, LQ_HP)),
        ({"n_agents": 3, "bad_review_weight": 3, "max_trust": 6}, 2, (LQ_LP, HQ_LP, LQ_HP)),
        ({"n_agents": 1}, 9, (HQ_LP,)),
    ],
)
def test_trust_transitions_and_payoffs_of_the_model_match_enumeration(kwargs, trust, actions):
    params = PlatformParams(**kwargs)
    model = PlatformGame(params).tabular_model()
    (rows,) = np.nonzero((model.joint_actions == np.array(actions)).all(axis=1))
    a = int(rows[0])
    np.testing.assert_allclose(
        model.next_state_distribution(trust, a), next_trust_law(params, trust, actions), atol=1e-12
    )
    for i, action in enumerate(actions):
        d, g = demand(params, trust, action), good_review(params, action)
        expected = d * price(params, action) - params.quality_cost * (action // 2)
        assert model.private_utility[trust, a, i] == pytest.approx(expected, abs=1e-12)
        law = np.zeros(5)
        law[NO_SALE] = 1 - d
        law[1 + 2 * (action % 2)] = d * g
        law[2 + 2 * (action % 2)] = d * (1 - g)
        np.testing.assert_allclose(model.signal_probabilities[trust, a, i], law, atol=1e-12)
    bad = sum(demand(params, trust, x) * (1 - good_review(params, x)) for x in actions)
    assert model.principal_payoff[trust, a] == pytest.approx(-params.refund * bad, abs=1e-12)
    assert model.externality[trust, a] == pytest.approx(params.refund * bad, abs=1e-12)


def test_the_platform_sees_trust_and_agents_their_contract_not_effort():
    env = platform_v0.parallel_env(n_agents=3, max_cycles=5)
    observations, _ = env.reset(seed=1)
    assert observations[PRINCIPAL].shape == (1,)
    for agent in env.possible_agents[1:]:
        assert observations[agent].shape == (1 + 5,)
    env.step({PRINCIPAL: np.zeros(15, np.float32), "agent_0": 0, "agent_1": 2, "agent_2": 3})
    observations, *_ = env.step(
        {PRINCIPAL: np.zeros(15, np.float32), "agent_0": 3, "agent_1": 1, "agent_2": 0}
    )
    assert observations[PRINCIPAL].tolist() == [env.state()[0]]


def test_a_posted_commission_is_charged_on_every_sale_and_is_the_platforms_revenue():
    env = platform_v0.parallel_env(n_agents=3, max_cycles=40)
    game = env.game
    commission = 0.25
    contract = game.commission_contract(commission).astype(np.float32)
    env.reset(seed=3, options={"contract": contract})
    actions = {"agent_0": LQ_LP, "agent_1": HQ_LP, "agent_2": HQ_HP}
    sales = 0
    for _ in range(40):
        _, rewards, _, _, infos = env.step({PRINCIPAL: contract.reshape(-1), **actions})
        principal = infos[PRINCIPAL]
        revenue = 0.0
        for agent in env.possible_agents[1:]:
            signal = infos[agent]["signal"]
            charged = 0.0 if signal == NO_SALE else commission * price(game.params, actions[agent])
            assert infos[agent]["transfer"] == pytest.approx(-charged, rel=1e-6)
            revenue += charged
            sales += signal != NO_SALE
        n_bad = sum(infos[a]["signal"] in (BAD_LOW, BAD_HIGH) for a in env.possible_agents[1:])
        assert principal["principal_payoff"] == pytest.approx(-game.params.refund * n_bad)
        assert rewards[PRINCIPAL] == pytest.approx(revenue - game.params.refund * n_bad, rel=1e-6)
    assert sales > 0


# -- the commission contract ---------------------------------------------------------------


def test_commission_contract_shape_and_entries():
    game = PlatformGame(PlatformParams(n_agents=4))
    p = game.params
    assert np.array_equal(game.commission_contract(0.0), np.zeros((4, 5)))
    contract = game.commission_contract(0.2, quality_bonus=0.5)
    assert contract.shape == (4, 5)
    expected = [
        0.0,
        -0.2 * p.low_price + 0.5,
        -0.2 * p.low_price,
        -0.2 * p.high_price + 0.5,
        -0.2 * p.high_price,
    ]
    for row in contract:
        np.testing.assert_allclose(row, expected)


@pytest.mark.parametrize(
    ("commission", "bonus", "match"),
    [
        (-0.1, 0.0, "commission"),
        (1.5, 0.0, "commission"),
        (float("nan"), 0.0, "commission"),
        (True, 0.0, "commission"),
        ("0.1", 0.0, "commission"),
        (0.1, -0.5, "quality_bonus"),
        (0.1, float("inf"), "quality_bonus"),
        (0.0, 6.0, "max_transfer"),
    ],
)
def test_commission_contract_rejects_bad_input(commission, bonus, match):
    game = PlatformGame(PlatformParams())
    with pytest.raises((TypeError, ValueError), match=match):
        game.commission_contract(commission, quality_bonus=bonus)


def test_commission_contract_respects_a_small_max_transfer():
    game = PlatformGame(PlatformParams(max_transfer=0.5))
    game.commission_contract(1 / 3)  # -0.5 on a high-price sale: at the bound
    with pytest.raises(ValueError, match="max_transfer"):
        game.commission_contract(0.4)


# -- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_trust", 0),
        ("max_trust", 1001),
        ("max_trust", 10.0),
        ("initial_trust", 11),
        ("initial_trust", -1),
        ("low_price", 0.0),
        ("high_price", 1.0),
        ("high_price", float("inf")),
        ("sale_probability_low_price", 0.0),
        ("sale_probability_low_price", 1.2),
        ("sale_probability_high_price", 0.9),
        ("good_review_probability_low_quality", -0.1),
        ("good_review_probability_high_quality", 0.2),
        ("good_review_probability_high_quality", 1.1),
        ("quality_cost", -0.1),
        ("bad_review_weight", -1),
        ("bad_review_weight", 11),
        ("bad_review_weight", 1.5),
        ("refund", -1.0),
        ("baseline_demand", 1.0),
        ("baseline_demand", -0.1),
        ("n_agents", 0),
    ],
)
def test_bad_params_raise_naming_the_field(field, value):
    with pytest.raises((TypeError, ValueError), match=field):
        PlatformParams(**{field: value})


def test_initial_trust_defaults_to_the_middle_and_is_the_reset_state():
    assert PlatformParams(max_trust=7).trust_start == 3
    env = platform_v0.parallel_env(max_trust=7, initial_trust=6)
    env.reset(seed=0)
    assert env.state()[0] == 6
    model = env.tabular_model()
    assert model.initial_distribution[6] == 1.0


# -- exact models ----------------------------------------------------------------------------


def test_count_model_agrees_with_joint_model():
    game = PlatformGame(PlatformParams(n_agents=3))
    joint, count = game.tabular_model(), game.count_model()
    assert count.symmetric and count.n_joint_actions == math.comb(3 + 3, 3)
    for a, profile in enumerate(count.joint_actions):
        j = int(joint.joint_action_index(profile[None])[0])
        for s in (0, 4, 10):
            np.testing.assert_allclose(
                count.next_state_distribution(s, a), joint.next_state_distribution(s, j)
            )
            np.testing.assert_allclose(count.private_utility[s, a, profile], joint.private_utility[s, j])
    optimum = analysis.social_optimum(joint).social_welfare
    assert analysis.social_optimum(count).social_welfare == pytest.approx(optimum, rel=1e-12)
    # Myopic sellers: the count model's equilibrium is the joint model's. (For forward-looking
    # sellers the equilibrium is asymmetric and the count model cannot follow identities.)
    lf = analysis.laissez_faire(joint, agent_discount=0.0).social_welfare
    assert analysis.laissez_faire(count, agent_discount=0.0).social_welfare == pytest.approx(lf, rel=1e-12)
    refs = analysis.exact_references(count, agent_discount=0.0)
    assert refs.pigouvian_outcome.social_welfare == pytest.approx(optimum, rel=1e-9)


def test_model_size_is_guarded_and_exact_model_falls_back_to_counts():
    env = platform_v0.parallel_env(n_agents=9, max_cycles=5)
    with pytest.raises(ValueError, match="n_agents=9"):
        env.tabular_model()
    model = env.game.exact_model()
    assert model.symmetric and model.n_agents == 9
    with pytest.raises(ValueError, match="n_agents=60"):
        platform_v0.parallel_env(n_agents=60, max_cycles=5).game.count_model()


# -- economics at the defaults -----------------------------------------------------------------


@pytest.fixture(scope="module")
def default_model():
    game = PlatformGame(PlatformParams())
    return game, game.tabular_model()


@pytest.mark.parametrize("agent_discount", [0.0, 0.99])
def test_defaults_are_inefficient_and_the_pigouvian_transfers_reach_the_optimum(
    default_model, agent_discount
):
    game, model = default_model
    refs = analysis.exact_references(model, agent_discount=agent_discount)
    optimum = refs.optimum.social_welfare
    assert refs.welfare_gap >= 0.1 * abs(optimum)
    assert refs.pigouvian_outcome.social_welfare == pytest.approx(optimum, rel=1e-9)
    assert np.abs(refs.pigouvian).max() <= game.params.max_transfer


def test_myopic_sellers_never_pay_for_quality_and_trust_collapses(default_model):
    game, model = default_model
    lf = analysis.laissez_faire(model, agent_discount=0.0)
    assert np.all(game.quality[model.joint_actions[lf.policy]] == 0)
    stats = path_statistics(game, model, lf.policy)
    assert stats["high_quality_share"] == 0.0 and stats["mean_trust"] < 1.0


def test_a_quality_bonus_closes_the_gap_for_myopic_sellers(default_model):
    _, model = default_model
    refs = analysis.exact_references(model, agent_discount=0.0)
    amount, outcome = analysis.best_flat_transfer(
        model, GOOD_LOW, amounts=np.linspace(0.0, 5.0, 26), agent_discount=0.0
    )
    assert amount > 0
    share = (outcome.social_welfare - refs.laissez_faire.social_welfare) / refs.welfare_gap
    assert share > 0.9


def test_too_high_a_commission_drives_sellers_to_low_quality_and_erodes_trust():
    rows = commission_sweep((0.0, 0.3, 0.6), agent_discount=0.99)
    free, peak, high = rows
    assert free["high_quality_share"] > 0.5
    assert high["high_quality_share"] < free["high_quality_share"]
    assert high["mean_trust"] < free["mean_trust"]
    assert high["social_welfare"] < free["social_welfare"]
    # Beyond the cliff the platform earns less than with a moderate commission.
    assert high["commission_revenue"] < peak["commission_revenue"]
    assert free["commission_revenue"] == 0.0


@pytest.mark.parametrize("agent_discount", [0.0, 0.99])
def test_a_commission_acts_as_a_higher_effort_cost(default_model, agent_discount):
    """Revenue scaled by 1 - c, effort cost whole: the sellers play as with cost k / (1 - c)."""
    game, model = default_model
    commission = 0.3
    taxed = analysis.equilibrium(
        model, contract=game.commission_contract(commission), agent_discount=agent_discount
    )
    costly = PlatformGame(
        PlatformParams(quality_cost=DEFAULTS.quality_cost / (1 - commission))
    ).tabular_model()
    assert np.array_equal(taxed.policy, analysis.laissez_faire(costly, agent_discount=agent_discount).policy)


def test_path_statistics_of_a_one_period_episode():
    game = PlatformGame(PlatformParams(max_cycles=1, initial_trust=4))
    model = game.tabular_model()
    joint = int(model.joint_action_index(np.array([[HQ_LP, LQ_LP, HQ_HP]]))[0])
    stats = path_statistics(game, model, np.full((1, model.n_states), joint))
    assert stats["high_quality_share"] == pytest.approx(2 / 3)
    assert stats["low_price_share"] == pytest.approx(2 / 3)
    assert stats["mean_trust"] == 4.0
    p = game.params
    assert stats["sales"] == pytest.approx(sum(demand(p, 4, a) for a in (HQ_LP, LQ_LP, HQ_HP)))


def test_the_sweep_script_prints_a_markdown_table(capsys):
    main(["--commissions", "0.0", "0.3", "--n-agents", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| commission | high_quality_share") and len(lines) == 4
    assert lines[2].startswith("| 0.00 |") and lines[3].startswith("| 0.30 |")
    assert format_sweep([]) == "\n".join(lines[:2])
