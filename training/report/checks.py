"""The report's sections about checks beside the metrics: fairness and drift.

Fairness is the four-fifths check training records under ``metadata["fairness"]``; drift
comes from the caller (the decision log against the training distribution), as rows
``{"signal", "psi", "band", "rows"}`` or a message saying why there are none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tierline.training.report.charts import percent
from tierline.training.report.markup import esc, num, para, section, table

__all__ = ["NO_DRIFT", "Drift", "drift_section", "fairness_section"]

Drift = Sequence[Mapping[str, Any]] | str | None
BANDS = ("stable", "watch", "act")
NO_DRIFT = "this report was made without decisions to compare with the training data"


def _rate(value: Any) -> str:
    return percent(float(value)) if isinstance(value, int | float) else "–"


def _column(col: Mapping[str, Any], min_ratio: float) -> str:
    groups = [g for g in col.get("groups") or [] if isinstance(g, Mapping)]
    names = [str(g.get("group", "")) for g in groups]
    head = [
        "tier",
        "gated",
        *(
            f"{esc(g)}<br><span class='muted'>{num(r.get('rows'))} rows</span>"
            for g, r in zip(names, groups, strict=True)
        ),
        "lowest group",
        "ratio to the best",
    ]
    rows = []
    for tier in col.get("tiers") or []:
        rates = tier.get("rates") or {}
        ratio = tier.get("lowest_ratio")
        gated = bool(tier.get("gated"))
        under = gated and isinstance(ratio, int | float) and ratio < min_ratio
        # Training marks a gap that chance could explain as not refused; a record without
        # the mark counts every ratio under the floor.
        low = under and bool(tier.get("refused", True))
        ratio_cell = num(ratio, 2)
        if under and not low:
            ratio_cell += " (within chance)"
        rows.append(
            [
                esc(tier.get("tier", "")),
                "yes" if gated else "no",
                *(_rate(rates.get(g)) for g in names),
                esc(tier.get("lowest_group", "–")),
                f'<span class="low">{ratio_cell} below the floor</span>' if low else ratio_cell,
            ]
        )
    return f"<h3>{esc(col.get('column', ''))}</h3>" + table(head, rows, numeric_from=2)


def fairness_section(fairness: Mapping[str, Any] | None) -> str:
    """Each protected column's tier rates per group, the lowest ratio against the floor."""
    title = "Fairness"
    if not fairness:
        return section(
            "fairness",
            title,
            para(
                "This version records no fairness check; training with protected columns "
                "in the spec adds one.",
                "muted",
            ),
        )
    passed = bool(fairness.get("passed"))
    badge = (
        '<span class="badge ok">passed</span>'
        if passed
        else '<span class="badge bad">failed</span>'
    )
    min_ratio = float(fairness.get("min_ratio", 0.8))
    gated = ", ".join(str(t) for t in fairness.get("gated_tiers") or []) or "none"
    parts = [
        f"<p>{badge} {esc(fairness.get('why', ''))}</p>",
        para(
            f"Four-fifths rule: in each gated tier ({gated}), every group's rate must be at "
            f"least {min_ratio:.0%} of the best group's, unless chance could explain the gap "
            f"on this many customers."
        ),
    ]
    override = fairness.get("override")
    if isinstance(override, Mapping):
        parts.append(
            para(
                f"Overridden at {override.get('at', '?')}: {override.get('reason', '')}",
                "note",
            )
        )
    parts += [
        _column(c, min_ratio) for c in fairness.get("columns") or [] if isinstance(c, Mapping)
    ]
    return section("fairness", title, *parts)


def drift_section(drift: Drift) -> str:
    """Each signal's population stability index against training, coloured by band."""
    title = "Drift against the latest window"
    if drift is None or isinstance(drift, str):
        return section("drift", title, para(f"No drift figures: {drift or NO_DRIFT}.", "muted"))
    rows = []
    for row in drift:
        band = str(row.get("band", ""))
        cls = f' class="band-{band}"' if band in BANDS else ""
        rows.append(
            [
                esc(row.get("signal", "")),
                num(row.get("psi")),
                f"<span{cls}>&nbsp;{esc(band or '–')}&nbsp;</span>",
                num(row.get("rows")),
            ]
        )
    intro = para(
        "Population stability index (PSI) of each signal in the latest decisions against "
        "its training distribution: stable, watch, or act (retrain)."
    )
    return section("drift", title, intro, table(["signal", "PSI", "band", "decisions"], rows))
