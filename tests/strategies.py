"""Hypothesis strategies shared by the property tests: raw signal values as CRM exports and
JSON requests deliver them (numbers, numeric text, booleans in many spellings, missing
markers, unicode, unseen categories), and edge values for the HTTP attack (with the JSON
writer that puts them on the wire as raw tokens)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

CATEGORIES = ["spring_menu", "Café Crème", "Zürich", "none", "12", " padded ", "UPPER"]

missing_values = st.sampled_from([None, float("nan"), "", "NA", "n/a", "null", " "])

category_values: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(CATEGORIES),
    st.text(min_size=1, max_size=8),  # mostly unseen categories, unicode included
    st.integers(min_value=-5, max_value=20),
    st.floats(min_value=0, max_value=20).map(float),
    missing_values,
)

number_values: st.SearchStrategy[Any] = st.one_of(
    st.floats(allow_nan=True, allow_infinity=False, width=64),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: f" {x!r} "),
    st.booleans(),
    missing_values,
)

bool_values: st.SearchStrategy[Any] = st.one_of(
    st.booleans(),
    st.sampled_from(["yes", "No", "TRUE", "false", "1", "0", "y", "N", 1, 0, 1.0, 0.0]),
    missing_values,
)


@dataclass(frozen=True)
class Amount:
    """An amount in cents and how a spreadsheet wrote it."""

    cents: int
    text: str
    decimal: str


@st.composite
def amounts(draw: st.DrawFn) -> Amount:
    """Amounts as CRM exports write money: a currency symbol before or after, thousands
    grouped by the other mark or by a space, under a decimal point or a decimal comma."""
    cents = draw(st.integers(min_value=-(10**9), max_value=10**9))
    decimal = draw(st.sampled_from([".", ","]))
    group = draw(st.sampled_from(["", " ", "," if decimal == "." else "."]))
    whole = f"{abs(cents) // 100:,}".replace(",", group)
    number = f"{'-' if cents < 0 else ''}{whole}{decimal}{abs(cents) % 100:02d}"
    symbol = draw(st.sampled_from(["", "€", "$", "£"]))
    text = draw(st.sampled_from([f"{symbol}{number}", f"{number} {symbol}".strip()]))
    if symbol and text.startswith(symbol) and cents < 0:
        text = f"-{symbol}{number[1:]}"
    return Amount(cents=cents, text=text, decimal=decimal)


def records(
    categorical: list[str], numeric: list[str], boolean: list[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """Signal dicts over the given columns; any key may be absent."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    fields.update({c: category_values for c in categorical})
    fields.update({c: number_values for c in numeric})
    fields.update({c: bool_values for c in boolean})
    return st.fixed_dictionaries({}, optional=fields)


@dataclass(frozen=True)
class Raw:
    """JSON text written as it is: tokens ``json.dumps`` will not write, or nesting deeper
    than a Python encoder recurses."""

    text: str


DEPTH = 1000

edge_values: st.SearchStrategy[Any] = st.sampled_from(
    [
        "\u0000",
        "a\u0000b",
        Raw("9" * 400),
        Raw("-" + "9" * 400),
        Raw("1e400"),
        Raw("NaN"),
        Raw("Infinity"),
        Raw("-Infinity"),
        Raw("[" * DEPTH + "]" * DEPTH),
        Raw('{"a":' * DEPTH + "0" + "}" * DEPTH),
        "Zürich ☕ 𝄞 e\u0301",
        "\u202eevil\u202c",
        "\ufeff",
        "\ud800",  # a lone surrogate: valid JSON text, not valid unicode
        "\U0010ffff",
        "x" * 10_000,
    ]
)


def render_json(value: Any) -> str:
    """``value`` as JSON text, with each ``Raw`` written as it is."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{render_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(render_json(v) for v in value) + "]"
    return json.dumps(value)


# -- spec files --------------------------------------------------------------------------
column_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_é", min_size=1, max_size=8)

# What a TOML file can hold where a table, list or value is expected (no null in TOML).
toml_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-3, max_value=3),
        st.floats(min_value=-2, max_value=2),
        st.sampled_from(["", " ", "vip", "standard", "id", "2026-06-30", "{value}", "NA"]),
        st.dates(),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(column_names, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def spec_tables(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec as ``tomllib`` reads it: distinct columns in one role each, and tiers
    given by a class target or by cuts, with optional rules, fairness, monotone, labels."""
    names = draw(st.lists(column_names, min_size=8, max_size=12, unique=True))
    id_col, target_col, cat, num, flag, prot, drop, arm = names[:8]
    tiers = draw(st.lists(column_names, min_size=2, max_size=4, unique=True))
    kind = draw(st.sampled_from(["class", "binary", "value"]))
    spec: dict[str, Any] = {
        "data": {"id": id_col},
        "features": {
            "categorical": [cat],
            "numeric": [num],
            "boolean": [flag],
            "protected": [prot],
            "drop": [drop],
            "unknown_signals": draw(st.sampled_from(["ignore", "refuse"])),
        },
        "target": {"kind": kind, "column": target_col},
        "tiers": {
            "names": tiers,
            "default": tiers[-1],
            "min_confidence": draw(st.floats(min_value=0, max_value=1)),
        },
    }
    if kind == "binary":
        spec["target"]["positive"] = draw(st.booleans() | st.sampled_from(["yes", 1]))
    if kind != "class":
        cut: dict[str, Any] = {"tier": tiers[0]}
        if draw(st.booleans()):
            cut["top_fraction"] = draw(st.floats(min_value=0.01, max_value=0.9))
        else:
            cut["min_score"] = draw(st.floats(min_value=0, max_value=1))
        spec["tiers"]["cuts"] = [cut]
        if draw(st.booleans()):
            spec["treatment"] = {"column": arm, "control": draw(st.sampled_from(["hold", 0]))}
            spec["treatment"]["cost"] = {"coffee": draw(st.floats(min_value=0, max_value=9))}
            if kind == "binary":
                spec["treatment"]["value"] = draw(st.floats(min_value=0.5, max_value=99))
    if draw(st.booleans()):
        op, value = draw(
            st.sampled_from(
                [("equals", True), ("in", ["a", 2]), ("min", 3), ("max", 2.5), ("present", False)]
            )
        )
        rule: dict[str, Any] = {"tier": tiers[0], "when": {"column": cat, op: value}}
        if draw(st.booleans()):
            rule["name"] = "a rule"
        spec["tiers"]["rules"] = [rule]
    if draw(st.booleans()):
        spec["fairness"] = {"min_ratio": 0.8, "min_group": draw(st.integers(1, 99))}
        spec["fairness"]["tiers"] = tiers[:1]
    if draw(st.booleans()):
        spec["features"]["monotone"] = {num: draw(st.sampled_from([1, -1]))}
        spec["labels"] = {num: "spent {value:,.0f} €", cat: "came from {value}"}
    return spec


@st.composite
def mangled_spec_tables(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec with one key somewhere replaced, removed or added."""
    spec = draw(spec_tables())
    node: Any = spec
    while True:  # walk down to a table, stopping on the way at random
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys)) if keys else None
        child = node[key] if key is not None else None
        if key is None or not isinstance(child, dict | list) or draw(st.booleans()):
            break
        node = child
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if isinstance(node, dict) and (action == "add" or key is None):
        node[draw(column_names)] = draw(toml_values)
    elif isinstance(node, dict) and action == "remove":
        del node[key]
    elif key is not None:
        node[key] = draw(toml_values)
    return spec
