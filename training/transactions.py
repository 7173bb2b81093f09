"""A transaction log turned into one row of features per customer, as of a cut-off date.

Kept whole (over 400 lines): one pass over the sorted log gives every feature and the label.

The cut-off of a date ``as_of`` is midnight at the start of the next day, so every
transaction on ``as_of`` itself counts. Features use only transactions strictly before the
cut-off; the optional label sums what each customer spent in the ``horizon`` days from the
cut-off on. Nothing at or after the cut-off can change a feature (no leakage).

Training backtests: features as of ``[transactions] as_of`` minus ``horizon_days`` and the
label from the horizon that follows, which ends with ``as_of``. Scoring uses ``as_of`` itself.

Besides recency, frequency, monetary and window features, each customer gets the
purchase-day summary, gaps and trends of ``training.purchase_days`` and the BG/NBD and
Gamma-Gamma expectations of ``training.btyd``. Those need fitted parameters: training fits
them on its frame and passes them back in (``btyd=``) wherever a model scores, so the
features at scoring time are computed exactly as at training time.

The work is vectorised for logs of tens of millions of rows: customer ids are factorised
once (sorted, so the output is ordered by id) and every per-customer reduction is a
``np.bincount`` or an unbuffered ``np.maximum.at``/``np.minimum.at`` over the codes, which
needs no sort of the log at all (measured on 10M rows: a lexsort by customer and time alone
takes ~5 s, about as long as this whole module; numpy >= 2 made ``ufunc.at`` fast).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.errors import DataError, SpecError
from tierline.engine.spec import TRANSACTION_FEATURES, Spec, TransactionsSpec
from tierline.training.btyd import BTYD_MODEL_FEATURES, BtydFit
from tierline.training.purchase_days import purchase_day_features

__all__ = [
    "LABEL_COLUMN",
    "customer_features",
    "cutoff_instant",
    "scoring_frame",
    "training_frame",
]

LABEL_COLUMN = "__label__"

_DEFAULT_SOURCE = "the transaction log"
_WINDOW_DAYS = (30, 90, 365)
_TICK_MIN = np.iinfo(np.int64).min
_TICK_MAX = np.iinfo(np.int64).max
# Ticks count from the Unix epoch in the time column's own unit; pandas allows these four.
_EPOCH = dt.date(1970, 1, 1)
_TICKS_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def cutoff_instant(as_of: dt.date) -> pd.Timestamp:
    """Midnight at the start of the day after ``as_of``: the whole ``as_of`` day is history."""
    # A datetime is a date too; keep only its day so a time of day cannot shift the cut-off.
    day = as_of.date() if isinstance(as_of, dt.datetime) else as_of
    return pd.Timestamp(day + dt.timedelta(days=1))


def scoring_frame(
    log: pd.DataFrame,
    spec: Spec,
    *,
    as_of: dt.date | None = None,
    source: str = _DEFAULT_SOURCE,
    btyd: BtydFit | None = None,
) -> pd.DataFrame:
    """Features per customer as of ``as_of`` (default ``[transactions] as_of``), no label.

    ``btyd`` is the model's fitted BG/NBD and Gamma-Gamma pair (its expectations are NaN
    without one); scoring reuses training's fit, it never refits on the scored log.
    """
    tx = _transactions_spec(spec)
    return customer_features(
        log, spec, as_of=tx.as_of if as_of is None else as_of, source=source, btyd=btyd
    )


def training_frame(
    log: pd.DataFrame,
    spec: Spec,
    *,
    source: str = _DEFAULT_SOURCE,
    btyd: BtydFit | None = None,
) -> pd.DataFrame:
    """The backtest: features one horizon before ``[transactions] as_of``, label up to it."""
    tx = _transactions_spec(spec)
    feature_day = tx.as_of - dt.timedelta(days=tx.horizon_days)
    try:
        return customer_features(
            log,
            spec,
            as_of=feature_day,
            label_horizon_days=tx.horizon_days,
            source=source,
            btyd=btyd,
        )
    except DataError as exc:
        # The user wrote as_of, not the shifted day; say where the shifted day comes from.
        raise DataError(
            f"{exc} (training backtests: features as of {feature_day} = [transactions] "
            f"as_of {tx.as_of} minus horizon_days {tx.horizon_days})"
        ) from exc


def customer_features(
    log: pd.DataFrame,
    spec: Spec,
    *,
    as_of: dt.date,
    label_horizon_days: int | None = None,
    source: str = _DEFAULT_SOURCE,
    btyd: BtydFit | None = None,
) -> pd.DataFrame:
    """One row per customer seen before the cut-off of ``as_of``, sorted by id.

    Columns: ``spec.id``, ``TRANSACTION_FEATURES`` (float64), the per-customer columns of the
    spec (latest non-missing value before the cut-off, NaN if none) and, with
    ``label_horizon_days``, ``LABEL_COLUMN``. Raise ``DataError`` when the log cannot yield
    a frame (no history before the cut-off, nothing in the label window, bad values).
    """
    tx = _transactions_spec(spec)
    if label_horizon_days is not None and label_horizon_days < 1:
        raise ValueError(f"label_horizon_days must be at least 1, got {label_horizon_days}")
    profile = _profile_columns(spec, tx, present=log.columns)
    _check_columns(log, tx=tx, profile=profile, source=source)
    ticks, per_day = _ticks(log[tx.time], column=tx.time, source=source)
    cut_at = cutoff_instant(as_of)
    cut = (cut_at.date() - _EPOCH).days * per_day

    history = np.flatnonzero(ticks < cut)
    if history.size == 0:
        raise DataError(
            f"No transactions before the cut-off {cut_at:%Y-%m-%d %H:%M} (as_of {as_of} "
            f"included) in {source}; move [transactions] as_of later or check the time "
            f"column '{tx.time}'"
        )
    window = np.empty(0, dtype=np.intp)
    if label_horizon_days is not None:
        window = np.flatnonzero((ticks >= cut) & (ticks < cut + label_horizon_days * per_day))
    # Only rows that feed the frame are checked: a bad row far in the future must not
    # change what the features are, not even into an error.
    customer, ids = _customers(log[tx.customer], history=history, window=window, source=source)
    amounts = _amounts(log[tx.amount], column=tx.amount, used=(history, window), source=source)

    size, group, history_ticks = len(ids), customer[history], ticks[history]
    columns: dict[str, object] = {spec.id: ids}
    rows: dict[str, Any] = {
        "group": group,
        "ticks": history_ticks,
        "amounts": amounts[history],
        "size": size,
        "cut": cut,
        "per_day": per_day,
    }
    values = {**_rfm(**rows), **purchase_day_features(**rows)}
    values.update(_expectations(values, btyd=btyd, size=size))
    columns.update({name: values[name] for name in TRANSACTION_FEATURES})
    newest_row = _latest_rows(members=group, times=history_ticks, rows=history, size=size)
    for name in profile:
        columns[name] = _latest(
            log[name].array,
            history=history,
            group=group,
            ticks=history_ticks,
            newest_row=newest_row,
        )
    if label_horizon_days is not None:
        span = _LabelWindow(
            start=cut_at,
            days=label_horizon_days,
            log_ends=_EPOCH + dt.timedelta(days=int(ticks.max()) // per_day),
            source=source,
        )
        columns[LABEL_COLUMN] = _label(
            spec, customers=customer[window], amounts=amounts[window], size=size, window=span
        )
    return pd.DataFrame(columns)


# -- the features ---------------------------------------------------------------------


def _rfm(
    *,
    group: np.ndarray,
    ticks: np.ndarray,
    amounts: np.ndarray,
    size: int,
    cut: int,
    per_day: int,
) -> dict[str, np.ndarray]:
    """Recency, frequency, monetary and window features from the rows before the cut-off."""
    count = np.bincount(group, minlength=size).astype(np.float64)
    total = np.bincount(group, weights=amounts, minlength=size)
    biggest = np.full(size, -np.inf)
    np.maximum.at(biggest, group, amounts)
    first = np.full(size, _TICK_MAX, dtype=np.int64)
    np.minimum.at(first, group, ticks)
    last = np.full(size, _TICK_MIN, dtype=np.int64)
    np.maximum.at(last, group, ticks)
    # Differences stay in integer ticks until the one division, so day counts are exact
    # whatever the time unit of the column.
    gap = np.full(size, np.nan)
    np.divide((last - first) / per_day, count - 1, out=gap, where=count > 1)
    out = {
        "recency_days": (cut - last) / per_day,
        "frequency": count,
        "monetary_total": total,
        "monetary_mean": total / count,
        "max_ticket": biggest,
        "tenure_days": (cut - first) / per_day,
        "mean_gap_days": gap,
    }
    for days in _WINDOW_DAYS:
        inside = ticks >= cut - days * per_day
        members = group[inside]
        out[f"spend_{days}d"] = np.bincount(members, weights=amounts[inside], minlength=size)
        out[f"count_{days}d"] = np.bincount(members, minlength=size).astype(np.float64)
    return out


def _expectations(
    values: dict[str, np.ndarray], *, btyd: BtydFit | None, size: int
) -> dict[str, np.ndarray]:
    """The fitted BG/NBD and Gamma-Gamma expectations; NaN until the model is fitted."""
    if btyd is None:
        return {name: np.full(size, np.nan) for name in BTYD_MODEL_FEATURES}
    return btyd.features(values)


def _latest(
    values: pd.api.extensions.ExtensionArray,
    *,
    history: np.ndarray,
    group: np.ndarray,
    ticks: np.ndarray,
    newest_row: np.ndarray,
) -> pd.api.extensions.ExtensionArray:
    """Each customer's latest non-missing value in ``history`` (missing if it has none).

    ``group`` and ``ticks`` are the customer and time of each history row; ``newest_row`` is
    each customer's latest row. Usually that row holds a value, so only the customers whose
    latest row is blank need a search through their older rows; this keeps the common case
    to a gather of one value per customer.
    """
    valid = np.asarray(pd.notna(values))
    pick = np.where(valid[newest_row], newest_row, -1)
    blank = pick < 0
    if blank.any():
        keep = blank[group] & valid[history]
        found = _latest_rows(
            members=group[keep], times=ticks[keep], rows=history[keep], size=len(pick)
        )
        pick[blank] = found[blank]
    return values.take(pick, allow_fill=True)


def _latest_rows(
    *, members: np.ndarray, times: np.ndarray, rows: np.ndarray, size: int
) -> np.ndarray:
    """Each customer's latest row among ``rows`` (-1 if none).

    Among rows with the same latest time the one further down the log wins: a fixed rule,
    so the same log always gives the same answer.
    """
    newest = np.full(size, _TICK_MIN, dtype=np.int64)
    np.maximum.at(newest, members, times)
    on_time = times == newest[members]
    pick = np.full(size, -1, dtype=np.intp)
    np.maximum.at(pick, members[on_time], rows[on_time])
    return pick


# -- the label ------------------------------------------------------------------------


@dataclass(frozen=True)
class _LabelWindow:
    """Where the label window lies and where the log ends, for the label's messages."""

    start: pd.Timestamp
    days: int
    log_ends: dt.date
    source: str

    @property
    def final_day(self) -> dt.date:
        """The last calendar day inside the window."""
        return self.start.date() + dt.timedelta(days=self.days - 1)

    def describe(self) -> str:
        return (
            f"the {self.days} days after the cut-off {self.start:%Y-%m-%d %H:%M} "
            f"({self.start.date()} to {self.final_day})"
        )


def _label(
    spec: Spec, *, customers: np.ndarray, amounts: np.ndarray, size: int, window: _LabelWindow
) -> np.ndarray:
    """Spend in the window (value) or whether it was positive (binary), per customer."""
    if customers.size == 0:
        raise DataError(
            f"No transactions in {window.describe()} in {window.source}, so the label would "
            f"be all zero (the log ends on {window.log_ends}); move [transactions] as_of or "
            f"export a log that covers the window"
        )
    known = customers >= 0
    if not known.any():
        raise DataError(
            f"None of the {customers.size} transactions in {window.describe()} in "
            f"{window.source} is by a customer seen before the cut-off, so the label would be "
            f"all zero; move [transactions] as_of later or check the customer column"
        )
    if window.log_ends < window.final_day:
        # Not an error: the log may simply have been exported early. But the labels then
        # undercount spend, which a person should know before trusting the model.
        warnings.warn(
            f"The label window runs to {window.final_day} but {window.source} ends on "
            f"{window.log_ends}; the labels count only part of {window.describe()}",
            UserWarning,
            stacklevel=3,
        )
    spend = np.bincount(customers[known], weights=amounts[known], minlength=size)
    if spec.target_kind == "binary":
        return (spend > 0).astype(np.float64)
    return spend


# -- checks and conversions -------------------------------------------------------------


def _transactions_spec(spec: Spec) -> TransactionsSpec:
    if spec.transactions is None:
        raise SpecError(
            "The spec has no [transactions] section, so its data is a customer table, not a "
            "transaction log; add [transactions] customer, time, amount, as_of and horizon_days"
        )
    return spec.transactions


def _profile_columns(spec: Spec, tx: TransactionsSpec, *, present: pd.Index) -> tuple[str, ...]:
    """Per-customer columns repeated on each row, each carried as its latest value.

    The declared model inputs come first, as documented; then columns that the rest of
    training needs per customer although they are no model input.
    """
    numeric = tuple(c for c in spec.numeric if c not in TRANSACTION_FEATURES)
    declared = spec.categorical + numeric + spec.boolean
    taken = {*declared, *TRANSACTION_FEATURES, spec.id, tx.customer, tx.time, tx.amount}
    # A hard rule may name a column that is no model input; without it the rule could never
    # fire on a frame built from a log (the loader requires these columns too).
    rules = tuple(c for c in spec.rule_columns if c not in taken)
    taken.update(rules)
    # Optional, carried when the log has them: protected columns for the fairness report,
    # [data] time for a time-ordered split.
    optional = (*spec.protected, *((spec.time,) if spec.time else ()))
    extra = tuple(c for c in dict.fromkeys(optional) if c in present and c not in taken)
    return declared + rules + extra


def _check_columns(
    log: pd.DataFrame, *, tx: TransactionsSpec, profile: tuple[str, ...], source: str
) -> None:
    roles = {tx.customer: "customer", tx.time: "time", tx.amount: "amount"}
    for column, role in roles.items():
        if column not in log.columns:
            raise DataError(
                f"Column '{column}' is the [transactions] {role} column but missing from "
                f"{source}; add it to the log or fix [transactions] {role}"
            )
    for column in profile:
        if column not in log.columns:
            raise DataError(
                f"Column '{column}' is declared in the spec but missing from {source}; a "
                f"transaction log repeats each per-customer column on every row"
            )


def _ticks(times: pd.Series, *, column: str, source: str) -> tuple[np.ndarray, int]:
    """The time column as int64 ticks since the epoch, and how many ticks make a day."""
    if not pd.api.types.is_datetime64_any_dtype(times.dtype):
        raise DataError(
            f"Column '{column}' of {source} must hold date-times (it is the [transactions] "
            f"time column), got dtype {times.dtype}; parse it when loading the log"
        )
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        # Days start at local midnight where the shop is, so compare wall-clock times.
        times = times.dt.tz_localize(None)
    stamps = times.to_numpy()
    unit, _ = np.datetime_data(stamps.dtype)
    ticks = stamps.view(np.int64)
    missing = np.flatnonzero(ticks == _TICK_MIN)  # NaT
    if missing.size:
        raise DataError(
            f"{missing.size} rows of {source} have no time in column '{column}' (first at "
            f"row {missing[0]}); drop or fix them, a transaction without a time has no place"
        )
    return ticks, _TICKS_PER_DAY[unit]


def _amounts(
    amounts: pd.Series, *, column: str, used: tuple[np.ndarray, ...], source: str
) -> np.ndarray:
    """The amount column as float64; every used row must hold a finite number."""
    dtype = amounts.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise DataError(
            f"Column '{column}' of {source} must hold numbers (it is the [transactions] "
            f"amount column), got dtype {dtype}; parse it when loading the log"
        )
    values = amounts.to_numpy(dtype=np.float64, na_value=np.nan)
    for rows in used:
        _refuse_rows(
            ~np.isfinite(values[rows]),
            column=column,
            what="a missing or infinite amount",
            source=source,
        )
    return values


def _customers(
    ids: pd.Series, *, history: np.ndarray, window: np.ndarray, source: str
) -> tuple[np.ndarray, pd.Series]:
    """Per row, the index of its customer in the sorted ids of customers with history.

    Customers who appear only at or after the cut-off get -1 and never reach the frame, so
    they cannot leak into it. Ids are factorised once, sorted, so the frame is in id order.
    """
    codes, uniques = pd.factorize(ids, sort=True)
    for rows in (history, window):
        _refuse_rows(codes[rows] < 0, column=str(ids.name), what="no customer id", source=source)
    seen = np.bincount(codes[history], minlength=len(uniques)) > 0
    remap = np.where(seen, np.cumsum(seen) - 1, -1)
    # Ids are opaque text: "00017" must come out as "00017", never as the number 17.
    kept = pd.Series(uniques[seen].astype("str"), dtype="str").reset_index(drop=True)
    # A missing id (-1) in a row nobody uses must not wrap around to the last customer.
    return np.where(codes >= 0, remap[codes], -1), kept


def _refuse_rows(bad: np.ndarray, *, column: str, what: str, source: str) -> None:
    count = int(np.count_nonzero(bad))
    if count:
        raise DataError(
            f"{count} transactions of {source} have {what} in column '{column}'; drop or "
            f"fix those rows before training or scoring"
        )
