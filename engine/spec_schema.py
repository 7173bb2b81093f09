"""The spec file's tables as pydantic models: which keys each table has and what each holds.

Checks that span tables (a cut's tier is one of the names, a column plays one role) live
in ``engine.spec_consistency``; ``SpecFile`` runs them once every table reads well.
``spec_refusal`` words any refusal as the file's place and what is wrong there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from tierline.engine.tables import Loc, Table, phrased, refusal, refuse, refuse_value
from tierline.engine.values import category_text

__all__ = [
    "RULE_OPS",
    "TARGET_KINDS",
    "TRANSACTION_FEATURES",
    "UNKNOWN_SIGNAL_MODES",
    "CutTable",
    "RuleTable",
    "SpecFile",
    "spec_refusal",
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

Name = Annotated[str, Field(min_length=1)]


def _column_names(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    # Refused as "[features].numeric": the table's title, then the key.
    where = f"{(info.config or {}).get('title')}.{info.field_name}"
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise refuse(f"{where} must be a list of column names, got {value!r}")
    dupes = sorted({v for v in value if value.count(v) > 1})
    if dupes:
        raise refuse(f"column '{dupes[0]}' is listed twice in {where}")
    return tuple(value)


# A list of distinct non-empty names, read as a tuple.
ColumnList = Annotated[tuple[str, ...], PlainValidator(_column_names)]


class DataTable(Table):
    """``[data]``: the column naming each customer, and an optional time column."""

    id: Name
    time: Name | None = None


class FeaturesTable(Table, title="[features]"):
    """``[features]``: the model's inputs by kind, and columns kept out of it."""

    categorical: ColumnList = ()
    numeric: ColumnList = ()
    boolean: ColumnList = ()
    drop: ColumnList = ()
    protected: ColumnList = ()
    unknown_signals: Annotated[
        Literal["ignore", "refuse"],
        phrased(
            lambda v: (
                "must be one of "
                + ", ".join(repr(m) for m in UNKNOWN_SIGNAL_MODES)
                + f", got {v!r}"
            )
        ),
    ] = "ignore"
    monotone: Annotated[
        dict[str, Any],
        phrased(lambda v: "must be a table such as { visits_90d = 1, days_since_last_visit = -1 }"),
    ] = Field(default_factory=dict)


class TargetTable(Table):
    """``[target]``: what the model predicts."""

    kind: Annotated[
        Literal["class", "binary", "value"],
        phrased(lambda v: f"must be one of {', '.join(TARGET_KINDS)}, got {v!r}"),
    ] = Field(None, validate_default=True)
    column: Name | None = None
    positive: Any = None


def _as_of(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise refuse_value(f"must be a date like 2026-06-30, got {value!r}")


class TransactionsTable(Table):
    """``[transactions]``: the data file is a log; features are built per customer."""

    customer: Name
    time: Name
    amount: Name
    as_of: Annotated[dt.date, PlainValidator(_as_of)]
    horizon_days: Annotated[
        int,
        Field(ge=1),
        phrased(lambda v: f"must be a whole number of days >= 1, got {v!r}"),
    ]


def _control(value: Any) -> str:
    # The arm column is read as text, where "none", "NA" or "" mean missing; such a value
    # can name no arm.
    ok = isinstance(value, str | int) and not isinstance(value, bool)
    text = category_text(value) if ok else None
    if not text:
        raise refuse_value(
            "must name the randomized control arm (text or a whole number that does not "
            f"read as missing), got {value!r}"
        )
    return text


class TreatmentTable(Table):
    """``[treatment]``: the arm column of a randomized experiment, its control and costs."""

    column: Annotated[
        str,
        Field(min_length=1),
        phrased(
            lambda v: (
                f"must be a non-empty string (the column holding each customer's arm), got {v!r}"
            )
        ),
    ] = Field(None, validate_default=True)
    control: Annotated[str, PlainValidator(_control)] = Field(None, validate_default=True)
    cost: Annotated[
        dict[str, Any],
        phrased(
            lambda v: (
                'must be a table of arm = money per treated customer, e.g. cost = { "coffee" = 1.5 }'
            )
        ),
    ] = Field(default_factory=dict)
    value: Any = None  # checked against [target] kind

    @model_validator(mode="after")
    def _costs(self) -> TreatmentTable:
        for arm, amount in self.cost.items():
            if arm == self.control:
                raise refuse(
                    f"[treatment] cost names the control arm '{arm}'; the control is given "
                    f"nothing, so it costs nothing"
                )
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                raise refuse(f"[treatment] cost of '{arm}' must be a number >= 0, got {amount!r}")
        return self


class CutTable(Table):
    """One ``[tiers] cuts`` entry: the best-scored customers get ``tier``."""

    tier: Name = Field("", validate_default=True)
    top_fraction: float | None = None
    min_score: float | None = None

    @field_validator("top_fraction")
    @classmethod
    def _fraction(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 < value < 1.0:
            raise refuse_value(f"must be between 0 and 1 (exclusive), got {value}")
        return value

    @model_validator(mode="after")
    def _one_bound(self) -> CutTable:
        if ("top_fraction" in self.model_fields_set) == ("min_score" in self.model_fields_set):
            raise refuse_value("needs exactly one of top_fraction or min_score")
        return self


class WhenTable(Table):
    """A rule's condition: a column and exactly one test of it."""

    column: Name = Field("", validate_default=True)
    equals: Any = None
    in_: (
        Annotated[list[Any], Field(min_length=1), phrased(lambda v: "must be a non-empty list")]
        | None
    ) = Field(None, alias="in")
    min: float | None = None
    max: float | None = None
    present: bool | None = None

    @classmethod
    def _check_keys(cls, data: Mapping[str, Any]) -> None:
        if sum(op in data for op in RULE_OPS) != 1:
            raise refuse_value(f"needs exactly one of {', '.join(RULE_OPS)}")

    @property
    def ops(self) -> list[str]:
        given = {type(self).model_fields[f].alias or f for f in self.model_fields_set}
        return [op for op in RULE_OPS if op in given]

    @property
    def op(self) -> str:
        return self.ops[0]

    @property
    def value(self) -> Any:
        return getattr(self, "in_" if self.op == "in" else self.op)


class RuleTable(Table):
    """One ``[[tiers.rules]]`` entry: customers whose column passes ``when`` get ``tier``."""

    tier: Name = Field("", validate_default=True)
    when: WhenTable = Field(None, validate_default=True)
    name: Name | None = None


class TiersTable(Table, title="[tiers]"):
    """``[tiers]``: the tier names, the default, and how tiers are given."""

    names: ColumnList = Field([], validate_default=True)
    default: Name = Field("", validate_default=True)
    min_confidence: float = 0.0
    cuts: Annotated[list[CutTable], phrased(lambda v: "must be a list of tables", items=False)] = (
        Field(default_factory=list)
    )
    rules: Annotated[
        list[RuleTable], phrased(lambda v: "must be an array of tables", items=False)
    ] = Field(default_factory=list)

    @field_validator("names")
    @classmethod
    def _two_tiers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) < 2:
            raise refuse_value(f"must list at least two tiers, got {list(value)}")
        return value

    @field_validator("min_confidence")
    @classmethod
    def _confidence(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise refuse_value(f"must be between 0 and 1, got {value}")
        return value


class FairnessTable(Table):
    """``[fairness]``: the four-fifths rule's threshold, smallest group, tiers checked."""

    min_ratio: float = 0.8
    min_group: Annotated[
        int,
        Field(ge=1),
        phrased(lambda v: f"must be a whole number of customers >= 1, got {v!r}"),
    ] = 30
    tiers: (
        Annotated[
            list[str],
            Field(min_length=1),
            phrased(lambda v: f"must be a non-empty list of tier names, got {v!r}"),
        ]
        | None
    ) = None

    @field_validator("min_ratio")
    @classmethod
    def _ratio(cls, value: float) -> float:
        if not 0.0 < value <= 1.0:
            raise refuse_value(
                f"must be above 0 and at most 1 (0.8 is the four-fifths rule), got {value:g}"
            )
        return value


class SpecFile(Table):
    """A whole spec file; fields in the order a person reads (and is told about) them."""

    data: DataTable
    features: FeaturesTable = FeaturesTable()
    target: TargetTable
    transactions: TransactionsTable | None = None
    treatment: TreatmentTable | None = None
    tiers: TiersTable
    fairness: FairnessTable | None = None
    labels: Annotated[
        dict[str, Any], phrased(lambda v: 'must be a table of signal = "text with {value}"')
    ] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> SpecFile:
        # Imported here: the checks read this module's tables and names.
        from tierline.engine.spec_consistency import check_consistency

        check_consistency(self)
        return self


def spec_where(loc: Loc) -> str:
    """A place in a spec as its messages name it: "[tiers] cuts[0].tier", "[[tiers.rules]] #1"."""
    if not loc:
        return "the spec"
    head, *rest = loc
    if head == "tiers" and rest[:1] == ["rules"]:
        text = "[[tiers.rules]]" + (f" #{int(rest[1]) + 1}" if len(rest) > 1 else "")
        return text + (" " + ".".join(map(str, rest[2:])) if len(rest) > 2 else "")
    if head == "tiers" and rest[:1] == ["cuts"]:
        text = "[tiers] cuts" + (f"[{rest[1]}]" if len(rest) > 1 else "")
        return text + ("." + ".".join(map(str, rest[2:])) if len(rest) > 2 else "")
    return f"[{head}]" + (" " + ".".join(map(str, rest)) if rest else "")


def _missing(where: str, e: ErrorDetails) -> str:
    if len(e["loc"]) == 1:
        return f"the {where} section is required"
    if tuple(e["loc"]) == ("data", "id"):
        return f"{where} is required (the column that names each customer)"
    return f"{where} is required"


def _non_empty(where: str, e: ErrorDetails) -> str:
    return f"{where} must be a non-empty string, got {e['input']!r}"


def _table(where: str, e: ErrorDetails) -> str:
    return f"{where} must be a table, got {type(e['input']).__name__}"


_WORDING = {
    "missing": _missing,
    "string_type": _non_empty,
    "string_too_short": _non_empty,
    "float_type": lambda w, e: f"{w} must be a number, got {e['input']!r}",
    "bool_type": lambda w, e: f"{w} must be true or false",
    "model_type": _table,
    "dict_type": _table,
    "*": lambda w, e: f"{w}: {e['msg']}",
}


def spec_refusal(exc: ValidationError) -> str:
    """The first refusal in ``exc`` as today's spec messages word it (without the file)."""
    return refusal(exc, where=spec_where, wording=_WORDING)
