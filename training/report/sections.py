"""The report's sections about the model itself, read from a version's metadata.

The header and metrics, the promotion gate, the tier mix, gains against the baselines,
the confusion matrix (class) or calibration (binary, value) and feature importance. The
metadata is read defensively: a version trained before tierline kept the report's
figures (``metadata["report"]``, ``training.figures``) still renders what it holds, and
each section that lacks its figures says so and is listed in ``missing``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tierline.training.report.charts import (
    PALETTE,
    Series,
    bar_chart,
    heat_map,
    line_chart,
    percent,
)
from tierline.training.report.markup import esc, needs_retrain, num, para, section, table

__all__ = ["ModelSections"]

METRICS = {
    "class": {"macro_f1": "macro F1", "log_loss": "log loss (lower is better)"},
    "binary": {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "f1": "F1 at 0.5"},
    "value": {
        "spearman": "Spearman correlation",
        "top_tier_precision": "top tier precision",
        "top_tier_revenue_share": "top tier's share of the amount",
    },
}
LIFT_AT = (0.1, 0.2, 0.5)
ACTUAL = "#4a4a4a"  # what the customers turned out to be, beside the model's tiers


class ModelSections:
    """One version's metadata, read defensively: an old or partial file still renders."""

    def __init__(self, version: str, meta: Mapping[str, Any], champion: bool) -> None:
        self.version, self.meta, self.champion = version, meta, champion
        spec = meta.get("spec") or {}
        self.kind = str((spec.get("target") or {}).get("kind", ""))
        self.target = (spec.get("target") or {}).get("column")
        self.tiers = [str(t) for t in (spec.get("tiers") or {}).get("names", [])]
        self.metrics: Mapping[str, Any] = meta.get("metrics") or {}
        self.baselines: Mapping[str, Mapping[str, Any]] = meta.get("baselines") or {}
        self.figures: Mapping[str, Any] = meta.get("report") or {}
        self.missing: list[str] = []

    def _series(self, name: str, values: list[float]) -> Series:
        """A series coloured the same in every chart: the model, then each baseline."""
        names = ["model", *self.baselines]
        return Series(
            name,
            values,
            colour=PALETTE[names.index(name) % len(PALETTE)] if name in names else None,
        )

    def header(self) -> str:
        state = (
            '<span class="badge ok">champion</span>'
            if self.champion
            else '<span class="badge">not the champion</span>'
        )
        data = self.meta.get("data") or {}
        split = self.meta.get("split") or {}
        lgb = self.meta.get("lightgbm") or {}
        target = f"a {self.kind} target" + (f" ({self.target})" if self.target else "")
        lead = (
            f"{target}, tiers {', '.join(self.tiers)}; trained on {data.get('file', '?')} "
            f"({num(data.get('rows'))} customers)"
        )
        versions = ", ".join(f"{k} {v}" for k, v in (self.meta.get("versions") or {}).items())
        facts = [
            ("created", self.meta.get("created", "–")),
            ("data SHA-256", str(data.get("sha256", "–"))[:16]),
            (
                "split",
                f"{split.get('method', '?')}: {num(split.get('train'))} train, "
                f"{num(split.get('valid'))} validation, {num(split.get('test'))} held out",
            ),
            ("boosting rounds", num(lgb.get("best_iteration"))),
            ("libraries", versions or "–"),
            ("git revision", self.meta.get("git_revision") or "–"),
        ]
        dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
        return (
            f"<header><h1>Model report: {esc(self.version)} {state}</h1>"
            f'<p class="lead">{esc(lead)}</p><dl>{dl}</dl></header>'
        )

    def metrics_table(self) -> str:
        names = ["model", *self.baselines]
        columns = [self.metrics, *self.baselines.values()]
        rows = [
            [esc(label), *(num(c.get(key)) for c in columns)]
            for key, label in METRICS.get(self.kind, {}).items()
        ]
        head = ["metric", *(esc(n) for n in names)]
        intro = f"On {num(self.metrics.get('rows'))} held-out customers, next to the baselines."
        return section("metrics", "Held-out metrics", para(intro), table(head, rows))

    def gate(self) -> str:
        gate = self.meta.get("gate") or {}
        if not gate:
            return section("gate", "Promotion gate", para("No gate decision recorded.", "muted"))
        passed = bool(gate.get("passed"))
        badge = (
            '<span class="badge ok">passed</span>'
            if passed
            else '<span class="badge bad">refused</span>'
        )
        metric = str(gate.get("metric", ""))
        rows = [
            [esc(f"{metric}, this version"), num(gate.get("challenger"))],
            [
                esc(f"{metric}, champion {gate.get('champion_version', '')}".rstrip()),
                num(gate.get("champion")),
            ],
            [esc("tolerance"), num(gate.get("tolerance"))],
        ]
        return section(
            "gate",
            "Promotion gate",
            f"<p>{badge} {esc(gate.get('why', ''))}</p>",
            table(["", "value"], rows),
        )

    def tier_mix(self) -> str:
        counts = self.figures.get("tier_counts")
        rows_n = self.metrics.get("rows") or 0
        model_mix = self.metrics.get("tier_mix") or {}
        if counts:
            total = sum(counts.values()) or 1
            model_mix = {t: counts.get(t, 0) / total for t in self.tiers}
        series = [self._series("model", [float(model_mix.get(t, 0.0)) for t in self.tiers])]
        actual = self.figures.get("actual_tier_counts")
        if actual:
            total = sum(actual.values()) or 1
            shares = [actual.get(t, 0) / total for t in self.tiers]
            series.append(Series("actual", shares, colour=ACTUAL))
        for name, b in self.baselines.items():
            if b.get("tier_mix"):
                shares = [float(b["tier_mix"].get(t, 0.0)) for t in self.tiers]
                series.append(self._series(name, shares))
        chart = bar_chart(
            title="Tier mix of the held-out customers", categories=self.tiers, series=series
        )
        head = ["tier", "customers (model)", "share"] + (["actual"] if actual else [])
        rows = []
        for t in self.tiers:
            n = counts.get(t) if counts else round(float(model_mix.get(t, 0.0)) * rows_n)
            row = [esc(t), num(n), percent(float(model_mix.get(t, 0.0)))]
            rows.append(row + ([num(actual.get(t, 0))] if actual else []))
        return section("tier-mix", "Tier mix", chart, table(head, rows))

    def gains(self) -> str:
        gains = self.figures.get("gains")
        if not gains or not gains.get("curves"):
            self.missing.append("gains chart")
            return section("gains", "Gains against the baselines", needs_retrain("gains curves"))
        xs = [float(x) for x in gains["x"]]
        of = str(gains.get("of", "the target"))
        # The model first, then the baselines in training's order (JSON sorts the keys).
        order = [n for n in ("model", *self.baselines) if n in gains["curves"]]
        order += [n for n in gains["curves"] if n not in order]
        curves = [(self._series(n, [float(v) for v in gains["curves"][n]]), xs) for n in order]
        chart = line_chart(
            title=f"Gains: share of {of} in the top customers by score",
            series=curves,
            x_label="customers, best scored first",
            y_label=f"share of {of}",
            diagonal="random order",
        )
        head = ["", *(f"top {q:.0%}: share (lift)" for q in LIFT_AT)]
        rows = [
            [esc(s.name)]
            + [f"{percent(v)} ({v / q:.1f}×)" for q in LIFT_AT for v in [_at(xs, s.values, q)]]
            for s, _ in curves
        ]
        intro = (
            f"Customers ranked by score, best first: how much of the held-out {of} the top "
            f"of the ranking holds. Lift is that share over the share of customers."
        )
        return section(
            "gains", "Gains against the baselines", para(intro), chart, table(head, rows)
        )

    def fit(self) -> str:
        """The confusion matrix (class) or calibration by decile (binary and value)."""
        if self.kind == "class":
            return self._confusion()
        bins = self.figures.get("calibration")
        if not bins:
            self.missing.append("calibration")
            return section("calibration", "Calibration", needs_retrain("calibration bins"))
        fmt: Callable[[float], str] = percent if self.kind == "binary" else _amount
        pred = [float(b["predicted"]) for b in bins]
        obs = Series("observed", [float(b["observed"]) for b in bins])
        what = "rate of positives" if self.kind == "binary" else "amount"
        chart = line_chart(
            title=f"Calibration: predicted against observed {what} by score decile",
            series=[(obs, pred)],
            x_label=f"predicted {what} (decile mean)",
            y_label=f"observed {what}",
            diagonal="perfectly calibrated",
            fmt=fmt,
            markers=True,
        )
        rows = [
            [str(i + 1), fmt(float(b["predicted"])), fmt(float(b["observed"])), num(b.get("rows"))]
            for i, b in enumerate(bins)
        ]
        deciles = table(["decile", "predicted", "observed", "customers"], rows)
        return section("calibration", "Calibration", chart, deciles)

    def _confusion(self) -> str:
        confusion = self.metrics.get("confusion") or {}
        if not confusion.get("matrix"):
            return section(
                "confusion", "Confusion matrix", para("No confusion matrix recorded.", "muted")
            )
        labels = [str(t) for t in confusion["labels"]]
        chart = heat_map(title="Confusion matrix", labels=labels, matrix=confusion["matrix"])
        per_tier = self.metrics.get("per_tier") or {}
        rows = [
            [esc(t), num(v.get("precision")), num(v.get("recall")), num(v.get("support"))]
            for t in labels
            for v in [per_tier.get(t) or {}]
        ]
        tiers = table(["tier", "precision", "recall", "customers"], rows)
        return section("confusion", "Confusion matrix", chart, tiers)

    def selection(self) -> str:
        chosen = self.meta.get("selection") or {}
        if not chosen:
            return section(
                "selection", "Model selection", para("Trained before model selection.", "muted")
            )
        metric = str(chosen.get("metric", ""))
        rows = []
        for c in chosen.get("candidates", []):
            won = c.get("name") == chosen.get("winner")
            name = f"<strong>{esc(c.get('name'))}</strong> ✓" if won else esc(c.get("name"))
            rows.append(
                [
                    name,
                    num(c.get("valid")),
                    num(c.get("test")),
                    esc(c.get("error") or f"{c.get('seconds', 0):.1f} s"),
                ]
            )
        for name in chosen.get("skipped", []):
            rows.append([esc(name), "–", "–", esc("not tried: out of time budget")])
        intro = (
            f"Each candidate's {metric} on the validation slice (the newest training rows when "
            f"the spec has a time column) and on the held-out customers; the best on "
            f"validation serves."
        )
        head = ["candidate", f"{esc(metric)} validation", f"{esc(metric)} held-out", "time"]
        return section("selection", "Model selection", para(intro), table(head, rows))

    def calibration(self) -> str:
        found = self.meta.get("calibration") or {}
        if "before" not in found:
            text = (
                "No probability calibration (a value target)."
                if found
                else "Trained before probability calibration."
            )
            return section("calibration-fit", "Probability calibration", para(text, "muted"))
        method = {
            "platt": "Platt scaling of the probability",
            "temperature": "temperature scaling of the tier probabilities",
        }.get(str(found.get("method")), "none: it did not improve the validation log loss")
        rows = [
            [
                esc(when),
                num(found[when]["ece"]),
                num(found[when]["log_loss"]),
            ]
            for when in ("before", "after")
        ]
        intro = (
            f"Fitted on the validation slice: {method}. Reliability on the held-out customers "
            f"(expected calibration error over ten bins, and log loss), before and after."
        )
        return section(
            "calibration-fit",
            "Probability calibration",
            para(intro),
            table(["", "calibration error", "log loss"], rows),
        )

    def importance(self) -> str:
        features = self.figures.get("importance")
        if not features:
            self.missing.append("feature importance")
            return section("importance", "Feature importance", needs_retrain("feature importance"))
        chart = bar_chart(
            title="Share of the model's total gain per input column",
            categories=[str(f["feature"]) for f in features],
            series=[Series("share of gain", [float(f["share"]) for f in features])],
        )
        intro = "How much each input column improved the trees (LightGBM's gain), largest first."
        return section("importance", "Feature importance", para(intro), chart)


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _at(xs: Sequence[float], ys: Sequence[float], q: float) -> float:
    """``ys`` at ``q`` by linear interpolation between the neighbouring ``xs``."""
    for i in range(1, min(len(xs), len(ys))):
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        if x0 <= q <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (q - x0) / (x1 - x0)
    return ys[-1] if ys else 0.0
