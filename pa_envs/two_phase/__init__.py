"""The two-phase mechanism: a principal that learns from play what incentives cost and what they buy.

The principal does not know the agents' payoffs, the transition law or which
joint actions move the state alike. It sees its observation of the state,
each agent's contractible signal (an action, or an outcome such as a claim),
the period's realized social welfare and the next observation, and it knows
the spaces (players, signals, its observation grid, the horizon,
``max_transfer``). :class:`TwoPhaseMechanism` reads nothing else; structure it
is told instead of learning it (``transition_classes``) is an explicit,
documented argument.

Phase 1 (learning, ``O(T**(2/3))`` periods of a ``T``-period run; see
:mod:`~pa_envs.two_phase.schedule`):

1. *warm-up*: no transfers; the learners find their feet and the principal
   measures how often each agent sends each signal unpaid (the baseline);
2. *pricing* (:mod:`~pa_envs.two_phase.pricing`): for each signal in turn, a
   bisection of the least bonus that makes each agent send it (where signals
   are actions) or that shifts its frequency as far as the largest bonus does
   (where signals are outcomes); all agents of all copies at once;
3. *exploring*: every period each agent is offered one of the contract
   options it can be priced for (a target signal, or none), at random, so the
   principal sees what each combination does in each state.

All along it records, per observed state and label (the joint signal where
signals are actions, else the joint contract option it posted), the realized
welfare and where the state went (:mod:`~pa_envs.two_phase.estimator`).

Phase 2 (steering): it plans the welfare-maximizing label for each period and
state by backward induction on its estimated model, among the labels it can
price in that state, and posts each agent its price plus a margin that
shrinks with ``T``. Where signals are actions it watches compliance per state
and raises its price there halfway to ``max_transfer`` where an agent does
not comply (its price depends on the state or on the others: the theory's assumption fails there, and the
mechanism says so in :meth:`TwoPhaseMechanism.assumptions`). It plans again
with everything it has seen whenever its data have grown by 40%.

Where the theory's assumptions hold (signals are actions, prices independent
of the state and of the others, every target implementable) phase 2's regret
per episode vanishes as ``T`` grows; elsewhere the mechanism still learns
and steers, and :meth:`~TwoPhaseMechanism.assumptions` reports which
assumption failed. ``docs/experiment.md`` measures it on every env.
"""

from pa_envs.two_phase.estimator import EmpiricalModel, plan
from pa_envs.two_phase.mechanism import STAGES, TwoPhaseMechanism
from pa_envs.two_phase.pricing import PriceSearch
from pa_envs.two_phase.schedule import Schedule

__all__ = ["STAGES", "EmpiricalModel", "PriceSearch", "Schedule", "TwoPhaseMechanism", "plan"]
