"""The spec file: what the columns of a user's data mean, and which tiers to produce.

A spec is read from TOML (``load_spec``), checked for consistency on its own (unknown
keys, a column in two roles, cut-points out of range), and later checked against a data
file's columns (``Spec.check_columns``). It travels inside every model artifact as a
plain dict (``Spec.to_dict`` / ``Spec.from_dict``), so scoring needs no spec file.
The tables are declared in ``engine.spec_schema``, the checks across them in
``engine.spec_consistency``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tierline.engine.errors import SpecError
from tierline.engine.spec_schema import (
    RULE_OPS,
    TARGET_KINDS,
    TRANSACTION_FEATURES,
    UNKNOWN_SIGNAL_MODES,
    FairnessTable,
    RuleTable,
    SpecFile,
    TransactionsTable,
    TreatmentTable,
    spec_refusal,
)
from tierline.engine.treatment import TreatmentSpec

__all__ = [
    "RULE_OPS",
    "TARGET_KINDS",
    "TRANSACTION_FEATURES",
    "UNKNOWN_SIGNAL_MODES",
    "Cut",
    "FairnessSpec",
    "Rule",
    "Spec",
    "TransactionsSpec",
    "load_spec",
    "missing_column",
    "parse_spec",
]


@dataclass(frozen=True)
class Rule:
    """A hard rule: when ``column`` satisfies ``op``/``value`` the customer gets ``tier``."""

    tier: str
    column: str
    op: str
    value: Any
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "name": self.name,
            "when": {"column": self.column, self.op: self.value},
        }


@dataclass(frozen=True)
class Cut:
    """A cut-point for binary/value targets: the best-scored customers get ``tier``."""

    tier: str
    top_fraction: float | None = None
    min_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tier": self.tier}
        if self.top_fraction is not None:
            out["top_fraction"] = self.top_fraction
        if self.min_score is not None:
            out["min_score"] = self.min_score
        return out


@dataclass(frozen=True)
class TransactionsSpec:
    """The data file is a transaction log; features are built per customer as of ``as_of``."""

    customer: str
    time: str
    amount: str
    as_of: dt.date
    horizon_days: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "time": self.time,
            "amount": self.amount,
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
        }


@dataclass(frozen=True)
class FairnessSpec:
    """``[fairness]``: the four-fifths rule's threshold, the smallest group measured on its
    own, and the tiers the gate checks (None: every tier no hard rule gives)."""

    min_ratio: float = 0.8
    min_group: int = 30
    tiers: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"min_ratio": self.min_ratio, "min_group": self.min_group}
        if self.tiers is not None:
            out["tiers"] = list(self.tiers)
        return out


@dataclass(frozen=True)
class Spec:
    """A validated spec. Build it with ``load_spec`` or ``parse_spec``, not by hand."""

    id: str
    target_kind: str
    tiers: tuple[str, ...]
    default_tier: str
    time: str | None = None
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    target_column: str | None = None
    positive: Any = None
    min_confidence: float = 0.0
    cuts: tuple[Cut, ...] = ()
    rules: tuple[Rule, ...] = ()
    transactions: TransactionsSpec | None = None
    unknown_signals: str = "ignore"
    treatment: TreatmentSpec | None = None
    fairness: FairnessSpec | None = None
    # Signals whose direction is known: 1 the score may only rise with them, -1 only fall.
    monotone: Mapping[str, int] = field(default_factory=dict)
    # How a signal reads in a reason for staff: "spent {value:,.0f} € in the last year".
    labels: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- derived views -------------------------------------------------------------
    @property
    def model_numeric(self) -> tuple[str, ...]:
        """Numeric model inputs, including the per-customer features of a transaction log."""
        if self.transactions is None:
            return self.numeric
        return TRANSACTION_FEATURES + tuple(
            c for c in self.numeric if c not in TRANSACTION_FEATURES
        )

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """Every column that feeds the model, in the order the feature builder uses."""
        return self.categorical + self.model_numeric + self.boolean

    @property
    def rule_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.column for r in self.rules))

    @property
    def declared_columns(self) -> tuple[str, ...]:
        """Every column the spec names, in whatever role (dropped and protected too)."""
        cols = [self.id, self.time, self.target_column, *self.feature_columns, *self.numeric]
        cols += [*self.drop, *self.protected, *self.rule_columns]
        if self.transactions is not None:
            tx = self.transactions
            cols += [tx.customer, tx.time, tx.amount]
        if self.treatment is not None:
            cols.append(self.treatment.column)
        return tuple(dict.fromkeys(c for c in cols if c))

    def input_columns(self, *, with_target: bool) -> tuple[str, ...]:
        """Columns a customer table must hold (id, features, rule columns, time, target)."""
        cols: list[str] = [self.id]
        if self.time:
            cols.append(self.time)
        cols += [c for c in self.categorical + self.numeric + self.boolean]
        cols += list(self.rule_columns)
        if with_target and self.target_column and self.transactions is None:
            cols.append(self.target_column)
        if with_target and self.treatment is not None:
            cols.append(self.treatment.column)  # training reads the arm; scoring never does
        return tuple(dict.fromkeys(cols))

    def check_columns(
        self,
        columns: Iterable[str],
        *,
        source: str,
        with_target: bool,
        model: str | None = None,
    ) -> None:
        """Raise ``SpecError`` naming the first declared column that ``columns`` lacks.

        ``model``: the version this spec travels in (scoring, evaluating), None when the
        user passed the spec (training)."""
        present = set(columns)
        roles = self._roles()
        for col in self.input_columns(with_target=with_target):
            if col in present:
                continue
            raise missing_column(
                col,
                roles.get(col, "used"),
                source=source,
                model=model,
                signal=col != self.id and col in (*self.feature_columns, *self.rule_columns),
            )

    def _roles(self) -> dict[str, str]:
        roles: dict[str, str] = {}
        for r in self.rules:
            roles[r.column] = "in a [[tiers.rules]] rule"
        for name, cols in (
            ("categorical", self.categorical),
            ("numeric", self.numeric),
            ("boolean", self.boolean),
        ):
            for c in cols:
                roles[c] = f"{name} ([features])"
        roles[self.id] = "the id ([data] id)"
        if self.time:
            roles[self.time] = "the time column ([data] time)"
        if self.target_column:
            roles[self.target_column] = "the target ([target] column)"
        if self.treatment is not None:
            roles[self.treatment.column] = "the arm ([treatment] column)"
        return roles

    # -- (de)serialisation -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The spec as plain TOML-shaped data, for the artifact's metadata."""
        data: dict[str, Any] = {"id": self.id}
        if self.time:
            data["time"] = self.time
        target: dict[str, Any] = {"kind": self.target_kind}
        if self.target_column:
            target["column"] = self.target_column
        if self.positive is not None:
            target["positive"] = self.positive
        tiers: dict[str, Any] = {
            "names": list(self.tiers),
            "default": self.default_tier,
            "min_confidence": self.min_confidence,
        }
        if self.cuts:
            tiers["cuts"] = [c.to_dict() for c in self.cuts]
        if self.rules:
            tiers["rules"] = [r.to_dict() for r in self.rules]
        out: dict[str, Any] = {
            "data": data,
            "features": {
                "categorical": list(self.categorical),
                "numeric": list(self.numeric),
                "boolean": list(self.boolean),
                "drop": list(self.drop),
                "protected": list(self.protected),
                "unknown_signals": self.unknown_signals,
                **({"monotone": dict(self.monotone)} if self.monotone else {}),
            },
            "target": target,
            "tiers": tiers,
        }
        if self.transactions:
            out["transactions"] = self.transactions.to_dict()
        if self.treatment is not None:
            out["treatment"] = self.treatment.to_dict()
        if self.fairness:
            out["fairness"] = self.fairness.to_dict()
        if self.labels:
            out["labels"] = dict(self.labels)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Spec:
        return parse_spec(data, source="the artifact's spec")


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec TOML file; raise ``SpecError`` naming the problem."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"Spec file '{p}' does not exist or is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"Spec file '{p}' cannot be read: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"Spec file '{p}' is not valid TOML: {exc}") from exc
    return parse_spec(data, source=str(p))


def parse_spec(data: Mapping[str, Any], *, source: str = "spec") -> Spec:
    """Validate TOML-shaped spec data and return a ``Spec``; raise ``SpecError`` on problems."""
    try:
        file = SpecFile.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{source}: {spec_refusal(exc)}") from None
    f, target, tiers = file.features, file.target, file.tiers
    return Spec(
        id=file.data.id,
        time=file.data.time,
        categorical=f.categorical,
        numeric=f.numeric,
        boolean=f.boolean,
        drop=f.drop,
        protected=f.protected,
        target_kind=str(target.kind),
        target_column=target.column,
        positive=target.positive,
        tiers=tiers.names,
        default_tier=tiers.default,
        min_confidence=tiers.min_confidence,
        cuts=tuple(
            Cut(tier=c.tier, top_fraction=c.top_fraction, min_score=c.min_score) for c in tiers.cuts
        ),
        rules=tuple(_rule(r) for r in tiers.rules),
        transactions=_transactions(file.transactions),
        unknown_signals=f.unknown_signals,
        treatment=_treatment(file.treatment),
        fairness=_fairness(file.fairness),
        monotone={name: int(direction) for name, direction in f.monotone.items()},
        labels={str(name): text for name, text in file.labels.items()},
        raw=dict(data),
    )


def _rule(r: RuleTable) -> Rule:
    op, value = r.when.op, r.when.value
    column = r.when.column
    default_name = f"{column} {op} {value!r}" if op != "equals" else f"{column} = {value!r}"
    return Rule(tier=r.tier, column=column, op=op, value=value, name=r.name or default_name)


def _transactions(t: TransactionsTable | None) -> TransactionsSpec | None:
    if t is None:
        return None
    return TransactionsSpec(
        customer=t.customer,
        time=t.time,
        amount=t.amount,
        as_of=t.as_of,
        horizon_days=t.horizon_days,
    )


def _treatment(t: TreatmentTable | None) -> TreatmentSpec | None:
    if t is None:
        return None
    cost = {str(arm): float(amount) for arm, amount in t.cost.items()}
    value = None if t.value is None else float(t.value)
    return TreatmentSpec(column=t.column, control=t.control, cost=cost, value=value)


def _fairness(f: FairnessTable | None) -> FairnessSpec | None:
    if f is None:
        return None
    tiers = None if f.tiers is None else tuple(f.tiers)
    return FairnessSpec(min_ratio=f.min_ratio, min_group=f.min_group, tiers=tiers)


def missing_column(
    col: str, role: str, *, source: str, model: str | None, signal: bool
) -> SpecError:
    """The error for a declared column the data lacks, with the fix that is open: a
    trained model's spec cannot change, so scoring with it asks for the column. ``signal``:
    a feature or rule column, whose empty cells read as unknown (an id's cannot)."""
    if model is None:
        return SpecError(
            f"Column '{col}' is declared {role} in the spec but missing from {source}; "
            f"add it to the data or remove it from the spec"
        )
    return SpecError(
        f"Column '{col}' is declared {role} in the spec of model {model} but missing from "
        f"{source}; add the column to {source}"
        + (" (a cell left empty reads as unknown)" if signal else "")
    )
