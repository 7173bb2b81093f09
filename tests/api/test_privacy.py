"""Privacy over HTTP: erasure by admins only, retention in a running app, and logs that
name no customer, key or signal."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, VIP, Keys, assert_error
from tests.command import run, start
from tests.conftest import record_vip_decision
from tests.servers import free_port, stop_server, wait_ready
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.store import Store
from tierline.engine.store.privacy import ERASE_ACTION

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

ROOT = Path(__file__).resolve().parents[2]
GUEST = "guest-5e4d7"
SECRET_BRAND = "Zyxcar"  # a signal value no log line may show


def _history(client: TestClient, keys: Keys) -> str:
    """A profile, a decision with the brand dessert and a check-in; returns the decision id."""
    put = client.put(f"/v1/customers/{GUEST}", json={"signals": VIP}, headers=keys.pos)
    assert put.status_code == 200, put.text
    r = client.post("/v1/visits", json={"customer_id": GUEST, "signals": VIP}, headers=keys.pos)
    assert r.status_code == 201, r.text
    return str(r.json()["decision"]["decision_id"])


def test_only_admins_erase_and_a_repeat_is_not_found(client: TestClient, keys: Keys) -> None:
    """DELETE /v1/customers/{id} is 401 without a key and 403 for staff and pos keys (nothing
    erased); an admin gets the counts, the audit names the admin key, and a repeat is 404."""
    decision_id = _history(client, keys)
    path = f"/v1/customers/{GUEST}"
    assert_error(client.delete(path), 401)
    for headers in (keys.staff, keys.pos):
        assert assert_error(client.delete(path, headers=headers), 403)["code"] == "forbidden"
    assert client.get(path, headers=keys.pos).status_code == 200

    r = client.delete(path, headers=keys.admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"profile": True, "decisions": 1, "visits": 1, "outcomes": 0}
    assert_error(client.get(path, headers=keys.pos), 404)
    assert "unknown or was erased" in str(
        assert_error(client.delete(path, headers=keys.admin), 404)["message"]
    )
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    decision = store.get_decision(decision_id)
    assert decision is not None and decision["customer_id"] is None
    [entry] = [e for e in store.audit_log() if e["action"] == ERASE_ACTION]
    assert entry["actor"] == keys.ids["admin"] and entry["detail"]["key_name"] == "admin"


def test_a_server_with_retention_prunes_old_signals_by_itself(
    settings: Settings, db_path: Path
) -> None:
    """With TIERLINE_RETENTION_DAYS set, a running app scrubs the signals of decisions older
    than the retention within a pass, and leaves a fresh decision alone."""
    old_time = datetime.now(UTC) - timedelta(days=40)
    with Store.open(settings.database_url, clock=lambda: old_time) as past:
        cues = [
            {"code": "brand_dessert", "text": f"Dessert with the {SECRET_BRAND} logo", "perk": None}
        ]
        old = record_vip_decision(past, GUEST, cues=cues)
    retained = settings.model_copy(update={"retention_days": 30, "prune_seconds": 0.1})
    with TestClient(create_app(retained)) as client:
        store: Store = client.app.state.store  # type: ignore[attr-defined]
        fresh = record_vip_decision(store, GUEST, cues=cues)
        deadline = time.monotonic() + 10
        while store.get_decision(old)["cues"][0]["text"] != "brand_dessert":  # type: ignore[index]
            assert time.monotonic() < deadline, "the server never pruned the old decision"
            time.sleep(0.05)
        assert store.get_decision(fresh)["cues"] == cues  # type: ignore[index]
        assert store.get_decision(old)["customer_id"] == GUEST  # type: ignore[index]


def test_server_logs_name_route_templates_never_ids_keys_or_signals(
    models_dir: Path, tmp_path: Path
) -> None:
    """A real `tierline serve` at INFO logs every request of a customer's life (sync, look-up,
    decision, check-in, erasure, a mistyped path) by its route template, and its output
    holds no customer id, API key or signal value."""
    env = {
        "TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TIERLINE_MODELS": str(models_dir),
        "TIERLINE_RETENTION_DAYS": "30",
    }
    pos = run("keys", "create", "--role", "pos", "--site", "s1", env=env).stdout.strip()
    admin = run("keys", "create", "--role", "admin", "--site", "s1", env=env).stdout.strip()
    assert pos.startswith("tl_") and admin.startswith("tl_")
    port = free_port()
    output = tmp_path / "server.log"
    with output.open("wb") as sink:
        server = start("serve", "--port", str(port), env=env, stdout=sink)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, seconds=120, process=server)  # a busy machine starts slowly
            _customer_life(base, pos={"X-API-Key": pos}, admin={"X-API-Key": admin})
        finally:
            stop_server(server)
    log = output.read_text()
    for template in (
        '"PUT /v1/customers/{customer_id} HTTP/1.1" 200',
        '"GET /v1/customers/{customer_id} HTTP/1.1" 200',
        '"DELETE /v1/customers/{customer_id} HTTP/1.1" 200',
        '"POST /v1/decisions HTTP/1.1" 200',
        '"POST /v1/visits HTTP/1.1" 201',
        '"GET unmatched HTTP/1.1" 404',
    ):
        assert template in log, log
    for secret in (GUEST, SECRET_BRAND, pos, admin, pos[3:12], "brand_search"):
        assert secret not in log, (secret, log)


def _customer_life(base: str, *, pos: dict[str, str], admin: dict[str, str]) -> None:
    signals = {**VIP, "car_brand": SECRET_BRAND}
    with httpx.Client(base_url=base, timeout=10) as http:
        calls = [
            http.put(f"/v1/customers/{GUEST}", json={"signals": signals}, headers=pos),
            http.get(f"/v1/customers/{GUEST}?campaign=brand_search", headers=pos),
            http.post(
                "/v1/decisions", json={"customer_id": GUEST, "signals": signals}, headers=pos
            ),
            http.post("/v1/visits", json={"customer_id": GUEST, "signals": PLAIN}, headers=pos),
            http.delete(f"/v1/customers/{GUEST}", headers=admin),
            http.get(f"/v1/customer/{GUEST}", headers=pos),
        ]
    assert [r.status_code for r in calls] == [200, 200, 200, 201, 200, 404], [r.text for r in calls]
