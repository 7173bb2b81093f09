"""The manager's day report: the site's time zone, the day parameter, perks by their text."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OTHER_SITE, PLAIN, SITE, VIP, Keys, assert_error
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.playbook import Perk

# UTC+14 and UTC-11: at any hour at least one of them is on another date than UTC.
ZONES = {SITE: "Pacific/Kiritimati", OTHER_SITE: "Pacific/Pago_Pago"}


def test_the_default_day_is_today_in_the_sites_time_zone(settings: Settings) -> None:
    """Without ?day the report is of today at the key's site, in that site's time zone,
    and counts a check-in made just now."""
    zoned = Settings(**{**settings.model_dump(), "site_timezones": ZONES})
    with TestClient(create_app(zoned)) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        for site, zone in ZONES.items():
            pos, _ = store.create_key(role="pos", site=site, name=None)
            admin, _ = store.create_key(role="admin", site=site, name=None)
            checked = client.post("/v1/visits", json={"signals": PLAIN}, headers={"X-API-Key": pos})
            assert checked.status_code == 201, checked.text
            before = dt.datetime.now(ZoneInfo(zone)).date().isoformat()
            report = client.get("/v1/reports/day", headers={"X-API-Key": admin}).json()
            after = dt.datetime.now(ZoneInfo(zone)).date().isoformat()
            assert report["timezone"] == zone and report["day"] in {before, after}
            assert report["site"] == site and report["visits"] == 1


def test_a_site_without_its_own_zone_uses_the_default(settings: Settings) -> None:
    """A site not named in TIERLINE_SITE_TIMEZONES reports in TIERLINE_TIMEZONE."""
    zoned = Settings(
        **{**settings.model_dump(), "timezone": "Asia/Tokyo", "site_timezones": {"x": "UTC"}}
    )
    with TestClient(create_app(zoned)) as client:
        admin, _ = client.app.state.store.create_key(role="admin", site=SITE, name=None)  # type: ignore[attr-defined]
        report = client.get("/v1/reports/day", headers={"X-API-Key": admin}).json()
    assert report["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize(
    "day",
    [
        "0",
        "1700000000",
        "",
        "yesterday",
        "2025-02-30",
        "2025-1-5",
        "2025-11-26T00:00",
        "0001-01-01",
        "9999-12-31",
    ],
)
def test_a_day_that_is_not_a_date_is_a_422(client: TestClient, keys: Keys, day: str) -> None:
    """?day takes a calendar date written YYYY-MM-DD; a number (not seconds since 1970), an
    impossible date or one out of range is a 422 naming the parameter."""
    error = assert_error(
        client.get("/v1/reports/day", params={"day": day}, headers=keys.admin), 422
    )
    assert "day" in str(error["message"])


def test_a_past_day_is_reported(client: TestClient, keys: Keys) -> None:
    """A valid past day, the first of the range included, is a 200 with no visits."""
    for day in ("1970-01-01", "2020-02-29"):
        report = client.get("/v1/reports/day", params={"day": day}, headers=keys.admin).json()
        assert report["day"] == day and report["visits"] == 0


def test_perks_are_named_by_their_playbook_text(client: TestClient, keys: Keys) -> None:
    """Each perk of the report carries the serving playbook's text for it; a perk the
    playbook no longer has keeps its name as its text."""
    store = client.app.state.store  # type: ignore[attr-defined]
    store.sync_perks({"retired": Perk("retired", cost=1.0, stock=None, daily_budget=None)})
    assert client.post("/v1/visits", json={"signals": VIP}, headers=keys.pos).status_code == 201
    perks = client.get("/v1/reports/day", headers=keys.admin).json()["perks"]
    playbook = client.app.state.serving.current.playbook  # type: ignore[attr-defined]
    texts = {p["perk"]: p["text"] for p in perks}
    expected = {name: perk.text for name, perk in playbook.perks.items()}
    assert expected and all(expected.values())
    assert texts == {**expected, "retired": "retired"}
    assert all(texts[name] != name for name in expected)
