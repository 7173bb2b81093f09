"""Measured uplift: treated against holdout, per tier and per perk, from the decision log.

The holdout is the perks' randomized control, so comparing it with the treated customers
of the same tier measures what the tier's treatment and each perk bring. The rules
(the README's "Measured uplift" says the same for people):

* The unit is a customer: a customer id at a site. The first decision of each customer in
  the window decides their arm (holdout or treated), their tier and their perks, and its
  own result is theirs; their later decisions in the window are not counted (each would
  cost its perks again). Anonymous decisions are left out: the holdout is a hash of the
  customer id, so they are never held out and have no control to be compared with.
* Converted: the decision's result says so; no result, or one that does not tell, counts
  as not converted. Spend: no result counts as 0.
* Per tier: every treated customer of the tier against every holdout customer of the tier
  (who would have been offered the tier's perks). Per perk P in tier T: the treated
  customers of T whose decision took P against every holdout customer of T.
* Difference: treated minus holdout with a 95 % interval by normal approximation: Welch's
  standard error for spend, the two-proportion standard error for the conversion rate.
* Cost: each customer's perks at the perks table's cost; the treated arm's mean minus the
  holdout's. Net value per treated customer: spend difference minus that cost, with the
  interval shifted by it.
* Fewer than ``min_customers`` in either arm: "not enough data yet" with the counts, and
  no figure, since a figure without its interval misleads.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.decision_results import decisions_with_results
from tierline.engine.store import Store

__all__ = [
    "CONFIDENCE",
    "MIN_CUSTOMERS",
    "Interval",
    "first_decisions",
    "mean_difference",
    "measure_uplift",
    "rate_difference",
    "uplift_table",
]

CONFIDENCE = 0.95
MIN_CUSTOMERS = 30
_Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)


@dataclass(frozen=True)
class Interval:
    """An estimate with the bounds of its 95 % interval."""

    estimate: float
    low: float
    high: float

    def shifted(self, by: float) -> Interval:
        return Interval(self.estimate + by, self.low + by, self.high + by)

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def mean_difference(treated: Sequence[float], holdout: Sequence[float]) -> Interval:
    """Mean of ``treated`` minus mean of ``holdout``, Welch's standard error (each arm's
    own sample variance), normal approximation. Each arm needs two values or more."""
    a, b = np.asarray(treated, dtype=np.float64), np.asarray(holdout, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each arm needs at least two customers for its variance")
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return _interval(float(a.mean() - b.mean()), se)


def rate_difference(treated: Sequence[bool], holdout: Sequence[bool]) -> Interval:
    """Share of True in ``treated`` minus in ``holdout``, the two-proportion standard error
    sqrt(p1(1-p1)/n1 + p0(1-p0)/n0), normal approximation."""
    a, b = np.asarray(treated, dtype=bool), np.asarray(holdout, dtype=bool)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("each arm needs at least one customer")
    p1, p0 = float(a.mean()), float(b.mean())
    se = math.sqrt(p1 * (1 - p1) / len(a) + p0 * (1 - p0) / len(b))
    return _interval(p1 - p0, se)


def _interval(estimate: float, se: float) -> Interval:
    return Interval(estimate, estimate - _Z * se, estimate + _Z * se)


def first_decisions(frame: pd.DataFrame) -> pd.DataFrame:
    """Each known customer's first decision in ``frame`` (a customer is a customer id at
    a site); anonymous decisions are dropped."""
    known = frame[frame["customer_id"].notna()]
    ordered = known.sort_values("decided_at", kind="stable")
    return ordered.drop_duplicates(["site", "customer_id"], keep="first")


def uplift_table(
    frame: pd.DataFrame,
    *,
    costs: Mapping[str, float],
    min_customers: int = MIN_CUSTOMERS,
) -> dict[str, Any]:
    """The uplift report of the decisions in ``frame`` (columns ``customer_id``, ``site``,
    ``decided_at``, ``tier``, ``holdout``, ``perks`` joined with "|", ``spend``,
    ``converted``), with each perk's cost from ``costs``: one row per tier, each followed by
    one per perk its treated customers took."""
    first = first_decisions(frame)
    tiers = first["tier"].to_numpy(dtype=object)
    holdout = first["holdout"].to_numpy(dtype=bool)
    spend = first["spend"].astype(np.float64).fillna(0.0).to_numpy()
    converted = first["converted"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    taken = [frozenset(p.split("|")) if p else frozenset() for p in first["perks"]]
    # A taken perk always has its row in the perks table (taking it counts its stock).
    cost = np.array([sum(costs.get(p, 0.0) for p in perks) for perks in taken])
    arms = _Arms(spend=spend, converted=converted, cost=cost, min_customers=min_customers)
    rows: list[dict[str, Any]] = []
    for tier in sorted(set(tiers)):
        in_tier = tiers == tier
        control, treated = in_tier & holdout, in_tier & ~holdout
        rows.append(arms.row(tier, None, treated, control))
        perks = sorted(set().union(*(taken[i] for i in np.flatnonzero(treated))))
        for perk in perks:
            took = np.array([perk in t for t in taken], dtype=bool)
            rows.append(arms.row(tier, perk, treated & took, control))
    return {
        "customers": len(first),
        "anonymous_decisions": int(frame["customer_id"].isna().sum()),
        "min_customers": min_customers,
        "confidence": CONFIDENCE,
        "rows": rows,
    }


@dataclass(frozen=True)
class _Arms:
    """Per first decision: spend (0 without a result), converted, perk cost."""

    spend: np.ndarray
    converted: np.ndarray
    cost: np.ndarray
    min_customers: int

    def row(
        self, tier: str, perk: str | None, treated: np.ndarray, control: np.ndarray
    ) -> dict[str, Any]:
        n1, n0 = int(treated.sum()), int(control.sum())
        row: dict[str, Any] = {
            "tier": tier,
            "perk": perk,
            "treated": self._arm(treated, n1),
            "holdout": self._arm(control, n0),
            "enough_data": False,
            "note": None,
            "conversion_difference": None,
            "spend_difference": None,
            "cost_per_customer": None,
            "net_value": None,
        }
        if min(n1, n0) < max(self.min_customers, 2):
            row["note"] = (
                f"not enough data yet: {n1} treated and {n0} holdout customers, "
                f"{self.min_customers} of each needed"
            )
            return row
        spent = mean_difference(self.spend[treated], self.spend[control])
        cost = float(self.cost[treated].mean() - self.cost[control].mean())
        return {
            **row,
            "treated": self._arm(treated, n1, figures=True),
            "holdout": self._arm(control, n0, figures=True),
            "enough_data": True,
            "conversion_difference": rate_difference(
                self.converted[treated], self.converted[control]
            ).as_dict(),
            "spend_difference": spent.as_dict(),
            "cost_per_customer": cost,
            "net_value": spent.shifted(-cost).as_dict(),
        }

    def _arm(self, mask: np.ndarray, n: int, *, figures: bool = False) -> dict[str, Any]:
        if not figures:
            return {"customers": n, "conversion_rate": None, "spend_per_customer": None}
        return {
            "customers": n,
            "conversion_rate": float(self.converted[mask].mean()),
            "spend_per_customer": float(self.spend[mask].mean()),
        }


def measure_uplift(
    store: Store,
    *,
    site: str | None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    min_customers: int = MIN_CUSTOMERS,
) -> dict[str, Any]:
    """``uplift_table`` of the decisions made in ``[since, until)`` at ``site`` (every site
    when None), with the perks' costs from the store."""
    frame, _signals = decisions_with_results(store, since=since, until=until, site=site)
    costs = {
        p["name"]: float(p["cost"]) for p in store.list_perks(day=dt.datetime.now(dt.UTC).date())
    }
    return uplift_table(frame, costs=costs, min_customers=min_customers)
