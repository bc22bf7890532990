"""The exact finite model of an env over (state, joint action).

Transitions are *gathered*, never a dense ``S x A x S`` matrix: from state ``s``
under joint action ``a`` the next state is ``successors[s, a, k]`` with
probability ``probabilities[s, a, k]`` (``k`` runs over at most ``K`` outcomes;
unused slots have probability 0). Payoffs are expectations given ``(s, a)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class TabularModel:
    """Exact transition law and payoffs of one env.

    Attributes
    ----------
    states : ndarray, shape (S, state_dim)
        State vector of each state index.
    joint_actions : ndarray, shape (A, N)
        Each agent's action in each joint action (agent 0 most significant).
    initial_distribution : ndarray, shape (S,)
        Law of the state at reset.
    successors : ndarray, shape (S, A, K), int64
        Next-state indices.
    probabilities : ndarray, shape (S, A, K), float64
        Their probabilities; each ``(s, a)`` row sums to 1.
    private_utility : ndarray, shape (S, A, N)
        Expected private utility of each agent (before transfers).
    principal_payoff : ndarray, shape (S, A)
        Expected payoff of the principal (before transfers).
    externality : ndarray, shape (S, A)
        Expected damage borne by no agent.
    signal_probabilities : ndarray, shape (S, A, N, n_signals)
        Law of each agent's contractible signal.
    horizon : int
        Periods in an episode (the env's ``max_cycles``).
    """

    states: np.ndarray
    joint_actions: np.ndarray
    initial_distribution: np.ndarray
    successors: np.ndarray
    probabilities: np.ndarray
    private_utility: np.ndarray
    principal_payoff: np.ndarray
    externality: np.ndarray
    signal_probabilities: np.ndarray
    horizon: int

    def __post_init__(self) -> None:
        s, a, n = self.n_states, self.n_joint_actions, self.n_agents
        expected = {
            "initial_distribution": (s,),
            "successors": (s, a, self.successors.shape[2]),
            "probabilities": self.successors.shape,
            "private_utility": (s, a, n),
            "principal_payoff": (s, a),
            "externality": (s, a),
            "signal_probabilities": (s, a, n, self.signal_probabilities.shape[3]),
        }
        for name, shape in expected.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ValueError(f"TabularModel.{name} has shape {got}, expected {shape}")
        if not np.allclose(self.probabilities.sum(axis=2), 1.0, atol=1e-9):
            raise ValueError("TabularModel.probabilities: some (state, action) rows do not sum to 1")
        if not np.isclose(self.initial_distribution.sum(), 1.0, atol=1e-12):
            raise ValueError("TabularModel.initial_distribution does not sum to 1")
        if self.successors.min() < 0 or self.successors.max() >= s:
            raise ValueError("TabularModel.successors holds an index outside the states")

    @property
    def n_states(self) -> int:
        return self.states.shape[0]

    @property
    def n_joint_actions(self) -> int:
        return self.joint_actions.shape[0]

    @property
    def n_agents(self) -> int:
        return self.joint_actions.shape[1]

    @property
    def social_welfare(self) -> np.ndarray:
        """Expected social welfare of each ``(s, a)``: private utilities plus principal payoff."""
        return self.private_utility.sum(axis=2) + self.principal_payoff

    def joint_action_index(self, actions: np.ndarray, n_actions: int) -> np.ndarray:
        """Index of each joint action in ``joint_actions`` (``actions``: ``(..., N)``)."""
        actions = np.asarray(actions, dtype=np.int64)
        radix = n_actions ** np.arange(self.n_agents - 1, -1, -1, dtype=np.int64)
        return actions @ radix

    def next_state_distribution(self, state: int, joint_action: int) -> np.ndarray:
        """Dense ``(S,)`` law of the next state from one ``(state, joint action)``."""
        out = np.zeros(self.n_states)
        np.add.at(out, self.successors[state, joint_action], self.probabilities[state, joint_action])
        return out


def enumerate_joint_actions(n_agents: int, n_actions: int) -> np.ndarray:
    """All ``n_actions ** n_agents`` joint actions, ``(A, N)``, agent 0 most significant."""
    grids = np.indices((n_actions,) * n_agents).reshape(n_agents, -1)
    return grids.T.astype(np.int64)
