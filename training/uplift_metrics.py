"""Uplift measures on a randomized experiment: Qini, uplift at k, a policy's value, intervals.

Qini curve (Radcliffe, 2007, "Using control groups to target on predicted lift"): rank
customers by score, best first; after the top k,

    Q(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k)      (0 for the correction while N_c(k) = 0)

where Y_t, Y_c are the summed outcomes and N_t, N_c the counts of treated and control
customers among them. Tied scores move together: the curve has a point only where the
score changes. Its area (trapezoids over k) minus the random line's (from (0, 0) to
(N, Q(N))) is the Qini coefficient. The **normalized Qini** divides it by the same
area for the perfect ranking, which puts treated customers by decreasing outcome first
and control customers by increasing outcome last (score y if treated, -y if control), as
scikit-uplift's ``qini_auc_score`` does. 1 is perfect, 0 is no better than random.

Uplift at k: among the top ``ceil(k * N)`` customers by score, the treated mean outcome
minus the control mean outcome.

Every measure takes optional row weights: a bootstrap resample is the original rows with
weights counting how often each was drawn, so ranks are computed once, not per resample.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Ranked",
    "bootstrap_interval",
    "normalized_qini",
    "policy_value",
    "qini_curve",
    "uplift_at",
]


@dataclass(frozen=True)
class Ranked:
    """Outcomes and treatment flags of one experiment sorted by a score, best first."""

    y: np.ndarray
    treated: np.ndarray  # float 1.0 / 0.0
    ends: np.ndarray  # index of the last row of each group of tied scores
    order: np.ndarray  # the sort, to apply to row weights

    @classmethod
    def by(cls, *, y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> Ranked:
        order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
        s = np.asarray(score, dtype=np.float64)[order]
        ends = np.r_[np.nonzero(s[1:] != s[:-1])[0], len(s) - 1] if len(s) else np.array([])
        return cls(
            y=np.asarray(y, dtype=np.float64)[order],
            treated=np.asarray(treated, dtype=np.float64)[order],
            ends=ends.astype(np.int64),
            order=order,
        )

    def _weights(self, weights: np.ndarray | None) -> np.ndarray:
        if weights is None:
            return np.ones(len(self.y))
        return np.asarray(weights, dtype=np.float64)[self.order]

    def _sums(self, weights: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Running sums down the ranking: weight, treated and control counts and outcomes,
        and the weight ranked above each row."""
        w = self._weights(weights)
        wt = w * self.treated
        wc = w - wt
        total = np.cumsum(w)
        return (
            total,
            np.cumsum(wt),
            np.cumsum(wc),
            np.cumsum(wt * self.y),
            np.cumsum(wc * self.y),
            total - w,
        )

    def curve(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The Qini curve's points (customers so far, Q), starting at (0, 0)."""
        return self._curve(self._sums(weights))

    def _curve(self, sums: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        total, n_t, n_c, y_t, y_c, _ = (s[self.ends] for s in sums)
        ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c > 0)
        return np.r_[0.0, total], np.r_[0.0, y_t - y_c * ratio]

    def qini_area(self, weights: np.ndarray | None = None) -> float:
        """Area between the Qini curve and the random line."""
        return self.measure((), weights)[0]

    def uplift_at(self, k: float, weights: np.ndarray | None = None) -> float:
        """Treated minus control mean outcome among the top ``k`` share (by weight)."""
        return self.measure((k,), weights)[1][0]

    def measure(
        self, ks: tuple[float, ...], weights: np.ndarray | None = None
    ) -> tuple[float, list[float]]:
        """The Qini area and the uplift at each of ``ks``, from one pass of running sums."""
        sums = self._sums(weights)
        x, q = self._curve(sums)
        area = 0.0
        if len(x) >= 2:
            area = float(np.sum((x[1:] - x[:-1]) * (q[1:] + q[:-1]) / 2.0))
            area -= float(x[-1] * q[-1] / 2.0)
        total, n_t, n_c, y_t, y_c, before = sums
        lifts: list[float] = []
        for k in ks:
            # The top k share: every row with less than k of the weight ranked above it.
            m = int(np.searchsorted(before, k * total[-1] - 1e-9, side="left")) if len(x) > 1 else 0
            if m == 0 or n_t[m - 1] == 0.0 or n_c[m - 1] == 0.0:
                lifts.append(float("nan"))
                continue
            lifts.append(float(y_t[m - 1] / n_t[m - 1] - y_c[m - 1] / n_c[m - 1]))
        return area, lifts


def perfect_score(y: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """The perfect ranking's score: the outcome if treated, minus it if control."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(np.asarray(treated, dtype=np.float64) > 0, y, -y)


def qini_curve(
    y: np.ndarray, treated: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve of ``score`` (see the module docstring)."""
    return Ranked.by(y=y, treated=treated, score=score).curve()


def normalized_qini(
    y: np.ndarray,
    treated: np.ndarray,
    score: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    perfect: Ranked | None = None,
    ranked: Ranked | None = None,
) -> float:
    """The normalized Qini coefficient of ``score``; NaN when the perfect area is not > 0."""
    ranked = ranked or Ranked.by(y=y, treated=treated, score=score)
    perfect = perfect or Ranked.by(y=y, treated=treated, score=perfect_score(y, treated))
    best = perfect.qini_area(weights)
    return ranked.qini_area(weights) / best if best > 0 else float("nan")


def uplift_at(y: np.ndarray, treated: np.ndarray, score: np.ndarray, k: float) -> float:
    """Uplift among the top ``k`` share by ``score`` (see the module docstring)."""
    return Ranked.by(y=y, treated=treated, score=score).uplift_at(k)


def policy_value(
    *,
    money: np.ndarray,
    arm: np.ndarray,
    given: np.ndarray,
    costs: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    """Net money per customer of giving arm ``given[i]`` to each customer (0 = control).

    Randomization makes the customers who happened to get what the policy gives them a
    fair sample of all it gives it to, so per arm a: the share the policy gives a times
    the mean of (outcome money - cost of a) among those it gives a who got a. NaN when
    the policy gives an arm to customers none of whom got it.
    """
    w = np.ones(len(money)) if weights is None else np.asarray(weights, dtype=np.float64)
    size = len(costs)
    share = np.bincount(given, weights=w, minlength=size) / float(w.sum())
    got = given == arm
    n = np.bincount(given[got], weights=w[got], minlength=size)
    earned = np.bincount(given[got], weights=(w * money)[got], minlength=size)
    used = share > 0.0
    if np.any(used & (n == 0.0)):
        return float("nan")
    mean = np.divide(earned, n, out=np.zeros(size), where=n > 0.0)
    return float(np.sum(share[used] * (mean[used] - np.asarray(costs)[used])))


def bootstrap_interval(
    stat: Callable[[np.ndarray | None], np.ndarray],
    n: int,
    *,
    resamples: int = 200,
    seed: int = 42,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of each figure ``stat(weights)`` returns.

    Each resample draws ``n`` rows with replacement (``rng.integers(0, n, n)`` with
    ``numpy.random.default_rng(seed)``); its weights count the draws of each row.
    Resamples whose figure is NaN are left out of that figure's interval.
    """
    rng = np.random.default_rng(seed)
    draws = np.array(
        [stat(np.bincount(rng.integers(0, n, n), minlength=n)) for _ in range(resamples)],
        dtype=np.float64,
    )
    tail = (1.0 - level) / 2.0 * 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a figure NaN in every resample
        low = np.nanpercentile(draws, tail, axis=0) if len(draws) else np.array([])
        high = np.nanpercentile(draws, 100.0 - tail, axis=0) if len(draws) else np.array([])
    return np.asarray(low), np.asarray(high)
