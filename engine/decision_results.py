"""The decision log as a frame, each decision with its own result: what export labels
and what the uplift report compares.

A decision's result is its outcomes' spend (summed) and conversion (any outcome
converted); without an outcome, its visit's spend once the visit is closed, a closed
visit with spend counting as converted. ``spend`` and ``converted`` are empty when
nothing was recorded; ``responded`` says whether anything was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.store import Store

__all__ = ["DECISION_COLUMNS", "RESULT_COLUMNS", "Progress", "decisions_with_results"]

DECISION_COLUMNS = (
    "decision_id",
    "customer_id",
    "site",
    "decided_at",
    "tier",
    "score",
    "model_version",
    "holdout",
    "perks",
)
RESULT_COLUMNS = ("spend", "converted")

Progress = Callable[[str], None]


def decisions_with_results(
    store: Store,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    site: str | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The decisions made in ``[since, until)`` (at ``site``, if given), in id order:
    ``DECISION_COLUMNS`` (``perks`` joined with "|"), ``spend``, ``converted`` (nullable
    boolean) and ``responded``; and each decision's signals (an empty dict when none are
    kept)."""
    say = progress or (lambda _m: None)
    window = {"since": since, "until": until, "site": site}
    decisions, signals = _read_decisions(store, window=window, say=say)
    results = _read_results(store, window=window)
    return _with_results(decisions, results), signals


def _read_decisions(
    store: Store, *, window: dict[str, Any], say: Progress
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    columns: dict[str, list[Any]] = {c: [] for c in (*DECISION_COLUMNS, "signals")}
    for page in store.logged_columns(**window):
        for col, values in page.items():
            columns[col].extend(values)
        read = len(columns["decision_id"])
        if read % 100_000 < len(page["decision_id"]):
            say(f"read {read:,} decisions")
    signals = [s or {} for s in columns.pop("signals")]
    frame = pd.DataFrame(
        {
            **columns,
            # An empty window would otherwise give float ids that no result joins on.
            "decision_id": pd.Series(columns["decision_id"], dtype=object),
            "decided_at": pd.to_datetime(columns["decided_at"], utc=True),
            "score": np.asarray(columns["score"], dtype=np.float64),
            "holdout": np.asarray(columns["holdout"], dtype=bool),
            "perks": ["|".join(p) for p in columns["perks"]],
        }
    )
    return frame, signals


def _read_results(store: Store, *, window: dict[str, Any]) -> pd.DataFrame:
    names = ["decision_id", "source", "spend", "converted", "closed"]
    rows = [[r[n] for n in names] for page in store.decision_results(**window) for r in page]
    return pd.DataFrame(rows, columns=names).astype({"decision_id": object})


def _with_results(decisions: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """``spend``, ``converted`` and whether anything was recorded, per decision."""
    outcomes = results[results["source"] == "outcome"]
    said = outcomes["converted"].map({True: 1.0, False: 0.0}).astype(np.float64)
    by_outcome = pd.DataFrame(
        {
            "o_spend": outcomes.groupby("decision_id")["spend"].sum(min_count=1),
            # max over 1.0/0.0/NaN: converted if any outcome says so, unknown if none tells.
            "o_converted": said.groupby(outcomes["decision_id"]).max(),
        }
    )
    by_outcome["o_n"] = outcomes.groupby("decision_id").size()
    visits = results[(results["source"] == "visit") & results["closed"]]
    by_visit = pd.DataFrame(
        {
            "v_spend": visits.groupby("decision_id")["spend"].sum(min_count=1),
            "v_n": visits.groupby("decision_id").size(),
        }
    )
    frame = decisions.join(by_outcome, on="decision_id").join(by_visit, on="decision_id")
    o_spend = frame["o_spend"].astype(np.float64)
    v_spend = frame["v_spend"].astype(np.float64)
    has_outcome = frame["o_n"].notna().to_numpy()
    has_visit = frame["v_n"].notna().to_numpy()
    frame["spend"] = np.where(has_outcome, o_spend, v_spend)
    from_visit = np.where(has_visit, (v_spend.fillna(0) > 0).to_numpy(np.float64), np.nan)
    converted = frame["o_converted"].fillna(pd.Series(from_visit, index=frame.index))
    frame["converted"] = pd.array(converted.to_numpy() == 1.0, dtype="boolean")
    frame.loc[converted.isna().to_numpy(), "converted"] = pd.NA
    frame["responded"] = has_outcome | has_visit
    return frame.drop(columns=["o_spend", "o_converted", "o_n", "v_spend", "v_n"])
