"""API fixtures: a copy of the trained registry, a SQLite store in tmp_path, keys per role."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import VIP as VIP  # re-exported for the API tests
from tests.conftest import Trained
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.registry import Registry

SITE = "lyon"
OTHER_SITE = "paris"

PLAIN = {"visits_90d": 1, "spend_365d": 40.0, "campaign": "spring_menu", "channel": "walk-in"}


def clone_version(models: Path, source: str, target: str) -> None:
    """Copy an immutable version folder under a new name (it verifies: digests are per file)."""
    shutil.copytree(models / source, models / target)


def write_second_version(models: Path) -> tuple[str, str]:
    """Write a copy of the champion as a new version: two versions to swap between."""
    registry = Registry(models)
    first = registry.champion()
    assert first is not None
    folder = models / first
    second = registry.write(
        booster_text=(folder / "model.txt").read_text(),
        features=json.loads((folder / "features.json").read_text()),
        policy=json.loads((folder / "policy.json").read_text()),
        playbook_text=(folder / "playbook.toml").read_text(),
        metadata=registry.metadata(first),
    )
    return first, second


def make_writable(folder: Path) -> None:
    for p in folder.iterdir():
        os.chmod(p, 0o644)


def counts(db: Path) -> dict[str, int]:
    """Rows per table, to prove a refused request changed nothing."""
    with sqlite3.connect(db) as conn:
        tables = ("customers", "decisions", "visits", "outcomes", "audit", "api_keys")
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


@dataclass
class Keys:
    staff: dict[str, str]
    pos: dict[str, str]
    admin: dict[str, str]
    other_pos: dict[str, str]
    ids: dict[str, str]


@pytest.fixture
def models_dir(trained: Trained, tmp_path: Path) -> Path:
    """A private copy of the trained registry (tests promote, tamper and roll back in it)."""
    target = tmp_path / "models"
    shutil.copytree(trained.models, target)
    return target


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "tierline.db"


@pytest.fixture
def settings(models_dir: Path, db_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{db_path}", models=str(models_dir), reload_seconds=0.2)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def keys(client: TestClient) -> Keys:
    store = client.app.state.store  # type: ignore[attr-defined]
    made: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {}
    for label, role, site in (
        ("staff", "staff", SITE),
        ("pos", "pos", SITE),
        ("admin", "admin", SITE),
        ("other_pos", "pos", OTHER_SITE),
    ):
        plaintext, record = store.create_key(role=role, site=site, name=label)
        made[label] = {"X-API-Key": plaintext}
        ids[label] = record["id"]
    return Keys(**made, ids=ids)


def assert_error(response: object, status: int) -> dict[str, object]:
    """The response has ``status`` and the one error shape; returns the error object."""
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


@pytest.fixture(params=["sqlite", "postgresql"])
def any_client(
    request: pytest.FixtureRequest, models_dir: Path, db_path: Path
) -> Iterator[TestClient]:
    """The app with its lifespan, on SQLite and on an empty PostgreSQL schema."""
    url = f"sqlite:///{db_path}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    settings = Settings(database_url=url, models=str(models_dir), reload_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        yield client


def site_key(client: TestClient, role: str, site: str = SITE) -> dict[str, str]:
    """A new key of ``role`` at ``site``, as request headers."""
    plaintext, _ = client.app.state.store.create_key(role=role, site=site, name=role)  # type: ignore[attr-defined]
    return {"X-API-Key": plaintext}
