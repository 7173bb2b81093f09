"""Outcomes: exactly once per Idempotency-Key, known cue codes only, unicode intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import VIP, Keys, assert_error, counts


@pytest.fixture
def decision(client: TestClient, keys: Keys) -> dict[str, object]:
    r = client.post("/v1/decisions", json={"customer_id": "o-1", "signals": VIP}, headers=keys.pos)
    return dict(r.json())


def _body(decision: dict[str, object], **extra: object) -> dict[str, object]:
    cues = decision["cues"]
    assert isinstance(cues, list)
    return {
        "decision_id": decision["decision_id"],
        "spend": 120.0,
        "accepted": [cues[0]["code"]],
        "declined": [],
        "converted": True,
        "note": "Aimait la terrasse — 寿司 🍣",
        **extra,
    }


def test_outcome_is_stored_once_and_a_replay_returns_the_first(
    client: TestClient, keys: Keys, decision: dict[str, object], db_path: Path
) -> None:
    """The first post is 201 with the stored outcome; a replay is 201 with the same body."""
    body = _body(decision)
    headers = {**keys.staff, "Idempotency-Key": "k-1"}
    first = client.post("/v1/outcomes", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["note"] == body["note"]  # unicode intact
    assert first.headers["Idempotent-Replayed"] == "false"
    before = counts(db_path)
    again = client.post("/v1/outcomes", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(db_path) == before


def test_same_key_with_another_body_is_422(
    client: TestClient, keys: Keys, decision: dict[str, object], db_path: Path
) -> None:
    """Reusing an Idempotency-Key with a different body is 422 and the first outcome stays."""
    headers = {**keys.staff, "Idempotency-Key": "k-2"}
    first = client.post("/v1/outcomes", json=_body(decision), headers=headers).json()
    before = counts(db_path)
    r = client.post("/v1/outcomes", json=_body(decision, spend=1.0), headers=headers)
    assert assert_error(r, 422)["code"] == "idempotency_key_reused"
    assert counts(db_path) == before
    assert client.post("/v1/outcomes", json=_body(decision), headers=headers).json() == first


@pytest.mark.parametrize(
    ("change", "headers_extra", "status"),
    [
        pytest.param(
            {"accepted": ["free_yacht"]}, {"Idempotency-Key": "b1"}, 422, id="unknown-cue"
        ),
        pytest.param({"declined": ["nope"]}, {"Idempotency-Key": "b2"}, 422, id="unknown-declined"),
        pytest.param({"spend": -5}, {"Idempotency-Key": "b3"}, 422, id="negative-spend"),
        pytest.param({"spend": "12"}, {"Idempotency-Key": "b4"}, 422, id="string-spend"),
        pytest.param({"converted": "yes"}, {"Idempotency-Key": "b5"}, 422, id="string-bool"),
        pytest.param({"mood": "happy"}, {"Idempotency-Key": "b6"}, 422, id="unknown-field"),
        pytest.param({}, {}, 422, id="missing-idempotency-key"),
        pytest.param(
            {"decision_id": "f" * 32}, {"Idempotency-Key": "b7"}, 404, id="unknown-decision"
        ),
    ],
)
def test_bad_outcomes_are_refused_and_store_nothing(
    client: TestClient,
    keys: Keys,
    decision: dict[str, object],
    db_path: Path,
    change: dict[str, object],
    headers_extra: dict[str, str],
    status: int,
) -> None:
    """Each bad outcome gets its 4xx in the error shape and no outcome is stored."""
    before = counts(db_path)
    r = client.post(
        "/v1/outcomes", json=_body(decision, **change), headers={**keys.staff, **headers_extra}
    )
    assert_error(r, status)
    assert counts(db_path) == before


def test_missing_decision_id_is_422(client: TestClient, keys: Keys) -> None:
    """An outcome without its decision_id is a 422."""
    r = client.post(
        "/v1/outcomes", json={"spend": 1.0}, headers={**keys.staff, "Idempotency-Key": "m"}
    )
    assert_error(r, 422)


def test_another_sites_decision_looks_exactly_missing(
    client: TestClient, keys: Keys, decision: dict[str, object], db_path: Path
) -> None:
    """A key of another site cannot post an outcome for this site's decision: 404 with the
    words of a decision that never existed, and nothing stored."""
    before = counts(db_path)
    foreign = client.post(
        "/v1/outcomes", json=_body(decision), headers={**keys.other_pos, "Idempotency-Key": "x-1"}
    )
    missing = client.post(
        "/v1/outcomes",
        json=_body(decision, decision_id="0" * 32),
        headers={**keys.other_pos, "Idempotency-Key": "x-2"},
    )
    assert assert_error(foreign, 404)["message"].replace(str(decision["decision_id"]), "D") == (
        assert_error(missing, 404)["message"].replace("0" * 32, "D")
    )
    assert counts(db_path) == before
