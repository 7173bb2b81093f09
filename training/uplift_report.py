"""The uplift part of the train report, on the held-out (test) customers.

Per arm against the control: the average effect (treated minus control mean outcome),
the normalized Qini (``training.uplift_metrics``) and the uplift at the top 10/20/30 %,
for the uplift model's ranking and for ranking by plain response (the tier model's score).
Then the net value per 1,000 customers of four policies, estimated from the experiment
(``uplift_metrics.policy_value``): the model's (each customer gets the arm with the best
positive net value, else nothing), the response ranking's (the same share of customers,
the highest response scores, given the arm best on average), treat everyone (with the
arm best on average) and treat no one. Every figure carries a 95 % percentile bootstrap
interval over the held-out rows (``RESAMPLES`` resamples, seeded), so a user sees when
uplift targeting is not worth it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tierline.engine.treatment import TreatmentSpec
from tierline.training.uplift import UpliftFit, describe_choice
from tierline.training.uplift_metrics import (
    Ranked,
    bootstrap_interval,
    perfect_score,
    policy_value,
)

__all__ = ["RESAMPLES", "TOP", "format_uplift_report", "uplift_figures"]

RESAMPLES = 200
SEED = 42
TOP = (0.1, 0.2, 0.3)
_RANKINGS = ("uplift", "response")
_POLICIES = ("model", "response", "everyone", "no_one")


def uplift_figures(
    *,
    fit: UpliftFit,
    treatment: TreatmentSpec,
    X_test: np.ndarray,
    y_test: np.ndarray,
    codes_test: np.ndarray,
    response_test: np.ndarray,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """Every figure of the uplift report with its interval, as plain JSON-ready data."""
    model = fit.model
    lift = model.predict_uplift(X_test, threads=os.cpu_count() or 1)
    chosen, _ = model.choose(model.net(lift))
    money = np.asarray(treatment.money(np.asarray(y_test, dtype=np.float64)), dtype=np.float64)
    costs = np.array([0.0, *(treatment.cost_of(a) for a in model.arms)])
    ranks = [
        _ArmRanks.of(j + 1, y=y_test, codes=codes_test, uplift=lift[:, j], response=response_test)
        for j in range(len(model.arms))
    ]
    given, everyone = _policies(chosen, money=money, codes=codes_test, costs=costs,
                                response=response_test)  # fmt: skip

    def stat(w: np.ndarray | None) -> np.ndarray:
        figs = [f for r in ranks for f in r.figures(w)]
        for name in _POLICIES:
            value = policy_value(
                money=money, arm=codes_test, given=given[name], costs=costs, weights=w
            )
            figs.append(1000.0 * value)
        return np.array(figs, dtype=np.float64)

    point = stat(None)
    low, high = bootstrap_interval(stat, len(y_test), resamples=resamples, seed=SEED)
    cells = iter(
        {"value": _num(p), "low": _num(lo), "high": _num(hi)}
        for p, lo, hi in zip(point, low, high, strict=True)
    )
    per_arm = {arm: r.entry(cells) for arm, r in zip(model.arms, ranks, strict=True)}
    return {
        **describe_choice(fit),
        "control": treatment.control,
        "rows": len(y_test),
        "resamples": resamples,
        "level": 0.95,
        "treat_share": float(np.mean(given["model"] > 0)),
        "everyone_arm": model.arms[everyone - 1],
        "per_arm": per_arm,
        "value_per_1000": {name: next(cells) for name in _POLICIES},
    }


@dataclass(frozen=True)
class _ArmRanks:
    """One arm against the control: its rows and their rankings, ready for any weights."""

    rows: np.ndarray
    treated: int
    control: int
    by: dict[str, Ranked]
    perfect: Ranked

    @classmethod
    def of(
        cls,
        code: int,
        *,
        y: np.ndarray,
        codes: np.ndarray,
        uplift: np.ndarray,
        response: np.ndarray,
    ) -> _ArmRanks:
        rows = (codes == 0) | (codes == code)
        yj, treated = y[rows], (codes[rows] == code).astype(np.float64)
        return cls(
            rows=rows,
            treated=int(treated.sum()),
            control=int(len(treated) - treated.sum()),
            by={
                "uplift": Ranked.by(y=yj, treated=treated, score=uplift[rows]),
                "response": Ranked.by(y=yj, treated=treated, score=response[rows]),
            },
            perfect=Ranked.by(y=yj, treated=treated, score=perfect_score(yj, treated)),
        )

    def figures(self, weights: np.ndarray | None) -> list[float]:
        """Average effect, then per ranking: normalized Qini and the uplift at each TOP."""
        w = None if weights is None else weights[self.rows]
        best = self.perfect.qini_area(w)
        figs: list[float] = []
        for name in _RANKINGS:
            area, lifts = self.by[name].measure((*TOP, 1.0), w)
            if name == "uplift":
                figs.append(lifts[-1])  # the average effect: the top 100 %
            figs.append(area / best if best > 0 else math.nan)
            figs += lifts[: len(TOP)]
        return figs

    def entry(self, cells: Iterator[dict[str, Any]]) -> dict[str, Any]:
        """This arm's part of the figures, taking its cells in ``figures``' order."""
        out: dict[str, Any] = {
            "treated": self.treated,
            "control": self.control,
            "average_effect": next(cells),
        }
        for name in _RANKINGS:
            out[name] = {"qini": next(cells), "uplift_at": {f"{k:.0%}": next(cells) for k in TOP}}
        return out


def _policies(
    chosen: np.ndarray,
    *,
    money: np.ndarray,
    codes: np.ndarray,
    costs: np.ndarray,
    response: np.ndarray,
) -> tuple[dict[str, np.ndarray], int]:
    """The arm code each policy gives each customer, and the arm best on average."""
    n = len(chosen)
    everyone = 1 + int(np.argmax([_mean_net(money, codes, a, costs) for a in range(1, len(costs))]))
    model = chosen + 1  # -1 (the control) becomes code 0
    by_response = np.zeros(n, dtype=np.int64)
    share = float(np.mean(model > 0))
    by_response[np.argsort(-response, kind="stable")[: math.ceil(share * n)]] = everyone
    given = {
        "model": model,
        "response": by_response,
        "everyone": np.full(n, everyone),
        "no_one": np.zeros(n, dtype=np.int64),
    }
    return given, everyone


def _mean_net(money: np.ndarray, codes: np.ndarray, code: int, costs: np.ndarray) -> float:
    """An arm's average net value per customer over the control, on the experiment."""
    treated, control = money[codes == code], money[codes == 0]
    if not len(treated) or not len(control):
        return -math.inf
    return float(treated.mean() - control.mean() - costs[code])


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def format_uplift_report(figures: Mapping[str, Any]) -> str:
    """The uplift figures as a plain-text table with their intervals."""
    learner = {"s": "S-learner", "t": "T-learner"}[figures["learner"]]
    lines = [
        f"uplift on held-out customers: {figures['rows']:,} ({learner}; "
        f"{figures['level']:.0%} intervals from {figures['resamples']} bootstrap resamples)"
    ]
    width = 34
    for arm, e in figures["per_arm"].items():
        lines.append(
            f"arm '{arm}' vs control '{figures['control']}': "
            f"{e['treated']:,} treated, {e['control']:,} control"
        )
        lines.append("  average effect".ljust(width) + _cell(e["average_effect"]))
        lines.append(" " * width + "uplift model".ljust(28) + "response ranking")
        lines.append(
            "  normalized Qini".ljust(width)
            + _cell(e["uplift"]["qini"]).ljust(28)
            + _cell(e["response"]["qini"])
        )
        for k in e["uplift"]["uplift_at"]:
            lines.append(
                f"  uplift at top {k}".ljust(width)
                + _cell(e["uplift"]["uplift_at"][k]).ljust(28)
                + _cell(e["response"]["uplift_at"][k])
            )
    v = figures["value_per_1000"]
    share = figures["treat_share"]
    lines.append("net value per 1,000 customers")
    labels = {
        "model": f"uplift policy (treats {share:.0%})",
        "response": "response ranking, same share",
        "everyone": f"treat everyone ('{figures['everyone_arm']}')",
        "no_one": "treat no one",
    }
    for key, label in labels.items():
        lines.append(f"  {label}".ljust(width) + _cell(v[key], digits=1))
    return "\n".join(lines)


def _cell(c: Mapping[str, Any], *, digits: int = 3) -> str:
    def f(x: Any) -> str:
        return "-" if x is None else f"{x:.{digits}f}"

    return f"{f(c['value'])} [{f(c['low'])}, {f(c['high'])}]"
