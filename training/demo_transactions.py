"""Seeded demo data: the demo restaurant's transaction log.

``generate_transactions(customers, seed=...)`` draws one row per purchase (``customer_id``,
``ts``, ``amount`` and the per-customer ``campaign``, ``channel``, ``student_verified``)
for a ``training.demo_data.generate_customers`` frame, about ten per customer, dated from
signup through ``as_of + horizon_days``; rows are grouped by customer (in the table's
order) and in time order within each customer. ``examples/transactions.toml`` describes
it.

A customer buys at the yearly rate their ``visits_365d`` shows, bills scatter around
their ``avg_ticket``, and they lapse at some point after their last recorded visit. How
long they stay grows with the same latent value the tiers came from
(``training.demo_data._signal_value``: regulars, loyal members seen lately, big spenders,
hot leads), so frequent and high-spending customers keep spending, and recency,
frequency and spend in the history predict the spend in the horizon. The log is a fresh
draw from each customer's habits, not a replay of the table: its last-year counts match
``visits_365d`` roughly, on average.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tierline.training.demo_data import _VALUE_CENTRE, DEMO_AS_OF, _num, _signal_value

__all__ = ["generate_transactions"]

_TRANSACTION_INPUTS = (
    "customer_id", "signup_date", "campaign", "channel", "student_verified", "visits_365d",
    "visits_90d", "avg_ticket", "days_since_last_visit", "party_size", "booking_lead_days",
    "loyalty_member", "app_installed", "landing_page", "car_brand", "cancellations_365d",
    "reviews_left", "distance_km", "gift_card_buyer", "email_open_rate",
)  # fmt: skip


def generate_transactions(
    customers: pd.DataFrame,
    *,
    seed: int = 7,
    as_of: date = DEMO_AS_OF,
    horizon_days: int = 90,
) -> pd.DataFrame:
    """A purchase log for ``customers`` (a ``generate_customers`` frame).

    ``ts`` runs from each customer's signup through the day ``as_of + horizon_days``, so
    the horizon after ``as_of`` and the one before it (the backtest's) both hold purchases.
    """
    absent = [c for c in _TRANSACTION_INPUTS if c not in customers.columns]
    if absent:
        raise ValueError(
            f"column '{absent[0]}' is missing from the customers frame; "
            f"pass a frame made by generate_customers"
        )
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ValueError(f"horizon_days must be a whole number of days >= 1, got {horizon_days!r}")
    # A stream of its own, so the log does not replay the draws that made the table.
    rng = np.random.default_rng([seed, 1])
    signup = pd.to_datetime(customers["signup_date"]).to_numpy("datetime64[D]")
    table_day = np.datetime64(DEMO_AS_OF, "D")
    end = np.datetime64(as_of, "D") + np.timedelta64(horizon_days + 1, "D")
    value = _signal_value(customers) - _VALUE_CENTRE
    rate, ticket = _habits(rng, customers, value=value, tenure=(table_day - signup).astype(float))
    # Customers lapse some time after their last recorded visit; valuable ones later.
    recency = _num(customers, "days_since_last_visit")
    last_seen = np.where(np.isnan(recency), signup, table_day - np.nan_to_num(recency).astype(int))
    stay = 365 * 1.5 * np.exp(0.5 * value) * rng.exponential(size=len(value))
    lapse = last_seen + stay.astype(np.int64)
    active = np.maximum(np.minimum(lapse, end) - signup, 0).astype(np.int64)
    counts = rng.poisson(rate * active / 365)

    owner = np.repeat(np.arange(len(counts)), counts)
    position = _sorted_uniforms(rng, counts) * active[owner]
    day = np.floor(position)
    ts = (signup[owner] + day.astype(np.int64)).astype("datetime64[s]") + _clock(position - day)
    amount = ticket[owner] * np.exp(0.35 * rng.standard_normal(len(owner)))
    log = {
        "customer_id": _spread(customers["customer_id"], owner),
        "ts": ts.astype("datetime64[us]"),
        "amount": np.round(np.maximum(amount, 1.0), 2),
        "campaign": _spread(customers["campaign"], owner),
        "channel": _spread(customers["channel"], owner),
        "student_verified": _spread(customers["student_verified"], owner),
    }
    return pd.DataFrame(log, copy=False)


def _habits(
    rng: np.random.Generator, customers: pd.DataFrame, *, value: np.ndarray, tenure: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's purchases per year and median bill, read from the table."""
    exposure = np.clip(tenure, 0, 365) / 365
    # Half a visit of prior per eighth of a year keeps brand-new customers' rates sane.
    rate = (_num(customers, "visits_365d") + 0.5) / (exposure + 0.125)
    rate *= rng.gamma(5.0, 0.2, len(value))
    ticket = _num(customers, "avg_ticket")
    ticket = np.where(np.isnan(ticket), 30.0 * np.exp(0.2 * np.clip(value, -3, 3)), ticket)
    # A lognormal bill with sigma 0.35 has mean exp(0.35**2 / 2) times its median.
    return rate, ticket * np.exp(-(0.35**2) / 2)


def _spread(column: pd.Series, owner: np.ndarray) -> Any:
    """The per-customer ``column`` repeated onto each of the customer's purchases."""
    if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        # pyarrow's own take is several times faster than the pandas wrapper's here.
        return pd.Series(pa.array(column.array).take(pa.array(owner)), dtype=column.dtype)
    return column.array.take(owner)


def _sorted_uniforms(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """``counts[i]`` uniforms on [0, 1) for each group i, ascending within each group.

    Running sums of k + 1 exponential gaps, divided by their total, are k sorted uniforms:
    each customer's purchases come out in time order without sorting 10M rows.
    """
    gaps = rng.exponential(size=int(counts.sum()) + len(counts))
    running = np.cumsum(gaps)
    ends = np.cumsum(counts + 1) - 1
    totals = running[ends]
    bases = np.concatenate(([0.0], totals[:-1]))
    keep = np.ones(len(gaps), dtype=bool)
    keep[ends] = False
    group = np.repeat(np.arange(len(counts)), counts)
    share = (running[keep] - bases[group]) / (totals - bases)[group]
    # Rounding can put a share a hair over 1.
    return np.minimum(share, np.nextafter(1.0, 0.0))


def _clock(fraction: np.ndarray) -> np.ndarray:
    """Map a uniform share of a day onto opening hours (11:00-23:30), keeping order.

    The quantile function of a lunch peak (~12:45) and a dinner peak (~19:30) is monotone,
    so purchases in order within a day stay in order; it is tabulated once and looked up,
    which is much faster than interpolating 10M values.
    """
    hours = np.linspace(11.0, 23.5, 501)
    density = 0.4 * np.exp(-0.5 * ((hours - 12.75) / 0.6) ** 2) / 0.6
    density += 0.6 * np.exp(-0.5 * ((hours - 19.5) / 1.2) ** 2) / 1.2
    cdf = np.concatenate(([0.0], np.cumsum((density[1:] + density[:-1]) / 2)))
    steps = 1 << 16
    table = np.interp(np.arange(steps) / steps, cdf / cdf[-1], hours * 3600).astype(np.int64)
    return table[(fraction * steps).astype(np.int64)].astype("timedelta64[s]")
