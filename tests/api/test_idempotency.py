"""Idempotency-Key over HTTP, on SQLite and PostgreSQL: keys are the site's own, a repeat of
a request replays its first answer, and a key reused for another request is a 422
``idempotency_key_reused`` on outcomes, close and override alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OTHER_SITE, PLAIN, SITE, assert_error
from tierline.api.app import create_app
from tierline.api.settings import Settings

KEY = "till3-0001"


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, models_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    """The API on a fresh SQLite file or PostgreSQL schema."""
    url = (
        f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    settings = Settings(database_url=url, models=str(models_dir), reload_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        yield client


def _till(client: TestClient, site: str) -> dict[str, str]:
    """A pos key at ``site`` (it may check in and serve the staff routes)."""
    plaintext, _ = client.app.state.store.create_key(role="pos", site=site, name="till 3")  # type: ignore[attr-defined]
    return {"X-API-Key": plaintext}


def _guest(client: TestClient, till: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Check a guest in: the visit's path and an outcome body for its decision."""
    visit = client.post("/v1/visits", json={"signals": PLAIN}, headers=till)
    assert visit.status_code == 201, visit.text
    decision = visit.json()["decision"]
    outcome = {"decision_id": decision["decision_id"], "accepted": [decision["cues"][0]["code"]]}
    return f"/v1/visits/{visit.json()['ticket']}", outcome


def _send_twice(
    client: TestClient, till: dict[str, str], path: str, outcome: dict[str, Any]
) -> list[tuple[Any, Any]]:
    """An outcome, an override and a close of one visit with ``KEY``, each sent again right
    after its first answer (a till retrying): ``(first, retry)`` for each."""
    keyed = {**till, "Idempotency-Key": KEY}
    calls = [
        ("/v1/outcomes", outcome),
        (f"{path}/override", {"tier": "vip", "reason": "regular"}),
        (f"{path}/close", {"spend": 50.0}),
    ]
    return [
        (client.post(url, json=body, headers=keyed), client.post(url, json=body, headers=keyed))
        for url, body in calls
    ]


def test_two_sites_sending_one_key_both_store_and_replay_their_own(api: TestClient) -> None:
    """Two sites' tills send the same Idempotency-Key for an outcome, an override and a
    close: each site's requests are stored as new ones, and each retry returns that site's
    first answer."""
    outcome_ids = []
    for site in (SITE, OTHER_SITE):
        till = _till(api, site)
        path, outcome = _guest(api, till)
        sent = _send_twice(api, till, path, outcome)
        assert [(a.status_code, b.status_code) for a, b in sent] == [
            (201, 201),
            (200, 200),
            (200, 200),
        ]
        assert all(first.json() == retry.json() for first, retry in sent)
        (outcome_first, outcome_retry), (override_first, override_retry), (closed, _) = sent
        assert outcome_first.json()["decision_id"] == outcome["decision_id"]
        assert outcome_first.headers["Idempotent-Replayed"] == "false"
        assert override_first.headers["Idempotent-Replayed"] == "false"
        assert outcome_retry.headers["Idempotent-Replayed"] == "true"
        assert override_retry.headers["Idempotent-Replayed"] == "true"
        assert closed.json()["site"] == site and closed.json()["closed_at"]
        outcome_ids.append(outcome_first.json()["id"])
    assert len(set(outcome_ids)) == 2


def test_a_key_reused_with_another_body_is_422_on_every_route(api: TestClient) -> None:
    """At one site, the key sent again with another outcome, another tier or another spend
    is a 422 idempotency_key_reused on each route, and the first answers still replay."""
    till = _till(api, SITE)
    path, outcome = _guest(api, till)
    firsts = [first.json() for first, _ in _send_twice(api, till, path, outcome)]
    keyed = {**till, "Idempotency-Key": KEY}
    refused = [
        api.post("/v1/outcomes", json={**outcome, "spend": 1.0}, headers=keyed),
        api.post(f"{path}/override", json={"tier": "student", "reason": "x"}, headers=keyed),
        api.post(f"{path}/close", json={"spend": 51.0}, headers=keyed),
    ]
    for response in refused:
        error = assert_error(response, 422)
        assert error["code"] == "idempotency_key_reused" and KEY in str(error["message"])
    assert api.post("/v1/outcomes", json=outcome, headers=keyed).json() == firsts[0]
    assert api.post(f"{path}/close", json={"spend": 50.0}, headers=keyed).json() == firsts[2]
