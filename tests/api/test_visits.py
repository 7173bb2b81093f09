"""Visits: coat-check tickets from the tier's range, per-site privacy, close, audited override."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OTHER_SITE, PLAIN, SITE, VIP, Keys, assert_error, counts, site_key
from tierline.api.app import create_app
from tierline.api.settings import Settings


def _check_in(client: TestClient, keys: Keys, **body: object) -> dict[str, object]:
    r = client.post("/v1/visits", json={"signals": PLAIN, **body}, headers=keys.pos)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_check_in_gives_a_ticket_in_the_tiers_range(client: TestClient, keys: Keys) -> None:
    """A check-in returns ticket, site, opened_at and the decision; the ticket is in the tier's range."""
    v = _check_in(client, keys, customer_id="g-1", party_size=4)
    assert v["site"] == SITE and v["opened_at"]
    decision = v["decision"]
    assert isinstance(decision, dict)
    playbook = client.app.state.serving.current.playbook  # type: ignore[attr-defined]
    low, high = playbook.ticket_range(decision["tier"])
    assert low <= v["ticket"] <= high  # type: ignore[operator]
    second = _check_in(client, keys)
    if second["decision"]["tier"] == decision["tier"]:  # type: ignore[index]
        assert second["ticket"] != v["ticket"]


def test_open_visits_list_newest_first_and_get_by_ticket(client: TestClient, keys: Keys) -> None:
    """Staff see the site's open visits newest first and can read one by ticket."""
    a = _check_in(client, keys, signals=VIP)
    b = _check_in(client, keys)
    listed = client.get("/v1/visits", headers=keys.staff).json()["items"]
    assert [v["ticket"] for v in listed] == [b["ticket"], a["ticket"]]
    one = client.get(f"/v1/visits/{a['ticket']}", headers=keys.staff)
    assert one.status_code == 200 and one.json()["tier"] == a["decision"]["tier"]  # type: ignore[index]


def test_another_sites_ticket_looks_exactly_missing(client: TestClient, keys: Keys) -> None:
    """Another site's ticket is a 404 with the same body as a ticket that never existed."""
    v = _check_in(client, keys)
    other = client.get(f"/v1/visits/{v['ticket']}", headers=keys.other_pos)
    missing = client.get("/v1/visits/999999", headers=keys.other_pos)
    assert_error(other, 404)
    assert_error(missing, 404)
    assert other.json()["error"]["message"].replace(str(v["ticket"]), "T") == missing.json()[
        "error"
    ]["message"].replace("999999", "T")
    assert client.get("/v1/visits", headers=keys.other_pos).json()["items"] == []


def test_close_records_spend_and_a_second_close_is_409(
    client: TestClient, keys: Keys, db_path: Path
) -> None:
    """Closing stores the spend; closing a closed visit is 409 and changes nothing."""
    v = _check_in(client, keys)
    r = client.post(f"/v1/visits/{v['ticket']}/close", json={"spend": 84.5}, headers=keys.pos)
    assert r.status_code == 200, r.text
    assert r.json()["spend"] == 84.5 and r.json()["closed_at"]
    before = counts(db_path)
    again = client.post(f"/v1/visits/{v['ticket']}/close", json={"spend": 1.0}, headers=keys.pos)
    assert_error(again, 409)
    assert counts(db_path) == before
    assert client.get(f"/v1/visits/{v['ticket']}", headers=keys.pos).json()["spend"] == 84.5


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        pytest.param("/close", {"spend": -1}, 422, id="negative-spend"),
        pytest.param("/close", {"spend": "12"}, 422, id="string-spend"),
        pytest.param("/close", {}, 422, id="missing-spend"),
        pytest.param("/close", {"spend": 5, "tip": 1}, 422, id="unknown-field"),
        pytest.param("/override", {"tier": "emperor", "reason": "x"}, 422, id="unknown-tier"),
        pytest.param("/override", {"tier": "vip"}, 422, id="missing-reason"),
    ],
)
def test_bad_close_and_override_bodies_change_nothing(
    client: TestClient, keys: Keys, db_path: Path, path: str, body: object, status: int
) -> None:
    """Each bad close/override body gets its 4xx in the error shape and nothing changes."""
    v = _check_in(client, keys)
    before = counts(db_path)
    assert_error(
        client.post(f"/v1/visits/{v['ticket']}{path}", json=body, headers=keys.pos), status
    )
    assert counts(db_path) == before
    assert client.get(f"/v1/visits/{v['ticket']}", headers=keys.pos).json()["closed_at"] is None


def test_unknown_ticket_is_404(client: TestClient, keys: Keys) -> None:
    """Closing or overriding a ticket nobody holds is 404."""
    assert_error(client.post("/v1/visits/4242/close", json={"spend": 1}, headers=keys.pos), 404)
    body = {"tier": "vip", "reason": "regular"}
    assert_error(client.post("/v1/visits/4242/override", json=body, headers=keys.staff), 404)


def test_an_override_to_a_tier_the_playbook_lacks_is_422_naming_the_tiers(
    client: TestClient, keys: Keys
) -> None:
    """An override to a tier the serving playbook does not have is 422 unknown_tier listing
    the tiers there are; the visit keeps its tier and nothing is audited."""
    v = _check_in(client, keys)
    body = {"tier": "gold", "reason": "regular"}
    r = client.post(f"/v1/visits/{v['ticket']}/override", json=body, headers=keys.staff)
    error = assert_error(r, 422)
    assert error["code"] == "unknown_tier"
    assert set(error["details"]["tiers"]) == {"vip", "standard", "student"}  # type: ignore[index]
    shown = client.get(f"/v1/visits/{v['ticket']}", headers=keys.staff).json()
    assert shown["override"] is None and shown["tier"] == v["decision"]["tier"]  # type: ignore[index]
    audit = client.app.state.store.audit_log()  # type: ignore[attr-defined]
    assert [e for e in audit if e["action"] == "override"] == []


def test_staff_override_is_audited(client: TestClient, keys: Keys) -> None:
    """A staff override with a reason answers the new tier and is in the audit log."""
    v = _check_in(client, keys)
    body = {"tier": "vip", "reason": "Régulier depuis 20 ans ☕"}
    r = client.post(f"/v1/visits/{v['ticket']}/override", json=body, headers=keys.staff)
    assert r.status_code == 200, r.text
    assert r.json()["tier"] == "vip" and r.json()["decision"]["tier"] == v["decision"]["tier"]  # type: ignore[index]
    entry = client.app.state.store.audit_log(1)[0]  # type: ignore[attr-defined]
    assert entry["action"] == "override" and entry["actor"] == keys.ids["staff"]
    assert entry["detail"]["reason"] == body["reason"]
    assert entry["detail"]["from"] == v["decision"]["tier"]  # type: ignore[index]
    # The display shows the tier in force, the override and who made it.
    [shown] = client.get("/v1/visits", headers=keys.staff).json()["items"]
    assert shown["tier"] == "vip" and shown["decision"]["tier"] == v["decision"]["tier"]  # type: ignore[index]
    assert shown["override"]["reason"] == body["reason"]
    assert shown["override"]["by"] == keys.ids["staff"]


def test_the_display_listing_shows_source_tiers_and_the_model(
    client: TestClient, keys: Keys
) -> None:
    """GET /v1/visits gives the display what it draws: each tier's label, colour and shape,
    whether decisions are degraded, and each visit's source and decision."""
    _check_in(client, keys, signals={**PLAIN, "landing_page": "/menu"})
    listing = client.get("/v1/visits", headers=keys.staff).json()
    assert listing["degraded"] is False and listing["model_version"] == "v0001"
    assert {t["tier"] for t in listing["tiers"]} >= {"vip", "standard", "student"}
    assert all(t["color"].startswith("#") and t["shape"] and t["label"] for t in listing["tiers"])
    [item] = listing["items"]
    assert item["source"] == {
        "campaign": PLAIN["campaign"],
        "channel": PLAIN["channel"],
        "landing_page": "/menu",
    }
    assert item["decision"]["cues"] and item["tier"] == item["decision"]["tier"]


def test_the_listing_says_how_the_display_shows_the_site(settings: Settings) -> None:
    """GET /v1/visits carries the display's settings: source chips off for a playbook
    without ``[display]``, and each site's locale (TIERLINE_SITE_LOCALES, else
    TIERLINE_LOCALE, else null for the browser's own)."""
    with TestClient(create_app(settings)) as client:
        display = client.get("/v1/visits", headers=site_key(client, "staff")).json()["display"]
    assert display == {"source_chips": False, "locale": None}
    localized = Settings(
        **{**settings.model_dump(), "locale": "en-US", "site_locales": {SITE: "de-CH"}}
    )
    with TestClient(create_app(localized)) as client:
        shown = {
            site: client.get("/v1/visits", headers=site_key(client, "staff", site)).json()
            for site in (SITE, OTHER_SITE)
        }
    assert shown[SITE]["display"]["locale"] == "de-CH"
    assert shown[OTHER_SITE]["display"]["locale"] == "en-US"


def test_staff_close_and_override_replay_with_their_idempotency_key(
    client: TestClient, keys: Keys, db_path: Path
) -> None:
    """A tablet that retries a close or an override with the same Idempotency-Key gets the
    first answer back, and nothing is stored twice."""
    v = _check_in(client, keys)
    path = f"/v1/visits/{v['ticket']}"
    once = {**keys.staff, "Idempotency-Key": "ovr-1"}
    body = {"tier": "vip", "reason": "regular"}
    first = client.post(f"{path}/override", json=body, headers=once)
    again = client.post(f"{path}/override", json=body, headers=once)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert counts(db_path)["audit"] == 1
    other = client.post(f"{path}/override", json={**body, "tier": "student"}, headers=once)
    assert assert_error(other, 422)["code"] == "idempotency_key_reused"
    closing = {**keys.staff, "Idempotency-Key": "close-1"}
    closed = client.post(f"{path}/close", json={"spend": 55.0}, headers=closing)
    assert closed.status_code == 200 and closed.json()["tier"] == "vip"
    replay = client.post(f"{path}/close", json={"spend": 55.0}, headers=closing)
    assert replay.status_code == 200 and replay.json() == closed.json()
    assert_error(client.post(f"{path}/close", json={"spend": 55.0}, headers=keys.staff), 409)


def test_day_report_for_admins(client: TestClient, keys: Keys) -> None:
    """The manager view: today's visits and spend by tier and campaign, perks against stock."""
    v = _check_in(client, keys, signals=VIP)
    client.post(f"/v1/visits/{v['ticket']}/close", json={"spend": 120.0}, headers=keys.pos)
    _check_in(client, keys)
    report = client.get("/v1/reports/day", headers=keys.admin).json()
    assert report["site"] == SITE and report["visits"] == 2 and report["spend"] == 120.0
    assert sum(t["visits"] for t in report["by_tier"]) == 2
    assert {c["campaign"] for c in report["by_campaign"]} >= {PLAIN["campaign"]}
    assert {p["perk"] for p in report["perks"]} >= {"coffee"}
    past = client.get("/v1/reports/day?day=2020-01-01", headers=keys.admin).json()
    assert past["visits"] == 0
    assert_error(client.get("/v1/reports/day?day=yesterday", headers=keys.admin), 422)


def test_display_page_is_served_under_a_strict_csp(client: TestClient) -> None:
    """The page and its two assets come with a CSP that allows no inline script and nothing
    from elsewhere; any other asset name is a 404."""
    page = client.get("/display")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp
    script = client.get("/display/display.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert_error(client.get("/display/secrets.txt"), 404)
    assert_error(client.get("/display/..%2fapp.py"), 404)


def test_override_answers_the_new_tiers_cues(client: TestClient, keys: Keys) -> None:
    """An override to another tier answers, and lists, that tier's cues as the cues in
    force, while the decision keeps the model's."""
    v = _check_in(client, keys, signals=VIP)
    body = {"tier": "student", "reason": "student card shown"}
    r = client.post(f"/v1/visits/{v['ticket']}/override", json=body, headers=keys.staff)
    assert r.status_code == 200, r.text
    codes = [c["code"] for c in r.json()["cues"]]
    assert codes and codes[0] == "student_menu"
    listed = client.get("/v1/visits", headers=keys.staff).json()["items"][0]
    assert [c["code"] for c in listed["cues"]] == codes
    assert listed["decision"]["cues"] == v["decision"]["cues"]  # type: ignore[index]
