"""Input the store or the model cannot hold (NUL in text, numbers no float can hold, JSON
nested too deep to parse) is refused in the error shape on every route, on SQLite and on
PostgreSQL, and changes nothing stored; a bad number already stored reads as missing."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, VIP, assert_error
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.store.schema import customers

# The tables a request could write to; perks and perk_usage hold the stock and budget.
TABLES = ("customers", "decisions", "visits", "outcomes", "audit", "perks", "perk_usage")
TOO_BIG = "1" + "0" * 400  # a 400-digit integer, as JSON sends it


@dataclass
class Served:
    client: TestClient
    url: str
    key: dict[str, str]


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, models_dir: Path, tmp_path: Path) -> Iterator[Served]:
    """A started app on each backend, with an admin key (admin may call every route)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    settings = Settings(database_url=url, models=str(models_dir), reload_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        plaintext, _ = store.create_key(role="admin", site="lyon", name="admin")
        yield Served(client=client, url=url, key={"X-API-Key": plaintext})


def snapshot(url: str) -> dict[str, list[str]]:
    """Every row of the tables a request could change, comparable before and after."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t: sorted(repr(tuple(r)) for r in conn.execute(sa.text(f"SELECT * FROM {t}")))
                for t in TABLES
            }
    finally:
        engine.dispose()


def _send(served: Served, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    all_headers = {**served.key, "Content-Type": "application/json", **headers}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return served.client.request(method, url, content=content, headers=all_headers)


def _open_visit(served: Served) -> dict[str, Any]:
    """A checked-in VIP: a decision, a perk taken, an open visit; refusals must leave them."""
    visit = served.client.post(
        "/v1/visits", json={"customer_id": "c-1", "signals": VIP}, headers=served.key
    )
    assert visit.status_code == 201, visit.text
    assert any(cue["perk"] for cue in visit.json()["decision"]["cues"])  # stock was taken
    return dict(visit.json())


def test_nul_in_any_string_is_refused_naming_the_field(served: Served) -> None:
    """A NUL in a body field, a signal's name or value, a path or an Idempotency-Key is a 422
    that names the field, and the stored rows, stock and budget stay as they were."""
    visit = _open_visit(served)
    decision_id, ticket = visit["decision"]["decision_id"], visit["ticket"]
    nul_vip = {**VIP, "campaign": "spring\u0000menu"}
    once = {"Idempotency-Key": "k-1"}
    cases = [
        ("POST", "/v1/decisions", {"customer_id": "c\u00002", "signals": VIP}, {}, "customer_id"),
        ("POST", "/v1/decisions", {"signals": nul_vip}, {}, "signals.campaign"),
        (
            "POST",
            "/v1/decisions/batch",
            {"items": [{"signals": VIP}, {"customer_id": "c-1\u0000"}]},
            {},
            "items.1.customer_id",
        ),
        (
            "POST",
            "/v1/visits",
            {"signals": {**VIP, "car\u0000": "x"}},
            {},
            "signals.car\\u0000.[key]",
        ),
        ("PUT", "/v1/customers/c-1", {"signals": nul_vip}, {}, "signals.campaign"),
        ("PUT", "/v1/customers/c-1", {"signals": {"\u0000": 1}}, {}, "signals.\\u0000.[key]"),
        ("PUT", "/v1/customers/c-%002", {"signals": VIP}, {}, "path.customer_id"),
        ("GET", "/v1/customers/c-%001", b"", {}, "path.customer_id"),
        ("POST", "/v1/models/v0001%00/promote", b"", {}, "path.version"),
        ("POST", "/v1/outcomes", {"decision_id": decision_id, "note": "a\u0000"}, once, "note"),
        (
            "POST",
            "/v1/outcomes",
            {"decision_id": decision_id},
            {"Idempotency-Key": "k\u00001"},
            "header.Idempotency-Key",
        ),
        (
            "POST",
            f"/v1/visits/{ticket}/override",
            {"tier": "standard", "reason": "asked\u0000"},
            {},
            "reason",
        ),
        (
            "POST",
            f"/v1/visits/{ticket}/close",
            {"spend": 12.0},
            {"Idempotency-Key": "\u0000"},
            "header.Idempotency-Key",
        ),
    ]
    before = snapshot(served.url)
    for method, url, body, headers, field in cases:
        error = assert_error(_send(served, method, url, body, headers), 422)
        assert error["code"] == "validation_error", (url, error)
        assert str(error["message"]).startswith(f"{field}: "), (url, error)
        assert "NUL" in str(error["message"]), (url, error)
    assert snapshot(served.url) == before


NUMBERS = (TOO_BIG, f"-{TOO_BIG}", "1e400", "NaN", "Infinity", "-Infinity")


def _number_cases(number: str) -> list[tuple[str, str, str, str]]:
    """(method, url, body, field) of each route that takes signals, ``number`` in one."""
    signals = '{"visits_90d": ' + number + ', "campaign": "spring_menu"}'
    return [
        ("POST", "/v1/decisions", '{"signals": ' + signals + "}", "signals.visits_90d"),
        (
            "POST",
            "/v1/decisions/batch",
            '{"items": [{"signals": {"campaign": "x"}}, {"signals": ' + signals + "}]}",
            "items.1.signals.visits_90d",
        ),
        (
            "POST",
            "/v1/visits",
            '{"customer_id": "c-1", "signals": ' + signals + "}",
            "signals.visits_90d",
        ),
        ("PUT", "/v1/customers/c-1", '{"signals": ' + signals + "}", "signals.visits_90d"),
    ]


def test_signal_numbers_no_float_can_hold_are_refused_naming_the_signal(served: Served) -> None:
    """NaN, Infinity and numbers past the float range are a 422 naming the signal on every
    route that takes signals, and nothing is stored."""
    _open_visit(served)
    before = snapshot(served.url)
    for number in NUMBERS:
        for method, url, body, field in _number_cases(number):
            error = assert_error(_send(served, method, url, body.encode(), {}), 422)
            assert str(error["message"]).startswith(f"{field}: Input should be"), (url, error)
            assert "finite number" in str(error["message"]), (number, url, error)
    assert snapshot(served.url) == before


def test_signal_numbers_keep_the_documented_range(served: Served) -> None:
    """Integers within the 64-bit range are stored exactly; past it they are read as the
    nearest float; the largest finite floats are accepted."""
    signals = (
        '{"lo": -9223372036854775808, "hi": 9223372036854775807, '
        '"past": 9223372036854775808, "huge": 1.7976931348623157e308}'
    )
    put = _send(served, "PUT", "/v1/customers/r-1", ('{"signals": ' + signals + "}").encode(), {})
    assert put.status_code == 200, put.text
    stored = served.client.get("/v1/customers/r-1", headers=served.key).json()["signals"]
    assert stored["lo"] == -(2**63) and stored["hi"] == 2**63 - 1  # exact integers
    # PostgreSQL's JSONB gives a whole float back as its decimal digits: read as floats.
    assert float(stored["past"]) == 2.0**63 and float(stored["huge"]) == 1.7976931348623157e308
    decided = served.client.post("/v1/decisions", json={"customer_id": "r-1"}, headers=served.key)
    assert decided.status_code == 200, decided.text


def test_a_stored_number_too_large_is_read_as_missing_and_logged_once(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """A profile holding an integer past the float range (written by SQL, before the API
    refused it) is decided as if the signal were missing, on the decision, batch and
    check-in routes, and the feature step logs the signal's name once, nothing else."""
    profile = {k: v for k, v in VIP.items() if k != "visits_90d"}
    served.client.put("/v1/customers/clean", json={"signals": profile}, headers=served.key)
    engine = sa.create_engine(served.url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(customers).values(
                site="",
                id="poisoned",
                signals={**profile, "visits_90d": 10**400},
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
    engine.dispose()

    def decide(customer: str) -> dict[str, Any]:
        answer = served.client.post(
            "/v1/decisions", json={"customer_id": customer}, headers=served.key
        )
        assert answer.status_code == 200, answer.text
        return {k: answer.json()[k] for k in ("tier", "score", "confidence", "reasons")}

    with caplog.at_level(logging.WARNING, logger="tierline.features"):
        assert decide("poisoned") == decide("clean")
        assert decide("poisoned") == decide("clean")
        batch = served.client.post(
            "/v1/decisions/batch",
            json={"items": [{"customer_id": "poisoned"}, {"customer_id": "clean"}]},
            headers=served.key,
        )
        assert batch.status_code == 200, batch.text
        assert batch.json()["items"][0]["score"] == batch.json()["items"][1]["score"]
        visit = served.client.post(
            "/v1/visits", json={"customer_id": "poisoned"}, headers=served.key
        )
        assert visit.status_code == 201, visit.text
    logged = [r.getMessage() for r in caplog.records if r.name == "tierline.features"]
    assert len(logged) == 1, logged
    assert "'visits_90d'" in logged[0]
    assert "poisoned" not in logged[0] and "1000" not in logged[0]


DEEP = b'{"signals": {"visits_90d": ' + b"[" * 1000 + b"]" * 1000 + b"}}"


def test_json_nested_too_deep_gets_the_same_400_on_every_route(served: Served) -> None:
    """A 2 KB body nested 1,000 levels deep is a 400 ``bad_request`` on the decision lane and
    on the other routes alike, and nothing is stored."""
    assert len(DEEP) < 2100
    _open_visit(served)
    headers = {"Idempotency-Key": "deep-1"}
    routes = [
        ("POST", "/v1/decisions"),
        ("POST", "/v1/decisions/batch"),
        ("PUT", "/v1/customers/c-1"),
        ("POST", "/v1/visits"),
        ("POST", "/v1/outcomes"),
    ]
    before = snapshot(served.url)
    for method, url in routes:
        error = assert_error(_send(served, method, url, DEEP, headers), 400)
        assert error["code"] == "bad_request", (url, error)
    assert snapshot(served.url) == before


def test_a_plain_decision_is_still_accepted(served: Served) -> None:
    """The limits leave ordinary requests alone: text with accents and symbols, numbers,
    booleans and null are decided."""
    signals = {**PLAIN, "campaign": "Frühling ☕ \\u0000 (text)", "loyalty_member": None}
    answer = served.client.post("/v1/decisions", json={"signals": signals}, headers=served.key)
    assert answer.status_code == 200, answer.text
