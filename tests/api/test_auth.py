"""Keys, roles and limits: every route names a role, the role matrix holds, 401/403/413/429."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, Keys, assert_error, counts
from tierline.api.app import create_app
from tierline.api.deps import role_of
from tierline.api.errors import flat_routes
from tierline.api.settings import Settings

PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/docs/oauth2-redirect",
    "/redoc",
    # The staff page's shell holds no data; it asks the API with the key typed into it.
    "/display",
    "/display/{asset}",
    # A tablet spends a pairing code here to get its first key (limited per address).
    "/v1/pairing/redeem",
}


def test_every_route_names_a_role(settings: Settings) -> None:
    """Every route except health, metrics and docs has an explicit role dependency."""
    app = create_app(settings)
    missing = []
    for route in flat_routes(app.routes):
        path = getattr(route, "path", "")
        if path in PUBLIC:
            continue
        assert isinstance(route, APIRoute), f"unexpected non-API route {path}"
        if role_of(route.dependant) is None:
            missing.append(f"{sorted(route.methods)} {path}")
    assert not missing, f"routes without StaffKey/PosKey/AdminKey: {missing}"


# (method, path, body, least role)
MATRIX = [
    ("POST", "/v1/decisions", {"signals": PLAIN}, "pos"),
    ("POST", "/v1/decisions/batch", {"items": [{"signals": PLAIN}]}, "pos"),
    ("GET", "/v1/customers/c-1", None, "pos"),
    ("PUT", "/v1/customers/c-1", {"signals": PLAIN}, "pos"),
    ("POST", "/v1/customers/bulk", {"items": [{"customer_id": "c-1", "signals": PLAIN}]}, "pos"),
    ("DELETE", "/v1/customers/c-1", None, "admin"),
    ("POST", "/v1/visits", {"signals": PLAIN}, "pos"),
    ("GET", "/v1/visits", None, "staff"),
    ("GET", "/v1/visits/1", None, "staff"),
    ("POST", "/v1/visits/1/close", {"spend": 1.0}, "staff"),
    ("POST", "/v1/visits/1/override", {"tier": "vip", "reason": "x"}, "staff"),
    ("POST", "/v1/outcomes", {"decision_id": "x"}, "staff"),
    ("GET", "/v1/models", None, "admin"),
    ("POST", "/v1/models/v0001/promote", None, "admin"),
    ("POST", "/v1/models/rollback", None, "admin"),
    ("GET", "/v1/reports/day", None, "admin"),
    ("GET", "/v1/reports/drift", None, "admin"),
    ("GET", "/v1/reports/uplift", None, "admin"),
    ("GET", "/v1/perks", None, "admin"),
    ("PUT", "/v1/perks/coffee", {"stock": 10}, "admin"),
    ("POST", "/v1/pairing", {"minutes": 5}, "admin"),
]
RANK = {"staff": 0, "pos": 1, "admin": 2}


def test_the_role_matrix_has_a_cell_for_every_route(settings: Settings) -> None:
    """Each keyed route and method of the app is a row of MATRIX, so a new route cannot
    escape the role test, and no row names a route the app does not have."""
    routes = [
        (method, route)
        for route in flat_routes(create_app(settings).routes)
        if isinstance(route, APIRoute) and route.path not in PUBLIC
        for method in route.methods
    ]
    uncovered = [
        f"{method} {route.path}"
        for method, route in routes
        if not any(m == method and route.path_regex.match(p) for m, p, _, _ in MATRIX)
    ]
    stale = [
        f"{m} {p}"
        for m, p, _, _ in MATRIX
        if not any(method == m and route.path_regex.match(p) for method, route in routes)
    ]
    assert not uncovered, f"routes missing from MATRIX: {uncovered}"
    assert not stale, f"MATRIX rows without a route: {stale}"


@pytest.mark.parametrize(("method", "path", "body", "least"), MATRIX)
def test_role_matrix(
    client: TestClient, keys: Keys, method: str, path: str, body: object, least: str
) -> None:
    """Keys below the route's role get 403; the role and those above get past auth."""
    for role in ("staff", "pos", "admin"):
        r = client.request(method, path, json=body, headers=getattr(keys, role))
        if RANK[role] < RANK[least]:
            assert assert_error(r, 403)["code"] == "forbidden"
        else:
            assert r.status_code not in (401, 403), (role, r.text)


@pytest.mark.parametrize("method, path, body, least", MATRIX[:3])
def test_missing_unknown_and_revoked_keys_are_401(
    client: TestClient, keys: Keys, method: str, path: str, body: object, least: str
) -> None:
    """No key, a made-up key, a malformed key and a revoked key all get 401."""
    made_up = "tl_000000000000_" + "A" * 43
    for headers in ({}, {"X-API-Key": made_up}, {"X-API-Key": "hunter2"}):
        assert_error(client.request(method, path, json=body, headers=headers), 401)
    client.app.state.store.revoke_key(keys.ids["admin"])  # type: ignore[attr-defined]
    assert_error(client.request(method, path, json=body, headers=keys.admin), 401)


def test_oversized_body_is_413_by_content_length(
    client: TestClient, keys: Keys, db_path: Path
) -> None:
    """A body over 64 KiB is refused with 413 in the error shape, storing nothing."""
    before = counts(db_path)
    big = {"signals": {"note": "x" * 70_000}}
    assert assert_error(client.post("/v1/decisions", json=big, headers=keys.pos), 413)["code"] == (
        "payload_too_large"
    )
    assert counts(db_path) == before


def test_oversized_streamed_body_is_413(client: TestClient, keys: Keys) -> None:
    """A chunked body without Content-Length is counted as it streams and refused over the limit."""

    def chunks() -> Iterator[bytes]:
        yield b'{"signals": {"note": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'"}}'

    r = client.post(
        "/v1/decisions",
        content=chunks(),
        headers={**keys.pos, "Content-Type": "application/json"},
    )
    assert_error(r, 413)


def test_rate_limit_is_429_with_retry_after(settings: Settings) -> None:
    """Past the per-key budget a key gets 429 with Retry-After; another key is unaffected."""
    with TestClient(create_app(settings.model_copy(update={"rate_limit_per_minute": 3}))) as c:
        store = c.app.state.store  # type: ignore[attr-defined]
        a = {"X-API-Key": store.create_key(role="staff", site="s", name=None)[0]}
        b = {"X-API-Key": store.create_key(role="staff", site="s", name=None)[0]}
        for _ in range(3):
            assert c.get("/v1/visits", headers=a).status_code == 200
        r = c.get("/v1/visits", headers=a)
        assert assert_error(r, 429)["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) >= 1
        assert c.get("/v1/visits", headers=b).status_code == 200


def test_unknown_route_and_method_use_the_error_shape(client: TestClient, keys: Keys) -> None:
    """Unknown paths (404) and wrong methods (405) answer in the one error shape."""
    assert_error(client.get("/v1/nothing", headers=keys.pos), 404)
    assert_error(client.delete("/v1/decisions", headers=keys.pos), 405)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/visits", "GET, POST"),
        ("DELETE", "/v1/visits", "GET, POST"),
        ("PATCH", "/v1/decisions", "POST"),
        ("POST", "/v1/customers/c-1", "DELETE, GET, PUT"),
    ],
)
def test_a_wrong_method_is_a_405_naming_every_allowed_method(
    client: TestClient, keys: Keys, method: str, path: str, allowed: str
) -> None:
    """A 405's Allow header (and message) lists every method the path takes, not only
    those of the first route declared at it."""
    r = client.request(method, path, headers=keys.admin)
    error = assert_error(r, 405)
    assert r.headers["Allow"] == allowed and allowed in str(error["message"])


def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_callers_host(
    client: TestClient, keys: Keys
) -> None:
    """GET /v1/visits/ with a forged Host header is a 404 in the error shape: no redirect
    that would send the client (and its key) to that host."""
    r = client.get(
        "/v1/visits/", headers={**keys.staff, "Host": "evil.example"}, follow_redirects=False
    )
    assert_error(r, 404)
    assert "location" not in r.headers


def test_the_key_cache_forgets_a_key_after_its_ttl() -> None:
    """A checked key is trusted for ttl seconds only, found by its hash, never by itself."""
    from tierline.api.limits import KeyCache

    now = [100.0]
    cache = KeyCache(1.0, clock=lambda: now[0])
    cache.put("tl_abc_secret", {"id": "abc"})
    assert cache.get("tl_abc_secret") == {"id": "abc"}
    assert cache.get("tl_abc_other") is None
    assert all("secret" not in repr(k) for k in cache._entries)
    now[0] += 1.01
    assert cache.get("tl_abc_secret") is None
