"""The exact layer's cheaper paths give, bit for bit, what the plain computations give: the
greedy step over transition classes (not the ``(S, A)`` table of ``q``), and an evaluation
without a contract (no signal laws gathered)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pa_envs import ENVS, analysis, pollution_v0
from pa_envs.core.tabular import TabularModel, profile_index


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal arrays of the same dtype, floats compared by their bits (signed zeros too)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a.view(np.uint64), b.view(np.uint64)))
    return bool(np.array_equal(a, b))


def _with_welfare(model: TabularModel, welfare: np.ndarray) -> TabularModel:
    """``model`` with ``social_welfare`` equal to ``welfare`` (all of it the principal's)."""
    return dataclasses.replace(
        model, private_utility=np.zeros_like(model.private_utility), principal_payoff=welfare
    )


def _dense_greedy(model: TabularModel, continuation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The plain greedy step: the full ``(S, A)`` q, its max and first argmax."""
    q = model.social_welfare + continuation[:, model.transition_class]
    return q.max(axis=1), q.argmax(axis=1)


def _dense_optimum(model: TabularModel, periods: int | None, discount: float) -> np.ndarray:
    """social_optimum's policy by the plain backward induction (or value iteration)."""
    if periods is None:
        values = np.zeros(model.n_states)
        while True:
            updated = _dense_greedy(model, discount * model.expected_next_by_class(values))[0]
            change = np.abs(updated - values).max()
            values = updated
            if change <= 1e-10 * (1 - discount):
                return _dense_greedy(model, discount * model.expected_next_by_class(values))[1][None]
    policy = np.empty((periods, model.n_states), dtype=np.int64)
    values = np.zeros(model.n_states)
    for t in reversed(range(periods)):
        values, policy[t] = _dense_greedy(model, discount * model.expected_next_by_class(values))
    return policy


@pytest.fixture(scope="module")
def pollution_model() -> TabularModel:
    model = pollution_v0.parallel_env(n_agents=4).game.tabular_model()
    assert model.n_joint_actions >= 4 * model.n_transition_classes  # the grouped path applies
    return model


def test_greedy_step_is_the_dense_max_and_first_argmax(pollution_model):
    """Random welfare, welfare with exact ties inside and across classes, and welfare whose
    lesser entries rounding ties with a class's best: max and argmax of q, bit for bit."""
    model = pollution_model
    shape = (model.n_states, model.n_joint_actions)
    generator = np.random.default_rng(11)
    chosen = np.where(generator.integers(0, 9, (model.n_states, 1)) == np.arange(9), 3.0, -100.0)
    cases = {
        "random": (generator.normal(size=shape) * 50, generator.normal(size=(model.n_states, 9)) * 50),
        "ties": (
            generator.integers(-3, 3, shape) * 1.0,
            generator.integers(-2, 2, (model.n_states, 9)) * 1.0,
        ),
        # 1 + k ulp (k < 3) plus a continuation of 3 rounds to 4 for every k: a class's lesser
        # welfare ties with its best. One class per state gets 3, the others far less.
        "rounding": (1.0 + generator.integers(0, 3, shape) * 2.0**-52, chosen),
    }
    for name, (welfare, continuation) in cases.items():
        changed = _with_welfare(model, welfare)
        assert changed.n_transition_classes == continuation.shape[1]
        value, policy = changed.best_joint_actions(continuation)
        expected_value, expected_policy = _dense_greedy(changed, continuation)
        assert _same_bits(value, expected_value), name
        assert _same_bits(policy, expected_policy), name
    # The rounding case is one the per-class tables alone would get wrong (their first best
    # is not q's first argmax somewhere), so the check that sends such states to their full
    # row is what the test exercises.
    welfare, continuation = cases["rounding"]
    changed = _with_welfare(model, welfare)
    best, first, _ = changed._welfare_by_class
    naive = first[np.arange(model.n_states), (best + continuation).argmax(axis=1)]
    assert np.any(naive != _dense_greedy(changed, continuation)[1])


def test_greedy_step_falls_back_where_welfare_is_not_finite(pollution_model):
    """An infinite or NaN welfare leaves the grouped tables aside: the plain q decides."""
    model = pollution_model
    welfare = np.random.default_rng(3).normal(size=(model.n_states, model.n_joint_actions))
    continuation = np.random.default_rng(4).normal(size=(model.n_states, model.n_transition_classes))
    for bad in (np.inf, -np.inf, np.nan):
        changed_welfare = welfare.copy()
        changed_welfare[5, 7] = bad
        changed = _with_welfare(model, changed_welfare)
        value, policy = changed.best_joint_actions(continuation)
        expected_value, expected_policy = _dense_greedy(changed, continuation)
        assert _same_bits(policy, expected_policy) and _same_bits(value, expected_value)


def _models() -> list[tuple[str, TabularModel]]:
    pollution = pollution_v0.parallel_env(n_agents=4).game
    return [
        ("pollution joint", pollution.tabular_model()),
        ("pollution count", pollution_v0.parallel_env(n_agents=7).game.count_model()),
        ("pollution banded", pollution_v0.parallel_env(n_agents=2, max_stock=1200).game.tabular_model()),
        # commons and grid reach states where rounding ties a class's lesser welfare with its best
        ("commons", ENVS["commons_v0"].parallel_env(n_agents=4).game.tabular_model()),
        ("grid", ENVS["grid_v0"].parallel_env(n_agents=4).game.tabular_model()),
        ("platform", ENVS["platform_v0"].parallel_env(n_agents=4).game.tabular_model()),
    ]


@pytest.mark.parametrize(("name", "model"), _models())
@pytest.mark.parametrize(
    "objective",
    [{}, {"discount": 0.9}, {"horizon": float("inf"), "discount": 0.9}],
    ids=["T", "T-disc", "inf"],
)
def test_social_optimum_policy_is_the_dense_inductions(name, model, objective):
    """social_optimum picks the joint actions the plain ``(S, A)`` induction picks, and its
    totals are evaluate's of that policy (bit for bit where it does not fuse the two)."""
    periods = analysis._periods(model, objective.get("horizon"), objective.get("discount", 1.0))
    optimum = analysis.social_optimum(model, **objective)
    expected = _dense_optimum(model, periods, objective.get("discount", 1.0))
    assert _same_bits(optimum.policy, expected), name
    again = analysis.evaluate(model, expected, **objective)
    if periods is not None and model.reads_law_once_for_two:  # the fused pass: equal sums, new order
        np.testing.assert_allclose(optimum.welfare_to_go, again.welfare_to_go, rtol=0, atol=1e-9)
    else:
        assert _same_bits(optimum.welfare_to_go, again.welfare_to_go), name
        assert _same_bits(optimum.agent_values, again.agent_values), name


@pytest.mark.parametrize(("name", "model"), _models()[:3])
def test_evaluate_without_contract_is_a_zero_contracts(name, model):
    """No contract (no signal laws gathered) gives the totals of an all-zero contract, bit for bit."""
    generator = np.random.default_rng(8)
    policy = generator.integers(0, model.n_joint_actions, (model.horizon, model.n_states))
    zero = np.zeros((model.n_agents, model.signal_probabilities.shape[3]))
    plain, zeroed = analysis.evaluate(model, policy), analysis.evaluate(model, policy, contract=zero)
    for field in ("welfare_to_go", "agent_values"):
        assert _same_bits(getattr(plain, field), getattr(zeroed, field)), (name, field)
    assert plain.social_welfare.hex() == zeroed.social_welfare.hex()
    assert plain.transfers == zeroed.transfers == 0.0
    # A contract that pays is still counted (the no-contract path is only taken without one).
    paid = analysis.evaluate(model, policy, contract=zero + 1.0)
    assert paid.transfers > 0 and not np.allclose(paid.agent_values, plain.agent_values)


def test_model_profile_index_is_the_module_ones():
    """The count model's lookup with its keys sorted once finds what profile_index finds, and
    refuses a count vector that is no profile the same way."""
    model = pollution_v0.parallel_env(n_agents=6).game.count_model()
    generator = np.random.default_rng(2)
    counts = model.counts[generator.integers(0, len(model.counts), (7, 5))]  # (7, 5, L)
    assert _same_bits(model.profile_index(counts), profile_index(model.counts, counts))
    assert np.array_equal(model.counts[model.profile_index(counts)], counts)
    with pytest.raises(ValueError, match="does not match any profile"):
        model.profile_index(np.array([7, 0, 0]))


def test_infinite_horizon_iterations_stop_at_their_budget_and_name_themselves():
    """Value iteration and policy evaluation share one fixed-point loop: within its budget it
    reaches the tolerance (the optimum evaluated again gives the same value), past it the
    error names which iteration ran out."""
    model = pollution_v0.parallel_env(n_agents=2, max_stock=30).game.tabular_model()
    optimum = analysis.social_optimum(model, horizon=float("inf"), discount=0.9)
    again = analysis.evaluate(model, optimum.policy, horizon=float("inf"), discount=0.9)
    assert abs(again.social_welfare - optimum.social_welfare) <= 1e-8
    with pytest.raises(RuntimeError, match=r"value iteration did not reach tol=1e-10 in 2 iterations"):
        analysis.social_optimum(model, horizon=float("inf"), discount=0.9, max_iterations=2)
    with pytest.raises(RuntimeError, match=r"policy evaluation did not reach tol=1e-10 in 2 iterations"):
        analysis.evaluate(model, optimum.policy, horizon=float("inf"), discount=0.9, max_iterations=2)
