"""Decisions and customers over HTTP: the contract's shape, strict bodies, nothing stored on refusal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, VIP, Keys, assert_error, counts
from tests.conftest import Trained, api_signals
from tierline.api.app import create_app
from tierline.api.settings import Settings

DECISION_KEYS = {
    "decision_id",
    "customer_id",
    "tier",
    "confidence",
    "score",
    "cues",
    "reasons",
    "model_version",
    "holdout",
    "degraded",
    "ignored_signals",
}


def test_decision_has_the_contract_shape(client: TestClient, keys: Keys) -> None:
    """A POS decision returns every contract field, cues with code/text/perk and reasons."""
    r = client.post("/v1/decisions", json={"customer_id": "c-1", "signals": VIP}, headers=keys.pos)
    assert r.status_code == 200, r.text
    d = r.json()
    assert set(d) == DECISION_KEYS
    assert d["tier"] in {"vip", "standard", "student"}
    assert d["model_version"] == "v0001" and d["degraded"] is False
    assert d["cues"] and all(set(c) == {"code", "text", "perk"} for c in d["cues"])
    assert d["reasons"] and all({"feature", "value", "effect"} <= set(x) for x in d["reasons"])


def test_explain_false_skips_reasons(client: TestClient, keys: Keys) -> None:
    """`?explain=false` answers without model reasons."""
    r = client.post("/v1/decisions?explain=false", json={"signals": PLAIN}, headers=keys.pos)
    assert r.status_code == 200
    assert [x for x in r.json()["reasons"] if x["feature"] != "rule"] == []


def test_batch_scores_each_item_like_a_single_call(client: TestClient, keys: Keys) -> None:
    """A batch returns one decision per item, in order, with the same tiers as single calls."""
    items = [{"customer_id": "b-1", "signals": VIP}, {"signals": PLAIN}]
    r = client.post("/v1/decisions/batch", json={"items": items}, headers=keys.pos)
    assert r.status_code == 200, r.text
    got = r.json()["items"]
    singles = [client.post("/v1/decisions", json=i, headers=keys.pos).json() for i in items]
    assert [g["tier"] for g in got] == [s["tier"] for s in singles]
    assert len({g["decision_id"] for g in got}) == 2


def test_a_demo_guests_car_brand_keeps_its_capitals_in_the_cue(
    client: TestClient, keys: Keys, trained: Trained
) -> None:
    """The demo's valet-seen guests, decided over HTTP: every brand-dessert cue names the
    brand exactly as the customer table wrote it ("Dessert with the Porsche logo")."""
    frame = pd.read_csv(trained.data, dtype={"customer_id": str})
    seen = frame[frame["car_brand"].notna()].nlargest(100, "spend_365d")
    items = [{"signals": api_signals(row)} for _, row in seen.iterrows()]
    r = client.post("/v1/decisions/batch", json={"items": items}, headers=keys.pos)
    assert r.status_code == 200, r.text
    texts = {
        (brand, cue["text"])
        for brand, decision in zip(seen["car_brand"], r.json()["items"], strict=True)
        for cue in decision["cues"]
        if cue["code"] == "car_dessert"
    }
    assert texts and {"Porsche", "BMW"} & {brand for brand, _ in texts}, texts
    assert all(text == f"Dessert with the {brand} logo" for brand, text in texts), texts


def test_stored_profile_is_merged_with_signals(client: TestClient, keys: Keys) -> None:
    """A customer PUT by the CRM can then be scored by id alone and looked up."""
    r = client.put("/v1/customers/c-42", json={"signals": VIP}, headers=keys.pos)
    assert r.status_code == 200, r.text
    got = client.get("/v1/customers/c-42", headers=keys.pos).json()
    assert got["id"] == "c-42" and got["signals"] == VIP
    d = client.post("/v1/decisions", json={"customer_id": "c-42"}, headers=keys.pos)
    assert d.status_code == 200 and d.json()["customer_id"] == "c-42"


def test_unknown_customer_lookup_is_404(client: TestClient, keys: Keys) -> None:
    """GET of a customer the store does not know is 404 in the error shape."""
    assert_error(client.get("/v1/customers/nobody", headers=keys.pos), 404)


BAD_DECISIONS = [
    pytest.param(b'{"signals": {"visits_90d": 3', 400, id="malformed-json"),
    pytest.param({"signals": {"visits_90d": 3}, "colour": "red"}, 422, id="unknown-field"),
    pytest.param({"customer_id": 12}, 422, id="wrong-type-id"),
    pytest.param({"signals": {"visits_90d": [1, 2]}}, 422, id="wrong-type-signal"),
    pytest.param({}, 422, id="neither-id-nor-signals"),
    pytest.param({"customer_id": "ghost"}, 404, id="unknown-customer-without-signals"),
    pytest.param([1, 2], 422, id="not-an-object"),
]


@pytest.mark.parametrize(("body", "status"), BAD_DECISIONS)
def test_bad_decision_requests_are_refused_and_store_nothing(
    client: TestClient, keys: Keys, db_path: Path, body: object, status: int
) -> None:
    """Each bad decision body gets its 4xx in the error shape and no decision is stored."""
    before = counts(db_path)
    if isinstance(body, bytes):
        r = client.post(
            "/v1/decisions",
            content=body,
            headers={**keys.pos, "Content-Type": "application/json"},
        )
    else:
        r = client.post("/v1/decisions", json=body, headers=keys.pos)
    assert_error(r, status)
    assert counts(db_path) == before


def test_strict_types_refuse_a_string_number_in_bodies(client: TestClient, keys: Keys) -> None:
    """Strict bodies: "12" is not a number for party_size, spend or a batch cap check."""
    r = client.post("/v1/visits", json={"signals": PLAIN, "party_size": "12"}, headers=keys.pos)
    assert_error(r, 422)
    r = client.put("/v1/customers/x", json={"signals": {"a": {"b": 1}}}, headers=keys.pos)
    assert_error(r, 422)


def test_batch_over_the_cap_is_422(settings: Settings, keys: Keys, db_path: Path) -> None:
    """A batch larger than batch_cap is refused whole (422) and stores nothing."""
    small = settings.model_copy(update={"batch_cap": 2})
    with TestClient(create_app(small)) as c:
        before = counts(db_path)
        r = c.post(
            "/v1/decisions/batch", json={"items": [{"signals": PLAIN}] * 3}, headers=keys.pos
        )
        err = assert_error(r, 422)
        assert err["code"] == "batch_too_large"
        assert counts(db_path) == before


def test_a_started_app_leaves_its_loaded_objects_out_of_full_gc_passes(
    client: TestClient, keys: Keys
) -> None:
    """After start-up the model, the libraries and the app are frozen (gc.freeze), so a
    full collection does not walk them (80-90 ms per pass with a model, measured)."""
    import gc

    assert gc.get_freeze_count() > 50_000
    r = client.post("/v1/decisions", json={"signals": PLAIN}, headers=keys.pos)
    assert r.status_code == 200, r.text


def test_a_served_model_is_prepared_before_its_first_decision(client: TestClient) -> None:
    """The serving model's one-customer path (the compiled trees) is built when the model
    is loaded, not by the first decision."""
    from tierline.engine.forest import Forest

    model = client.app.state.serving.current.model  # type: ignore[attr-defined]
    assert isinstance(model._single, Forest)
