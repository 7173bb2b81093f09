"""Qini, uplift at k, a policy's value and the bootstrap intervals against hand-computed values.

The six-customer table (score, treated, outcome), best score first:
A .9 T 1 | B .8 C 0 | C .7 T 1 | D .6 C 1 | E .5 T 0 | F .4 C 0
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tierline.training.uplift_metrics import (
    Ranked,
    bootstrap_interval,
    normalized_qini,
    policy_value,
    qini_curve,
    uplift_at,
)

SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
TREATED = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
Y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])


def test_qini_curve_by_hand() -> None:
    """Q(k) = Y_t - Y_c * N_t / N_c at every k, the correction 0 before any control."""
    x, q = qini_curve(Y, TREATED, SCORE)
    assert x.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert q.tolist() == [0.0, 1.0, 1.0, 2.0, 1.0, 0.5, 1.0]


def test_normalized_qini_by_hand() -> None:
    """Model area 6 less random 3, over the perfect ranking's 9.5 less 3: 3 / 6.5."""
    assert normalized_qini(Y, TREATED, SCORE) == pytest.approx(3.0 / 6.5)
    # The perfect ranking scores 1 against itself; the reverse ranking scores below 0.
    perfect = np.where(TREATED > 0, Y, -Y)
    assert normalized_qini(Y, TREATED, perfect) == pytest.approx(1.0)
    assert normalized_qini(Y, TREATED, -SCORE) < 0


def test_tied_scores_move_together() -> None:
    """With every score tied the curve is the random line itself: a Qini of 0."""
    x, q = qini_curve(Y, TREATED, np.zeros(6))
    assert x.tolist() == [0, 6] and q.tolist() == [0.0, 1.0]
    assert normalized_qini(Y, TREATED, np.zeros(6)) == 0.0


@pytest.mark.parametrize(
    ("k", "expected"),
    [(1.0, 2 / 3 - 1 / 3), (0.5, 1.0), (1 / 3, 1.0), (0.34, 1.0), (0.1, math.nan)],
)
def test_uplift_at_k_by_hand(k: float, expected: float) -> None:
    """Top ceil(k * 6) customers: treated mean minus control mean; NaN without a control."""
    got = uplift_at(Y, TREATED, SCORE, k)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_weights_count_repeated_rows() -> None:
    """Weight 2 on A and 0 on B and E measure like the table with A twice and no B, E."""
    w = np.array([2.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    keep = np.array([0, 0, 2, 3, 5])
    ranked = Ranked.by(y=Y, treated=TREATED, score=SCORE)
    repeated = Ranked.by(y=Y[keep], treated=TREATED[keep], score=SCORE[keep])
    assert ranked.qini_area(w) == pytest.approx(repeated.qini_area())
    for k in (0.5, 0.8, 1.0):
        assert ranked.uplift_at(k, w) == pytest.approx(repeated.uplift_at(k), nan_ok=True)
    assert ranked.uplift_at(1.0, w) == pytest.approx(0.5)


def test_policy_value_by_hand() -> None:
    """Per arm: the policy's share times the mean (money - cost) of those it gives the arm
    who got it; NaN when none of them got it."""
    money, arm, costs = 10.0 * Y, TREATED.astype(np.int64), np.array([0.0, 2.0])
    given = np.array([1, 1, 0, 0, 1, 1])
    # arm 1 to A, B, E, F of whom A, E got it: (10 + 0) / 2 - 2 = 3 on 4/6;
    # nothing to C, D, of whom D got nothing: 10 on 2/6.
    assert policy_value(money=money, arm=arm, given=given, costs=costs) == pytest.approx(
        4 / 6 * 3 + 2 / 6 * 10
    )
    no_one = np.zeros(6, dtype=np.int64)
    assert policy_value(money=money, arm=arm, given=no_one, costs=costs) == pytest.approx(10 / 3)
    everyone = np.ones(6, dtype=np.int64)
    assert policy_value(money=money, arm=arm, given=everyone, costs=costs) == pytest.approx(
        20 / 3 - 2
    )
    only_b = np.array([0, 1, 0, 0, 0, 0])
    assert math.isnan(policy_value(money=money, arm=arm, given=only_b, costs=costs))


def test_bootstrap_interval_is_the_percentiles_of_the_documented_draws() -> None:
    """The interval is the 2.5th and 97.5th percentile of the statistic over resamples
    drawn as rng.integers(0, n, n) with default_rng(seed)."""
    values = np.array([1.0, 2.0, 4.0, 8.0, 16.0])

    def mean(w: np.ndarray | None) -> np.ndarray:
        w = np.ones(5) if w is None else w
        return np.array([float(np.sum(w * values) / np.sum(w))])

    low, high = bootstrap_interval(mean, 5, resamples=50, seed=3)
    rng = np.random.default_rng(3)
    by_hand = [values[rng.integers(0, 5, 5)].mean() for _ in range(50)]
    assert low[0] == pytest.approx(np.percentile(by_hand, 2.5))
    assert high[0] == pytest.approx(np.percentile(by_hand, 97.5))
    assert low[0] < values.mean() < high[0]


def test_bootstrap_interval_of_a_certain_effect_is_a_point() -> None:
    """Every treated customer returns and no control does: uplift 1 in every resample
    that holds both groups, so the interval is [1, 1]."""
    treated = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0] * 5)
    ranked = Ranked.by(y=treated.copy(), treated=treated, score=np.arange(30.0))

    def ate(w: np.ndarray | None) -> np.ndarray:
        return np.array([ranked.uplift_at(1.0, w)])

    low, high = bootstrap_interval(ate, 30, resamples=100, seed=1)
    assert low[0] == 1.0 and high[0] == 1.0
