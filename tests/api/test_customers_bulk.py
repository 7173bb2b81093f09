"""POST /v1/customers/bulk: a CRM's nightly sync, all or none, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import OTHER_SITE, assert_error, site_key
from tierline.api.app import create_app
from tierline.api.settings import Settings

BULK = "/v1/customers/bulk"


def _items(n: int, **signals: Any) -> list[dict[str, Any]]:
    return [
        {"customer_id": f"crm-{i}", "signals": {"visits_90d": i % 5, **signals}} for i in range(n)
    ]


def test_bulk_stores_profiles_a_lookup_by_id_reads(any_client: TestClient) -> None:
    """A bulk sync stores every profile (counted new), the same sync again counts them
    unchanged, a changed one counts updated, and a lookup and a decision by id alone
    answer 200 from the stored signals."""
    pos = site_key(any_client, "pos")
    items = _items(300, loyalty_member=True, campaign="spring_menu")
    first = any_client.post(BULK, json={"items": items}, headers=pos)
    assert first.status_code == 200, first.text
    assert first.json() == {"items": 300, "inserted": 300, "updated": 0, "unchanged": 0}
    again = any_client.post(BULK, json={"items": items}, headers=pos).json()
    assert again == {"items": 300, "inserted": 0, "updated": 0, "unchanged": 300}
    items[7]["signals"]["visits_90d"] = 30
    changed = any_client.post(BULK, json={"items": items[:10]}, headers=pos).json()
    assert (changed["updated"], changed["unchanged"]) == (1, 9)
    profile = any_client.get("/v1/customers/crm-7", headers=pos)
    assert profile.status_code == 200, profile.text
    assert profile.json()["signals"] == items[7]["signals"]
    decision = any_client.post("/v1/decisions", json={"customer_id": "crm-7"}, headers=pos)
    assert decision.status_code == 200, decision.text


def test_every_bad_item_is_listed_and_nothing_is_stored(any_client: TestClient) -> None:
    """A sync with a bad id, a NUL in a value, a string where a signal value object is
    expected and a repeated id is a 422 listing those four items in details.items; the
    good items are not stored either."""
    pos = site_key(any_client, "pos")
    items = _items(6)
    items[1]["customer_id"] = "crm 1"
    items[2]["signals"]["campaign"] = "spring\x00"
    items[3]["signals"] = "visits_90d=4"
    items[5]["customer_id"] = "crm-4"
    error = assert_error(any_client.post(BULK, json={"items": items}, headers=pos), 422)
    assert error["code"] == "validation_error"
    assert "4 of 6 items are invalid" in str(error["message"])
    listed = error["details"]["items"]  # type: ignore[index]
    assert [item["index"] for item in listed] == [1, 2, 3, 5]
    assert listed[3]["errors"][0]["msg"] == "customer_id repeats item 4; send each once"
    assert any_client.get("/v1/customers/crm-0", headers=pos).status_code == 404


def test_a_sync_over_the_cap_or_the_body_limit_is_refused(any_client: TestClient) -> None:
    """More items than bulk_cap is a 422 naming the cap; a body over the bulk body limit
    is a 413; an empty list is a 422; neither stores anything."""
    pos = site_key(any_client, "pos")
    over = assert_error(any_client.post(BULK, json={"items": _items(1001)}, headers=pos), 422)
    assert over["code"] == "bulk_too_large" and over["details"] == {"max_items": 1000}
    heavy = _items(1000, note="x" * 2500)
    assert_error(any_client.post(BULK, json={"items": heavy}, headers=pos), 413)
    assert_error(any_client.post(BULK, json={"items": []}, headers=pos), 422)
    assert any_client.get("/v1/customers/crm-0", headers=pos).status_code == 404


def test_a_sync_larger_than_a_put_is_accepted(any_client: TestClient) -> None:
    """A thousand profiles (past the 64 KiB limit of every other route) fit in one sync."""
    pos = site_key(any_client, "pos")
    items = _items(1000, campaign="spring_menu", landing_page="/offers/spring-menu")
    response = any_client.post(BULK, json={"items": items}, headers=pos)
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1000


def test_staff_cannot_sync_and_sites_keep_their_own_profiles(models_dir: Any, db_path: Any) -> None:
    """A staff key gets 403; under TIERLINE_PROFILES=site a sync writes the key's site's
    profiles, which another site does not read."""
    settings = Settings(
        database_url=f"sqlite:///{db_path}", models=str(models_dir), profiles="site"
    )
    with TestClient(create_app(settings)) as client:
        items = {"items": _items(3)}
        assert_error(client.post(BULK, json=items, headers=site_key(client, "staff")), 403)
        assert client.post(BULK, json=items, headers=site_key(client, "pos")).status_code == 200
        lyon = client.get("/v1/customers/crm-1", headers=site_key(client, "pos"))
        paris = client.get("/v1/customers/crm-1", headers=site_key(client, "pos", OTHER_SITE))
        assert (lyon.status_code, paris.status_code) == (200, 404)
