"""The game core every env of the suite shares."""

from pa_envs.core.aec import PrincipalAgentAECEnv
from pa_envs.core.contracts import check_contract, contract_matrix, flat_contract
from pa_envs.core.episode import PRINCIPAL, agent_name
from pa_envs.core.game import Dynamics, Game, GameParams, PeriodOutcome, SymmetricGame, resolve_period
from pa_envs.core.parallel import PrincipalAgentParallelEnv
from pa_envs.core.tabular import TabularModel, enumerate_joint_actions

__all__ = [
    "PRINCIPAL",
    "Dynamics",
    "Game",
    "GameParams",
    "PeriodOutcome",
    "PrincipalAgentAECEnv",
    "PrincipalAgentParallelEnv",
    "SymmetricGame",
    "TabularModel",
    "agent_name",
    "check_contract",
    "contract_matrix",
    "enumerate_joint_actions",
    "flat_contract",
    "resolve_period",
]
