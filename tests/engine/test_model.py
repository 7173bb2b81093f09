"""The model bundle: one customer alone and in a batch get the same answer to the last digit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import Trained
from tierline.engine.registry import Registry
from tierline.training.data import load_customers


def test_single_and_batch_scoring_agree(trained: Trained) -> None:
    """score_record on each row equals score_frame's row: tier, confidence, score, cues, reasons."""
    model = Registry(trained.models).load()
    frame = load_customers(trained.data, model.spec, with_target=False).head(300)
    scored = model.score_frame(frame, explain=True)
    for i, record in enumerate(frame.to_dict("records")):
        one = model.score_record(record, customer_id=record[model.spec.id], explain=True)
        row = scored.iloc[i]
        assert one.tier == row["tier"]
        assert one.confidence == row["confidence"]
        assert one.score == row["score"]
        assert one.rule == (row["rule"] if isinstance(row["rule"], str) else None)
        assert one.holdout == row["holdout"]
        assert ";".join(c.code for c in one.cues) == row["cues"]
        assert "; ".join(r.text for r in one.reasons) == row["reasons"]
        assert list(one.probabilities) == list(model.spec.tiers)
        for tier, p in one.probabilities.items():
            assert p == row[f"p_{tier}"]


def test_scored_output_columns_follow_the_contract(trained: Trained) -> None:
    """The scored frame has the contract's columns, one row per input row, same order."""
    model = Registry(trained.models).load()
    frame = load_customers(trained.data, model.spec, with_target=False).head(50)
    scored = model.score_frame(frame.iloc[::-1])
    expected = ["customer_id", "tier", "confidence", "score", "p_vip", "p_standard", "p_student"]
    assert list(scored.columns[:7]) == expected
    assert list(scored.columns[7:]) == ["rule", "cues", "model_version", "holdout"]
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()[::-1]
    assert set(scored["tier"]) <= set(model.spec.tiers)
    assert (scored["model_version"] == model.version).all()
    np.testing.assert_allclose(
        scored[["p_vip", "p_standard", "p_student"]].sum(axis=1), 1.0, rtol=1e-9
    )


def test_students_are_decided_by_the_rule(trained: Trained) -> None:
    """A verified student is tier student by the hard rule, with confidence 1."""
    model = Registry(trained.models).load()
    one = model.score_record({"student_verified": "yes", "spend_365d": 5000, "visits_90d": 30})
    assert (one.tier, one.rule, one.confidence) == ("student", "verified student", 1.0)


def test_reasons_name_features_and_direction(trained: Trained) -> None:
    """Reasons are the top three contributions, worded 'feature = value, raises/lowers tier'."""
    model = Registry(trained.models).load()
    one = model.score_record(
        {"visits_90d": 14, "spend_365d": 900.0, "campaign": "spring_menu"}, explain=True
    )
    assert len(one.reasons) == 3
    for r in one.reasons:
        assert r.feature in model.features.feature_names_out_
        assert r.text.startswith(f"{r.feature} = ") and (
            " raises " in r.text or " lowers " in r.text
        )
    assert abs(one.reasons[0].effect) >= abs(one.reasons[-1].effect)


def test_unknown_signals_and_empty_records_still_score(trained: Trained) -> None:
    """Unseen categories, unknown keys and an empty record score without error."""
    model = Registry(trained.models).load()
    assert model.score_record({}).tier in model.spec.tiers
    odd = model.score_record({"campaign": "never-seen-🎉", "colour": "red", "visits_90d": None})
    assert odd.tier in model.spec.tiers
    batch = model.score_frame(pd.DataFrame({"customer_id": ["x"], "campaign": ["never-seen-🎉"]}))
    assert batch["tier"][0] == odd.tier


@pytest.mark.parametrize("spec_file", ["demo.toml", "binary.toml"])
def test_reasons_support_the_tier_given(
    trained: Trained, tmp_path_factory: pytest.TempPathFactory, spec_file: str
) -> None:
    """Every reason pushes towards the tier given: a class's own probability up; for a
    score, up for a cut tier and down for the default tier; never a signal against it."""
    from tests.conftest import EXAMPLES
    from tierline.engine.spec import load_spec
    from tierline.training.train import train

    models = trained.models
    if spec_file != "demo.toml":
        models = tmp_path_factory.mktemp("reasons")
        spec = load_spec(EXAMPLES / spec_file)
        train(data_path=trained.data, spec=spec, models=models, promote="always", threads=1)
    model = Registry(models).load()
    frame = load_customers(trained.data, model.spec, with_target=False).head(120)
    cut = {name for name, _ in model.policy.thresholds}
    seen = set()
    for record in frame.to_dict("records"):
        scored = model.score_record(record, explain=True)
        if scored.rule is not None:
            continue
        seen.add(scored.tier)
        want = 1 if (spec_file == "demo.toml" or scored.tier in cut) else -1
        assert all(r.effect * want > 0 for r in scored.reasons), (scored.tier, scored.reasons)
    assert len(seen) >= 2


def test_labels_give_reasons_in_words_staff_read(trained: Trained) -> None:
    """With [labels], a reason reads as the spec's words for the value; without a value it
    reads 'unknown', the same on one customer and in a batch."""
    import dataclasses

    base = Registry(trained.models).load()
    labels = {f: f"label of {f}: {{value}}" for f in base.spec.feature_columns}
    labels["spend_365d"] = "spent {value:,.0f} € in the last year"
    model = dataclasses.replace(base.spec, labels=labels)
    base.spec = model
    frame = load_customers(trained.data, base.spec, with_target=False).head(40)
    reasons = [
        r
        for record in frame.to_dict("records")
        for r in base.score_record(record, explain=True).reasons
    ]
    texts = [r.text for r in reasons if r.value != "unknown"]
    assert texts and all(t.startswith(("label of", "spent ")) for t in texts), texts
    unknown = [r.text for r in reasons if r.value == "unknown"]
    assert all(" = unknown, " in t for t in unknown) and "nan" not in " ".join(unknown)
    spent = [t for t in texts if t.startswith("spent ")]
    assert all(" € in the last year, " in t for t in spent)
    blank = base.score_record({"visits_90d": None, "campaign": None}, explain=True)
    batch = base.score_frame(pd.DataFrame([{"visits_90d": None, "campaign": None}]), explain=True)
    assert "label of" not in " ".join(r.text for r in blank.reasons if r.value == "unknown")
    assert [r.text for r in blank.reasons] == batch.loc[0, "reasons"].split("; ")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ('spend_365d = "spent a lot"', "must be text holding {value}"),
        ('spend_365d = "spent {value:%Y}"', "cannot show a number"),
        ('nowhere = "x {value}"', "'nowhere', which is not a feature"),
    ],
)
def test_a_bad_label_is_refused_when_the_spec_loads(
    tmp_path: pytest.TempPathFactory, labels: str, message: str
) -> None:
    """A label without {value}, one that cannot format the signal's kind, or one for a
    column that is not a feature: SpecError naming it."""
    from pathlib import Path

    from tests.conftest import EXAMPLES
    from tierline.engine.errors import SpecError
    from tierline.engine.spec import load_spec

    path = Path(str(tmp_path)) / "spec.toml"
    demo = (EXAMPLES / "demo.toml").read_text().partition("\n[labels]\n")[0]  # its own labels go
    path.write_text(f"{demo}\n[labels]\n{labels}\n")
    with pytest.raises(SpecError, match=message):
        load_spec(path)
