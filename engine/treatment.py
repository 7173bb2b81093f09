"""The spec's optional ``[treatment]`` table: a randomized experiment to learn uplift from.

``column`` holds the arm each customer was randomly given, ``control`` the arm that got
nothing (the holdout); ``cost`` is the money one treated customer costs per arm (default
0) and ``value`` the money one positive outcome brings (binary targets; a value target is
money already). Training reads the arm column; scoring needs neither it nor the outcome.
The table is read and checked by ``engine.spec_schema``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TreatmentSpec"]


@dataclass(frozen=True)
class TreatmentSpec:
    """A validated ``[treatment]`` table; ``control`` is kept as the category text."""

    column: str
    control: str
    cost: Mapping[str, float] = field(default_factory=dict, hash=False)
    value: float | None = None

    def cost_of(self, arm: str) -> float:
        return float(self.cost.get(arm, 0.0))

    def money(self, uplift: Any) -> Any:
        """An uplift in the target's units as money: times ``value`` for a binary target."""
        return uplift if self.value is None else uplift * self.value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "control": self.control}
        if self.cost:
            out["cost"] = dict(self.cost)
        if self.value is not None:
            out["value"] = self.value
        return out
