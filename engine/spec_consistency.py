"""Checks that span a spec's tables: the target and its log or experiment, the tiers' cuts
and rules, fairness, monotone features, labels, and one role per column.

``SpecFile`` runs ``check_consistency`` once every table reads well on its own; each
check raises ``refuse`` with a message that names the table and key at fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tierline.engine.spec_schema import TRANSACTION_FEATURES
from tierline.engine.tables import refuse

if TYPE_CHECKING:
    from tierline.engine.spec_schema import FairnessTable, SpecFile, TiersTable

__all__ = ["check_consistency"]


def check_consistency(spec: SpecFile) -> None:
    """Refuse the first inconsistency between tables, in the order a person reads them."""
    _target(spec)
    _tiers(spec.tiers, kind=str(spec.target.kind), money=spec.treatment is not None)
    if spec.fairness is not None:
        _fairness(spec.fairness, spec.tiers.names, spec.features.protected)
    f = spec.features
    _monotone(f.monotone, numeric=(*f.numeric, *f.boolean))
    _labels(spec.labels, numeric=f.numeric, known=(*f.categorical, *f.numeric, *f.boolean))
    _roles(spec)


def _target(spec: SpecFile) -> None:
    kind, tx, treatment = spec.target.kind, spec.transactions, spec.treatment
    if tx is None and spec.target.column is None:
        raise refuse("[target] column is required (the column holding the label)")
    if tx is not None and kind == "class":
        raise refuse(
            "a transaction log yields an amount, so [target] kind must be 'value' "
            "or 'binary' with [transactions], not 'class'"
        )
    if kind == "binary" and tx is None and spec.target.positive is None:
        raise refuse(
            "[target] positive is required for kind = 'binary' (the value that counts as yes)"
        )
    if treatment is None:
        return
    if kind == "class":
        raise refuse(
            "[treatment] learns the uplift of a binary or value target; [target] kind is 'class'"
        )
    value = treatment.value
    if kind == "binary":
        if value is None:
            raise refuse(
                "[treatment] value is required for a binary target "
                "(the money one positive outcome brings)"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise refuse(f"[treatment] value must be a positive number, got {value!r}")
    elif value is not None:
        raise refuse(
            "[treatment] value applies to binary targets; a value target is "
            "money already, so remove it"
        )
    if tx is not None:
        raise refuse(
            "[treatment] reads a customer table with one arm per customer; "
            "it cannot be combined with [transactions]"
        )


def _tiers(tiers: TiersTable, *, kind: str, money: bool) -> None:
    names, default = tiers.names, tiers.default
    if default not in names:
        raise refuse(f"[tiers] default '{default}' is not one of [tiers] names {list(names)}")
    if tiers.cuts and kind == "class":
        raise refuse(
            "[tiers] cuts apply to binary and value targets; a class target predicts tiers directly"
        )
    if kind != "class" and not tiers.cuts:
        raise refuse(
            f"a {kind} target needs [tiers] cuts, e.g. "
            f'cuts = [{{ tier = "{names[0]}", top_fraction = 0.10 }}]'
        )
    for i, cut in enumerate(tiers.cuts):
        where = f"[tiers] cuts[{i}]"
        if cut.tier not in names:
            raise refuse(f"{where}.tier '{cut.tier}' is not one of [tiers] names {list(names)}")
        if cut.tier == default:
            raise refuse(
                f"{where}.tier '{cut.tier}' is the default tier, which gets everyone below the cuts"
            )
        score = cut.min_score
        # With [treatment] the cuts are on the best arm's net value (money), not a probability.
        if score is not None and kind == "binary" and not money and not 0.0 <= score <= 1.0:
            raise refuse(f"{where}.min_score must be a probability between 0 and 1, got {score}")
    seen = [c.tier for c in tiers.cuts]
    if len(set(seen)) != len(seen):
        raise refuse("[tiers] cuts name a tier twice")
    total = sum(c.top_fraction for c in tiers.cuts if c.top_fraction is not None)
    if total >= 1.0:
        raise refuse(
            f"[tiers] cuts top_fraction values add up to {total:g}; they must leave room for the default tier"
        )
    for i, rule in enumerate(tiers.rules):
        if rule.tier not in names:
            raise refuse(
                f"[[tiers.rules]] #{i + 1} tier '{rule.tier}' is not one of [tiers] names {list(names)}"
            )


def _fairness(fairness: FairnessTable, names: tuple[str, ...], protected: tuple[str, ...]) -> None:
    if not protected:
        raise refuse(
            "[fairness] checks the tiers per group of the [features] protected "
            "columns, and the spec declares none; list them or remove [fairness]"
        )
    value = fairness.tiers
    if value is None:
        return
    unknown = [t for t in value if t not in names]
    if unknown:
        raise refuse(
            f"[fairness] tiers names '{unknown[0]}', which is not one of [tiers] names {list(names)}"
        )
    dupes = sorted({t for t in value if value.count(t) > 1})
    if dupes:
        raise refuse(f"tier '{dupes[0]}' is listed twice in [fairness] tiers")


def _monotone(raw: dict[str, Any], *, numeric: tuple[str, ...]) -> None:
    """Numeric or boolean model inputs, each 1 (the score only rises with it) or -1."""
    for name, direction in raw.items():
        if name not in numeric:
            raise refuse(
                f"[features] monotone names '{name}', which is not a numeric or "
                f"boolean feature; only those can be constrained"
            )
        if isinstance(direction, bool) or direction not in (1, -1):
            raise refuse(
                f"[features] monotone {name} = {direction!r}; use 1 (the score rises "
                f"with it) or -1 (it falls)"
            )


def _labels(raw: dict[str, Any], *, numeric: tuple[str, ...], known: tuple[str, ...]) -> None:
    """Each label is a text with one ``{value}`` field, tried on a sample value now so that
    a broken label is refused here, not in front of a guest."""
    for name, text in raw.items():
        if name not in known:
            raise refuse(
                f"[labels] names '{name}', which is not a feature; reasons only name features"
            )
        if not isinstance(text, str) or "{value" not in text:
            raise refuse(
                f"[labels] {name} must be text holding {{value}}, such as "
                f'"spent {{value:,.0f}} € in the last year"'
            )
        sample: Any = 1234.5 if name in numeric else "sample"
        try:
            text.format(value=sample)
        except (ValueError, KeyError, IndexError, AttributeError) as exc:
            raise refuse(
                f"[labels] {name} = {text!r} cannot show a "
                f"{'number' if name in numeric else 'text'} ({exc}); use {{value}} alone or a "
                f"number format such as {{value:,.0f}} for numbers"
            ) from None


def _roles(spec: SpecFile) -> None:
    """A column may play one role only; protected columns never feed the model or a rule."""
    roles: dict[str, str] = {}

    def claim(col: str, role: str) -> None:
        if col in roles and roles[col] != role:
            raise refuse(
                f"column '{col}' is declared both {roles[col]} and {role}; give it one role"
            )
        roles[col] = role

    f, target, treatment, tx = spec.features, spec.target, spec.treatment, spec.transactions
    claim(spec.data.id, "[data] id")
    if spec.data.time:
        claim(spec.data.time, "[data] time")
    if target.column:
        claim(target.column, "[target] column")
    if treatment is not None:
        claim(treatment.column, "[treatment] column")
    for col in f.protected:
        claim(col, "[features] protected")
    for col in f.drop:
        claim(col, "[features] drop")
    for name, cols in (
        ("categorical", f.categorical),
        ("numeric", f.numeric),
        ("boolean", f.boolean),
    ):
        for col in cols:
            if col in f.protected:
                raise refuse(
                    f"column '{col}' is protected and must never be a model input; "
                    f"remove it from [features] {name}"
                )
            claim(col, f"[features] {name}")
    if tx is not None:
        for col in (tx.customer, tx.time, tx.amount):
            if col in roles and not (col == spec.data.id and col == tx.customer):
                raise refuse(f"column '{col}' is a [transactions] column and also {roles[col]}")
        if tx.customer != spec.data.id:
            raise refuse(
                f"[transactions] customer '{tx.customer}' must equal [data] id '{spec.data.id}' "
                f"(the scored output is one row per customer)"
            )
        clash = sorted(set(TRANSACTION_FEATURES) & set(f.categorical + f.boolean))
        if clash:
            raise refuse(
                f"'{clash[0]}' is a feature built from the transaction log; do not redeclare it"
            )
    for rule in spec.tiers.rules:
        column, tier = rule.when.column, rule.tier
        if column in f.protected:
            raise refuse(
                f"rule for tier '{tier}' uses protected column '{column}'; "
                f"protected columns must never drive a tier"
            )
        if treatment is not None and column == treatment.column:
            raise refuse(
                f"rule for tier '{tier}' uses the arm column '{column}'; "
                f"scoring never reads the arm, so it cannot drive a tier"
            )
        if column in (target.column, *f.drop):
            raise refuse(f"rule for tier '{tier}' uses column '{column}', which is {roles[column]}")
    if not (f.categorical or f.numeric or f.boolean or tx is not None):
        raise refuse(
            "[features] declares no model inputs; list categorical, numeric or boolean columns"
        )
