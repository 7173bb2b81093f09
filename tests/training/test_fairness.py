"""The fairness gate: rates per group, pooling, the four-fifths ratio, rule tiers, noise,
the `[fairness]` spec table, and the gate inside training."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import EXAMPLES, Trained
from tests.gate_data import copy_models
from tierline.engine.errors import SpecError
from tierline.engine.registry import Registry
from tierline.engine.spec import FairnessSpec, Spec, load_spec, parse_spec
from tierline.training.fairness import (
    MISSING,
    NO_REASON,
    OTHER,
    assess,
    format_fairness,
    gated_tiers,
    group_labels,
)
from tierline.training.report import render_report
from tierline.training.train import train

BASE: dict[str, Any] = {
    "data": {"id": "id"},
    "features": {"numeric": ["visits"], "boolean": ["student"], "protected": ["group"]},
    "target": {"kind": "class", "column": "tier"},
    "tiers": {
        "names": ["vip", "standard", "student"],
        "default": "standard",
        "rules": [{"tier": "student", "when": {"column": "student", "equals": True}}],
    },
}


def make_spec(fairness: dict[str, Any] | None = None, **features: Any) -> Spec:
    """The base spec, with a [fairness] table and [features] changes."""
    data = copy.deepcopy(BASE)
    data["features"].update(features)
    if fairness is not None:
        data["fairness"] = fairness
    return parse_spec(data, source="test.toml")


def customers(groups: dict[str, tuple[int, int]], *, ruled: int = 0) -> dict[str, Any]:
    """Rows per group: (rows, of which vip), the rest standard; plus ``ruled`` students
    (decided by the rule) in each group. Returns the frame, tiers and rules arrays."""
    names: list[str] = []
    tiers: list[str] = []
    rules: list[str | None] = []
    for group, (rows, vip) in groups.items():
        names += [group] * (rows + ruled)
        tiers += ["vip"] * vip + ["standard"] * (rows - vip) + ["student"] * ruled
        rules += [None] * rows + ["verified student"] * ruled
    return {
        "frame": pd.DataFrame({"group": names}),
        "tiers": np.asarray(tiers, dtype=object),
        "rules": np.asarray(rules, dtype=object),
    }


def tier_entry(result: dict[str, Any], tier: str, column: str = "group") -> dict[str, Any]:
    (col,) = [c for c in result["columns"] if c["column"] == column]
    (entry,) = [t for t in col["tiers"] if t["tier"] == tier]
    return dict(entry)


# -- rates and the ratio ------------------------------------------------------------------
def test_rates_best_lowest_and_ratio_per_group() -> None:
    """Each group's vip rate is its share of vip; the lowest ratio is the lowest rate over
    the best, naming both groups."""
    result = assess(spec=make_spec(), **customers({"a": (200, 40), "b": (100, 10)}))
    vip = tier_entry(result, "vip")
    assert vip["rates"] == {"a": 0.2, "b": 0.1}
    assert (vip["best_group"], vip["lowest_group"]) == ("a", "b")
    assert vip["lowest_ratio"] == pytest.approx(0.5)
    assert vip["refused"] and not result["passed"]
    assert "'vip' goes to group b at 0.50 of the rate of a" in result["why"]
    assert "--promote always --reason" in result["why"]
    assert result["columns"][0]["groups"] == [
        {"group": "a", "rows": 200},
        {"group": "b", "rows": 100},
    ]


def test_equal_rates_pass_and_the_threshold_is_read_from_the_spec() -> None:
    """A ratio of 0.75 fails the default four-fifths threshold and passes min_ratio 0.7."""
    rows = customers({"a": (1000, 200), "b": (1000, 150)})
    assert not assess(spec=make_spec(), **rows)["passed"]
    relaxed = assess(spec=make_spec({"min_ratio": 0.7}), **rows)
    assert relaxed["passed"] and relaxed["min_ratio"] == 0.7
    assert tier_entry(relaxed, "vip")["lowest_ratio"] == pytest.approx(0.75)


# -- groups --------------------------------------------------------------------------------
def test_small_groups_are_pooled_and_missing_values_form_their_own_group() -> None:
    """Groups under min_group rows are pooled into one group; a missing value, however
    written, is the "(missing)" group."""
    values = pd.Series(["a"] * 40 + ["b"] * 10 + ["c"] * 25 + [None] * 20 + ["n/a"] * 15)
    labels, order = group_labels(values, min_group=30)
    assert order == ["a", MISSING, OTHER]
    assert list(labels[:40]) == ["a"] * 40
    assert set(labels[40:75]) == {OTHER}
    assert set(labels[75:]) == {MISSING}


def test_a_numeric_column_with_many_values_is_cut_into_quantile_bands() -> None:
    """Ages read as text become four bands in numeric order; a few codes stay categories."""
    ages = pd.Series([str(a) for a in range(18, 98)] * 2)
    labels, order = group_labels(ages, min_group=1)
    assert order == ["18-37.75", "37.75-57.5", "57.5-77.25", "77.25-97"]
    assert labels[0] == "18-37.75" and labels[79] == "77.25-97"
    _, order = group_labels(pd.Series(["1", "2", "3"] * 10), min_group=1)
    assert order == ["1", "2", "3"]


# -- rule tiers, chosen tiers and noise ---------------------------------------------------
def test_rule_decided_rows_are_left_out_of_gated_tiers() -> None:
    """Students decided by the rule do not dilute a group's vip rate, and the rule's own
    tier is reported over everyone but never gated, however uneven."""
    rows = customers({"young": (100, 20), "old": (100, 20)}, ruled=0)
    young_students = customers({"young": (0, 0)}, ruled=300)
    result = assess(
        spec=make_spec(),
        frame=pd.concat([rows["frame"], young_students["frame"]], ignore_index=True),
        tiers=np.concatenate([rows["tiers"], young_students["tiers"]]),
        rules=np.concatenate([rows["rules"], young_students["rules"]]),
    )
    assert result["gated_tiers"] == ["vip", "standard"]
    assert tier_entry(result, "vip")["rates"] == {"old": 0.2, "young": 0.2}
    student = tier_entry(result, "student")
    assert not student["gated"] and student["lowest_ratio"] == 0.0 and not student["refused"]
    assert result["passed"], result["why"]


def test_fairness_tiers_choose_the_gated_tiers() -> None:
    """[fairness] tiers replaces the default (every tier no rule gives)."""
    assert gated_tiers(make_spec()) == ("vip", "standard")
    spec = make_spec({"tiers": ["standard"]})
    assert gated_tiers(spec) == ("standard",)
    result = assess(spec=spec, **customers({"a": (200, 40), "b": (200, 10)}))
    assert not tier_entry(result, "vip")["gated"] and result["passed"]


def test_a_low_ratio_on_too_few_customers_is_reported_not_refused() -> None:
    """One vip in 40 against three in 40 is a ratio of 0.33 that chance explains: passed,
    with a note; a tier with one measurable group is not measured."""
    result = assess(spec=make_spec(), **customers({"a": (40, 3), "b": (40, 1)}))
    vip = tier_entry(result, "vip")
    assert vip["lowest_ratio"] == pytest.approx(1 / 3) and not vip["refused"]
    assert "chance could explain" in vip["note"] and result["passed"]
    lone = assess(spec=make_spec(), **customers({"a": (400, 40), "b": (20, 0)}))
    assert "fewer than two groups" in tier_entry(lone, "vip")["note"] and lone["passed"]


def test_no_protected_column_in_the_data_passes_and_says_so() -> None:
    """A protected column the data lacks is named, not checked; no protected columns at all
    leaves nothing to gate."""
    rows = customers({"a": (50, 5)})
    rows["frame"] = rows["frame"].rename(columns={"group": "other"})
    result = assess(spec=make_spec(), **rows)
    assert result["passed"] and result["columns"] == [] and result["not_in_data"] == ["group"]
    bare = assess(spec=make_spec(protected=[]), **customers({"a": (50, 5)}))
    assert bare["passed"] and bare["why"] == "no protected columns"


def test_the_report_prints_each_tier_rate_per_group() -> None:
    """The text table names the column, each group with its rows and rates, the lowest
    ratio marked when refused, and the verdict."""
    text = format_fairness(assess(spec=make_spec(), **customers({"a": (200, 40), "b": (100, 10)})))
    lines = text.splitlines()
    assert any(line.split() == ["group", "rows", "vip", "standard", "student*"] for line in lines)
    assert any(line.split() == ["a", "200", "0.200", "0.800", "0.000"] for line in lines)
    assert any(line.split()[:3] == ["lowest", "ratio", "0.50!"] for line in lines)
    assert lines[-1].startswith("refused: 'vip' goes to group b")


# -- the [fairness] spec table ------------------------------------------------------------
@pytest.mark.parametrize(
    ("fairness", "message"),
    [
        ({"min_ratio": 0}, "min_ratio must be above 0 and at most 1"),
        ({"min_ratio": 1.5}, "min_ratio must be above 0 and at most 1"),
        ({"min_ratio": "high"}, "[fairness] min_ratio must be a number"),
        ({"min_group": 0}, "min_group must be a whole number"),
        ({"min_group": 2.5}, "min_group must be a whole number"),
        ({"min_group": True}, "min_group must be a whole number"),
        ({"tiers": ["gold"]}, "[fairness] tiers names 'gold'"),
        ({"tiers": []}, "tiers must be a non-empty list"),
        ({"tiers": ["vip", "vip"]}, "tier 'vip' is listed twice"),
        ({"min_ratios": 0.8}, "unknown key 'min_ratios' in [fairness]"),
    ],
)
def test_a_bad_fairness_table_is_refused_by_name(fairness: dict[str, Any], message: str) -> None:
    """Each bad [fairness] value is a SpecError naming the key."""
    with pytest.raises(SpecError) as info:
        make_spec(fairness)
    assert message in str(info.value)


def test_fairness_without_protected_columns_is_refused() -> None:
    """[fairness] with nothing protected has nothing to check, and says so."""
    with pytest.raises(SpecError, match="declares none"):
        make_spec({"min_ratio": 0.8}, protected=[])


def test_the_fairness_table_has_defaults_and_survives_the_artifact() -> None:
    """No table means none in the spec (the defaults apply); a table round-trips."""
    assert make_spec().fairness is None and FairnessSpec() == FairnessSpec(0.8, 30, None)
    spec = make_spec({"min_ratio": 0.9, "min_group": 50, "tiers": ["vip"]})
    assert spec.fairness == FairnessSpec(min_ratio=0.9, min_group=50, tiers=("vip",))
    assert Spec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["fairness"] == {"min_ratio": 0.9, "min_group": 50, "tiers": ["vip"]}


# -- the gate inside training ---------------------------------------------------------------
def test_a_proxy_for_age_is_refused_even_over_a_weaker_champion(
    fairness_data: dict[str, Path], gate_champion: Path, tmp_path: Path
) -> None:
    """With a champion the new version beats, a model whose neighbourhood stands in for age
    is written but not promoted; the metadata holds the refusal and its table."""
    registry = copy_models(gate_champion, tmp_path / "models")
    spec = load_spec(fairness_data["spec"])
    result = train(data_path=fairness_data["proxy"], spec=spec, models=registry.root, threads=1)
    assert result.gate["passed"] and result.gate["champion_version"] == "v0001", result.gate
    assert not result.promoted and registry.champion() == "v0001"
    fairness = registry.metadata(result.version)["fairness"]
    assert fairness == result.fairness and not fairness["passed"]
    vip = tier_entry(fairness, "vip", column="age_band")
    assert vip["refused"] and vip["lowest_ratio"] < 0.8
    assert vip["lowest_group"] in ("18-24", "25-34", "35-44")
    assert "the fairness gate refused" in result.why and "age_band" in result.why
    assert "fairness (four-fifths rule" in result.report


def test_promote_always_records_the_override_and_its_reason(
    fairness_data: dict[str, Path], tmp_path: Path
) -> None:
    """--promote always over a fairness refusal promotes, keeps the reason and time in the
    metadata and the history; without a reason a clear default is kept."""
    models = tmp_path / "models"
    spec = load_spec(fairness_data["spec"])
    reason = "hillside pricing reviewed by legal"
    result = train(
        data_path=fairness_data["proxy"],
        spec=spec,
        models=models,
        promote="always",
        reason=reason,
        threads=1,
    )
    registry = Registry(models)
    assert result.promoted and registry.champion() == result.version
    override = registry.metadata(result.version)["fairness"]["override"]
    assert override["reason"] == reason and override["at"].startswith("20")
    assert registry.history()[-1]["action"] == f"promote over the fairness gate: {reason}"
    again = train(
        data_path=fairness_data["proxy"], spec=spec, models=models, promote="always", threads=1
    )
    assert again.fairness["override"]["reason"] == NO_REASON


def test_a_fair_neighbourhood_passes_and_is_promoted(
    fairness_data: dict[str, Path], tmp_path: Path
) -> None:
    """The same neighbourhood rule, with the neighbourhood independent of age, passes the
    gate and is promoted; no override is recorded."""
    spec = load_spec(fairness_data["spec"])
    result = train(
        data_path=fairness_data["fair"], spec=spec, models=tmp_path / "models", threads=1
    )
    assert result.promoted and result.fairness["passed"], result.fairness["why"]
    assert "override" not in result.fairness
    assert [c["column"] for c in result.fairness["columns"]] == ["age_band", "gender"]


def test_the_demo_spec_is_checked_on_its_protected_columns(trained: Trained) -> None:
    """Training on the demo data reports age band and gender, gating vip and standard only
    (the student tier is given by a hard rule)."""
    fairness = Registry(trained.models).metadata(trained.result.version)["fairness"]
    assert fairness["gated_tiers"] == ["vip", "standard"]
    assert [c["column"] for c in fairness["columns"]] == ["age_band", "gender"]
    assert load_spec(EXAMPLES / "demo.toml").protected == ("age_band", "gender")


def test_the_html_report_marks_only_refused_ratios_below_the_floor(trained: Trained) -> None:
    """The model report flags a refused tier below the floor and shows a ratio chance could
    explain as within chance instead."""
    meta = Registry(trained.models).metadata(trained.result.version)

    def section(fairness: dict[str, Any]) -> str:
        html = render_report(
            version="v0001", metadata={**meta, "fairness": fairness}, champion=True
        )
        return html[html.index('<section id="fairness">') : html.index('<section id="drift">')]

    refused = section(assess(spec=make_spec(), **customers({"a": (200, 40), "b": (100, 10)})))
    assert refused.count("below the floor") == 1 and "within chance" not in refused
    chance = section(assess(spec=make_spec(), **customers({"a": (40, 3), "b": (40, 1)})))
    assert "below the floor" not in chance and chance.count("within chance") == 1
