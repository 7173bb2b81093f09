"""TIERLINE_PROFILES: one profile per customer for the chain, or one per site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OTHER_SITE, SITE, assert_error, site_key
from tierline.api.app import create_app
from tierline.api.settings import Settings

STUDENT = {"student_verified": True, "visits_90d": 1}
GUEST = "guest-7"


def _client(request: pytest.FixtureRequest, models_dir: Path, db_path: Path, profiles: str):
    url = f"sqlite:///{db_path}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    settings = Settings(database_url=url, models=str(models_dir), profiles=profiles)
    return TestClient(create_app(settings))


@pytest.fixture(params=["sqlite", "postgresql"])
def site_client(
    request: pytest.FixtureRequest, models_dir: Path, db_path: Path
) -> Iterator[TestClient]:
    """The app with TIERLINE_PROFILES=site, on SQLite and on PostgreSQL."""
    with _client(request, models_dir, db_path, "site") as client:
        yield client


@pytest.fixture(params=["sqlite", "postgresql"])
def chain_client(
    request: pytest.FixtureRequest, models_dir: Path, db_path: Path
) -> Iterator[TestClient]:
    """The app with the default TIERLINE_PROFILES (chain), on SQLite and on PostgreSQL."""
    with _client(request, models_dir, db_path, "chain") as client:
        yield client


def _tier(client: TestClient, key: dict[str, str]) -> str:
    r = client.post("/v1/decisions", json={"customer_id": GUEST}, headers=key)
    assert r.status_code == 200, r.text
    return str(r.json()["tier"])


def test_the_default_is_one_profile_for_the_chain() -> None:
    """Without TIERLINE_PROFILES the chain shares one profile per customer."""
    assert Settings().profiles == "chain"


def test_a_bad_profiles_setting_is_refused() -> None:
    """TIERLINE_PROFILES takes only 'chain' or 'site'."""
    with pytest.raises(ValueError, match="profiles"):
        Settings(profiles="shop")  # type: ignore[arg-type]


def test_in_site_mode_another_sites_profile_is_neither_read_nor_replaced(
    site_client: TestClient,
) -> None:
    """Site b's key gets 404 for site a's profile, and its PUT stores b's own beside a's."""
    a, b = site_key(site_client, "pos", SITE), site_key(site_client, "pos", OTHER_SITE)
    put = site_client.put(f"/v1/customers/{GUEST}", json={"signals": STUDENT}, headers=a)
    assert put.status_code == 200, put.text
    assert_error(site_client.get(f"/v1/customers/{GUEST}", headers=b), 404)
    other = {"visits_90d": 9, "student_verified": False}
    put_b = site_client.put(f"/v1/customers/{GUEST}", json={"signals": other}, headers=b)
    assert put_b.status_code == 200, put_b.text
    assert site_client.get(f"/v1/customers/{GUEST}", headers=a).json()["signals"] == STUDENT
    assert site_client.get(f"/v1/customers/{GUEST}", headers=b).json()["signals"] == other


def test_in_site_mode_each_sites_decisions_use_its_own_profile(site_client: TestClient) -> None:
    """A decision and a check-in read their own site's profile, never another's."""
    a, b = site_key(site_client, "pos", SITE), site_key(site_client, "pos", OTHER_SITE)
    site_client.put(f"/v1/customers/{GUEST}", json={"signals": STUDENT}, headers=a)
    assert _tier(site_client, a) == "student"
    r = site_client.post("/v1/decisions", json={"customer_id": GUEST}, headers=b)
    assert_error(r, 404)  # b knows no such customer and got no signals
    site_client.put(
        f"/v1/customers/{GUEST}", json={"signals": {"student_verified": False}}, headers=b
    )
    assert _tier(site_client, b) != "student"
    visit = site_client.post("/v1/visits", json={"customer_id": GUEST}, headers=a)
    assert visit.status_code == 201, visit.text
    assert visit.json()["decision"]["tier"] == "student"


def test_in_chain_mode_every_site_reads_and_replaces_the_one_profile(
    chain_client: TestClient,
) -> None:
    """A profile one site stores is the one every site reads, decides with and replaces."""
    a, b = site_key(chain_client, "pos", SITE), site_key(chain_client, "pos", OTHER_SITE)
    chain_client.put(f"/v1/customers/{GUEST}", json={"signals": STUDENT}, headers=a)
    assert chain_client.get(f"/v1/customers/{GUEST}", headers=b).json()["signals"] == STUDENT
    assert _tier(chain_client, b) == "student"
    replaced = {"student_verified": False}
    chain_client.put(f"/v1/customers/{GUEST}", json={"signals": replaced}, headers=b)
    assert chain_client.get(f"/v1/customers/{GUEST}", headers=a).json()["signals"] == replaced


def test_erasure_deletes_the_profiles_of_every_site(site_client: TestClient) -> None:
    """An admin's erasure removes the customer's profile at every site, not only its own."""
    a, b = site_key(site_client, "pos", SITE), site_key(site_client, "pos", OTHER_SITE)
    for key in (a, b):
        site_client.put(f"/v1/customers/{GUEST}", json={"signals": STUDENT}, headers=key)
    admin = site_key(site_client, "admin", SITE)
    erased = site_client.delete(f"/v1/customers/{GUEST}", headers=admin)
    assert erased.status_code == 200 and erased.json()["profile"] is True
    for key in (a, b):
        assert_error(site_client.get(f"/v1/customers/{GUEST}", headers=key), 404)
