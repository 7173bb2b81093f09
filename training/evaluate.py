"""Honest measurement of a tier model on held-out data, next to simple baselines.

* class targets: macro-F1 of the final tiers, per-tier precision and recall, the confusion
  matrix, log loss of the model's probabilities;
* binary targets: ROC AUC, PR AUC, F1 at probability 0.5;
* value targets: Spearman correlation, precision of the top tier against the true top
  group of the same size, and the share of the actual amount the top tier captures;
* always: the tier mix (the share of customers in each tier).

The headline metric (``PRIMARY``) is what the promotion gate compares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from tierline.engine.spec import Spec

__all__ = ["PRIMARY", "evaluate", "format_report", "measure", "measure_scored"]

PRIMARY = {"class": "macro_f1", "binary": "roc_auc", "value": "spearman"}


def evaluate(
    *,
    kind: str,
    tiers: Sequence[str],
    y_true: np.ndarray,
    tier_pred: np.ndarray,
    scores: np.ndarray | None,
    top_tier: str | None = None,
) -> dict[str, Any]:
    """Metrics of one set of predictions.

    ``y_true``: tier labels (class), 1/0 (binary) or amounts (value). ``tier_pred``: the
    tiers given. ``scores``: class probabilities (n x tiers), the positive probability, or
    the predicted amount; None for a baseline without scores.
    """
    tier_pred = np.asarray(tier_pred, dtype=object)
    mix = {t: float(np.mean(tier_pred == t)) for t in tiers}
    out: dict[str, Any] = {"rows": len(tier_pred), "tier_mix": mix}
    if kind == "class":
        labels = list(tiers)
        # Tier indices instead of strings: sklearn's metrics sort and compare labels, which
        # on object arrays cost seconds per million rows; indices keep the tier order too.
        codes = list(range(len(labels)))
        y = pd.Categorical(np.asarray(y_true, dtype=object), categories=labels).codes
        pred = pd.Categorical(tier_pred, categories=labels).codes
        out["macro_f1"] = float(f1_score(y, pred, labels=codes, average="macro", zero_division=0))
        p, r, _, support = precision_recall_fscore_support(y, pred, labels=codes, zero_division=0)
        out["per_tier"] = {
            t: {"precision": float(p[i]), "recall": float(r[i]), "support": int(support[i])}
            for i, t in enumerate(labels)
        }
        out["confusion"] = {
            "labels": labels,
            "matrix": confusion_matrix(y, pred, labels=codes).tolist(),
        }
        if scores is not None:
            probs = np.clip(np.asarray(scores, dtype=np.float64), 1e-15, 1.0)
            probs = probs / probs.sum(axis=1, keepdims=True)
            out["log_loss"] = float(log_loss(y, probs, labels=codes))
        return out
    y = np.asarray(y_true, dtype=np.float64)
    s = np.zeros(len(y)) if scores is None else np.asarray(scores, dtype=np.float64)
    constant = bool(np.all(s == s[0])) if len(s) else True
    if kind == "binary":
        out["roc_auc"] = 0.5 if constant else float(roc_auc_score(y, s))
        out["pr_auc"] = float(np.mean(y)) if constant else float(average_precision_score(y, s))
        out["f1"] = float(f1_score(y, (s >= 0.5).astype(np.float64), zero_division=0))
        out["positive_rate"] = float(np.mean(y))
        return out
    out["spearman"] = 0.0 if constant else float(spearmanr(y, s).statistic)
    if top_tier is not None:
        in_top = tier_pred == top_tier
        k = int(in_top.sum())
        if k:
            true_top = np.zeros(len(y), dtype=bool)
            true_top[np.argsort(-y, kind="stable")[:k]] = True
            out["top_tier_precision"] = float(np.mean(true_top[in_top]))
            total = float(y.sum())
            out["top_tier_revenue_share"] = float(y[in_top].sum() / total) if total > 0 else 0.0
        else:
            out["top_tier_precision"] = 0.0
            out["top_tier_revenue_share"] = 0.0
    return out


def measure(
    spec: Spec, *, y_true: np.ndarray, tier_pred: np.ndarray, scores: np.ndarray | None
) -> dict[str, Any]:
    """``evaluate`` with the kind, tiers and top tier taken from a spec."""
    return evaluate(
        kind=spec.target_kind,
        tiers=spec.tiers,
        y_true=y_true,
        tier_pred=tier_pred,
        scores=scores,
        top_tier=spec.cuts[0].tier if spec.cuts else None,
    )


def measure_scored(spec: Spec, *, scored: pd.DataFrame, y_true: np.ndarray) -> dict[str, Any]:
    """Metrics of a scored output frame (``TierModel.score_frame``) against the labels."""
    columns = [f"p_{t}" for t in spec.tiers] if spec.target_kind == "class" else "score"
    scores = scored[columns].to_numpy()
    return measure(spec, y_true=y_true, tier_pred=scored["tier"].to_numpy(), scores=scores)


def format_report(
    *, kind: str, metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]]
) -> str:
    """A plain-text table: the model's metrics next to each baseline's, on the same rows."""
    names = ["model", *baselines]
    columns = [metrics, *baselines.values()]
    keys = {
        "class": ["macro_f1", "log_loss"],
        "binary": ["roc_auc", "pr_auc", "f1"],
        "value": ["spearman", "top_tier_precision", "top_tier_revenue_share"],
    }[kind]
    rows: list[tuple[str, list[Any]]] = [(k, [c.get(k) for c in columns]) for k in keys]
    if kind == "class":
        for tier in metrics["per_tier"]:
            for what in ("precision", "recall"):
                cells = [c.get("per_tier", {}).get(tier, {}).get(what) for c in columns]
                rows.append((f"{tier} {what}", cells))
    for tier in metrics["tier_mix"]:
        rows.append((f"share {tier}", [c.get("tier_mix", {}).get(tier) for c in columns]))
    width = max(len(label) for label, _ in rows) + 2
    col_w = max(10, *(len(n) + 2 for n in names))
    lines = [f"held-out customers: {metrics.get('rows', 0):,}"]
    lines.append("metric".ljust(width) + "".join(n.rjust(col_w) for n in names))
    for label, cells in rows:
        lines.append(label.ljust(width) + "".join(_fmt(x).rjust(col_w) for x in cells))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_selection(selection: Mapping[str, Any]) -> str:
    """The model search as a table: each candidate's validation and test figure."""
    metric = selection["metric"]
    lines = [f"model selection ({metric}; the best on the validation slice serves):"]
    for c in selection["candidates"]:
        mark = "*" if c["name"] == selection["winner"] else " "
        if c.get("error"):
            lines.append(f" {mark} {c['name']:<12} failed: {c['error']}")
            continue
        cut = ", stopped at the budget" if c.get("stopped_at_budget") else ""
        lines.append(
            f" {mark} {c['name']:<12} validation {_fmt(c['valid'])}  test {_fmt(c['test'])}"
            f"  ({c['seconds']:.1f}s{cut})"
        )
    if selection.get("skipped"):
        lines.append(
            f"   not tried within the {selection['budget_seconds']:.0f}s budget: "
            + ", ".join(selection["skipped"])
        )
    return "\n".join(lines)


def format_calibration(calibration: Mapping[str, Any]) -> str:
    """One line: the calibration fitted and the held-out reliability before and after it."""
    method = calibration.get("method", "none")
    if "before" not in calibration:
        return "calibration: none (a value target)"
    before, after = calibration["before"], calibration["after"]
    what = {
        "platt": f"Platt scaling (a={calibration['a']:.3f}, b={calibration['b']:.3f})",
        "temperature": f"temperature scaling (T={calibration['temperature']:.3f})",
    }.get(method, "none (it did not improve the validation log loss)")
    return (
        f"calibration: {what}; held-out expected calibration error {before['ece']:.3f} -> "
        f"{after['ece']:.3f}, log loss {before['log_loss']:.3f} -> {after['log_loss']:.3f}"
    )


def format_interval(metrics: Mapping[str, Any], *, rows: int) -> str:
    """The headline metric's 95 % interval, and a warning when the held-out set is small."""
    from tierline.training.honest import WARN_HELD_OUT

    found = metrics.get("interval") or {}
    lines = []
    if found.get("low") is not None:
        lines.append(
            f"95 % interval of the headline metric: {found['low']:.3f} to {found['high']:.3f} "
            f"({found['rounds']} bootstrap resamples of the {rows:,} held-out customers)"
        )
    if rows < WARN_HELD_OUT:
        lines.append(
            f"warning: only {rows:,} held-out customers; the figures above move with who "
            f"happened to be held out (see the interval)"
        )
    return "\n".join(lines)
