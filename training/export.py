"""The decision log as training data: one row per decision, labelled point in time.

Each row holds the decision (``decision_id``, ``customer_id``, ``site``, ``decided_at``,
``tier``, ``score``, ``model_version``, ``holdout``, ``perks``, ``arm``), every signal it
was decided on as a column, and what happened after it and only after it:

* ``arm``: what the customer was given, as a ``[treatment]`` column reads it: "holdout"
  for a held-out decision, else its perks sorted and joined with "+" ("brand_dessert+coffee"),
  or "no perk". Never a value that reads as missing, so every row has an arm.

* ``spend`` and ``converted``: the decision's own result. Its outcomes' spend (summed)
  and conversion (any outcome converted); without an outcome, its visit's spend once the
  visit is closed, a closed visit with spend counting as converted. Empty when nothing
  was recorded.
* ``visits_next_<N>d`` and ``spend_next_<N>d``: the same customer's later decisions at
  the same site, made after this one and at most N days after it, that led to an outcome
  or a visit (how often they came back, and what they spent then). Empty when the
  horizon has not passed yet or the decision had no customer id, so such rows never
  train a model on a future that has not happened.

Nothing recorded before a decision labels it: a row's own result belongs to it by its
decision id, and the horizon counts only decisions made after it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.decision_results import (
    DECISION_COLUMNS as LOGGED_COLUMNS,
)
from tierline.engine.decision_results import (
    RESULT_COLUMNS,
    Progress,
    decisions_with_results,
)
from tierline.engine.errors import DataError
from tierline.engine.store import Store
from tierline.training import writing

__all__ = [
    "DECISION_COLUMNS",
    "HOLDOUT_ARM",
    "NO_PERK_ARM",
    "arm_of",
    "export",
    "export_frame",
    "horizon_columns",
]

DECISION_COLUMNS = (*LOGGED_COLUMNS, "arm")
HOLDOUT_ARM = "holdout"
NO_PERK_ARM = "no perk"

# A signal whose name an export column already has is written with this prefix.
SIGNAL_PREFIX = "signal_"


def horizon_columns(days: int) -> tuple[str, str]:
    """The names of the horizon's two columns."""
    return f"visits_next_{days}d", f"spend_next_{days}d"


def export(
    store: Store,
    out: str | Path,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    horizon_days: int = 90,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the decisions made in ``[since, until)`` to ``out`` (CSV or Parquet by
    extension, atomically); returns counts for the summary."""
    writing.check_output_path(out)
    frame = export_frame(
        store, since=since, until=until, horizon_days=horizon_days, now=now, progress=progress
    )
    (progress or (lambda _m: None))(f"writing {len(frame):,} decisions")
    writing.write_table(frame, out)
    visits_col, _ = horizon_columns(horizon_days)
    return {
        "rows": len(frame),
        "with_result": int(frame["spend"].notna().sum()),
        "matured": int(frame[visits_col].notna().sum()),
        "signals": len(frame.columns) - len(DECISION_COLUMNS) - len(RESULT_COLUMNS) - 2,
        "horizon_days": horizon_days,
    }


def export_frame(
    store: Store,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    horizon_days: int = 90,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The export as a frame (see the module's docstring)."""
    if horizon_days < 1:
        raise ValueError("horizon_days must be at least 1")
    say = progress or (lambda _m: None)
    horizon = dt.timedelta(days=horizon_days)
    now = now or dt.datetime.now(dt.UTC)
    # Later decisions inside the horizon of the window's last ones label them.
    read_until = None if until is None else until + horizon
    frame, signals = decisions_with_results(store, since=since, until=read_until, progress=say)
    # Naive UTC, as training reads a time column (a zone suffix would be refused).
    frame["decided_at"] = frame["decided_at"].dt.tz_localize(None)
    visits_col, spend_col = horizon_columns(horizon_days)
    frame[visits_col], frame[spend_col] = _next(frame, horizon=horizon, now=now)
    frame["arm"] = _arms(frame)
    keep = np.ones(len(frame), dtype=bool)
    if until is not None:
        keep = (frame["decided_at"] < pd.Timestamp(until).tz_convert(None)).to_numpy()
    signal_frame = _signal_columns(signals, taken=set(frame.columns))
    frame = pd.concat(
        [
            frame[list(DECISION_COLUMNS)],
            signal_frame,
            frame[[*RESULT_COLUMNS, visits_col, spend_col]],
        ],
        axis=1,
    )
    return frame[keep].reset_index(drop=True)


def arm_of(perks: str, holdout: bool) -> str:
    """The arm of one decision from its "|"-joined perks (see the module's docstring)."""
    if holdout:
        return HOLDOUT_ARM
    given = sorted(p for p in perks.split("|") if p)
    return "+".join(given) if given else NO_PERK_ARM


def _arms(frame: pd.DataFrame) -> pd.Series:
    # A log holds few distinct perk sets, so each is spelled once.
    spelled = {p: arm_of(p, False) for p in frame["perks"].unique()}
    arms = frame["perks"].map(spelled).astype(object)
    arms[frame["holdout"].to_numpy(dtype=bool)] = HOLDOUT_ARM
    return arms


def _next(
    frame: pd.DataFrame, *, horizon: dt.timedelta, now: dt.datetime
) -> tuple[pd.Series, pd.Series]:
    """Per decision: the customer's later decisions within the horizon that led to a
    result, and their spend; NaN where the horizon is still open or there is no id."""
    n = len(frame)
    visits = np.full(n, np.nan)
    spend = np.full(n, np.nan)
    if n == 0:
        return pd.Series(visits), pd.Series(spend)
    span = horizon // dt.timedelta(milliseconds=1)
    ms = frame["decided_at"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
    # A customer is a customer id at a site; decisions without an id form group -1.
    group = frame.groupby(["site", "customer_id"], sort=False).ngroup().to_numpy(np.int64)
    order = np.lexsort((ms, group))
    g, t = group[order], ms[order]
    width = int(t.max() - t.min()) + span + 2
    if (int(g.max()) + 2) * width >= 2**62:
        raise DataError(
            "The export window is too long to label in one pass; export it in parts with "
            "--since and --until"
        )
    # (customer, time) as one sortable integer, so one searchsorted finds both window ends.
    key = (g + 1) * width + (t - t.min())
    responded = frame["responded"].to_numpy()[order]
    paid = np.where(responded, np.nan_to_num(frame["spend"].to_numpy(dtype=np.float64)[order]), 0)
    count_cum = np.concatenate([[0], np.cumsum(responded, dtype=np.int64)])
    spend_cum = np.concatenate([[0.0], np.cumsum(paid)])
    first_after = np.searchsorted(key, key, side="right")
    last = np.searchsorted(key, key + span, side="right")
    matured = t + span <= pd.Timestamp(now).value // 1_000_000
    ok = matured & (g >= 0)
    visits[order[ok]] = (count_cum[last] - count_cum[first_after])[ok]
    spend[order[ok]] = (spend_cum[last] - spend_cum[first_after])[ok]
    return pd.Series(visits), pd.Series(spend)


def _signal_columns(signals: list[dict[str, Any]], *, taken: set[str]) -> pd.DataFrame:
    """One column per signal name seen in the window, in first-seen order."""
    frame = pd.DataFrame.from_records(signals) if signals else pd.DataFrame(index=range(0))
    frame.index = pd.RangeIndex(len(signals))
    renamed = {c: f"{SIGNAL_PREFIX}{c}" for c in frame.columns if c in taken}
    frame = frame.rename(columns=renamed)
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = _one_type(frame[col])
    return frame


def _one_type(column: pd.Series) -> pd.Series:
    """A column a table can hold: values of mixed kinds (a number one day, text the next)
    are written as text."""
    kinds = {type(v) for v in column.dropna()}
    if len(kinds) <= 1 or kinds <= {int, float}:
        return column
    return column.map(lambda v: v if v is None or v is pd.NA else str(v))
