"""API fixtures: a copy of the trained registry, a SQLite store in tmp_path, keys per role."""

from __future__ import annotations

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

SITE = "lyon"
OTHER_SITE = "paris"

PLAIN = {"visits_90d": 1, "spend_365d": 40.0, "campaign": "spring_menu", "channel": "walk-in"}


def clone_version(models: Path, source: str, target: str) -> None:
    """Copy an immutable version folder under a new name (it verifies: digests are per file)."""
    shutil.copytree(models / source, models / target)


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
