"""The tier policy: hard rules, then the model's scores with cut-points and a confidence floor.

Order of a decision:

1. ``[[tiers.rules]]`` in order; the first rule that matches decides (confidence 1.0).
2. class targets: the most probable tier; below ``min_confidence`` the default tier.
   ``confidence`` is the model's probability of the tier given.
3. binary / value targets: the first cut whose threshold the score reaches, else the
   default tier. ``top_fraction`` cuts were frozen into absolute thresholds at training
   time (``TierPolicy.fit_thresholds``), so a customer's tier does not move when the rest
   of the base changes. ``confidence`` is the score's percentile among the training
   customers (0.95: scores above 95 % of them).

The single-record path (``place``) and the batch path (``place_many``) share the rule
predicates and the arithmetic, so both give the same answer for the same customer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.calibration import Calibration
from tierline.engine.spec import Rule, Spec
from tierline.engine.values import category_text, is_missing, map_column, parse_bool, parse_number

__all__ = ["Placement", "TierPolicy", "rule_predicate"]


@dataclass(frozen=True)
class Placement:
    """What the policy decided for one customer."""

    tier: str
    confidence: float
    score: float
    rule: str | None


def rule_predicate(rule: Rule) -> Callable[[Any], bool]:
    """A function of one raw value saying whether ``rule`` matches it; unreadable means no."""
    op, target = rule.op, rule.value

    def safe(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
        def run(value: Any) -> bool:
            try:
                return bool(test(value))
            except (ValueError, TypeError):
                return False

        return run

    if op == "present":
        return safe(lambda v: (not is_missing(v)) == target)
    if op == "min":
        return safe(lambda v: parse_number(v) >= target)
    if op == "max":
        return safe(lambda v: parse_number(v) <= target)
    if op == "in":
        wanted = {category_text(x) for x in target}
        return safe(lambda v: category_text(v) in wanted)
    if isinstance(target, bool):
        return safe(lambda v: parse_bool(v) == (1.0 if target else 0.0))
    if isinstance(target, int | float):
        return safe(lambda v: parse_number(v) == float(target))
    text = category_text(target)
    return safe(lambda v: category_text(v) == text)


@dataclass(frozen=True)
class TierPolicy:
    """Rules, cut-points and the confidence floor of one model version (JSON-serialisable)."""

    kind: str
    tiers: tuple[str, ...]
    default_tier: str
    min_confidence: float
    rules: tuple[Rule, ...]
    # (tier, minimum score), highest first; binary/value targets only.
    thresholds: tuple[tuple[str, float], ...] = ()
    # Sorted training scores' quantiles, for the percentile confidence of binary/value targets.
    score_quantiles: tuple[float, ...] = ()
    # Applied to the model's output before anything reads it (``calibrate``).
    calibration: Calibration = dataclasses.field(default_factory=Calibration)

    def calibrate(self, out: np.ndarray) -> np.ndarray:
        """The model's output with the version's probability calibration applied: what the
        policy, the API's score and probabilities, and the batch output all read."""
        return self.calibration.apply(out)

    @classmethod
    def from_spec(cls, spec: Spec) -> TierPolicy:
        """A policy whose cut thresholds are still to be fitted (``fit_thresholds``)."""
        return cls(
            kind=spec.target_kind,
            tiers=spec.tiers,
            default_tier=spec.default_tier,
            min_confidence=spec.min_confidence,
            rules=spec.rules,
        )

    def fit_thresholds(self, *, spec: Spec, train_scores: np.ndarray) -> TierPolicy:
        """Freeze ``top_fraction`` cuts into absolute thresholds on the training scores."""
        if self.kind == "class":
            return self
        scores = np.sort(np.asarray(train_scores, dtype=np.float64))
        thresholds: list[tuple[str, float]] = []
        # top_fraction cuts stack in the order listed: vip the top 10 %, gold the next 20 %.
        taken = 0.0
        for cut in spec.cuts:
            if cut.top_fraction is not None:
                taken += cut.top_fraction
                thresholds.append((cut.tier, float(np.quantile(scores, 1.0 - taken))))
            else:
                assert cut.min_score is not None
                thresholds.append((cut.tier, float(cut.min_score)))
        thresholds.sort(key=lambda t: -t[1])
        quantiles = np.quantile(scores, np.linspace(0.0, 1.0, 1001))
        return dataclasses.replace(
            self,
            thresholds=tuple(thresholds),
            score_quantiles=tuple(float(q) for q in quantiles),
        )

    # -- one customer ---------------------------------------------------------------
    def match_rule(self, signals: Mapping[str, Any]) -> Rule | None:
        for rule, test in zip(self.rules, self._predicates, strict=True):
            if test(signals.get(rule.column)):
                return rule
        return None

    def place(self, *, scores: np.ndarray, signals: Mapping[str, Any]) -> Placement:
        """Decide one customer from the model's output row and the raw signals."""
        score = self.score_of(scores)
        rule = self.match_rule(signals)
        if rule is not None:
            return Placement(tier=rule.tier, confidence=1.0, score=score, rule=rule.name)
        if self.kind == "class":
            best = int(np.argmax(scores))
            conf = float(scores[best])
            if conf < self.min_confidence:
                return Placement(
                    tier=self.default_tier,
                    confidence=float(scores[self._default_index]),
                    score=score,
                    rule=None,
                )
            return Placement(tier=self.tiers[best], confidence=conf, score=score, rule=None)
        tier = self.default_tier
        for name, minimum in self.thresholds:
            if score >= minimum:
                tier = name
                break
        return Placement(
            tier=tier, confidence=self._percentile(np.array([score]))[0], score=score, rule=None
        )

    def score_of(self, scores: np.ndarray) -> float:
        """The contract's ``score``: class targets give the first tier's probability."""
        return float(scores[0]) if self.kind == "class" else float(scores)

    # -- many customers ---------------------------------------------------------------
    def place_many(self, *, scores: np.ndarray, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Vectorised ``place``: arrays ``tier``, ``confidence``, ``score`` and ``rule``."""
        n = len(frame)
        tier_idx = np.empty(n, dtype=np.int64)
        if self.kind == "class":
            best = np.argmax(scores, axis=1)
            confidence = scores[np.arange(n), best]
            low = confidence < self.min_confidence
            best[low] = self._default_index
            confidence = np.where(low, scores[:, self._default_index], confidence)
            tier_idx[:] = best
            score = scores[:, 0].astype(np.float64)
        else:
            score = np.asarray(scores, dtype=np.float64)
            tier_idx[:] = self._default_index
            decided = np.zeros(n, dtype=bool)
            for name, minimum in self.thresholds:
                hit = ~decided & (score >= minimum)
                tier_idx[hit] = self.tiers.index(name)
                decided |= hit
            confidence = self._percentile(score)
        rule_idx = np.full(n, -1, dtype=np.int64)
        undecided = np.ones(n, dtype=bool)
        for i, (rule, test) in enumerate(zip(self.rules, self._predicates, strict=True)):
            if rule.column not in frame.columns:
                continue
            hit = undecided & map_column(frame[rule.column], test, missing=test(None), dtype=bool)
            rule_idx[hit] = i
            tier_idx[hit] = self.tiers.index(rule.tier)
            undecided &= ~hit
        confidence = np.where(undecided, confidence, 1.0)
        names = np.array([*(r.name for r in self.rules), None], dtype=object)  # -1 -> None
        return {
            "tier": np.asarray(self.tiers, dtype=object)[tier_idx],
            "confidence": confidence.astype(np.float64),
            "score": score,
            "rule": names[rule_idx],
        }

    # -- helpers --------------------------------------------------------------------------
    @property
    def _default_index(self) -> int:
        return self.tiers.index(self.default_tier)

    @property
    def _predicates(self) -> list[Callable[[Any], bool]]:
        cached = self.__dict__.get("_predicates_cache")
        if cached is None:
            cached = [rule_predicate(r) for r in self.rules]
            object.__setattr__(self, "_predicates_cache", cached)
        return cached

    def _percentile(self, score: np.ndarray) -> np.ndarray:
        if not self.score_quantiles:
            return np.full(len(score), math.nan)
        q = np.asarray(self.score_quantiles)
        return np.searchsorted(q, score, side="right").clip(0, len(q) - 1) / (len(q) - 1)

    # -- state ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tiers": list(self.tiers),
            "default_tier": self.default_tier,
            "min_confidence": self.min_confidence,
            "rules": [r.to_dict() for r in self.rules],
            "thresholds": [[t, s] for t, s in self.thresholds],
            "score_quantiles": list(self.score_quantiles),
            "calibration": self.calibration.to_json(),
        }

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> TierPolicy:
        rules: list[Rule] = []
        for r in state["rules"]:
            when = dict(r["when"])
            column = when.pop("column")
            ((op, value),) = when.items()
            rules.append(Rule(tier=r["tier"], column=column, op=op, value=value, name=r["name"]))
        return cls(
            kind=state["kind"],
            tiers=tuple(state["tiers"]),
            default_tier=state["default_tier"],
            min_confidence=float(state["min_confidence"]),
            rules=tuple(rules),
            thresholds=tuple((str(t), float(s)) for t, s in state["thresholds"]),
            score_quantiles=tuple(float(q) for q in state["score_quantiles"]),
            calibration=Calibration.from_json(state.get("calibration")),
        )
