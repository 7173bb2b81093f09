"""Drift: how far the signals of recent decisions have moved from the training rows.

Training keeps a profile of each model input in the artifact (``profile``, in the version's
metadata under ``"drift"``): numbers in about ten quantile bins, categories as the shares of
the most frequent ones with the rest pooled as ``(other)``, booleans as true/false, and in
every case the share of missing values as a bin of its own. The decision log keeps the
signals each decision was made on; ``DriftCounts`` sorts a window of them into the same
bins and gives the population stability index (PSI) per signal:

    PSI = sum over bins b of (a_b - e_b) * ln(a_b / e_b)

where ``e_b`` is the training rows' share in bin b and ``a_b`` the window's, each raised to
at least ``EPSILON`` so that an empty bin counts as a small share instead of a division by
zero. Bands (the usual ones): below 0.1 stable, from 0.1 watch, from 0.25 act.

Values read as the feature builder reads them (``engine.values``): a category sent as 12 or
"12" is the same, an unseen category falls in ``(other)``, and an absent signal, a missing
marker or a value that is not a number (boolean) where one is declared counts as missing.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.errors import ArtifactError, DataError
from tierline.engine.spec import Spec
from tierline.engine.values import category_text, map_column, parse_bool, parse_number

__all__ = [
    "ACT",
    "EPSILON",
    "MIN_DECISIONS",
    "WATCH",
    "WINDOW_DAYS",
    "DriftCounts",
    "band",
    "drift_report",
    "drift_window",
    "profile",
    "psi",
    "training_profile",
]

_PROFILE_VERSION = 1
WATCH, ACT = 0.1, 0.25
_BANDS = ("stable", "watch", "act")  # mildest first
EPSILON = 1e-4
# Below this many decisions a window's shares are mostly noise: PSI over k bins of n
# draws from the training distribution itself averages about (k - 1) / n.
MIN_DECISIONS = 100
WINDOW_DAYS = 7
N_BINS = 10
TOP_CATEGORIES = 10
OTHER, MISSING = "(other)", "(missing)"


def band(value: float) -> str:
    """``stable`` below 0.1, ``watch`` below 0.25, ``act`` from 0.25."""
    return "stable" if value < WATCH else "watch" if value < ACT else "act"


# -- the training profile ----------------------------------------------------------------------


def _numbers(values: pd.Series, parse: Any) -> np.ndarray:
    """Floats, NaN where missing or unreadable (training has refused unreadable ones already)."""
    dtype = values.dtype
    if (
        pd.api.types.is_float_dtype(dtype)
        or pd.api.types.is_integer_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
    ):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return map_column(values, _safe(parse), missing=np.nan, dtype=np.float64)


def _safe(parse: Any) -> Any:
    def read(value: Any) -> float:
        try:
            return float(parse(value))
        except (ValueError, TypeError):
            return math.nan

    return read


_number, _flag = _safe(parse_number), _safe(parse_bool)


def _shares(counts: np.ndarray, rows: int) -> list[float]:
    return [float(c) / rows if rows else 0.0 for c in counts]


def _numeric_profile(values: np.ndarray) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    finite = present[np.isfinite(present)]
    edges: list[float] = []
    if len(finite):
        qs = np.arange(1, N_BINS) / N_BINS
        # Edges are values seen in training (inverted CDF), so ties on whole numbers
        # (visits, days) fall on one side of an edge, never split.
        edges = [float(e) for e in np.unique(np.quantile(finite, qs, method="inverted_cdf"))]
    counts = np.zeros(len(edges) + 2, dtype=np.int64)
    if len(present):
        bins = np.searchsorted(np.asarray(edges, dtype=np.float64), present, side="left")
        counts[: len(edges) + 1] = np.bincount(bins, minlength=len(edges) + 1)
    counts[-1] = len(values) - len(present)
    return {"kind": "numeric", "edges": edges, "shares": _shares(counts, len(values))}


def _category_profile(texts: np.ndarray, kind: str) -> dict[str, Any]:
    present = pd.Series(texts[pd.notna(texts)], dtype=object)
    counts = present.value_counts()
    # Most frequent first, ties by the text, so the same rows give the same profile.
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    kept = [(str(k), int(v)) for k, v in ordered[:TOP_CATEGORIES]]
    other = len(present) - sum(v for _, v in kept)
    tally = np.array([v for _, v in kept] + [other, len(texts) - len(present)], dtype=np.int64)
    return {
        "kind": kind,
        "categories": [k for k, _ in kept],
        "shares": _shares(tally, len(texts)),
    }


def profile(frame: pd.DataFrame, spec: Spec, *, rows: np.ndarray | None = None) -> dict[str, Any]:
    """Each model input's distribution over ``frame`` (the training rows; or its ``rows``,
    positions, taken one column at a time so a large frame is never copied whole), as
    plain JSON.

    Numeric: quantile bin edges and the share per bin (a bin holds the values above the
    edge before it, up to and including its own edge), then the missing share.
    Categorical and boolean: the share of each kept category, of ``(other)`` and of missing.
    """
    signals: dict[str, Any] = {}
    n = len(frame) if rows is None else len(rows)

    def column(col: str) -> pd.Series:
        return frame[col] if rows is None else frame[col].iloc[rows]

    for col in spec.feature_columns:
        absent = col not in frame.columns
        if col in spec.categorical:
            texts = (
                np.full(n, None, dtype=object)
                if absent
                else map_column(column(col), category_text, missing=None, dtype=object)
            )
            signals[col] = _category_profile(texts, "categorical")
        elif col in spec.boolean:
            flags = np.full(n, np.nan) if absent else _numbers(column(col), parse_bool)
            texts = np.array(
                [None if f != f else ("true" if f else "false") for f in flags.tolist()],
                dtype=object,
            )
            signals[col] = _category_profile(texts, "boolean")
        else:
            values = np.full(n, np.nan) if absent else _numbers(column(col), parse_number)
            signals[col] = _numeric_profile(values)
    return {"version": _PROFILE_VERSION, "rows": n, "signals": signals}


def training_profile(metadata: Mapping[str, Any], version: str) -> dict[str, Any]:
    """The profile a version's metadata keeps; ``ArtifactError`` for a version without one."""
    found = metadata.get("drift")
    if not isinstance(found, Mapping) or found.get("version") != _PROFILE_VERSION:
        raise ArtifactError(
            f"Model version {version} has no training profile (it predates drift); "
            f"retrain it to measure drift"
        )
    return dict(found)


# -- a window of logged signals ----------------------------------------------------------------


def _labels(sig: Mapping[str, Any]) -> list[str]:
    if sig["kind"] != "numeric":
        return [*sig["categories"], OTHER, MISSING]
    edges = [f"{e:g}" for e in sig["edges"]]
    if not edges:
        return ["all values", MISSING]
    middle = [f"{lo} to {hi}" for lo, hi in itertools.pairwise(edges)]
    return [f"≤ {edges[0]}", *middle, f"> {edges[-1]}", MISSING]


class DriftCounts:
    """Signals of a window sorted into a profile's bins, one decision at a time."""

    def __init__(self, training: Mapping[str, Any]) -> None:
        self._signals: dict[str, Mapping[str, Any]] = dict(training["signals"])
        self._counts = {col: [0] * len(sig["shares"]) for col, sig in self._signals.items()}
        self._index = {
            col: {c: i for i, c in enumerate(sig["categories"])}
            for col, sig in self._signals.items()
            if sig["kind"] != "numeric"
        }
        self.rows = 0

    def add(self, signals: Mapping[str, Any]) -> None:
        """Count one decision's signals (a signal it lacks counts as missing)."""
        self.rows += 1
        for col, sig in self._signals.items():
            self._counts[col][self._bin(col, sig, signals.get(col))] += 1

    def _bin(self, col: str, sig: Mapping[str, Any], value: Any) -> int:
        missing = len(sig["shares"]) - 1
        kind = sig["kind"]
        if kind == "numeric":
            number = _number(value)
            return missing if number != number else bisect.bisect_left(sig["edges"], number)
        if kind == "boolean":
            flag = _flag(value)
            text: str | None = None if flag != flag else ("true" if flag else "false")
        else:
            text = category_text(value)
        if text is None:
            return missing
        return self._index[col].get(text, missing - 1)  # unseen: (other)

    def report(self) -> list[dict[str, Any]]:
        """Per signal, most drifted first: its PSI, band, the window's and training's missing
        shares, and each bin's training and window share."""
        out = []
        for col, sig in self._signals.items():
            expected = [float(e) for e in sig["shares"]]
            actual = _shares(np.asarray(self._counts[col]), self.rows)
            value = sum(
                (max(a, EPSILON) - max(e, EPSILON)) * math.log(max(a, EPSILON) / max(e, EPSILON))
                for a, e in zip(actual, expected, strict=True)
            )
            out.append(
                {
                    "signal": col,
                    "kind": sig["kind"],
                    "psi": value,
                    "band": band(value),
                    "rows": self.rows,
                    "missing_share": actual[-1],
                    "training_missing_share": expected[-1],
                    "bins": [
                        {"bin": label, "training": e, "window": a}
                        for label, e, a in zip(_labels(sig), expected, actual, strict=True)
                    ],
                }
            )
        return sorted(out, key=lambda r: (-r["psi"], r["signal"]))


def psi(training: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``DriftCounts.report`` over ``rows``, each a decision's signals as the log keeps them."""
    counts = DriftCounts(training)
    for signals in rows:
        counts.add(signals)
    return counts.report()


def drift_window(
    *, since: dt.date | None, until: dt.date | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The window in UTC, as ``tierline export`` reads its dates: from ``since`` (midnight
    UTC) to the end of ``until`` (the next midnight; the day is included); by default the
    ``WINDOW_DAYS`` days up to ``now``."""

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)

    try:
        end = midnight(until) + dt.timedelta(days=1) if until is not None else now
        start = midnight(since) if since is not None else end - dt.timedelta(days=WINDOW_DAYS)
    except OverflowError:  # a day at the very end (or start) of the calendar
        raise DataError(f"The window runs off the calendar: since {since}, until {until}") from None
    if start >= end:
        raise DataError(f"The window is empty: since ({since}) is after until ({until})")
    return start, end


def drift_report(
    *,
    training: Mapping[str, Any],
    pages: Iterable[Sequence[Mapping[str, Any]]],
    model_version: str,
    since: dt.datetime,
    until: dt.datetime,
) -> dict[str, Any]:
    """The drift of a window's logged decisions (``Store.logged_decisions`` pages) against
    a version's training profile. Decisions of every version count: the signals guests
    arrive with do not depend on which model answered them. Decisions whose signals were
    pruned or erased are left out. Below ``MIN_DECISIONS`` there are no figures, only a
    message."""
    counts = DriftCounts(training)
    for page in pages:
        for row in page:
            if row.get("signals") is not None:
                counts.add(row["signals"])
    enough = counts.rows >= MIN_DECISIONS
    signals = counts.report() if enough else []
    return {
        "model_version": model_version,
        "since": since,
        "until": until,
        "decisions": counts.rows,
        "min_decisions": MIN_DECISIONS,
        "enough": enough,
        "message": None
        if enough
        else (
            f"Not enough decisions yet: {counts.rows} with signals in the window, "
            f"{MIN_DECISIONS} needed"
        ),
        "band": max((s["band"] for s in signals), key=_BANDS.index, default=None),
        "signals": signals,
    }
