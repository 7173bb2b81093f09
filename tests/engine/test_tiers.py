"""The tier policy: rules first, then the floor or the frozen cut-points; batch equals single."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import bool_values
from tierline.engine.spec import parse_spec
from tierline.engine.tiers import TierPolicy

TIERS = ["vip", "standard", "student"]
RULES = [
    {"tier": "student", "when": {"column": "student", "equals": True}, "name": "verified student"},
    {"tier": "vip", "when": {"column": "visits", "min": 50}},
]


def class_policy(min_confidence: float = 0.5) -> TierPolicy:
    spec = parse_spec(
        {
            "data": {"id": "id"},
            "features": {"numeric": ["visits"], "boolean": ["student"]},
            "target": {"kind": "class", "column": "tier"},
            "tiers": {
                "names": TIERS,
                "default": "standard",
                "min_confidence": min_confidence,
                "rules": RULES,
            },
        }
    )
    return TierPolicy.from_spec(spec)


def binary_policy(scores: np.ndarray) -> TierPolicy:
    spec = parse_spec(
        {
            "data": {"id": "id"},
            "features": {"numeric": ["visits"], "boolean": ["student"]},
            "target": {"kind": "binary", "column": "bought", "positive": True},
            "tiers": {
                "names": ["vip", "gold", "standard"],
                "default": "standard",
                "cuts": [
                    {"tier": "vip", "top_fraction": 0.1},
                    {"tier": "gold", "top_fraction": 0.2},
                ],
            },
        }
    )
    return TierPolicy.from_spec(spec).fit_thresholds(spec=spec, train_scores=scores)


def test_rules_come_first_and_in_order() -> None:
    """A matching rule decides with confidence 1.0, the first matching rule wins."""
    policy = class_policy()
    probs = np.array([0.9, 0.05, 0.05])
    d = policy.place(scores=probs, signals={"student": "yes", "visits": 99})
    assert (d.tier, d.confidence, d.rule) == ("student", 1.0, "verified student")
    d = policy.place(scores=np.array([0.1, 0.8, 0.1]), signals={"student": "no", "visits": "60"})
    assert d.tier == "vip" and d.rule == "visits min 50.0"


def test_confidence_floor_falls_back_to_default() -> None:
    """Below min_confidence the default tier is given, with its own probability."""
    policy = class_policy(min_confidence=0.5)
    d = policy.place(scores=np.array([0.45, 0.35, 0.20]), signals={})
    assert d.tier == "standard" and d.confidence == 0.35
    d = policy.place(scores=np.array([0.55, 0.25, 0.20]), signals={})
    assert d.tier == "vip" and d.confidence == 0.55


def test_top_fraction_is_frozen_into_a_threshold() -> None:
    """The top 10 % of training scores become vip; new customers use that fixed threshold."""
    train = np.linspace(0.0, 1.0, 1001)
    policy = binary_policy(train)
    (vip, t_vip), (gold, t_gold) = policy.thresholds
    assert (vip, gold) == ("vip", "gold")
    assert abs(t_vip - 0.9) < 1e-9 and abs(t_gold - 0.7) < 1e-9
    # A customer's tier depends on their score alone, not on who else is scored.
    alone = policy.place(scores=np.float64(0.95), signals={}).tier
    many = policy.place_many(scores=np.full(100, 0.95), frame=pd.DataFrame(index=range(100)))[
        "tier"
    ]
    assert alone == "vip" and set(many) == {"vip"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=30))
def test_cut_tiers_are_monotone_in_the_score(scores: list[float]) -> None:
    """A higher score never gives a lower tier (rank: vip > gold > standard)."""
    policy = binary_policy(np.linspace(0, 1, 101))
    rank = {"vip": 2, "gold": 1, "standard": 0}
    ordered = sorted(scores)
    tiers = [rank[policy.place(scores=np.float64(s), signals={}).tier] for s in ordered]
    assert tiers == sorted(tiers)


row_strategy = st.fixed_dictionaries(
    {"student": bool_values, "visits": st.one_of(st.none(), st.integers(0, 100), st.just("abc"))},
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            row_strategy, st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=3, max_size=3)
        ),
        min_size=1,
        max_size=15,
    )
)
def test_batch_equals_single_and_tiers_are_known(
    rows: list[tuple[dict[str, Any], list[float]]],
) -> None:
    """decide_many gives, row by row, exactly what decide gives; every tier is a declared one."""
    policy = class_policy(min_confidence=0.45)
    signals = [r for r, _ in rows]
    probs = np.array([p for _, p in rows])
    probs = probs / probs.sum(axis=1, keepdims=True)
    many = policy.place_many(
        scores=probs, frame=pd.DataFrame(signals, columns=["student", "visits"])
    )
    for i, s in enumerate(signals):
        one = policy.place(scores=probs[i], signals=s)
        assert one.tier == many["tier"][i] and one.tier in TIERS
        assert one.confidence == many["confidence"][i]
        assert one.rule == many["rule"][i]
        assert one.score == many["score"][i]


def test_policy_round_trips_through_json() -> None:
    """The policy's JSON state rebuilds an equal policy."""
    policy = binary_policy(np.linspace(0, 1, 50))
    assert TierPolicy.from_json(policy.to_json()) == policy
    assert TierPolicy.from_json(class_policy().to_json()) == class_policy()


def test_percentile_confidence_for_scored_tiers() -> None:
    """Binary/value confidence is the score's percentile among training scores."""
    policy = binary_policy(np.linspace(0, 1, 1001))
    assert abs(policy.place(scores=np.float64(0.5), signals={}).confidence - 0.5) < 0.002
    assert policy.place(scores=np.float64(2.0), signals={}).confidence == 1.0
