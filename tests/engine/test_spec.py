"""The spec file contract: examples parse, and every inconsistency is refused by name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tierline.engine.errors import SpecError
from tierline.engine.spec import TRANSACTION_FEATURES, Spec, load_spec, parse_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE: dict[str, Any] = {
    "data": {"id": "id", "time": "signup"},
    "features": {
        "categorical": ["campaign"],
        "numeric": ["visits"],
        "boolean": ["student"],
        "protected": ["age"],
    },
    "target": {"kind": "class", "column": "tier"},
    "tiers": {
        "names": ["vip", "standard", "student"],
        "default": "standard",
        "min_confidence": 0.4,
        "rules": [{"tier": "student", "when": {"column": "student", "equals": True}}],
    },
}


def spec_with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node = data
        *path, last = dotted.split("__")
        for key in path:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return data


@pytest.mark.parametrize("name", ["demo", "binary", "value", "transactions"])
def test_examples_parse_and_round_trip(name: str) -> None:
    """Every shipped example is a valid spec and survives the artifact's to_dict/from_dict."""
    spec = load_spec(EXAMPLES / f"{name}.toml")
    again = Spec.from_dict(spec.to_dict())
    assert again == spec


@pytest.mark.parametrize("mode", ["ignore", "refuse"])
def test_unknown_signals_mode_is_read_and_kept_in_the_artifact(mode: str) -> None:
    """``[features] unknown_signals`` defaults to ignore, and a chosen mode survives the
    artifact's to_dict/from_dict."""
    assert parse_spec(spec_with()).unknown_signals == "ignore"
    spec = parse_spec(spec_with(features__unknown_signals=mode))
    assert spec.unknown_signals == mode
    assert Spec.from_dict(spec.to_dict()).unknown_signals == mode


def test_transaction_spec_adds_log_features() -> None:
    """A transaction log spec feeds the RFM features to the model before declared numbers."""
    spec = load_spec(EXAMPLES / "transactions.toml")
    assert spec.model_numeric[: len(TRANSACTION_FEATURES)] == TRANSACTION_FEATURES
    assert spec.transactions is not None and spec.transactions.horizon_days == 90


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"data__colour": "x"}, "unknown key 'colour' in [data]"),
        ({"extra": {"a": 1}}, "unknown key 'extra'"),
        ({"data__id": None}, "[data] id is required"),
        ({"target__kind": "rank"}, "[target] kind must be one of"),
        ({"target__column": None}, "[target] column is required"),
        ({"tiers__default": "gold"}, "default 'gold' is not one of"),
        ({"tiers__names": ["vip"]}, "at least two tiers"),
        ({"tiers__min_confidence": 1.5}, "min_confidence must be between 0 and 1"),
        ({"features__numeric": ["visits", "age"]}, "column 'age' is protected"),
        ({"features__categorical": ["campaign", "visits"]}, "column 'visits' is declared both"),
        ({"features__drop": ["campaign"]}, "column 'campaign' is declared both"),
        ({"features__numeric": ["tier"]}, "column 'tier' is declared both"),
        ({"tiers__cuts": [{"tier": "vip", "top_fraction": 0.1}]}, "cuts apply to binary and value"),
        (
            {"tiers__rules": [{"tier": "student", "when": {"column": "age", "equals": "18-24"}}]},
            "protected column 'age'",
        ),
        (
            {"tiers__rules": [{"tier": "gold", "when": {"column": "student", "equals": True}}]},
            "tier 'gold' is not one of",
        ),
        ({"tiers__rules": [{"tier": "student", "when": {"column": "student"}}]}, "exactly one of"),
        ({"features__numeric": "visits"}, "must be a list of column names"),
        ({"features__numeric": ["visits", "visits"]}, "listed twice"),
        (
            {"features__unknown_signals": "reject"},
            "[features] unknown_signals must be one of 'ignore', 'refuse', got 'reject'",
        ),
        ({"features__unknown_signals": True}, "unknown_signals must be one of"),
    ],
)
def test_bad_specs_are_refused_by_name(changes: dict[str, Any], needle: str) -> None:
    """Each inconsistency raises SpecError with a message naming the key or column."""
    with pytest.raises(SpecError) as info:
        parse_spec(spec_with(**changes))
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("cuts", "needle"),
    [
        ([{"tier": "vip", "top_fraction": 1.2}], "top_fraction must be between 0 and 1"),
        ([{"tier": "vip", "top_fraction": 0.0}], "top_fraction must be between 0 and 1"),
        ([{"tier": "vip", "min_score": 1.5}], "min_score must be a probability"),
        ([{"tier": "standard", "top_fraction": 0.1}], "is the default tier"),
        (
            [{"tier": "vip", "top_fraction": 0.6}, {"tier": "student", "top_fraction": 0.5}],
            "add up to",
        ),
        ([{"tier": "vip"}], "exactly one of top_fraction or min_score"),
        ([], "needs [tiers] cuts"),
    ],
)
def test_cut_points_out_of_range_are_refused(cuts: list[dict[str, Any]], needle: str) -> None:
    """Binary targets need sane cut-points: fractions in (0, 1), probabilities in [0, 1]."""
    data = spec_with(target__kind="binary", target__positive=True, tiers__cuts=cuts)
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    assert needle in str(info.value)


def test_binary_needs_positive() -> None:
    """A binary target without `positive` is refused, naming the key."""
    data = spec_with(target__kind="binary", tiers__cuts=[{"tier": "vip", "top_fraction": 0.1}])
    with pytest.raises(SpecError, match="positive is required"):
        parse_spec(data)


def test_check_columns_names_the_missing_column() -> None:
    """A declared column absent from the data is named together with its role and the file."""
    spec = parse_spec(BASE)
    with pytest.raises(SpecError) as info:
        spec.check_columns(
            ["id", "signup", "campaign", "student", "tier"], source="crm.csv", with_target=True
        )
    assert (
        "'visits'" in str(info.value)
        and "numeric" in str(info.value)
        and "crm.csv" in str(info.value)
    )
    spec.check_columns(
        ["id", "signup", "campaign", "visits", "student"], source="crm.csv", with_target=False
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [("[data\nid=1", "not valid TOML"), ("", "[data] section is required")],
)
def test_unreadable_spec_files(tmp_path: Path, text: str, needle: str) -> None:
    """Syntax errors and empty files are refused with the file named."""
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_spec(path)


def test_missing_spec_file(tmp_path: Path) -> None:
    """A spec path that does not exist is refused by name."""
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")
