"""A linear model on the feature builder's matrix, stored as JSON and served beside LightGBM.

Model selection (``training.selection``) may find that a regularized linear model beats
every tree model on the newest customers (drift favours simple models). Such a winner is
kept as its coefficients plus the plan that turns a prepared row into its inputs, in
``linear.json``, and served by the same ``TierModel`` paths as a forest: one customer,
a batch, and reasons, which are its exact per-signal contributions.

The plan (fitted on the training rows, see ``LinearPlan.fit``):

* a categorical column: one input per code seen at least ``min_count`` times, and one
  for "missing" if that was; rarer, unseen and (otherwise) missing codes add nothing;
* a numeric or boolean column: the value standardized with the training mean and
  spread, 0 when missing, plus a missing flag when the training rows had missing values.

The raw output is the intercept plus one term per column; the output is the logistic
(binary), the softmax (class) or the raw value (value). A column's contribution is its
term minus that term's mean over the training rows, the bias is the intercept plus those
means, so a row's contributions add up to its raw output, laid out as LightGBM's
``pred_contrib``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LinearModel", "LinearPlan"]

_MIN_COUNT = 20


@dataclass(frozen=True)
class LinearPlan:
    """How a prepared matrix becomes the linear model's inputs."""

    n_cat: int
    levels: tuple[tuple[int, ...], ...]  # per categorical column: the codes with an input
    missing_level: tuple[bool, ...]  # per categorical column: "missing" has an input
    mean: tuple[float, ...]  # per numeric column
    scale: tuple[float, ...]
    missing_flag: tuple[bool, ...]  # per numeric column

    @classmethod
    def fit(cls, X: np.ndarray, *, n_cat: int, min_count: int = _MIN_COUNT) -> LinearPlan:
        levels, missing_level = [], []
        for j in range(n_cat):
            col = X[:, j]
            present = col[~np.isnan(col)].astype(np.int64)
            counts = np.bincount(present) if len(present) else np.zeros(0, dtype=np.int64)
            levels.append(tuple(int(c) for c in np.flatnonzero(counts >= min_count)))
            missing_level.append(bool(np.isnan(col).sum() >= min_count))
        nums = X[:, n_cat:]
        missing = np.isnan(nums)
        with np.errstate(invalid="ignore"):
            mean = np.where(
                missing.all(axis=0), 0.0, np.nanmean(np.where(missing, np.nan, nums), axis=0)
            )
            std = np.nanstd(np.where(missing, np.nan, nums), axis=0)
        scale = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return cls(
            n_cat=n_cat,
            levels=tuple(levels),
            missing_level=tuple(missing_level),
            mean=tuple(float(m) for m in np.nan_to_num(mean)),
            scale=tuple(float(s) for s in scale),
            missing_flag=tuple(bool(m) for m in missing.any(axis=0)),
        )

    @property
    def widths(self) -> list[int]:
        """How many inputs each column of the matrix has."""
        cats = [len(lv) + int(m) for lv, m in zip(self.levels, self.missing_level, strict=True)]
        return cats + [1 + int(f) for f in self.missing_flag]

    def design(self, X: np.ndarray) -> np.ndarray:
        """The model's inputs for ``X`` (dense; columns in ``widths`` order)."""
        parts: list[np.ndarray] = []
        for j in range(self.n_cat):
            col = X[:, j]
            if self.levels[j]:
                parts.append(col[:, None] == np.asarray(self.levels[j], dtype=np.float64)[None, :])
            if self.missing_level[j]:
                parts.append(np.isnan(col)[:, None])
        nums = X[:, self.n_cat :]
        missing = np.isnan(nums)
        z = (np.where(missing, 0.0, nums) - np.asarray(self.mean)) / np.asarray(self.scale)
        z[missing] = 0.0
        for i, flag in enumerate(self.missing_flag):
            parts.append(z[:, i : i + 1])
            if flag:
                parts.append(missing[:, i : i + 1])
        if not parts:
            return np.zeros((len(X), 0))
        return np.hstack([p.astype(np.float64) for p in parts])

    def to_json(self) -> dict[str, Any]:
        return {
            "n_cat": self.n_cat,
            "levels": [list(lv) for lv in self.levels],
            "missing_level": list(self.missing_level),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "missing_flag": list(self.missing_flag),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearPlan:
        return cls(
            n_cat=int(data["n_cat"]),
            levels=tuple(tuple(int(c) for c in lv) for lv in data["levels"]),
            missing_level=tuple(bool(m) for m in data["missing_level"]),
            mean=tuple(float(m) for m in data["mean"]),
            scale=tuple(float(s) for s in data["scale"]),
            missing_flag=tuple(bool(f) for f in data["missing_flag"]),
        )


class LinearModel:
    """A fitted linear model: ``predict`` and ``contributions`` as a booster gives them."""

    def __init__(
        self,
        *,
        kind: str,
        plan: LinearPlan,
        coef: np.ndarray,
        intercept: np.ndarray,
        expected: np.ndarray,
    ) -> None:
        """``coef``: outputs x inputs; ``intercept``: per output; ``expected``: outputs x
        columns, each column's mean term on the training rows."""
        self.kind = kind
        self.plan = plan
        self.coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        self.intercept = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
        self.expected = np.atleast_2d(np.asarray(expected, dtype=np.float64))
        self._bounds = np.cumsum([0, *plan.widths])

    @classmethod
    def from_fit(
        cls, *, kind: str, plan: LinearPlan, coef: np.ndarray, intercept: np.ndarray, X: np.ndarray
    ) -> LinearModel:
        """A model from fitted coefficients; ``X`` (the training rows) gives the mean terms."""
        model = cls(
            kind=kind,
            plan=plan,
            coef=coef,
            intercept=intercept,
            expected=np.zeros((np.atleast_2d(coef).shape[0], len(plan.widths))),
        )
        model.expected = model.terms(X).mean(axis=0).T
        return model

    def terms(self, X: np.ndarray) -> np.ndarray:
        """Each column's term in the raw output: rows x columns x outputs."""
        design = self.plan.design(X)
        out = np.empty((len(X), len(self.plan.widths), self.coef.shape[0]))
        for c in range(len(self.plan.widths)):
            a, b = self._bounds[c], self._bounds[c + 1]
            out[:, c, :] = design[:, a:b] @ self.coef[:, a:b].T
        return out

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The raw output (log-odds, class logits, or the value): rows x outputs."""
        raw: np.ndarray = self.plan.design(X) @ self.coef.T + self.intercept
        return raw

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Outputs as ``lightgbm.Booster.predict`` gives them: n (binary, value) or n x K."""
        X = np.atleast_2d(X)
        raw = self.raw(X)
        if self.kind == "class":
            shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
            probs: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
            return probs
        if self.kind == "binary":
            return np.asarray(1.0 / (1.0 + np.exp(-raw[:, 0])))
        return np.asarray(raw[:, 0])

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-column contributions and the bias, in ``pred_contrib``'s layout: n x (F+1),
        or n x K(F+1) for a class model (one block per class)."""
        terms = self.terms(X) - self.expected.T[None, :, :]
        bias = self.intercept + self.expected.sum(axis=1)
        n, _, k = terms.shape
        blocks = [np.hstack([terms[:, :, j], np.full((n, 1), bias[j])]) for j in range(k)]
        return np.hstack(blocks)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "plan": self.plan.to_json(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "expected": self.expected.tolist(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearModel:
        return cls(
            kind=str(data["kind"]),
            plan=LinearPlan.from_json(data["plan"]),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=np.asarray(data["intercept"], dtype=np.float64),
            expected=np.asarray(data["expected"], dtype=np.float64),
        )
