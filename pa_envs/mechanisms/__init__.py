"""Mechanisms: policies for the principal, and the wrapper that binds one to an env.

A :class:`Mechanism` maps what the principal sees at the start of a period
(the state, its observation, the period) to a contract, for a batch of B
copies at once. It may learn from what each period produced
(:meth:`Mechanism.update`) and saves and restores itself with
:meth:`~Mechanism.state_dict` / :meth:`~Mechanism.load_state_dict`.

:class:`MechanismEnv` binds a mechanism to a parallel env and leaves an
agents-only PettingZoo ParallelEnv: every period the mechanism moves first,
seeing the state, and posts the contract the agents then observe and act
under (Stackelberg timing). Its infos still carry welfare, externality and
transfers. ``pettingzoo.utils.conversions.parallel_to_aec`` gives the AEC form
(:func:`mechanism_aec_env`).

Bundled: :class:`NoTransfers` (laissez-faire), :class:`FlatSchedule` (the
coarse incentive, with :meth:`FlatSchedule.best_flat_tax`), :class:`Pigouvian`
(the oracle posting the minimal implementing transfers of the social optimum),
:class:`Budgeted` (caps what another mechanism pays per episode) and
:class:`Stacked`; :func:`make_mechanism` builds them, and the two-phase
mechanism (:mod:`pa_envs.two_phase`), by name.

The package's parts: the interface and the loop every form runs
(:mod:`pa_envs.core.mechanism`: :class:`Mechanism`, :class:`MechanismInput`,
:class:`PeriodFeedback`, :class:`MechanismDriver`), the bundled mechanisms
(:mod:`pa_envs.mechanisms.bundled`), the registry
(:mod:`pa_envs.mechanisms.registry`) and the env binding
(:mod:`pa_envs.mechanisms.binding`).
"""

from pa_envs.core.mechanism import Mechanism, MechanismDriver, MechanismInput, PeriodFeedback
from pa_envs.mechanisms.binding import MechanismEnv, mechanism_aec_env, mechanism_env
from pa_envs.mechanisms.bundled import Budgeted, FlatSchedule, NoTransfers, Pigouvian, Stacked
from pa_envs.mechanisms.registry import (
    MECHANISM_DESCRIPTIONS,
    MECHANISM_NAMES,
    make_mechanism,
    mechanism_builder,
)

__all__ = [
    "MECHANISM_DESCRIPTIONS",
    "MECHANISM_NAMES",
    "Budgeted",
    "FlatSchedule",
    "Mechanism",
    "MechanismDriver",
    "MechanismEnv",
    "MechanismInput",
    "NoTransfers",
    "PeriodFeedback",
    "Pigouvian",
    "Stacked",
    "make_mechanism",
    "mechanism_aec_env",
    "mechanism_builder",
    "mechanism_env",
]
