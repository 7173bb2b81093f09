"""The feature builder: one record alone and in a batch give the same row, to the last bit."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.strategies import CATEGORIES, records
from tierline.engine.errors import DataError
from tierline.engine.features import FeatureBuilder

CAT, NUM, BOOL = ["campaign", "city"], ["visits", "spend"], ["student"]


def fitted(min_frequency: int = 2) -> FeatureBuilder:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "campaign": rng.choice(
                [*CATEGORIES, "rare"], size=200, p=[0.2] * 4 + [0.05] * 3 + [0.05]
            ),
            "city": rng.choice(["Zürich", "Bern", None], size=200),
            "visits": rng.integers(0, 30, size=200).astype(float),
            "spend": rng.normal(100, 30, size=200),
            "student": rng.choice([True, False], size=200),
        }
    )
    frame.loc[0, "campaign"] = "only_once"
    return FeatureBuilder(
        categorical=CAT, numeric=NUM, boolean=BOOL, min_frequency=min_frequency
    ).fit(frame)


BUILDER = fitted()


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(records(CAT, NUM, BOOL), min_size=1, max_size=12))
@example([{"visits": -0.0}])  # a float column of one negative zero once differed
@example([{"visits": " 0.0 "}, {"visits": -0.0}])  # and a text column holding one
@example([{"visits": "-0"}])
def test_record_and_batch_paths_agree_bit_for_bit(rows: list[dict[str, Any]]) -> None:
    """transform_record of each row equals the matching row of transform on the frame of all."""
    frame = pd.DataFrame(rows, columns=CAT + NUM + BOOL)
    batch = BUILDER.transform(frame)
    for i, row in enumerate(rows):
        assert same_bits(BUILDER.transform_record(row), batch[i]), (row, batch[i])


def test_unseen_and_rare_categories_share_the_other_code() -> None:
    """A category never seen, or seen fewer than min_frequency times, encodes as 'other'."""
    other = float(len(BUILDER.categories_["campaign"]))
    assert "only_once" not in BUILDER.categories_["campaign"]
    for value in ("never-seen", "only_once", "Ünïcødé"):
        assert BUILDER.transform_record({"campaign": value})[0] == other
    assert BUILDER.category_of("campaign", other) == "other"


def test_missing_values_stay_missing() -> None:
    """Absent keys, None, NaN and textual markers are NaN, which LightGBM treats as missing."""
    for value in (None, float("nan"), "", "NA", "null"):
        row = BUILDER.transform_record({"campaign": value, "visits": value, "student": value})
        assert math.isnan(row[0]) and math.isnan(row[2]) and math.isnan(row[4])
    assert np.isnan(BUILDER.transform_record({})).all()


def test_categories_are_matched_after_stripping_and_whole_numbers() -> None:
    """' Zürich ' matches 'Zürich'; a JSON 12 or 12.0 matches a CSV '12'."""
    assert (
        BUILDER.transform_record({"city": " Zürich "})[1]
        == BUILDER.transform_record({"city": "Zürich"})[1]
    )
    assert (
        BUILDER.transform_record({"campaign": 12})[0]
        == BUILDER.transform_record({"campaign": "12"})[0]
    )
    assert (
        BUILDER.transform_record({"campaign": 12.0})[0]
        == BUILDER.transform_record({"campaign": "12"})[0]
    )


@pytest.mark.parametrize(
    ("field", "value"), [("visits", "twelve"), ("student", "maybe"), ("visits", [1, 2])]
)
def test_bad_values_are_refused_by_name(field: str, value: Any) -> None:
    """Text in a number or an unknown boolean raises DataError naming the signal."""
    with pytest.raises(DataError, match=f"'{field}'"):
        BUILDER.transform_record({field: value})
    with pytest.raises(DataError, match=f"'{field}'"):
        BUILDER.transform(pd.DataFrame({field: [value, None]}))


def test_an_integer_past_the_float_range_reads_as_missing_on_both_paths(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An integer no float can hold is missing in a record and in a batch alike, and the
    record path logs the signal's name once per builder, without the value."""
    builder = fitted()
    huge = 10**400
    with caplog.at_level(logging.WARNING, logger="tierline.features"):
        first = builder.transform_record({"visits": huge, "spend": 2.0})
        again = builder.transform_record({"visits": -huge, "spend": 2.0})
    assert same_bits(first, builder.transform_record({"spend": 2.0}))
    assert same_bits(again, first)
    batch = builder.transform(pd.DataFrame({"visits": [huge, 3], "spend": [2.0, 2.0]}))
    assert same_bits(batch[0], first)
    logged = [r.getMessage() for r in caplog.records if r.name == "tierline.features"]
    assert len(logged) == 1 and "'visits'" in logged[0] and "1000" not in logged[0]


def test_state_round_trips_through_json() -> None:
    """The fitted state is plain JSON and a rebuilt builder encodes identically."""
    state = json.loads(json.dumps(BUILDER.to_json()))
    again = FeatureBuilder.from_json(state)
    frame = pd.DataFrame(
        [{"campaign": "spring_menu", "city": "Bern", "visits": 3, "spend": 1.5, "student": "yes"}]
    )
    assert same_bits(again.transform(frame), BUILDER.transform(frame))


def test_vocabulary_is_deterministic_and_capped() -> None:
    """Vocabularies are ordered by frequency then text, and cut at max_categories."""
    frame = pd.DataFrame({"c": ["b"] * 5 + ["a"] * 5 + ["z"] * 9 + ["q"] * 2})
    fb = FeatureBuilder(categorical=["c"], min_frequency=1, max_categories=3).fit(frame)
    assert fb.categories_["c"] == ["z", "a", "b"]


def test_transform_requires_fit() -> None:
    """An unfitted builder refuses to transform (scikit-learn's NotFittedError)."""
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FeatureBuilder(numeric=["x"]).transform(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(NotFittedError):
        FeatureBuilder(numeric=["x"]).transform_record({"x": 1.0})


def test_output_columns_follow_declared_order() -> None:
    """Categorical, then numeric, then boolean columns, as declared."""
    assert list(BUILDER.get_feature_names_out()) == CAT + NUM + BOOL
