"""Outcomes mark only the cues a decision offered; several outcomes per decision are the
display's way of marking cues one tap at a time, the latest about a cue winning."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import VIP, assert_error, site_key


def _visit(client: TestClient, pos: dict[str, str]) -> dict[str, object]:
    r = client.post("/v1/visits", json={"signals": VIP}, headers=pos)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _offered(visit: dict[str, object]) -> list[str]:
    decision = visit["decision"]
    assert isinstance(decision, dict)
    return [cue["code"] for cue in decision["cues"]]


def test_a_cue_the_decision_never_offered_is_422_naming_it(any_client: TestClient) -> None:
    """A playbook cue code the decision did not show is 422 cue_not_offered naming the code,
    and no outcome is stored."""
    client, pos, staff = any_client, site_key(any_client, "pos"), site_key(any_client, "staff")
    visit = _visit(client, pos)
    decision_id = visit["decision"]["decision_id"]  # type: ignore[index]
    stranger = "student_menu"  # in the playbook, for another tier
    assert stranger not in _offered(visit)
    body = {"decision_id": decision_id, "accepted": [_offered(visit)[0]], "declined": [stranger]}
    r = client.post("/v1/outcomes", json=body, headers={**staff, "Idempotency-Key": "o-1"})
    error = assert_error(r, 422)
    assert error["code"] == "cue_not_offered" and error["details"]["unknown"] == [stranger]  # type: ignore[index]
    store = client.app.state.store  # type: ignore[attr-defined]
    assert store.get_outcome("lyon", "o-1") is None


def test_a_code_no_cue_of_the_playbook_has_is_422_unknown_cue(any_client: TestClient) -> None:
    """A code that no cue of the serving playbook has (a typo) is 422 unknown_cue, naming it
    and the codes there are, before the decision is looked up; no outcome is stored."""
    client, pos, staff = any_client, site_key(any_client, "pos"), site_key(any_client, "staff")
    visit = _visit(client, pos)
    body = {"decision_id": visit["decision"]["decision_id"], "accepted": ["seat_fsat"]}  # type: ignore[index]
    r = client.post("/v1/outcomes", json=body, headers={**staff, "Idempotency-Key": "o-3"})
    error = assert_error(r, 422)
    assert error["code"] == "unknown_cue" and error["details"]["unknown"] == ["seat_fsat"]  # type: ignore[index]
    assert "seat_fast" in error["details"]["known"]  # type: ignore[index]
    assert client.app.state.store.get_outcome("lyon", "o-3") is None  # type: ignore[attr-defined]


def test_the_cues_an_override_picked_can_be_marked(any_client: TestClient) -> None:
    """After an override to another tier, that tier's cues are offered and may be marked."""
    client, pos, staff = any_client, site_key(any_client, "pos"), site_key(any_client, "staff")
    visit = _visit(client, pos)
    ticket, decision_id = visit["ticket"], visit["decision"]["decision_id"]  # type: ignore[index]
    body = {"tier": "standard", "reason": "Asked for no fuss"}
    overridden = client.post(f"/v1/visits/{ticket}/override", json=body, headers=staff)
    assert overridden.status_code == 200, overridden.text
    new_cues = [c["code"] for c in overridden.json()["cues"]]
    fresh = sorted(set(new_cues) - set(_offered(visit)))
    assert fresh, new_cues
    outcome = {"decision_id": decision_id, "accepted": fresh}
    r = client.post("/v1/outcomes", json=outcome, headers={**staff, "Idempotency-Key": "o-2"})
    assert r.status_code == 201, r.text


def test_a_cue_may_be_marked_again_and_the_latest_mark_wins(any_client: TestClient) -> None:
    """The display posts one outcome per tap: accepting then declining the same cue are two
    outcomes (201 each), and the visit shows the cue declined."""
    client, pos, staff = any_client, site_key(any_client, "pos"), site_key(any_client, "staff")
    visit = _visit(client, pos)
    ticket, decision_id = visit["ticket"], visit["decision"]["decision_id"]  # type: ignore[index]
    code = _offered(visit)[0]
    for n, mark in enumerate(("accepted", "declined")):
        body = {"decision_id": decision_id, mark: [code]}
        r = client.post("/v1/outcomes", json=body, headers={**staff, "Idempotency-Key": f"t{n}"})
        assert r.status_code == 201, r.text
    shown = client.get(f"/v1/visits/{ticket}", headers=staff).json()
    assert shown["declined"] == [code] and code not in shown["accepted"]
