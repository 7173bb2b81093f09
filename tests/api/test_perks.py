"""Perks over HTTP on SQLite and PostgreSQL: a model's playbook declares the stock served
from the start, an admin lists and restocks (audited), and a restart keeps the count."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SITE, assert_error
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.registry import Registry


def champion_with_coffee_stock(models: Path, stock: int) -> str:
    """Write the champion again with its playbook declaring ``stock`` coffees, promoted."""
    registry = Registry(models)
    old = registry.champion()
    assert old is not None
    folder = models / old
    playbook = (folder / "playbook.toml").read_text(encoding="utf-8")
    coffee = playbook.index("[perks.coffee]")
    at = playbook.index("stock = 500", coffee)
    playbook = playbook[:at] + f"stock = {stock}" + playbook[at + len("stock = 500") :]
    version = registry.write(
        booster_text=(folder / "model.txt").read_text(encoding="utf-8"),
        features=json.loads((folder / "features.json").read_text(encoding="utf-8")),
        policy=json.loads((folder / "policy.json").read_text(encoding="utf-8")),
        playbook_text=playbook,
        metadata=registry.metadata(old),
    )
    registry.promote(version)
    return version


@pytest.fixture(params=["sqlite", "postgresql"])
def perk_settings(request: pytest.FixtureRequest, models_dir: Path, db_path: Path) -> Settings:
    """Settings on each database, with a champion whose playbook declares 100 coffees."""
    champion_with_coffee_stock(models_dir, 100)
    url = f"sqlite:///{db_path}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    return Settings(database_url=url, models=str(models_dir), reload_seconds=0.2)


@pytest.fixture
def perk_client(perk_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(perk_settings)) as client:
        yield client


def _admin(client: TestClient) -> dict[str, str]:
    plaintext, _ = client.app.state.store.create_key(role="admin", site=SITE, name="a")  # type: ignore[attr-defined]
    return {"X-API-Key": plaintext}


def _coffee(client: TestClient, admin: dict[str, str]) -> dict[str, object]:
    listed = client.get("/v1/perks", headers=admin)
    assert listed.status_code == 200, listed.text
    return next(p for p in listed.json()["items"] if p["name"] == "coffee")


def test_the_models_coffee_stock_is_served_from_a_fresh_start(perk_client: TestClient) -> None:
    """A fresh store serves the champion playbook's 100 coffees, not the default's 500."""
    coffee = _coffee(perk_client, _admin(perk_client))
    assert (coffee["stock"], coffee["declared_stock"], coffee["issued"]) == (100, 100, 0)


def test_a_restock_is_audited_and_kept_through_a_restart(
    perk_client: TestClient, perk_settings: Settings
) -> None:
    """PUT sets stock and budget and is audited with the admin key's id; after a restart
    the server still has the restocked count, not the playbook's or the default's."""
    admin = _admin(perk_client)
    put = perk_client.put(
        "/v1/perks/coffee", json={"stock": 7, "daily_budget": 20.0}, headers=admin
    )
    assert put.status_code == 200, put.text
    assert (put.json()["stock"], put.json()["daily_budget"]) == (7, 20.0)
    kept = perk_client.put("/v1/perks/coffee", json={"stock": 8}, headers=admin)
    assert (kept.json()["stock"], kept.json()["daily_budget"]) == (8, 20.0)
    entries = perk_client.app.state.store.audit_log()  # type: ignore[attr-defined]
    key_id = admin["X-API-Key"].split("_")[1]
    assert [(e["actor"], e["action"], e["subject"]) for e in entries] == [
        (key_id, "perk_set", "coffee")
    ] * 2
    perk_client.__exit__(None, None, None)
    with TestClient(create_app(perk_settings)) as again:
        assert _coffee(again, _admin(again))["stock"] == 8


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/perks/caviar", {"stock": 5}, 404),
        ("/v1/perks/coffee", {"stock": -1}, 422),
        ("/v1/perks/coffee", {"stock": "5"}, 422),
        ("/v1/perks/coffee", {"stock": 5, "daily_budget": -1.0}, 422),
        ("/v1/perks/coffee", {"stock": 2**40}, 422),
        ("/v1/perks/coffee", {"stock": 5, "colour": "red"}, 422),
        ("/v1/perks/coffee", {}, 422),
    ],
)
def test_a_refused_restock_changes_nothing(
    perk_client: TestClient, path: str, body: object, status: int
) -> None:
    """An unknown perk is 404 and a bad body 422, in the error shape; stock and the audit
    log are as before."""
    admin = _admin(perk_client)
    assert_error(perk_client.put(path, json=body, headers=admin), status)
    assert _coffee(perk_client, admin)["stock"] == 100
    assert perk_client.app.state.store.audit_log() == []  # type: ignore[attr-defined]
