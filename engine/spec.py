"""The spec file: what the columns of a user's data mean, and which tiers to produce.

A spec is read from TOML (``load_spec``), checked for consistency on its own (unknown
keys, a column in two roles, cut-points out of range), and later checked against a data
file's columns (``Spec.check_columns``). It travels inside every model artifact as a
plain dict (``Spec.to_dict`` / ``Spec.from_dict``), so scoring needs no spec file.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierline.engine.errors import SpecError
from tierline.engine.treatment import TreatmentSpec, parse_treatment

__all__ = [
    "TRANSACTION_FEATURES",
    "UNKNOWN_SIGNAL_MODES",
    "Cut",
    "FairnessSpec",
    "Rule",
    "Spec",
    "TransactionsSpec",
    "load_spec",
    "parse_spec",
]

TARGET_KINDS = ("class", "binary", "value")
RULE_OPS = ("equals", "in", "min", "max", "present")
# ``[features] unknown_signals``: list signals nothing uses in the answer, or refuse them.
UNKNOWN_SIGNAL_MODES = ("ignore", "refuse")

# Features that a transaction log yields per customer (training.transactions builds them).
TRANSACTION_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary_total",
    "monetary_mean",
    "max_ticket",
    "tenure_days",
    "mean_gap_days",
    "spend_30d",
    "count_30d",
    "spend_90d",
    "count_90d",
    "spend_365d",
    "count_365d",
    # Purchase days in the buy-till-you-die sense, gaps and trends (training.purchase_days).
    "repeat_days",
    "repeat_span_days",
    "age_days",
    "repeat_spend_mean",
    "gap_std_days",
    "last_gap_days",
    "overdue_ratio",
    "spend_trend_30d",
    "count_trend_30d",
    "spend_trend_90d",
    "count_trend_90d",
    # The fitted BG/NBD and Gamma-Gamma expectations over the horizon (training.btyd).
    "bgnbd_purchases",
    "bgnbd_p_alive",
    "gg_spend",
    "btyd_value",
)

_ALLOWED: dict[str, set[str]] = {
    "": {
        "data",
        "features",
        "target",
        "tiers",
        "transactions",
        "fairness",
        "treatment",
        "labels",
    },
    "data": {"id", "time"},
    "features": {
        "categorical",
        "numeric",
        "boolean",
        "drop",
        "protected",
        "unknown_signals",
        "monotone",
    },
    "target": {"kind", "column", "positive"},
    "tiers": {"names", "default", "min_confidence", "cuts", "rules"},
    "cut": {"tier", "top_fraction", "min_score"},
    "rule": {"tier", "when", "name"},
    "when": {"column", *RULE_OPS},
    "transactions": {"customer", "time", "amount", "as_of", "horizon_days"},
    "fairness": {"min_ratio", "min_group", "tiers"},
}


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


def _check_keys(table: Any, kind: str, where: str, source: str) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise SpecError(f"{source}: {where} must be a table, got {type(table).__name__}")
    unknown = sorted(set(table) - _ALLOWED[kind])
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED[kind]))
        raise SpecError(f"{source}: unknown key '{unknown[0]}' in {where} (allowed: {allowed})")
    return table


def _str(value: Any, where: str, source: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{source}: {where} must be a non-empty string, got {value!r}")
    return value


def _str_list(table: Mapping[str, Any], key: str, where: str, source: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"{source}: {where}.{key} must be a list of column names, got {value!r}")
    dupes = sorted({v for v in value if value.count(v) > 1})
    if dupes:
        raise SpecError(f"{source}: column '{dupes[0]}' is listed twice in {where}.{key}")
    return tuple(value)


def _number(value: Any, where: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{source}: {where} must be a number, got {value!r}")
    return float(value)


def parse_spec(data: Mapping[str, Any], *, source: str = "spec") -> Spec:
    """Validate TOML-shaped spec data and return a ``Spec``; raise ``SpecError`` on problems."""
    _check_keys(data, "", "the spec", source)
    for section in ("data", "target", "tiers"):
        if section not in data:
            raise SpecError(f"{source}: the [{section}] section is required")

    d = _check_keys(data["data"], "data", "[data]", source)
    if "id" not in d:
        raise SpecError(f"{source}: [data] id is required (the column that names each customer)")
    id_col = _str(d["id"], "[data] id", source)
    time_col = _str(d["time"], "[data] time", source) if "time" in d else None

    f = _check_keys(data.get("features", {}), "features", "[features]", source)
    categorical = _str_list(f, "categorical", "[features]", source)
    numeric = _str_list(f, "numeric", "[features]", source)
    boolean = _str_list(f, "boolean", "[features]", source)
    drop = _str_list(f, "drop", "[features]", source)
    protected = _str_list(f, "protected", "[features]", source)
    unknown_signals = f.get("unknown_signals", "ignore")
    if unknown_signals not in UNKNOWN_SIGNAL_MODES:
        raise SpecError(
            f"{source}: [features] unknown_signals must be one of "
            f"{', '.join(repr(m) for m in UNKNOWN_SIGNAL_MODES)}, got {unknown_signals!r}"
        )

    t = _check_keys(data["target"], "target", "[target]", source)
    kind = t.get("kind")
    if kind not in TARGET_KINDS:
        raise SpecError(
            f"{source}: [target] kind must be one of {', '.join(TARGET_KINDS)}, got {kind!r}"
        )
    target_col = _str(t["column"], "[target] column", source) if "column" in t else None
    positive = t.get("positive")

    tx = _parse_transactions(data.get("transactions"), source)
    if tx is None and target_col is None:
        raise SpecError(f"{source}: [target] column is required (the column holding the label)")
    if tx is not None and kind == "class":
        raise SpecError(
            f"{source}: a transaction log yields an amount, so [target] kind must be 'value' "
            f"or 'binary' with [transactions], not 'class'"
        )
    if kind == "binary" and tx is None and positive is None:
        raise SpecError(
            f"{source}: [target] positive is required for kind = 'binary' (the value that counts as yes)"
        )

    treatment = parse_treatment(data.get("treatment"), kind=kind, source=source)
    if treatment is not None and tx is not None:
        raise SpecError(
            f"{source}: [treatment] reads a customer table with one arm per customer; "
            f"it cannot be combined with [transactions]"
        )

    tiers_t = _check_keys(data["tiers"], "tiers", "[tiers]", source)
    names = _str_list(tiers_t, "names", "[tiers]", source)
    if len(names) < 2:
        raise SpecError(f"{source}: [tiers] names must list at least two tiers, got {list(names)}")
    default = _str(tiers_t.get("default", ""), "[tiers] default", source)
    if default not in names:
        raise SpecError(
            f"{source}: [tiers] default '{default}' is not one of [tiers] names {list(names)}"
        )
    min_conf = _number(tiers_t.get("min_confidence", 0.0), "[tiers] min_confidence", source)
    if not 0.0 <= min_conf <= 1.0:
        raise SpecError(f"{source}: [tiers] min_confidence must be between 0 and 1, got {min_conf}")
    # With [treatment] the cuts are on the best arm's net value (money), not a probability.
    cuts = _parse_cuts(
        tiers_t.get("cuts", []), kind, names, default, source, money=treatment is not None
    )
    rules = _parse_rules(tiers_t.get("rules", []), names, source)
    fairness = _parse_fairness(data.get("fairness"), names, protected, source)

    spec = Spec(
        id=id_col,
        time=time_col,
        categorical=categorical,
        numeric=numeric,
        boolean=boolean,
        drop=drop,
        protected=protected,
        target_kind=kind,
        target_column=target_col,
        positive=positive,
        tiers=names,
        default_tier=default,
        min_confidence=min_conf,
        cuts=cuts,
        rules=rules,
        transactions=tx,
        unknown_signals=unknown_signals,
        treatment=treatment,
        fairness=fairness,
        monotone=_monotone(f, numeric=(*numeric, *boolean), source=source),
        labels=_labels(
            data.get("labels", {}),
            numeric=numeric,
            known=(*categorical, *numeric, *boolean),
            source=source,
        ),
        raw=dict(data),
    )
    _check_roles(spec, source)
    return spec


def _labels(
    raw: Any, *, numeric: tuple[str, ...], known: tuple[str, ...], source: str
) -> dict[str, str]:
    """``[labels] spend_365d = "spent {value:,.0f} € in the last year"``: each a text with
    one ``{value}`` field (a format spec allowed), tried on a sample value now so that a
    broken label is refused here, not in front of a guest."""
    if not isinstance(raw, Mapping):
        raise SpecError(f'{source}: [labels] must be a table of signal = "text with {{value}}"')
    out: dict[str, str] = {}
    for name, text in raw.items():
        if name not in known:
            raise SpecError(
                f"{source}: [labels] names '{name}', which is not a feature; reasons only "
                f"name features"
            )
        if not isinstance(text, str) or "{value" not in text:
            raise SpecError(
                f"{source}: [labels] {name} must be text holding {{value}}, such as "
                f'"spent {{value:,.0f}} € in the last year"'
            )
        sample: Any = 1234.5 if name in numeric else "sample"
        try:
            text.format(value=sample)
        except (ValueError, KeyError, IndexError, AttributeError) as exc:
            raise SpecError(
                f"{source}: [labels] {name} = {text!r} cannot show a "
                f"{'number' if name in numeric else 'text'} ({exc}); use {{value}} alone or a "
                f"number format such as {{value:,.0f}} for numbers"
            ) from None
        out[str(name)] = text
    return out


def _monotone(f: Mapping[str, Any], *, numeric: tuple[str, ...], source: str) -> dict[str, int]:
    """``[features] monotone = { visits_90d = 1, days_since_last_visit = -1 }``: numeric or
    boolean model inputs, each 1 (the score only rises with it) or -1 (only falls)."""
    raw = f.get("monotone", {})
    if not isinstance(raw, Mapping):
        raise SpecError(
            f"{source}: [features] monotone must be a table such as "
            f"{{ visits_90d = 1, days_since_last_visit = -1 }}"
        )
    out: dict[str, int] = {}
    for name, direction in raw.items():
        if name not in numeric:
            raise SpecError(
                f"{source}: [features] monotone names '{name}', which is not a numeric or "
                f"boolean feature; only those can be constrained"
            )
        if isinstance(direction, bool) or direction not in (1, -1):
            raise SpecError(
                f"{source}: [features] monotone {name} = {direction!r}; use 1 (the score rises "
                f"with it) or -1 (it falls)"
            )
        out[name] = int(direction)
    return out


def _parse_cuts(
    raw: Any, kind: str, names: tuple[str, ...], default: str, source: str, *, money: bool = False
) -> tuple[Cut, ...]:
    if not isinstance(raw, list):
        raise SpecError(f"{source}: [tiers] cuts must be a list of tables")
    if raw and kind == "class":
        raise SpecError(
            f"{source}: [tiers] cuts apply to binary and value targets; a class target predicts tiers directly"
        )
    if kind != "class" and not raw:
        raise SpecError(
            f"{source}: a {kind} target needs [tiers] cuts, e.g. "
            f'cuts = [{{ tier = "{names[0]}", top_fraction = 0.10 }}]'
        )
    cuts: list[Cut] = []
    for i, item in enumerate(raw):
        where = f"[tiers] cuts[{i}]"
        c = _check_keys(item, "cut", where, source)
        tier = _str(c.get("tier", ""), f"{where}.tier", source)
        if tier not in names:
            raise SpecError(
                f"{source}: {where}.tier '{tier}' is not one of [tiers] names {list(names)}"
            )
        if tier == default:
            raise SpecError(
                f"{source}: {where}.tier '{tier}' is the default tier, which gets everyone below the cuts"
            )
        if ("top_fraction" in c) == ("min_score" in c):
            raise SpecError(f"{source}: {where} needs exactly one of top_fraction or min_score")
        if "top_fraction" in c:
            frac = _number(c["top_fraction"], f"{where}.top_fraction", source)
            if not 0.0 < frac < 1.0:
                raise SpecError(
                    f"{source}: {where}.top_fraction must be between 0 and 1 (exclusive), got {frac}"
                )
            cuts.append(Cut(tier=tier, top_fraction=frac))
        else:
            score = _number(c["min_score"], f"{where}.min_score", source)
            if kind == "binary" and not money and not 0.0 <= score <= 1.0:
                raise SpecError(
                    f"{source}: {where}.min_score must be a probability between 0 and 1, got {score}"
                )
            cuts.append(Cut(tier=tier, min_score=score))
    seen = [c.tier for c in cuts]
    if len(set(seen)) != len(seen):
        raise SpecError(f"{source}: [tiers] cuts name a tier twice")
    fracs = [c.top_fraction for c in cuts if c.top_fraction is not None]
    if sum(fracs) >= 1.0:
        raise SpecError(
            f"{source}: [tiers] cuts top_fraction values add up to {sum(fracs):g}; they must leave room for the default tier"
        )
    return tuple(cuts)


def _parse_rules(raw: Any, names: tuple[str, ...], source: str) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        raise SpecError(f"{source}: [[tiers.rules]] must be an array of tables")
    rules: list[Rule] = []
    for i, item in enumerate(raw):
        where = f"[[tiers.rules]] #{i + 1}"
        r = _check_keys(item, "rule", where, source)
        tier = _str(r.get("tier", ""), f"{where} tier", source)
        if tier not in names:
            raise SpecError(
                f"{source}: {where} tier '{tier}' is not one of [tiers] names {list(names)}"
            )
        when = _check_keys(r.get("when"), "when", f"{where} when", source)
        column = _str(when.get("column", ""), f"{where} when.column", source)
        ops = [k for k in RULE_OPS if k in when]
        if len(ops) != 1:
            raise SpecError(f"{source}: {where} when needs exactly one of {', '.join(RULE_OPS)}")
        op = ops[0]
        value = when[op]
        if op in ("min", "max"):
            value = _number(value, f"{where} when.{op}", source)
        if op == "in" and (not isinstance(value, list) or not value):
            raise SpecError(f"{source}: {where} when.in must be a non-empty list")
        if op == "present" and not isinstance(value, bool):
            raise SpecError(f"{source}: {where} when.present must be true or false")
        default_name = f"{column} {op} {value!r}" if op != "equals" else f"{column} = {value!r}"
        name = r.get("name", default_name)
        rules.append(
            Rule(
                tier=tier,
                column=column,
                op=op,
                value=value,
                name=_str(name, f"{where} name", source),
            )
        )
    return tuple(rules)


def _parse_fairness(
    raw: Any, names: tuple[str, ...], protected: tuple[str, ...], source: str
) -> FairnessSpec | None:
    if raw is None:
        return None
    f = _check_keys(raw, "fairness", "[fairness]", source)
    if not protected:
        raise SpecError(
            f"{source}: [fairness] checks the tiers per group of the [features] protected "
            f"columns, and the spec declares none; list them or remove [fairness]"
        )
    min_ratio = _number(f.get("min_ratio", 0.8), "[fairness] min_ratio", source)
    if not 0.0 < min_ratio <= 1.0:
        raise SpecError(
            f"{source}: [fairness] min_ratio must be above 0 and at most 1 (0.8 is the "
            f"four-fifths rule), got {min_ratio:g}"
        )
    min_group = f.get("min_group", 30)
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 1:
        raise SpecError(
            f"{source}: [fairness] min_group must be a whole number of customers >= 1, "
            f"got {min_group!r}"
        )
    tiers: tuple[str, ...] | None = None
    if "tiers" in f:
        value = f["tiers"]
        if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
            raise SpecError(
                f"{source}: [fairness] tiers must be a non-empty list of tier names, got {value!r}"
            )
        unknown = [t for t in value if t not in names]
        if unknown:
            raise SpecError(
                f"{source}: [fairness] tiers names '{unknown[0]}', which is not one of "
                f"[tiers] names {list(names)}"
            )
        dupes = sorted({t for t in value if value.count(t) > 1})
        if dupes:
            raise SpecError(f"{source}: tier '{dupes[0]}' is listed twice in [fairness] tiers")
        tiers = tuple(value)
    return FairnessSpec(min_ratio=min_ratio, min_group=min_group, tiers=tiers)


def _parse_transactions(raw: Any, source: str) -> TransactionsSpec | None:
    if raw is None:
        return None
    t = _check_keys(raw, "transactions", "[transactions]", source)
    for key in ("customer", "time", "amount", "as_of", "horizon_days"):
        if key not in t:
            raise SpecError(f"{source}: [transactions] {key} is required")
    as_of = t["as_of"]
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    elif isinstance(as_of, str):
        try:
            as_of = dt.date.fromisoformat(as_of)
        except ValueError as exc:
            raise SpecError(
                f"{source}: [transactions] as_of must be a date like 2026-06-30, got {as_of!r}"
            ) from exc
    elif not isinstance(as_of, dt.date):
        raise SpecError(
            f"{source}: [transactions] as_of must be a date like 2026-06-30, got {as_of!r}"
        )
    horizon = t["horizon_days"]
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise SpecError(
            f"{source}: [transactions] horizon_days must be a whole number of days >= 1, got {horizon!r}"
        )
    return TransactionsSpec(
        customer=_str(t["customer"], "[transactions] customer", source),
        time=_str(t["time"], "[transactions] time", source),
        amount=_str(t["amount"], "[transactions] amount", source),
        as_of=as_of,
        horizon_days=horizon,
    )


def _check_roles(spec: Spec, source: str) -> None:
    """A column may play one role only; protected columns never feed the model or a rule."""
    roles: dict[str, str] = {}

    def claim(col: str, role: str) -> None:
        if col in roles and roles[col] != role:
            raise SpecError(
                f"{source}: column '{col}' is declared both {roles[col]} and {role}; give it one role"
            )
        roles[col] = role

    claim(spec.id, "[data] id")
    if spec.time:
        claim(spec.time, "[data] time")
    if spec.target_column:
        claim(spec.target_column, "[target] column")
    if spec.treatment is not None:
        claim(spec.treatment.column, "[treatment] column")
    for col in spec.protected:
        claim(col, "[features] protected")
    for col in spec.drop:
        claim(col, "[features] drop")
    for name, cols in (
        ("categorical", spec.categorical),
        ("numeric", spec.numeric),
        ("boolean", spec.boolean),
    ):
        for col in cols:
            if col in spec.protected:
                raise SpecError(
                    f"{source}: column '{col}' is protected and must never be a model input; "
                    f"remove it from [features] {name}"
                )
            claim(col, f"[features] {name}")
    if spec.transactions:
        tx = spec.transactions
        for col in (tx.customer, tx.time, tx.amount):
            if col in roles and not (col == spec.id and col == tx.customer):
                raise SpecError(
                    f"{source}: column '{col}' is a [transactions] column and also {roles[col]}"
                )
        if tx.customer != spec.id:
            raise SpecError(
                f"{source}: [transactions] customer '{tx.customer}' must equal [data] id '{spec.id}' "
                f"(the scored output is one row per customer)"
            )
        clash = sorted(set(TRANSACTION_FEATURES) & set(spec.categorical + spec.boolean))
        if clash:
            raise SpecError(
                f"{source}: '{clash[0]}' is a feature built from the transaction log; do not redeclare it"
            )
    for rule in spec.rules:
        if rule.column in spec.protected:
            raise SpecError(
                f"{source}: rule for tier '{rule.tier}' uses protected column '{rule.column}'; "
                f"protected columns must never drive a tier"
            )
        if spec.treatment is not None and rule.column == spec.treatment.column:
            raise SpecError(
                f"{source}: rule for tier '{rule.tier}' uses the arm column '{rule.column}'; "
                f"scoring never reads the arm, so it cannot drive a tier"
            )
        if rule.column in (spec.target_column, *spec.drop):
            raise SpecError(
                f"{source}: rule for tier '{rule.tier}' uses column '{rule.column}', which is {roles[rule.column]}"
            )
    if not spec.feature_columns:
        raise SpecError(
            f"{source}: [features] declares no model inputs; list categorical, numeric or boolean columns"
        )


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
