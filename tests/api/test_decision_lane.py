"""The decision lane (api.decision_lane) answers POST /v1/decisions as the FastAPI route
declared for it does: same decisions, same refusals, same metrics, nothing stored on a
refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, VIP, Keys, assert_error, counts
from tierline.api.app import create_app
from tierline.api.settings import Settings


@pytest.fixture
def plain_client(settings: Settings, client: TestClient) -> Iterator[TestClient]:
    """The same service (store, models) with the route served by FastAPI, not the lane."""
    with TestClient(create_app(settings, decision_lane=False)) as c:
        yield c


def _send(client: TestClient, case: dict[str, Any], keys: Keys) -> Any:
    headers = {**keys.pos, **case.get("headers", {})}
    if "content" in case:
        return client.post(case["url"], content=case["content"], headers=headers)
    return client.post(case["url"], json=case["json"], headers=headers)


GOOD = [
    {"url": "/v1/decisions", "json": {"customer_id": "p-1", "signals": VIP}},
    {"url": "/v1/decisions?explain=false", "json": {"signals": PLAIN}},
    {"url": "/v1/decisions?explain=0", "json": {"signals": {"student_verified": True}}},
    {"url": "/v1/decisions?explain=No", "json": {"signals": PLAIN}},
    {"url": "/v1/decisions?explain=yes&explain=off", "json": {"signals": PLAIN}},  # the last
    {"url": "/v1/decisions?other=1", "json": {"customer_id": "p-2", "signals": PLAIN}},
    {
        "url": "/v1/decisions",
        "content": b'{"signals": {"campaign": "spring_menu", "visits_90d": 2}}',
        "headers": {"Content-Type": "application/vnd.tierline+json; charset=utf-8"},
    },
    {"url": "/v1/decisions", "json": {"signals": {"campaign": "Frühling ☕", "x": None}}},
    {"url": "/v1/decisions", "json": {"signals": {**PLAIN, "visits_09d": 3, "Zoë": True}}},
]

BAD = [
    {
        "url": "/v1/decisions",
        "content": b'{"signals": {"visits_90d": 3',
        "headers": {"Content-Type": "application/json"},
        "status": 400,
    },
    {"url": "/v1/decisions", "content": b'{"signals": {"visits_90d": 3}}', "status": 422},
    {
        "url": "/v1/decisions",
        "content": b'{"signals": {"campaign": "\xff"}}',  # not UTF-8
        "headers": {"Content-Type": "application/json"},
        "status": 400,
    },
    {"url": "/v1/decisions", "json": {"signals": PLAIN, "colour": "red"}, "status": 422},
    {"url": "/v1/decisions", "json": {"customer_id": 12}, "status": 422},
    {"url": "/v1/decisions", "json": {"signals": {"visits_90d": {"a": 1}}}, "status": 422},
    {"url": "/v1/decisions", "json": {"signals": {"": 1}}, "status": 422},
    {"url": "/v1/decisions", "json": {}, "status": 422},
    {"url": "/v1/decisions", "json": [1, 2], "status": 422},
    {"url": "/v1/decisions", "json": {"customer_id": "ghost"}, "status": 404},
    {"url": "/v1/decisions?explain=maybe", "json": {"signals": PLAIN}, "status": 422},
    {"url": "/v1/decisions?explain=", "json": {"signals": PLAIN}, "status": 422},
    {
        "url": "/v1/decisions",
        "content": b"",
        "headers": {"Content-Type": "application/json"},
        "status": 422,
    },
    {
        "url": "/v1/decisions",
        "content": b'{"signals": {"visits_90d": 3}}',
        "headers": {"Content-Type": "text/plain"},
        "status": 422,
    },
    {"url": "/v1/decisions", "json": {"signals": {"note": "x" * 70_000}}, "status": 413},
    {"url": "/v1/decisions", "json": {"customer_id": "p\u00001"}, "status": 422},
    {"url": "/v1/decisions", "json": {"signals": {"campaign": "a\u0000"}}, "status": 422},
    {"url": "/v1/decisions", "json": {"signals": {"\u0000": 1}}, "status": 422},
    *(
        {
            "url": "/v1/decisions",
            "content": b'{"signals": {"visits_90d": ' + number + b"}}",
            "headers": {"Content-Type": "application/json"},
            "status": 422,
        }
        for number in (b"1" + b"0" * 400, b"1e400", b"NaN", b"-Infinity")
    ),
    {
        "url": "/v1/decisions",
        "content": b'{"signals": {"visits_90d": ' + b"[" * 1000 + b"]" * 1000 + b"}}",
        "headers": {"Content-Type": "application/json"},
        "status": 400,
    },
]


def _comparable(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k != "decision_id"}


@pytest.mark.parametrize("case", GOOD, ids=lambda c: c["url"])
def test_a_decision_is_the_same_through_the_lane_and_through_fastapi(
    client: TestClient, plain_client: TestClient, keys: Keys, case: dict[str, Any]
) -> None:
    """The lane's answer is FastAPI's, field for field (the decision id aside), and both
    store the decision they answered."""
    lane, plain = _send(client, case, keys), _send(plain_client, case, keys)
    assert lane.status_code == plain.status_code == 200, (lane.text, plain.text)
    assert lane.headers["content-type"] == plain.headers["content-type"]
    assert _comparable(lane.json()) == _comparable(plain.json())
    store = client.app.state.store  # type: ignore[attr-defined]
    for answer in (lane, plain):
        assert store.get_decision(answer.json()["decision_id"]) is not None


@pytest.mark.parametrize("case", BAD, ids=lambda c: f"{c['status']}-{c['url']}")
def test_a_refusal_is_the_same_through_the_lane_and_through_fastapi(
    client: TestClient,
    plain_client: TestClient,
    keys: Keys,
    db_path: Path,
    case: dict[str, Any],
) -> None:
    """Each bad request gets the same status, error code and message both ways, and
    stores nothing."""
    before = counts(db_path)
    lane, plain = _send(client, case, keys), _send(plain_client, case, keys)
    lane_error, plain_error = (
        assert_error(lane, case["status"]),
        assert_error(plain, case["status"]),
    )
    assert lane_error["code"] == plain_error["code"]
    if case["status"] != 400:  # a JSON parse error is worded by the parser that found it
        assert lane_error["message"] == plain_error["message"]
    assert counts(db_path) == before


def test_the_lane_checks_the_key_before_it_reads_the_body(client: TestClient, keys: Keys) -> None:
    """Without a key, malformed JSON is a 401 (FastAPI would parse first and say 400);
    a staff key is a 403 whatever the body."""
    broken = b'{"signals": '
    json_type = {"Content-Type": "application/json"}
    r = client.post("/v1/decisions", content=broken, headers=json_type)
    assert assert_error(r, 401)["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "X-API-Key"
    r = client.post("/v1/decisions", content=broken, headers={**keys.staff, **json_type})
    assert assert_error(r, 403)["code"] == "forbidden"


def test_lane_requests_are_counted_and_timed_under_the_route(
    client: TestClient, keys: Keys
) -> None:
    """The lane's answers, 200s and refusals alike, reach the Prometheus metrics under the
    route template."""
    client.post("/v1/decisions", json={"signals": PLAIN}, headers=keys.pos)
    client.post("/v1/decisions", json={"signals": PLAIN})
    text = client.get("/metrics").text
    for status in ("200", "401"):
        assert (
            f'tierline_http_requests_total{{method="POST",route="/v1/decisions",status="{status}"}} 1.0'
            in text
        )
    assert (
        'tierline_http_request_duration_seconds_count{method="POST",route="/v1/decisions"} 2.0'
        in (text)
    )
    assert 'tierline_decisions_total{tier="' in text


def test_other_methods_on_the_path_go_to_fastapi(client: TestClient, keys: Keys) -> None:
    """Only POST takes the lane: another method gets FastAPI's 405 in the error shape."""
    assert_error(client.get("/v1/decisions", headers=keys.pos), 405)
    assert_error(client.put("/v1/decisions", json={}, headers=keys.pos), 405)


def test_a_client_gone_mid_body_gets_no_answer_and_stores_nothing(
    client: TestClient, keys: Keys, db_path: Path
) -> None:
    """A disconnect while the body arrives ends the request quietly: nothing sent, nothing
    stored, counted as 499."""
    lane = client.app.decision_lane  # type: ignore[attr-defined]
    messages = iter(
        [
            {"type": "http.request", "body": b'{"signals": {', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/decisions",
        "query_string": b"",
        "headers": [(b"x-api-key", keys.pos["X-API-Key"].encode())],
    }
    before = counts(db_path)
    asyncio.run(lane(scope, receive, send))
    assert sent == []
    assert counts(db_path) == before
    assert 'route="/v1/decisions",status="499"} 1.0' in client.get("/metrics").text
