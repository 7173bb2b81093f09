"""The API on PostgreSQL (the multi-instance store): a POS and a staff tablet's day, route by
route, on a fresh schema. The SQLite runs of the same routes are in the other API tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, SITE, VIP, assert_error
from tierline.api.app import create_app
from tierline.api.settings import Settings


@pytest.fixture
def pg_client(models_dir: Path, pg_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=pg_url, models=str(models_dir), reload_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        yield client


def _key(client: TestClient, role: str, site: str = SITE) -> dict[str, str]:
    plaintext, _ = client.app.state.store.create_key(role=role, site=site, name=role)  # type: ignore[attr-defined]
    return {"X-API-Key": plaintext}


def test_a_day_of_service_on_postgresql(pg_client: TestClient) -> None:
    """Customers, decisions, check-in, the display listing, outcomes, override, close and the
    day report all work on PostgreSQL, idempotent retries included."""
    client = pg_client
    assert client.app.state.store.dialect == "postgresql"  # type: ignore[attr-defined]
    pos, staff, admin = _key(client, "pos"), _key(client, "staff"), _key(client, "admin")
    other = _key(client, "staff", site="elsewhere")

    put = client.put("/v1/customers/c-9", json={"signals": {**VIP, "note": "Zoë ☕"}}, headers=pos)
    assert put.status_code == 200 and put.json()["signals"]["note"] == "Zoë ☕"
    decided = client.post("/v1/decisions?explain=false", json={"customer_id": "c-9"}, headers=pos)
    assert decided.status_code == 200 and decided.json()["tier"] == "vip"
    batch = client.post(
        "/v1/decisions/batch", json={"items": [{"signals": PLAIN}] * 3}, headers=pos
    )
    assert batch.status_code == 200 and len(batch.json()["items"]) == 3

    visit = client.post("/v1/visits", json={"customer_id": "c-9", "party_size": 3}, headers=pos)
    assert visit.status_code == 201, visit.text
    ticket, decision = visit.json()["ticket"], visit.json()["decision"]
    [shown] = client.get("/v1/visits", headers=staff).json()["items"]
    assert shown["ticket"] == ticket and shown["source"]["campaign"] == VIP["campaign"]
    assert client.get("/v1/visits", headers=other).json()["items"] == []
    assert_error(client.get(f"/v1/visits/{ticket}", headers=other), 404)

    cue = decision["cues"][0]["code"]
    outcome = {"decision_id": decision["decision_id"], "accepted": [cue]}
    once = {**staff, "Idempotency-Key": "pg-outcome-1"}
    first = client.post("/v1/outcomes", json=outcome, headers=once)
    again = client.post("/v1/outcomes", json=outcome, headers=once)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert_error(client.post("/v1/outcomes", json={**outcome, "spend": 3.0}, headers=once), 422)

    path = f"/v1/visits/{ticket}"
    override = {"tier": "standard", "reason": "Asked for the regular menu"}
    overridden = client.post(f"{path}/override", json=override, headers=staff)
    assert overridden.status_code == 200 and overridden.json()["tier"] == "standard"
    [shown] = client.get("/v1/visits", headers=staff).json()["items"]
    assert shown["tier"] == "standard" and shown["accepted"] == [cue]

    closing = {**staff, "Idempotency-Key": "pg-close-1"}
    closed = client.post(f"{path}/close", json={"spend": 96.5}, headers=closing)
    assert closed.status_code == 200 and closed.json()["spend"] == 96.5
    assert (
        client.post(f"{path}/close", json={"spend": 96.5}, headers=closing).json() == closed.json()
    )
    assert_error(client.post(f"{path}/close", json={"spend": 1.0}, headers=staff), 409)

    report = client.get("/v1/reports/day", headers=admin).json()
    assert report["visits"] == 1 and report["spend"] == 96.5
    assert report["by_tier"] == [{"tier": "standard", "visits": 1, "open": 0, "spend": 96.5}]
    audit = client.app.state.store.audit_log()  # type: ignore[attr-defined]
    assert [e["action"] for e in audit].count("override") == 1
