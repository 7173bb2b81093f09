"""Per-customer purchase-day features: the buy-till-you-die summary, gaps and trends.

A customer's purchases are counted per calendar day, as the ``lifetimes`` and ``btyd``
libraries do with daily periods: several bills on one day are one purchase day with their
summed spend. With the customer's first purchase day f, last purchase day l and the
cut-off's last day c (``as_of``):

* ``repeat_days`` x: purchase days after the first; ``repeat_span_days`` t_x = l - f;
  ``age_days`` T = c - f; ``repeat_spend_mean``: mean spend of the repeat days (NaN if x = 0).
* ``gap_std_days``: standard deviation of the gaps between purchase days (NaN if x < 2);
  ``last_gap_days``: the gap before the last purchase day (NaN if x = 0);
  ``overdue_ratio``: days since the last purchase day over the mean gap t_x / x (NaN if x = 0).
* ``spend_trend_30d`` / ``count_trend_30d`` (and ``_90d``): spend or bills in the last 30
  days against the 30 before, as (last - previous) / (|last| + |previous|), in [-1, 1] and
  0 when both are 0, so a customer without history in either window needs no special case.

Vectorised like ``training.transactions``: one sort of (customer, day) keys, so each
customer's distinct days lie together in time order, and ``np.bincount`` reductions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PURCHASE_DAY_FEATURES", "purchase_day_features"]

PURCHASE_DAY_FEATURES = (
    "repeat_days",
    "repeat_span_days",
    "age_days",
    "repeat_spend_mean",
    "gap_std_days",
    "last_gap_days",
    "overdue_ratio",
    "spend_trend_30d",
    "count_trend_30d",
    "spend_trend_90d",
    "count_trend_90d",
)
_TREND_DAYS = (30, 90)


def purchase_day_features(
    *,
    group: np.ndarray,
    ticks: np.ndarray,
    amounts: np.ndarray,
    size: int,
    cut: int,
    per_day: int,
) -> dict[str, np.ndarray]:
    """``PURCHASE_DAY_FEATURES`` of customers 0..size-1, each with at least one row.

    ``group``, ``ticks`` and ``amounts`` describe the rows before the cut-off ``cut`` (a
    midnight, in ticks; ``per_day`` ticks make a day).
    """
    origin = int(ticks.min()) // per_day
    day = ticks // per_day - origin  # days since the log's first day, from 0
    last_day = cut // per_day - 1 - origin  # the cut-off's last day (as_of)
    span = last_day + 1
    # One int64 key per (customer, day): sorted, each customer's distinct days lie together
    # in order. Timsort ("stable") is near-linear on a log grouped by customer and no slower
    # than quicksort on any other order (benchmarks/README.md has the figures).
    keys = np.sort(group.astype(np.int64) * span + day, kind="stable")
    distinct = keys[np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))]
    owner = distinct // span
    when = distinct - owner * span

    days = np.bincount(owner, minlength=size)
    ends = np.cumsum(days) - 1
    starts = ends - days + 1
    x = (days - 1).astype(np.float64)
    first = when[starts]
    t_x = (when[ends] - first).astype(np.float64)
    age = (last_day - first).astype(np.float64)
    repeat = x > 0
    later = day != first[group]
    repeat_spend = np.bincount(group[later], weights=amounts[later], minlength=size)
    out: dict[str, np.ndarray] = {
        "repeat_days": x,
        "repeat_span_days": t_x,
        "age_days": age,
        "repeat_spend_mean": _ratio(repeat_spend, x, where=repeat),
    }
    out.update(_gaps(owner=owner, when=when, ends=ends, x=x, t_x=t_x, age=age, size=size))
    for days_back in _TREND_DAYS:
        out.update(
            _trend(
                group=group,
                ticks=ticks,
                amounts=amounts,
                size=size,
                cut=cut,
                width=days_back * per_day,
                days=days_back,
            )
        )
    return {name: out[name] for name in PURCHASE_DAY_FEATURES}


def _gaps(
    *,
    owner: np.ndarray,
    when: np.ndarray,
    ends: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    age: np.ndarray,
    size: int,
) -> dict[str, np.ndarray]:
    """Gap statistics from the sorted distinct purchase days of every customer."""
    same = owner[1:] == owner[:-1]
    gap_owner = owner[1:][same]
    repeat = x > 0
    mean = _ratio(t_x, x, where=repeat)
    # Two passes (deviations from the mean): equal gaps give exactly 0, not rounding noise.
    deviation = np.diff(when)[same] - mean[gap_owner]
    squares = np.bincount(gap_owner, weights=deviation * deviation, minlength=size)
    last_gap = np.full(size, np.nan)
    last_gap[repeat] = when[ends[repeat]] - when[ends[repeat] - 1]
    return {
        "gap_std_days": np.sqrt(_ratio(squares, x, where=x > 1)),
        "last_gap_days": last_gap,
        "overdue_ratio": _ratio(age - t_x, mean, where=repeat),
    }


def _trend(
    *,
    group: np.ndarray,
    ticks: np.ndarray,
    amounts: np.ndarray,
    size: int,
    cut: int,
    width: int,
    days: int,
) -> dict[str, np.ndarray]:
    """Spend and bill counts of the last window against the window before it."""
    # One pass over the log picks the rows of both windows; the split runs on those alone.
    recent = np.flatnonzero(ticks >= cut - 2 * width)
    last = ticks[recent] >= cut - width
    members, spent = group[recent], amounts[recent]
    out = {}
    for what, weights in (("spend", spent), ("count", None)):
        now = _sum(members[last], None if weights is None else weights[last], size)
        then = _sum(members[~last], None if weights is None else weights[~last], size)
        scale = np.abs(now) + np.abs(then)
        out[f"{what}_trend_{days}d"] = np.where(
            scale > 0, _ratio(now - then, scale, scale > 0), 0.0
        )
    return out


def _sum(members: np.ndarray, weights: np.ndarray | None, size: int) -> np.ndarray:
    return np.bincount(members, weights=weights, minlength=size).astype(np.float64)


def _ratio(top: np.ndarray, bottom: np.ndarray, where: np.ndarray) -> np.ndarray:
    """top / bottom where ``where`` holds, NaN elsewhere."""
    out = np.full(np.shape(top), np.nan)
    np.divide(top, bottom, out=out, where=where)
    return out
