"""Tablet pairing over HTTP: an admin's code, spent once by a keyless tablet on a staff key
of the admin's site; expired, spent and unknown codes refused in the error shape; attempts
limited per client address."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SITE, Keys, assert_error, counts
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.store import Store


class FakeClock:
    """A UTC clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(client: TestClient, settings: Settings) -> Iterator[FakeClock]:
    """The app's store replaced by one on the same database that reads a fake clock."""
    fake = FakeClock()
    real = client.app.state.store  # type: ignore[attr-defined]
    with Store.open(settings.database_url, clock=fake) as store:
        client.app.state.store = store  # type: ignore[attr-defined]
        try:
            yield fake
        finally:
            client.app.state.store = real  # type: ignore[attr-defined]


def test_an_admin_code_signs_a_tablet_in_as_staff_of_the_admins_site(
    client: TestClient, keys: Keys
) -> None:
    """The code an admin issues is redeemed without a key for a staff key of the admin's
    site, which then reads the floor and nothing above staff."""
    issued = client.post("/v1/pairing", json={"minutes": 5}, headers=keys.admin)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["site"] == SITE and len(body["code"]) == 9
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)
    paired = client.post("/v1/pairing/redeem", json={"code": body["code"].lower()})
    assert paired.status_code == 201, paired.text
    tablet = paired.json()
    assert (tablet["role"], tablet["site"]) == ("staff", SITE)
    assert tablet["name"].startswith("tablet paired ")
    headers = {"X-API-Key": tablet["key"]}
    assert client.get("/v1/visits", headers=headers).json()["site"] == SITE
    assert_error(client.get("/v1/reports/day", headers=headers), 403)


def test_a_code_lasts_ten_minutes_by_default_and_expires_as_gone(
    client: TestClient, keys: Keys, clock: FakeClock, db_path: Path
) -> None:
    """Without a body the code lives 10 minutes; redeemed at its expiry it is 410 and no
    key is made."""
    issued = client.post("/v1/pairing", headers=keys.admin).json()
    assert datetime.fromisoformat(issued["expires_at"]) == clock.now + timedelta(minutes=10)
    clock.now += timedelta(minutes=10)
    before = counts(db_path)["api_keys"]
    error = assert_error(client.post("/v1/pairing/redeem", json={"code": issued["code"]}), 410)
    assert error["code"] == "gone" and "expired" in str(error["message"])
    assert counts(db_path)["api_keys"] == before


def test_a_spent_code_is_gone_and_an_unknown_one_not_found(client: TestClient, keys: Keys) -> None:
    """A second redemption of one code is 410; a code never issued is 404; a body that is
    not a code is 422."""
    code = client.post("/v1/pairing", headers=keys.admin).json()["code"]
    assert client.post("/v1/pairing/redeem", json={"code": code}).status_code == 201
    again = assert_error(client.post("/v1/pairing/redeem", json={"code": code}), 410)
    assert "already used" in str(again["message"])
    assert_error(client.post("/v1/pairing/redeem", json={"code": "2222-2222"}), 404)
    assert_error(client.post("/v1/pairing/redeem", json={"code": 12345678}), 422)
    assert_error(client.post("/v1/pairing", json={"minutes": 61}, headers=keys.admin), 422)


def test_issue_and_redeem_are_audited(client: TestClient, keys: Keys) -> None:
    """The audit log names the admin key that issued a code and the key it was spent on."""
    code = client.post("/v1/pairing", headers=keys.admin).json()["code"]
    tablet = client.post("/v1/pairing/redeem", json={"code": code}).json()
    store = client.app.state.store  # type: ignore[attr-defined]
    redeem, issue = store.audit_log()[:2]
    assert (issue["action"], issue["actor"], issue["subject"]) == (
        "pairing.issue",
        keys.ids["admin"],
        SITE,
    )
    assert (redeem["action"], redeem["subject"]) == ("pairing.redeem", tablet["id"])
    assert redeem["actor"] == f"pairing:{keys.ids['admin']}"


def test_redemption_attempts_are_limited_per_client_address(
    models_dir: Path, db_path: Path
) -> None:
    """Past the per-minute allowance a client's attempts get 429 with Retry-After, even
    with a good code, and nothing is spent."""
    settings = Settings(
        database_url=f"sqlite:///{db_path}", models=str(models_dir), pairing_attempts_per_minute=3
    )
    with TestClient(create_app(settings)) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        code = store.issue_pairing(site=SITE, issued_by="test")["code"]
        for _ in range(3):
            assert_error(client.post("/v1/pairing/redeem", json={"code": "2222-2222"}), 404)
        limited = client.post("/v1/pairing/redeem", json={"code": code})
        assert assert_error(limited, 429)["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert store.list_keys() == []
