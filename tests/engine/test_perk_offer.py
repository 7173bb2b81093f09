"""Perks given where they pay: a playbook perk with give = "uplift" is offered only to
customers for whom the named version's uplift model expects a positive net value, never to
the holdout, and still only while stock lasts; the playbook and registry refuse bad links."""

from __future__ import annotations

from typing import Any

import pytest

from tests.uplift_perk_data import LAPSING, REGULAR, TIERS, Gated, playbook_text
from tierline.engine.decisions import Fallback, decide
from tierline.engine.errors import PlaybookError
from tierline.engine.model import TierModel
from tierline.engine.perk_offer import load_gates
from tierline.engine.playbook import Perk, Playbook
from tierline.engine.registry import Registry
from tierline.engine.store import Store


def _customer_id(model: TierModel, *, holdout: bool) -> str:
    return next(
        c for c in (f"c{i:05d}" for i in range(10_000)) if model.playbook.is_holdout(c) is holdout
    )


def _decide(
    store: Store, model: TierModel, signals: dict[str, Any], *, holdout: bool = False
) -> dict[str, Any]:
    fallback = Fallback(default_tier="standard", playbook=model.playbook)
    return decide(
        store=store,
        model=model,
        fallback=fallback,
        site="lyon",
        customer_id=_customer_id(model, holdout=holdout),
        signals=signals,
    )


def _perks(decision: dict[str, Any]) -> list[str]:
    return [c["perk"] for c in decision["cues"] if c["perk"]]


def test_a_playbook_perk_may_be_given_by_uplift() -> None:
    """give = "uplift" with a version parses (the arm defaults to the perk's name); without
    the version, with an unknown give, or with uplift_model on an always-given perk it is
    refused."""
    book = Playbook.from_text(
        playbook_text('give = "uplift"\nuplift_model = "v0007"'), tiers=TIERS, source="p"
    )
    coffee = book.perks["coffee"]
    assert (coffee.give, coffee.uplift_model, coffee.uplift_arm) == ("uplift", "v0007", "coffee")
    assert list(book.uplift_perks) == ["coffee"]
    for lines, needle in [
        ('give = "uplift"', "needs uplift_model"),
        ('give = "sometimes"', 'give must be "always" or "uplift"'),
        ('uplift_model = "v0007"', 'apply only with give = "uplift"'),
    ]:
        with pytest.raises(PlaybookError, match=needle):
            Playbook.from_text(playbook_text(lines), tiers=TIERS, source="p")


def test_a_perk_must_name_a_version_with_its_arm(gated: Gated) -> None:
    """Binding the perks refuses a version the registry lacks, a version without an uplift
    model, and an arm the uplift model does not have; a named arm binds."""
    registry = Registry(gated.models)
    tier_version = gated.model.version

    def bind(lines: str) -> dict[str, Any]:
        book = Playbook.from_text(playbook_text(lines), tiers=TIERS, source="p")
        return load_gates(book, registry.load, versions=registry.versions(), source="p")

    with pytest.raises(PlaybookError, match="'v0099' is not a model version"):
        bind('give = "uplift"\nuplift_model = "v0099"')
    with pytest.raises(PlaybookError, match="holds no uplift model"):
        bind(f'give = "uplift"\nuplift_model = "{tier_version}"')
    with pytest.raises(PlaybookError, match="has no arm 'tea'"):
        bind(f'give = "uplift"\nuplift_model = "{gated.uplift_version}"\narm = "tea"')
    gates = bind(f'give = "uplift"\nuplift_model = "{gated.uplift_version}"\narm = "dessert"')
    assert gates["coffee"].arm == 1


def test_the_perk_goes_only_where_it_pays(gated: Gated, store: Store) -> None:
    """A lapsing customer, for whom coffee pays, gets it with a reason giving its net value;
    a regular, whom it puts off, does not, and the reason says so."""
    store.sync_perks(gated.model.playbook.perks)
    lapsing = _decide(store, gated.model, LAPSING)
    regular = _decide(store, gated.model, REGULAR)
    assert _perks(lapsing) == ["coffee"]
    (said,) = [r for r in lapsing["reasons"] if r["feature"] == "perk:coffee"]
    assert said["effect"] > 0 and said["text"].startswith("coffee offered: expected net value +")
    (gate,) = gated.model.perk_gates.values()
    uplift = gate.model.uplift
    assert uplift is not None
    row = gate.model.features.transform_record(LAPSING)
    net = uplift.net(uplift.predict_uplift_row(row, gate.model.uplift_row_predictors()))
    assert said["effect"] == pytest.approx(net[0, gate.arm])
    assert "coffee" not in _perks(regular)
    (said,) = [r for r in regular["reasons"] if r["feature"] == "perk:coffee"]
    assert said["effect"] <= 0
    assert said["text"] == "coffee not offered: it does not pay for this customer"


def test_the_holdout_never_gets_it_and_stock_still_applies(gated: Gated, store: Store) -> None:
    """A held-out customer for whom coffee would pay gets none; with the coffee out of
    stock, a customer for whom it pays gets none either."""
    store.sync_perks(gated.model.playbook.perks)
    held = _decide(store, gated.model, LAPSING, holdout=True)
    assert held["holdout"] and "coffee" not in _perks(held)
    assert not any(r["feature"] == "perk:coffee" for r in held["reasons"])
    store.sync_perks({"coffee": Perk(name="coffee", cost=2.5, stock=0, daily_budget=None)})
    out = _decide(store, gated.model, LAPSING)
    assert "coffee" not in _perks(out)
