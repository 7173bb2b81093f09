"""Unknown signals over HTTP: every decision answer (the lane, the FastAPI route, the batch,
the check-in) lists the request's signal names that nothing uses, /metrics counts them,
and a spec with ``unknown_signals = "refuse"`` turns them into a 422 naming them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, SITE, VIP, Keys, assert_error, counts
from tests.conftest import champion_with_features
from tierline.api.app import create_app
from tierline.api.schemas import CheckInAnswer, DecisionAnswer, DecisionBatchAnswer
from tierline.api.settings import Settings

MISSPELT = {**VIP, "visits_09d": 12, "Car_Brand": "Porsche"}
IGNORED = ["Car_Brand", "visits_09d"]


def _both(settings: Settings) -> Iterator[tuple[TestClient, TestClient, dict[str, str]]]:
    """The app with its decision lane, the same app served by FastAPI alone, and a pos key."""
    with (
        TestClient(create_app(settings)) as lane,
        TestClient(create_app(settings, decision_lane=False)) as plain,
    ):
        plaintext, _ = lane.app.state.store.create_key(role="pos", site=SITE, name="till")  # type: ignore[attr-defined]
        yield lane, plain, {"X-API-Key": plaintext}


@pytest.fixture
def clients(settings: Settings) -> Iterator[tuple[TestClient, TestClient, dict[str, str]]]:
    yield from _both(settings)


@pytest.fixture
def refusing(
    settings: Settings, models_dir: Path
) -> Iterator[tuple[TestClient, TestClient, dict[str, str]]]:
    """Both apps serving the demo model written again with unknown_signals = "refuse"."""
    champion_with_features(models_dir, unknown_signals="refuse")
    yield from _both(settings)


def test_the_lane_and_the_route_list_the_same_ignored_signals(
    clients: tuple[TestClient, TestClient, dict[str, str]],
) -> None:
    """POST /v1/decisions lists the misspelt names, sorted, the same through the lane and
    through FastAPI, in an answer of the documented type; known names list none."""
    lane, plain, pos = clients
    for client in (lane, plain):
        r = client.post("/v1/decisions", json={"signals": MISSPELT}, headers=pos)
        assert r.status_code == 200, r.text
        assert DecisionAnswer.model_validate(r.json()).ignored_signals == IGNORED
        r = client.post("/v1/decisions", json={"signals": PLAIN}, headers=pos)
        assert r.json()["ignored_signals"] == []


def test_batch_and_check_in_list_ignored_signals(client: TestClient, keys: Keys) -> None:
    """Each batch item and a check-in's decision list their own ignored names, in answers
    of the documented types; party_size in the signals is not ignored."""
    items = [{"signals": MISSPELT}, {"signals": PLAIN}, {"signals": {"vip": True}}]
    r = client.post("/v1/decisions/batch", json={"items": items}, headers=keys.pos)
    assert r.status_code == 200, r.text
    batch = DecisionBatchAnswer.model_validate(r.json())
    assert [d.ignored_signals for d in batch.items] == [IGNORED, [], ["vip"]]
    body = {"signals": {**MISSPELT, "party_size": 4}, "party_size": 4}
    r = client.post("/v1/visits", json=body, headers=keys.pos)
    assert r.status_code == 201, r.text
    assert CheckInAnswer.model_validate(r.json()).decision.ignored_signals == IGNORED


def test_metrics_count_ignored_signals_and_the_decisions_with_any(
    client: TestClient, keys: Keys
) -> None:
    """/metrics counts each ignored name and each decision that had one, from the lane
    and the batch alike, with no label a customer controls."""
    client.post("/v1/decisions", json={"signals": MISSPELT}, headers=keys.pos)
    client.post("/v1/decisions", json={"signals": PLAIN}, headers=keys.pos)
    items = [{"signals": {**PLAIN, "zz": 1}}, {"signals": PLAIN}]
    client.post("/v1/decisions/batch", json={"items": items}, headers=keys.pos)
    text = client.get("/metrics").text
    assert "tierline_signals_ignored_total 3.0" in text
    assert "tierline_decisions_ignoring_signals_total 2.0" in text
    assert "visits_09d" not in text and "zz" not in text


def _refusal(response: Any) -> dict[str, Any]:
    error = assert_error(response, 422)
    assert error["code"] == "unknown_signals"
    return error


def test_a_refusing_spec_answers_422_naming_them_and_stores_nothing(
    refusing: tuple[TestClient, TestClient, dict[str, str]], db_path: Path
) -> None:
    """Under unknown_signals = "refuse" the lane and the route give the same 422 naming the
    names, the batch says which items sent them, a check-in is refused too, nothing is
    stored, and known names are still decided."""
    lane, plain, pos = refusing
    before = counts(db_path)
    errors = [
        _refusal(c.post("/v1/decisions", json={"signals": MISSPELT}, headers=pos))
        for c in (lane, plain)
    ]
    assert errors[0] == errors[1]
    assert errors[0]["details"] == {"signals": IGNORED}
    assert "'Car_Brand', 'visits_09d'" in str(errors[0]["message"])
    items = [{"signals": PLAIN}, {"signals": MISSPELT}]
    error = _refusal(lane.post("/v1/decisions/batch", json={"items": items}, headers=pos))
    assert error["details"] == {"signals": IGNORED, "items": [{"index": 1, "signals": IGNORED}]}
    _refusal(lane.post("/v1/visits", json={"signals": MISSPELT}, headers=pos))
    assert counts(db_path) == before
    r = lane.post("/v1/decisions", json={"signals": VIP}, headers=pos)
    assert r.status_code == 200 and r.json()["ignored_signals"] == []
