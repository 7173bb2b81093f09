"""The spec's optional ``[treatment]`` table: a randomized experiment to learn uplift from.

``column`` holds the arm each customer was randomly given, ``control`` the arm that got
nothing (the holdout); ``cost`` is the money one treated customer costs per arm (default
0) and ``value`` the money one positive outcome brings (binary targets; a value target is
money already). Training reads the arm column; scoring needs neither it nor the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tierline.engine.errors import SpecError
from tierline.engine.values import category_text

__all__ = ["TREATMENT_KEYS", "TreatmentSpec", "parse_treatment"]

TREATMENT_KEYS = {"column", "control", "cost", "value"}


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


def parse_treatment(raw: Any, *, kind: str, source: str) -> TreatmentSpec | None:
    """Validate the ``[treatment]`` table (None when the spec has none)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: [treatment] must be a table, got {type(raw).__name__}")
    unknown = sorted(set(raw) - TREATMENT_KEYS)
    if unknown:
        allowed = ", ".join(sorted(TREATMENT_KEYS))
        raise SpecError(f"{source}: unknown key '{unknown[0]}' in [treatment] (allowed: {allowed})")
    if kind == "class":
        raise SpecError(
            f"{source}: [treatment] learns the uplift of a binary or value target; "
            f"[target] kind is 'class'"
        )
    column = raw.get("column")
    if not isinstance(column, str) or not column:
        raise SpecError(
            f"{source}: [treatment] column must be a non-empty string (the column holding "
            f"each customer's arm), got {column!r}"
        )
    control_raw = raw.get("control")
    # The arm column is read as text, where "none", "NA" or "" mean missing; such a value
    # can name no arm.
    control = (
        category_text(control_raw)
        if isinstance(control_raw, str | int) and not isinstance(control_raw, bool)
        else None
    )
    if not control:
        raise SpecError(
            f"{source}: [treatment] control must name the randomized control arm (text or a "
            f"whole number that does not read as missing), got {control_raw!r}"
        )
    cost = _costs(raw.get("cost", {}), control, source)
    value = raw.get("value")
    if kind == "binary":
        if value is None:
            raise SpecError(
                f"{source}: [treatment] value is required for a binary target "
                f"(the money one positive outcome brings)"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise SpecError(f"{source}: [treatment] value must be a positive number, got {value!r}")
        value = float(value)
    elif value is not None:
        raise SpecError(
            f"{source}: [treatment] value applies to binary targets; a value target is "
            f"money already, so remove it"
        )
    return TreatmentSpec(column=column, control=control, cost=cost, value=value)


def _costs(raw: Any, control: str, source: str) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise SpecError(
            f"{source}: [treatment] cost must be a table of arm = money per treated customer, "
            f'e.g. cost = {{ "coffee" = 1.5 }}'
        )
    out: dict[str, float] = {}
    for arm, amount in raw.items():
        if arm == control:
            raise SpecError(
                f"{source}: [treatment] cost names the control arm '{arm}'; the control "
                f"is given nothing, so it costs nothing"
            )
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise SpecError(
                f"{source}: [treatment] cost of '{arm}' must be a number >= 0, got {amount!r}"
            )
        out[str(arm)] = float(amount)
    return out
