"""Seeded demo experiment: the demo customers, randomly given a perk, and what they did.

``generate_experiment(n, seed=...)`` takes ``training.demo_data.generate_customers(n,
seed)`` and adds ``perk``: each customer was randomly given nothing (``holdout``, the control,
one third), a free ``coffee`` or a ``dessert``. ``returned_90d`` and ``spend_next_90d`` are
then drawn again, the perk's effect included; ``examples/uplift.toml`` describes it.

The effects vary by customer, in a known way, on the log-odds of returning:

* coffee moves lapsing customers (last seen 45 days to a year ago: +1.6) and puts off
  regulars (4 or more visits in 90 days: -1.0), who come anyway and feel bribed;
* dessert moves groups (a party of 4 or more: +1.4) and puts off verified students
  (-0.8), whom it reminds that they cannot afford the rest;
* everyone else is not moved.

A customer's chance of returning without a perk rises with recent visits and a loyalty
card and falls with the days since the last visit, so the customers a response model
ranks first (regulars) are the ones coffee puts off. ``true_uplift`` gives the exact
expected effect per customer and arm, from the frame's own columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tierline.training.demo_data import generate_customers

__all__ = ["ARMS", "CONTROL", "generate_experiment", "true_uplift"]

CONTROL = "holdout"
ARMS = ("coffee", "dessert")
_SPEND_SPREAD = 0.3  # lognormal sigma of the next 90 days' spend around the usual ticket
_DEFAULT_TICKET = 45.0


def generate_experiment(n: int, *, seed: int = 7) -> pd.DataFrame:
    """``n`` demo customers with a randomized perk and the outcome it led to."""
    frame = generate_customers(n, seed=seed)
    rng = np.random.default_rng([seed, 14])
    arm = rng.integers(0, len(ARMS) + 1, n)  # 0 the control: one third of the customers
    logit = _base_logit(frame) + _effects(frame)[np.arange(n), arm]
    returned = rng.random(n) < _sigmoid(logit)
    spend = _ticket(frame) * rng.lognormal(-(_SPEND_SPREAD**2) / 2, _SPEND_SPREAD, n)
    frame["perk"] = np.array([CONTROL, *ARMS], dtype=object)[arm]
    frame["returned_90d"] = returned
    frame["spend_next_90d"] = np.round(np.where(returned, spend, 0.0), 2)
    return frame


def true_uplift(frame: pd.DataFrame, *, target: str = "returned_90d") -> pd.DataFrame:
    """The expected change of ``target`` per customer for each arm (one column per arm):
    of the chance to return, or of the spend (``spend_next_90d``)."""
    base = _base_logit(frame)
    effects = _effects(frame)
    p0 = _sigmoid(base)
    scale = _ticket(frame) if target == "spend_next_90d" else 1.0
    return pd.DataFrame(
        {arm: (_sigmoid(base + effects[:, j + 1]) - p0) * scale for j, arm in enumerate(ARMS)},
        index=frame.index,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _num(frame: pd.DataFrame, column: str, fill: float) -> np.ndarray:
    return np.asarray(pd.to_numeric(frame[column]).astype("float64").fillna(fill).to_numpy())


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    return np.asarray(frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool))


def _base_logit(frame: pd.DataFrame) -> np.ndarray:
    recency = _num(frame, "days_since_last_visit", 365.0)
    visits = np.minimum(_num(frame, "visits_90d", 0.0), 6.0)
    return (
        -1.0
        + 0.35 * visits
        - 0.004 * np.minimum(recency, 365.0)
        + 0.4 * _flag(frame, "loyalty_member")
    )


def _effects(frame: pd.DataFrame) -> np.ndarray:
    """Log-odds effect per customer of each arm (column 0: the control, no effect)."""
    recency = _num(frame, "days_since_last_visit", 365.0)
    lapsing = (recency >= 45) & (recency <= 365) & (_num(frame, "visits_365d", 0.0) >= 1)
    regular = _num(frame, "visits_90d", 0.0) >= 4
    coffee = 1.6 * lapsing - 1.0 * regular
    dessert = 1.4 * (_num(frame, "party_size", 2.0) >= 4) - 0.8 * _flag(frame, "student_verified")
    return np.column_stack([np.zeros(len(frame)), coffee, dessert])


def _ticket(frame: pd.DataFrame) -> np.ndarray:
    return _num(frame, "avg_ticket", _DEFAULT_TICKET)
