"""What the two-phase principal learns of the world from play, and how it plans on it.

The principal's model is empirical: per observed state ``o`` and *label* ``j``
(what was played: the joint signal where signals are actions, else the joint
contract option that was posted), the average realized social welfare and the
counts of the next observed state. Nothing comes from the env's exact model.

Where a pair ``(o, j)`` was seen rarely or never, the model borrows:

- welfare: a regression on the observation features (linear and quadratic):
  an overall level and slope, an additive effect of each agent's choice, and
  each label's penalized departure from their sum; each pair's own average is
  shrunk toward it with the weight empirical Bayes finds
  (:func:`shrinkage`, :func:`pa_envs.core.numerics.prior_weight`): many
  observations where the fit explains the pairs within their noise, few
  where it does not, so the pairs' own data win in the limit;
- transitions: a fitted mean displacement ``o' - o`` (the same kind of
  regression) plus the residuals seen under the same label (or transition
  class, when the caller passes classes) in nearby states, kernel-weighted,
  toward which the pair's own counts are shrunk.

:func:`plan` is backward induction over the episode's periods on that model,
over the labels the principal can implement in each state.
"""

from __future__ import annotations

import numpy as np

from pa_envs.core.numerics import dot_ints, place_values, prior_weight


class EmpiricalModel:
    """Counts of welfare and transitions per copy, observed state and label.

    Parameters
    ----------
    batch : int
        Copies (one principal each).
    coordinates : ndarray, shape (S, F)
        The feature vector of every observed state (its grid position).
    n_labels : int
        Labels ``J``.
    classes : ndarray, shape (J,), optional
        Transition classes of the labels (labels of one class move the state
        alike); ``None`` keeps one transition law per label.
    """

    def __init__(
        self,
        batch: int,
        coordinates: np.ndarray,
        n_labels: int,
        classes: np.ndarray | None = None,
        choices: np.ndarray | None = None,
    ) -> None:
        self.coordinates = np.asarray(coordinates, dtype=np.int64)
        # Each label's choice per agent (J, N): the fits start from additive effects of the
        # agents' choices, toward which a label's own departure is shrunk.
        self.choices = np.zeros((n_labels, 0), np.int64) if choices is None else np.asarray(choices, np.int64)
        n_states = self.coordinates.shape[0]
        self.n_states, self.n_labels = n_states, n_labels
        self.classes = None if classes is None else np.asarray(classes, dtype=np.int64)
        n_classes = n_labels if self.classes is None else int(self.classes.max()) + 1
        self.welfare_sum = np.zeros((batch, n_states, n_labels))
        self.welfare_squares = np.zeros((batch, n_states, n_labels))
        self.visits = np.zeros((batch, n_states, n_labels))
        self.moves = np.zeros((batch, n_states, n_classes, n_states), dtype=np.float32)

    def record(
        self,
        copies: np.ndarray,
        states: np.ndarray,
        labels: np.ndarray,
        welfare: np.ndarray,
        following: np.ndarray,
    ) -> None:
        """One period of ``copies`` (each at most once): observed states, labels, realized
        welfare, next observed states."""
        # Flat indices into flat views (one index array each, not three); a copy appears at
        # most once, so no index repeats within a period. The tables are C-contiguous (made
        # here, or copied by load_state_dict), so each reshape is a view.
        pair = copies * self.n_states + states
        where = pair * self.n_labels + labels
        self.welfare_sum.reshape(-1)[where] += welfare
        self.welfare_squares.reshape(-1)[where] += welfare**2
        self.visits.reshape(-1)[where] += 1.0
        kinds = labels if self.classes is None else self.classes[labels]
        move = (pair * self.moves.shape[2] + kinds) * self.n_states + following
        self.moves.reshape(-1)[move] += np.float32(1.0)

    # -- the estimates of one copy ----------------------------------------------------
    bandwidth_share = 0.1
    """Kernel bandwidth for borrowing transitions, as a share of the grid's extent (at least 1)."""
    spread = 1.0
    """Ridge penalty on a label's own slope (per observation and unit of feature range)."""
    interaction = 5.0
    """Ridge penalty (in observations) on a label's departure from the additive effects."""
    others_weight = 0.2
    """Weight of another label's residuals in a label's borrowed transition law."""

    def welfare(self, copy: int, labels: np.ndarray) -> np.ndarray:
        """``(S, len(labels))`` estimated welfare: each pair's average, shrunk toward the fit of
        :meth:`_linear_fit` with the weight :func:`shrinkage` finds in the data."""
        visits = self.visits[copy][:, labels]
        sums = self.welfare_sum[copy][:, labels]
        means = np.where(visits > 0, sums / np.maximum(visits, 1.0), 0.0)
        fitted = self._linear_fit(visits, means[:, :, None], labels)[:, :, 0]
        within = self.welfare_squares[copy][:, labels] - sums * means  # sum of squared deviations
        weight = shrinkage(visits, means, fitted, within)
        self.last_weights = {"welfare": weight}
        return (sums + weight * fitted) / (visits + weight)

    def transitions(self, copy: int, labels: np.ndarray) -> np.ndarray:
        """``(S, len(labels), S)`` estimated laws of the next observed state.

        Each pair's own counts, plus pseudo-observations (as many as :func:`shrinkage`
        finds the data support) of a borrowed
        law: the mean displacement ``o' - o`` is fitted per label by
        :meth:`_linear_fit`, and the residuals around it, seen under the same label
        (or class) in other states and weighted by ``exp(-distance / bandwidth)``,
        are added to the fitted mean at ``o`` (split between the neighbouring grid
        points, clipped to the grid).
        """
        kinds = labels if self.classes is None else self.classes[labels]
        counts = self.moves[copy][:, kinds, :].astype(np.float64)  # (S, J', S)
        totals = counts.sum(axis=2)  # (S, J')
        coordinates = self.coordinates.astype(np.float64)
        # Mean displacement per pair, and its fit.
        moved = (counts @ coordinates) / np.maximum(totals, 1.0)[:, :, None]  # matmul: BLAS, not einsum loops
        displacement = np.where(totals[:, :, None] > 0, moved - coordinates[:, None, :], 0.0)
        drift = self._linear_fit(totals, displacement, labels)  # (S, J', F)
        law = self._borrowed(counts, drift)
        # How far the pairs' own mean moves stray from the fitted drift beyond their noise.
        squares = (counts @ coordinates**2) / np.maximum(totals, 1.0)[:, :, None]
        within = (squares - moved**2).sum(axis=2) * totals
        stray = np.linalg.norm(displacement - drift, axis=2)
        weight = shrinkage(totals, stray, np.zeros_like(stray), within)
        self.last_weights = {**getattr(self, "last_weights", {}), "transitions": weight}
        return (counts + weight * law) / (totals + weight)[:, :, None]

    max_bins = 4096
    """Most bins of the residuals' histogram (their width doubles from 1/4 until they fit)."""

    def _borrowed(self, counts: np.ndarray, drift: np.ndarray) -> np.ndarray:
        """``(S, J', S)``: for each state and label, the fitted drift plus the residuals seen
        around the fitted drift elsewhere (the label's own with weight 1, the other labels'
        with :attr:`others_weight`), kernel-weighted by the distance of the states they were
        seen in, binned, split between neighbouring grid points and clipped to the grid."""
        coordinates = self.coordinates.astype(np.float64)
        n_states, n_features = coordinates.shape
        n_labels = counts.shape[1]
        high = self.coordinates.max(axis=0)
        sources, members, targets = np.nonzero(counts)
        if not len(sources):
            return np.zeros_like(counts)
        residual = coordinates[targets] - coordinates[sources] - drift[sources, members]  # (K, F)
        low = residual.min(axis=0)
        width = 0.25
        while np.prod(np.floor((residual.max(axis=0) - low) / width) + 1) > self.max_bins:
            width *= 2
        sizes = (np.floor((residual.max(axis=0) - low) / width) + 1).astype(np.int64)
        digits = np.minimum(np.round((residual - low) / width).astype(np.int64), sizes - 1)
        code = digits @ place_values(sizes)
        n_bins = int(np.prod(sizes))
        centers = low + width * ((np.arange(n_bins)[:, None] // place_values(sizes)) % sizes)  # (bins, F)
        histogram = np.zeros((n_labels, n_states, n_bins))
        np.add.at(histogram, (members, sources, code), counts[sources, members, targets])
        mixed = histogram + self.others_weight * (histogram.sum(axis=0, keepdims=True) - histogram)
        bandwidth = np.maximum(1.0, self.bandwidth_share * (high + 1))
        kernel = np.exp(-(np.abs(coordinates[:, None, :] - coordinates[None, :, :]) / bandwidth).sum(axis=2))
        n_bins_used = mixed.shape[2]
        smoothed = (kernel @ mixed.transpose(1, 0, 2).reshape(n_states, -1)).reshape(
            n_states, n_labels, n_bins_used
        )
        smoothed /= np.maximum(smoothed.sum(axis=2, keepdims=True), 1e-300)
        # A bin no residual fell in is exactly 0 in every state and label (a zero column of
        # the kernel product) and adds exact zeros to the law: only the bins used are spread.
        used = np.unique(code)
        if len(used) < n_bins:
            smoothed, centers = smoothed[:, :, used], centers[used]
        point = np.clip(coordinates[:, None, None, :] + drift[:, :, None, :] + centers[None, None], 0, high)
        lower = np.floor(point)
        fraction = point - lower
        order, radix = self._grid_order(), place_values(high + 1)
        flat_rows = (
            np.arange(n_states)[:, None, None] * n_labels + np.arange(n_labels)[None, :, None]
        ) * n_states
        law = np.zeros(n_states * n_labels * n_states)
        for corner in (np.arange(2**n_features)[:, None] >> np.arange(n_features)[None, :]) & 1:
            share = np.prod(np.where(corner, fraction, 1.0 - fraction), axis=3)  # (S, J', bins)
            index = order[dot_ints(np.minimum(lower + corner, high).astype(np.int64), radix)]
            law += np.bincount((flat_rows + index).ravel(), (smoothed * share).ravel(), law.size)
        return law.reshape(n_states, n_labels, n_states)

    def _linear_fit(self, visits: np.ndarray, means: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``(S, J', M)``: a weighted ridge fit of ``means`` ``(S, J', M)`` (weights: ``visits``)
        on the observation features and their squares. Level and slope are each an overall term, plus an
        additive effect of each agent's choice, plus the label's own departure from that
        sum (penalized by :attr:`interaction` for the level and :attr:`spread` for the
        slope). A label seen rarely borrows what the agents' choices do in other labels;
        one seen often gets its own level and slope: the data overrule the additive prior."""
        scaled = self.coordinates / np.maximum(self.coordinates.max(axis=0), 1)  # each in [0, 1]
        features = np.column_stack([scaled, scaled**2])  # curvature: regrowth, congestion, thresholds
        n_features, n_labels = features.shape[1], visits.shape[1]
        choices = self.choices[labels]  # (J', N)
        n_agents = choices.shape[1]
        n_choices = int(self.choices.max()) + 1 if self.choices.size else 1
        effects = np.zeros((n_labels, n_agents * n_choices))  # one-hot of each agent's choice
        for i in range(n_agents):
            effects[np.arange(n_labels), i * n_choices + choices[:, i]] = 1.0
        states, columns = np.nonzero(visits)
        weight = visits[states, columns]
        x = features[states]  # (R, F)
        level = np.column_stack([np.ones(len(states)), effects[columns], np.eye(n_labels)[columns]])
        slope = (level[:, :, None] * x[:, None, :]).reshape(len(states), -1)
        design = np.column_stack([level, slope])
        n_level = level.shape[1]
        penalty = np.full(n_level, 1e-6)
        penalty[1 + effects.shape[1] :] = self.interaction
        penalty = np.concatenate(
            [penalty, np.repeat(np.where(penalty > 1e-6, self.spread, 1e-6), n_features)]
        )
        gram = design.T @ (design * weight[:, None]) + np.diag(penalty)
        moments = design.T @ (weight[:, None] * means[states, columns])
        coefficients = np.linalg.solve(gram, moments)  # (P, M); the ridge makes gram positive definite
        every = np.column_stack([np.ones(n_labels), effects, np.eye(n_labels)])  # (J', n_level)
        intercept = every @ coefficients[:n_level]  # (J', M)
        slopes = coefficients[n_level:].reshape(n_level, n_features, -1)
        per_label = np.einsum("jl,lfm->jfm", every, slopes)  # (J', F, M)
        return intercept[None] + np.einsum("sf,jfm->sjm", features, per_label)

    def _grid_order(self) -> np.ndarray:
        """Map from the radix index of a grid point to its row in :attr:`coordinates`."""
        high = self.coordinates.max(axis=0)
        order = np.zeros(int(np.prod(high + 1)), dtype=np.int64)
        order[self.coordinates @ place_values(high + 1)] = np.arange(self.n_states)
        return order

    # -- saving -------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "welfare_sum": self.welfare_sum,
            "welfare_squares": self.welfare_squares,
            "visits": self.visits,
            "moves": self.moves,
        }


def shrinkage(visits: np.ndarray, means: np.ndarray, fitted: np.ndarray, within: np.ndarray) -> float:
    """The weight, in observations, of a fit against each pair's own average (empirical Bayes).

    ``visits``, ``means``, ``fitted``: per pair; ``within``: per pair, the sum of squared
    deviations of its observations from their mean. With ``s2`` the noise variance of one
    observation (pooled) and ``t2`` the variance of the pairs' true values around the fit
    (what the spread of the averages around the fit leaves after their noise), the
    posterior mean is ``(n mean + k fit) / (n + k)`` with ``k = s2 / t2``: a fit that
    explains the pairs well (``t2`` small) outweighs many noisy observations, a poor one
    gives way. Clipped to ``[0.5, 1e4]``.
    """
    seen = visits > 0
    if not seen.any():
        return 1.0
    noise = within[visits > 1].sum() / max(float((visits[visits > 1] - 1).sum()), 1.0)
    excess = (means[seen] - fitted[seen]) ** 2 - noise / visits[seen]
    spread = max(float(np.average(excess, weights=visits[seen])), 1e-12)
    return float(prior_weight(noise, spread, low=0.5))


def plan(welfare: np.ndarray, transitions: np.ndarray, allowed: np.ndarray, horizon: int) -> np.ndarray:
    """The welfare-maximizing label per period and state on an estimated model.

    Parameters
    ----------
    welfare : (S, J) expected welfare of each state and label.
    transitions : (S, J, S) law of the next state.
    allowed : (S, J) bool, which labels the principal can implement where; a state
        with none allowed falls back to every label.
    horizon : int
        Periods of the episode.

    Returns
    -------
    ndarray, shape (horizon, S)
        Indices into the labels' axis.
    """
    allowed = allowed | ~allowed.any(axis=1, keepdims=True)
    values = np.zeros(welfare.shape[0])
    policy = np.empty((horizon, welfare.shape[0]), dtype=np.int64)
    for t in reversed(range(horizon)):
        q = np.where(allowed, welfare + transitions @ values, -np.inf)
        policy[t] = q.argmax(axis=1)
        values = q.max(axis=1)
    return policy
