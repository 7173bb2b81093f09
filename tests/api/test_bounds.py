"""Bounds every route shares: one customer id alphabet, and money that stays finite."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, VIP, assert_error, site_key
from tierline.api.schemas import CUSTOMER_ID_PATTERN, MAX_SPEND

BAD_IDS = ("a/b", "a b", "é", "a" * 129, "a\tb")


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_id_outside_the_alphabet_is_422_everywhere(any_client: TestClient, bad: str) -> None:
    """A customer id outside the one alphabet is refused by every body and path, naming it."""
    client, pos = any_client, site_key(any_client, "pos")
    bodies = (
        ("/v1/decisions", {"customer_id": bad, "signals": PLAIN}, "customer_id"),
        ("/v1/decisions/batch", {"items": [{"customer_id": bad}]}, "items.0.customer_id"),
        ("/v1/visits", {"customer_id": bad}, "customer_id"),
    )
    for path, body, field in bodies:
        error = assert_error(client.post(path, json=body, headers=pos), 422)
        assert str(error["message"]).startswith(f"{field}:"), (path, error)
    quoted = quote(bad, safe="")
    for r in (
        client.get(f"/v1/customers/{quoted}", headers=pos),
        client.put(f"/v1/customers/{quoted}", json={"signals": VIP}, headers=pos),
    ):
        # A "/" splits the path: no route matches (404), never a stored profile.
        assert r.status_code in (404, 422), r.text
        if r.status_code == 422:
            assert str(assert_error(r, 422)["message"]).startswith("path.customer_id:")
    store = client.app.state.store  # type: ignore[attr-defined]
    assert store.get_customer(bad, scope="") is None


def test_every_id_the_decisions_accept_can_be_read_and_updated(any_client: TestClient) -> None:
    """An id made of every character of the alphabet round-trips through decisions and
    /v1/customers/{id}."""
    client, pos = any_client, site_key(any_client, "pos")
    cid = "Az09._:@-" + "x" * 119
    assert len(cid) == 128
    put = client.put(f"/v1/customers/{cid}", json={"signals": VIP}, headers=pos)
    assert put.status_code == 200, put.text
    decided = client.post("/v1/decisions", json={"customer_id": cid}, headers=pos)
    assert decided.status_code == 200 and decided.json()["customer_id"] == cid
    assert client.get(f"/v1/customers/{cid}", headers=pos).json()["signals"] == VIP


def test_the_openapi_document_carries_the_id_pattern(any_client: TestClient) -> None:
    """Path and body customer ids publish the same pattern in the OpenAPI document."""
    doc = any_client.get("/openapi.json").json()
    [param] = [
        p
        for p in doc["paths"]["/v1/customers/{customer_id}"]["get"]["parameters"]
        if p["name"] == "customer_id"
    ]
    assert param["schema"]["pattern"] == CUSTOMER_ID_PATTERN
    body = doc["components"]["schemas"]["DecisionRequest"]["properties"]["customer_id"]
    assert CUSTOMER_ID_PATTERN in str(body)


@pytest.mark.parametrize("spend", [MAX_SPEND * 1.0000001, 1.7e308, -0.01])
def test_spend_out_of_bounds_is_422_and_changes_nothing(
    any_client: TestClient, spend: float
) -> None:
    """A close or an outcome with spend above the maximum (or negative) is 422 naming spend,
    and the visit stays open."""
    client, pos, staff = any_client, site_key(any_client, "pos"), site_key(any_client, "staff")
    visit = client.post("/v1/visits", json={"signals": PLAIN}, headers=pos).json()
    closing = client.post(f"/v1/visits/{visit['ticket']}/close", json={"spend": spend}, headers=pos)
    assert str(assert_error(closing, 422)["message"]).startswith("spend:")
    assert client.get(f"/v1/visits/{visit['ticket']}", headers=pos).json()["closed_at"] is None
    outcome = {"decision_id": visit["decision"]["decision_id"], "spend": spend}
    posted = client.post("/v1/outcomes", json=outcome, headers={**staff, "Idempotency-Key": "s"})
    assert str(assert_error(posted, 422)["message"]).startswith("spend:")


def test_the_day_report_stays_finite_at_the_maximum_spend(any_client: TestClient) -> None:
    """Two visits closed at the maximum spend give a finite day total; a third close above
    it is refused and leaves the total alone."""
    client, pos, admin = any_client, site_key(any_client, "pos"), site_key(any_client, "admin")
    for _ in range(2):
        ticket = client.post("/v1/visits", json={"signals": PLAIN}, headers=pos).json()["ticket"]
        closed = client.post(f"/v1/visits/{ticket}/close", json={"spend": MAX_SPEND}, headers=pos)
        assert closed.status_code == 200, closed.text
    ticket = client.post("/v1/visits", json={"signals": PLAIN}, headers=pos).json()["ticket"]
    huge = client.post(f"/v1/visits/{ticket}/close", json={"spend": 1.7e308}, headers=pos)
    assert_error(huge, 422)
    report = client.get("/v1/reports/day", headers=admin)
    assert report.status_code == 200, report.text
    assert report.json()["spend"] == 2 * MAX_SPEND


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_spend_that_is_not_a_finite_number_is_422_naming_spend(
    any_client: TestClient, number: str
) -> None:
    """A close or an outcome whose spend is a raw NaN, an infinity or past the float range
    is 422 naming spend, and the visit stays open."""
    client, pos, staff = any_client, site_key(any_client, "pos"), site_key(any_client, "staff")
    visit = client.post("/v1/visits", json={"signals": PLAIN}, headers=pos).json()
    json_type = {"Content-Type": "application/json"}
    closing = client.post(
        f"/v1/visits/{visit['ticket']}/close",
        content=f'{{"spend": {number}}}',
        headers={**pos, **json_type},
    )
    assert str(assert_error(closing, 422)["message"]).startswith("spend:")
    assert client.get(f"/v1/visits/{visit['ticket']}", headers=pos).json()["closed_at"] is None
    body = f'{{"decision_id": "{visit["decision"]["decision_id"]}", "spend": {number}}}'
    posted = client.post(
        "/v1/outcomes", content=body, headers={**staff, **json_type, "Idempotency-Key": "s"}
    )
    assert str(assert_error(posted, 422)["message"]).startswith("spend:")
