"""The spec's [treatment] table: read, kept in the artifact, and every inconsistency refused."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tierline.engine.errors import SpecError
from tierline.engine.spec import Spec, load_spec, parse_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE: dict[str, Any] = {
    "data": {"id": "id"},
    "features": {"categorical": ["campaign"], "numeric": ["visits"], "protected": ["age"]},
    "target": {"kind": "binary", "column": "returned", "positive": True},
    "treatment": {
        "column": "perk",
        "control": "holdout",
        "cost": {"coffee": 1.5},
        "value": 40.0,
    },
    "tiers": {
        "names": ["treat", "hold"],
        "default": "hold",
        "cuts": [{"tier": "treat", "top_fraction": 0.3}],
    },
}


def with_treatment(**changes: Any) -> dict[str, Any]:
    """BASE with [treatment] keys replaced (None removes one)."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            data["treatment"].pop(key, None)
        else:
            data["treatment"][key] = value
    return data


def test_uplift_example_parses_and_round_trips() -> None:
    """examples/uplift.toml is valid and its [treatment] survives to_dict/from_dict."""
    spec = load_spec(EXAMPLES / "uplift.toml")
    assert spec.treatment is not None
    assert spec.treatment.column == "perk" and spec.treatment.control == "holdout"
    assert spec.treatment.cost_of("dessert") == 4.0 and spec.treatment.value == 40.0
    assert Spec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["treatment"]["cost"] == {"coffee": 1.5, "dessert": 4.0}


def test_training_reads_the_arm_and_scoring_does_not() -> None:
    """The arm column is an input of training only, like the target."""
    spec = parse_spec(BASE)
    assert "perk" in spec.input_columns(with_target=True)
    assert "perk" not in spec.input_columns(with_target=False)
    assert "perk" not in spec.feature_columns


def test_costs_default_to_zero_and_a_whole_number_control_reads_as_text() -> None:
    """An arm without a cost costs nothing; control = 0 matches the text '0' of a CSV."""
    spec = parse_spec(with_treatment(control=0, cost=None))
    assert spec.treatment is not None
    assert spec.treatment.control == "0" and spec.treatment.cost_of("anything") == 0.0


def test_cuts_apply_to_net_value_so_binary_min_score_may_exceed_one() -> None:
    """With [treatment] the cuts are money, so a binary target's min_score is not a probability."""
    data = copy.deepcopy(BASE)
    data["tiers"]["cuts"] = [{"tier": "treat", "min_score": 2.5}]
    assert parse_spec(data).cuts[0].min_score == 2.5


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (
            with_treatment(column="visits"),
            "declared both [treatment] column and [features] numeric",
        ),
        (with_treatment(column="returned"), "declared both [target] column and [treatment] column"),
        (with_treatment(column="age"), "declared both [treatment] column and [features] protected"),
        (with_treatment(column=""), "[treatment] column must be a non-empty string"),
        (with_treatment(control=None), "[treatment] control must name the randomized control arm"),
        (with_treatment(control="NA"), "does not read as missing"),
        (with_treatment(cost={"holdout": 1.0}), "cost names the control arm 'holdout'"),
        (with_treatment(cost={"coffee": -1}), "cost of 'coffee' must be a number >= 0"),
        (with_treatment(cost=3), "[treatment] cost must be a table"),
        (with_treatment(value=None), "[treatment] value is required for a binary target"),
        (with_treatment(value=0), "[treatment] value must be a positive number"),
        (with_treatment(arm="perk"), "unknown key 'arm' in [treatment]"),
    ],
)
def test_inconsistent_treatment_is_refused_by_name(data: dict[str, Any], needle: str) -> None:
    """Each mistake in [treatment] raises a SpecError that names it."""
    with pytest.raises(SpecError) as info:
        parse_spec(data, source="s.toml")
    assert needle in str(info.value)


def test_value_targets_take_no_value_and_class_targets_no_treatment() -> None:
    """A value target is money already; a class target has no uplift to learn."""
    value = copy.deepcopy(BASE)
    value["target"] = {"kind": "value", "column": "spend"}
    with pytest.raises(SpecError, match="a value target is money already"):
        parse_spec(value)
    del value["treatment"]["value"]
    assert parse_spec(value).treatment is not None
    klass = copy.deepcopy(BASE)
    klass["target"] = {"kind": "class", "column": "tier"}
    klass["tiers"] = {"names": ["treat", "hold"], "default": "hold"}
    with pytest.raises(SpecError, match="\\[target\\] kind is 'class'"):
        parse_spec(klass)


def test_a_rule_on_the_arm_and_a_transaction_log_are_refused() -> None:
    """Scoring never reads the arm, so no rule may use it; a log has no arm per customer."""
    ruled = copy.deepcopy(BASE)
    ruled["tiers"]["rules"] = [{"tier": "treat", "when": {"column": "perk", "equals": "coffee"}}]
    with pytest.raises(SpecError, match="uses the arm column 'perk'"):
        parse_spec(ruled)
    logged = copy.deepcopy(BASE)
    logged["target"] = {"kind": "value"}
    del logged["treatment"]["value"]
    logged["transactions"] = {
        "customer": "id",
        "time": "at",
        "amount": "amount",
        "as_of": "2026-06-30",
        "horizon_days": 90,
    }
    with pytest.raises(SpecError, match="cannot be combined with \\[transactions\\]"):
        parse_spec(logged)


def test_a_binary_treatment_spec_without_cuts_is_told_so_in_its_own_kind() -> None:
    """The missing-cuts refusal of a binary [treatment] spec names the binary target."""
    data = copy.deepcopy(BASE)
    del data["tiers"]["cuts"]
    with pytest.raises(SpecError, match="a binary target needs \\[tiers\\] cuts"):
        parse_spec(data)
