"""The fairness gate: how often each tier is given per group of every protected column.

For each ``[features] protected`` column (never a model input), on the held-out customers:
each tier's rate per group, and the lowest group's rate as a share of the best group's
(the four-fifths rule: a ratio under ``[fairness] min_ratio``, 0.8 by default, refuses
promotion). Groups:

* a missing value is a group of its own, "(missing)";
* a numeric column with many distinct values (an age) is cut into quantile bands;
* groups under ``min_group`` customers are pooled into one group, "(other)".

The gated tiers (``[fairness] tiers``; by default every tier no hard rule gives) are
measured among the customers the model decided: a hard rule is eligibility (a verified
student is young by definition), not the model's judgement. A tier given by a rule is
reported over every customer and never gated.

Held-out sets are small, so a low ratio alone does not refuse: the lowest and the best
group must also differ by more than chance explains (Fisher's exact test, Bonferroni over
the pairs of groups, p < ``ALPHA``). A low ratio that chance could explain is reported as
such, and so is a tier with fewer than two groups large enough to measure.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from tierline.engine.spec import FairnessSpec, Spec
from tierline.engine.values import category_text, map_column, parse_number

__all__ = [
    "ALPHA",
    "BANDS",
    "MISSING",
    "NO_REASON",
    "OTHER",
    "assess",
    "format_fairness",
    "gated_tiers",
    "group_labels",
    "record_override",
    "verdict",
]

MISSING = "(missing)"
OTHER = "(other)"
BANDS = 4
# A numeric column with more distinct values than this is banded (an age, not a code).
_MANY_VALUES = 10
ALPHA = 0.05
# Recorded when --promote always overrides a refusal without --reason.
NO_REASON = "no reason given (--promote always without --reason)"
_OVERRIDE = "use --promote always --reason TEXT to promote it anyway"


def gated_tiers(spec: Spec) -> tuple[str, ...]:
    """The tiers the gate checks: ``[fairness] tiers``, else every tier no hard rule gives."""
    settings = spec.fairness or FairnessSpec()
    if settings.tiers is not None:
        return settings.tiers
    ruled = {r.tier for r in spec.rules}
    return tuple(t for t in spec.tiers if t not in ruled)


def _number(value: Any) -> float:
    try:
        return parse_number(value)
    except ValueError:
        return math.nan


def _bands(numbers: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """Each row's quantile band ("18-31") and the bands in order, or None when the column
    has too few distinct values to band."""
    present = numbers[~np.isnan(numbers)]
    if len(np.unique(present)) <= _MANY_VALUES:
        return None
    edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, BANDS + 1)))
    names = [f"{lo:g}-{hi:g}" for lo, hi in itertools.pairwise(edges)]
    # Each band holds (lo, hi]; the first also holds its lower edge.
    index = np.searchsorted(edges, numbers, side="left").clip(1, len(edges) - 1) - 1
    out = np.asarray(names, dtype=object)[index]
    out[np.isnan(numbers)] = None
    return out, names


def group_labels(values: pd.Series, *, min_group: int) -> tuple[np.ndarray, list[str]]:
    """One group name per row, and the groups in display order.

    A row's group is its category (or quantile band, for a many-valued numeric column),
    "(missing)" when missing, and "(other)" when its group has under ``min_group`` rows.
    Groups come in name order (bands in numeric order), "(missing)" and "(other)" last.
    """
    text = map_column(values, category_text, missing=None, dtype=object)
    present = np.fromiter((t is not None for t in text), dtype=bool, count=len(text))
    numbers = map_column(values, _number, missing=math.nan, dtype=np.float64)
    band_order: list[str] | None = None
    if present.any() and not np.isnan(numbers[present]).any():
        banded = _bands(numbers)
        if banded is not None:
            text, band_order = banded
    labels = np.where(present, text, MISSING).astype(object)
    names, counts = np.unique(labels.astype(str), return_counts=True)
    small = names[counts < min_group]
    if len(small):
        labels[np.isin(labels.astype(str), small)] = OTHER
    found = set(np.unique(labels.astype(str)).tolist())
    if band_order is not None:
        real = [n for n in band_order if n in found]
    else:
        real = sorted(found - {MISSING, OTHER})
    return labels, real + [n for n in (MISSING, OTHER) if n in found]


def _tier_entry(
    *,
    tier: str,
    gated: bool,
    in_tier: np.ndarray,
    base: np.ndarray,
    codes: np.ndarray,
    groups: Sequence[str],
    settings: FairnessSpec,
) -> dict[str, Any]:
    counted = np.bincount(codes[base], minlength=len(groups))
    given = np.bincount(codes[base & in_tier], minlength=len(groups))
    rows = {g: int(n) for g, n in zip(groups, counted, strict=True)}
    hits = {g: int(n) for g, n in zip(groups, given, strict=True)}
    rates = {g: hits[g] / rows[g] for g in groups if rows[g]}
    entry: dict[str, Any] = {
        "tier": tier,
        "gated": gated,
        "rates": rates,
        "rows": rows,
        "best_group": None,
        "lowest_group": None,
        "lowest_ratio": None,
        "p_value": None,
        "refused": False,
        "note": None,
    }
    measured = [g for g in groups if rows[g] >= settings.min_group]
    whom = "customers the model decided" if gated else "customers"
    if len(measured) < 2:
        entry["note"] = f"not measured: fewer than two groups have {settings.min_group} {whom}"
        return entry
    best = max(measured, key=lambda g: rates[g])
    lowest = min(measured, key=lambda g: rates[g])
    if rates[best] == 0.0:
        entry["note"] = "not measured: no one in the measured groups is given this tier"
        return entry
    ratio = rates[lowest] / rates[best]
    table = [
        [hits[lowest], rows[lowest] - hits[lowest]],
        [hits[best], rows[best] - hits[best]],
    ]
    pairs = len(measured) * (len(measured) - 1) // 2
    p_value = min(1.0, float(fisher_exact(table).pvalue) * pairs)
    entry.update(best_group=best, lowest_group=lowest, lowest_ratio=ratio, p_value=p_value)
    if ratio >= settings.min_ratio:
        return entry
    if not gated:
        entry["note"] = "reported, not gated: a hard rule gives this tier"
    elif p_value >= ALPHA:
        entry["note"] = (
            f"under {settings.min_ratio:g}, but chance could explain a gap this size on "
            f"these customers (p = {p_value:.2g}); not refused"
        )
    else:
        entry["refused"] = True
    return entry


def _column(
    *,
    column: str,
    values: pd.Series,
    tiers: np.ndarray,
    model_decided: np.ndarray,
    spec: Spec,
    settings: FairnessSpec,
    gated: Sequence[str],
) -> dict[str, Any]:
    labels, groups = group_labels(values, min_group=settings.min_group)
    codes = pd.Categorical(labels, categories=groups).codes.astype(np.intp)
    everyone = np.ones(len(labels), dtype=bool)
    sizes = np.bincount(codes, minlength=len(groups))
    return {
        "column": column,
        "groups": [{"group": g, "rows": int(n)} for g, n in zip(groups, sizes, strict=True)],
        "tiers": [
            _tier_entry(
                tier=tier,
                gated=tier in gated,
                in_tier=tiers == tier,
                base=model_decided if tier in gated else everyone,
                codes=codes,
                groups=groups,
                settings=settings,
            )
            for tier in spec.tiers
        ],
    }


def assess(
    *, spec: Spec, frame: pd.DataFrame, tiers: np.ndarray, rules: np.ndarray
) -> dict[str, Any]:
    """The fairness table and verdict for the tiers given to ``frame``'s customers.

    ``tiers`` and ``rules`` are ``TierPolicy.decide_many``'s arrays: the tier given and the
    hard rule that gave it (None where the model decided).
    """
    settings = spec.fairness or FairnessSpec()
    gated = gated_tiers(spec)
    tiers = np.asarray(tiers, dtype=object)
    model_decided = np.fromiter((r is None for r in rules), dtype=bool, count=len(rules))
    result: dict[str, Any] = {
        "min_ratio": settings.min_ratio,
        "min_group": settings.min_group,
        "gated_tiers": list(gated),
        "rows": len(tiers),
        "columns": [],
    }
    missing: list[str] = []
    for column in spec.protected:
        if column not in frame.columns:
            missing.append(column)
            continue
        result["columns"].append(
            _column(
                column=column,
                values=frame[column],
                tiers=tiers,
                model_decided=model_decided,
                spec=spec,
                settings=settings,
                gated=gated,
            )
        )
    if missing:
        result["not_in_data"] = missing
    result["passed"], result["why"] = _verdict(result, settings=settings, missing=missing)
    return result


def record_override(fairness: dict[str, Any], *, reason: str | None) -> None:
    """Mark a refused result as promoted anyway: the reason (or ``NO_REASON``) and the time."""
    fairness["override"] = {
        "reason": reason or NO_REASON,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def verdict(fairness: Mapping[str, Any]) -> dict[str, Any]:
    """The result without its per-group table (which the metadata and the report hold)."""
    keys = ("passed", "why", "min_ratio", "gated_tiers", "override")
    return {k: fairness[k] for k in keys if k in fairness}


def _verdict(
    result: Mapping[str, Any], *, settings: FairnessSpec, missing: Sequence[str]
) -> tuple[bool, str]:
    refused = [
        (col["column"], t) for col in result["columns"] for t in col["tiers"] if t["refused"]
    ]
    if refused:
        parts = [
            f"'{t['tier']}' goes to {column} {t['lowest_group']} at {t['lowest_ratio']:.2f} "
            f"of the rate of {t['best_group']} (p = {t['p_value']:.2g})"
            for column, t in refused
        ]
        return False, (
            f"{'; '.join(parts)}, under the four-fifths threshold "
            f"{settings.min_ratio:g}; {_OVERRIDE}"
        )
    if not result["columns"]:
        if missing:
            return True, f"no protected column is in the data ({', '.join(missing)})"
        return True, "no protected columns"
    unmeasured = sum(
        1
        for col in result["columns"]
        for t in col["tiers"]
        if t["gated"] and (t["lowest_ratio"] is None or t["note"])
    )
    why = f"every measured gated tier's lowest ratio is at least {settings.min_ratio:g}"
    if unmeasured:
        why = (
            f"no gated tier is clearly under the four-fifths threshold {settings.min_ratio:g} "
            f"({unmeasured} column and tier pair(s) too small to tell; see the report)"
        )
    if missing:
        why += f"; not in the data: {', '.join(missing)}"
    return True, why


def format_fairness(result: Mapping[str, Any]) -> str:
    """The fairness table as plain text: per protected column, each tier's rate per group."""
    if not result.get("columns"):
        return f"fairness: {result.get('why', 'no protected columns')}"
    lines = [
        f"fairness (four-fifths rule, min ratio {result['min_ratio']:g}; gated tiers counted "
        f"among the customers the model decided; * given by a hard rule, not gated)"
    ]
    for col in result["columns"]:
        names = [t["tier"] + ("" if t["gated"] else "*") for t in col["tiers"]]
        width = max(14, *(len(g["group"]) + 2 for g in col["groups"]))
        col_w = max(10, *(len(n) + 2 for n in names))
        lines.append("")
        lines.append(
            col["column"].ljust(width) + "rows".rjust(8) + "".join(n.rjust(col_w) for n in names)
        )
        for g in col["groups"]:
            cells = [t["rates"].get(g["group"]) for t in col["tiers"]]
            lines.append(
                g["group"].ljust(width)
                + str(g["rows"]).rjust(8)
                + "".join(_rate(x).rjust(col_w) for x in cells)
            )
        ratios = [_ratio(t) for t in col["tiers"]]
        lines.append(
            "lowest ratio".ljust(width) + "".rjust(8) + "".join(r.rjust(col_w) for r in ratios)
        )
        for t in col["tiers"]:
            if t["refused"]:
                lines.append(
                    f"  {t['tier']}: {t['lowest_group']} at {t['lowest_ratio']:.2f} of "
                    f"{t['best_group']}: refused"
                )
            elif t["note"] and t["gated"]:
                lines.append(f"  {t['tier']}: {t['note']}")
    lines.append("")
    lines.append(("passed: " if result["passed"] else "refused: ") + str(result["why"]))
    if "override" in result:
        o = result["override"]
        lines.append(f"overridden at {o['at']}: {o['reason']}")
    return "\n".join(lines)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ratio(entry: Mapping[str, Any]) -> str:
    ratio = entry["lowest_ratio"]
    if ratio is None:
        return "-"
    return f"{ratio:.2f}" + ("!" if entry["refused"] else "")
