"""The agents' learners live in :mod:`pa_envs.learners` (and, as view behaviours, in
:mod:`pa_envs.behaviours`); this module re-exports them for the baselines."""

from pa_envs.behaviours import LearnerBehaviour
from pa_envs.learners import (
    LEARNERS,
    ContractQLearner,
    HedgeLearner,
    Learner,
    MyopicBestResponder,
    QLearner,
    counterfactual_rewards,
)

__all__ = [
    "LEARNERS",
    "ContractQLearner",
    "HedgeLearner",
    "Learner",
    "LearnerBehaviour",
    "MyopicBestResponder",
    "QLearner",
    "counterfactual_rewards",
]
