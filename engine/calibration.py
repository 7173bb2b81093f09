"""Probability calibration: the model's probabilities mapped so that 0.7 means 70 %.

Staff see the confidence, so it should mean what it says. Fitted on the validation slice
at training (``training.calibrate``) and applied to every output, one customer or a batch,
before the tier policy reads it:

* binary: Platt scaling, ``p' = 1 / (1 + exp(-(a * logit(p) + b)))`` with ``a > 0``, so the
  ranking (and so AUC) is unchanged;
* class: temperature scaling, ``p' = softmax(log(p) / T)``, which keeps each customer's
  likeliest tier and only sharpens or softens the probabilities;
* value targets and the identity: unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Calibration"]

_EPS = 1e-12


@dataclass(frozen=True)
class Calibration:
    method: str = "none"  # "platt", "temperature" or "none"
    a: float = 1.0
    b: float = 0.0
    temperature: float = 1.0

    def apply(self, out: np.ndarray) -> np.ndarray:
        """Calibrated outputs, the same shape: n or one value (binary), n x K or K (class)."""
        if self.method == "platt":
            p = np.clip(out, _EPS, 1 - _EPS)
            logit = np.log(p) - np.log1p(-p)
            return np.asarray(1.0 / (1.0 + np.exp(-(self.a * logit + self.b))))
        if self.method == "temperature":
            logp = np.log(np.clip(out, _EPS, 1.0)) / self.temperature
            logp = logp - logp.max(axis=-1, keepdims=True)
            e = np.exp(logp)
            return np.asarray(e / e.sum(axis=-1, keepdims=True))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "temperature": self.temperature}

    @classmethod
    def from_json(cls, state: Mapping[str, Any] | None) -> Calibration:
        if not state:
            return cls()
        return cls(
            method=str(state["method"]),
            a=float(state["a"]),
            b=float(state["b"]),
            temperature=float(state["temperature"]),
        )
