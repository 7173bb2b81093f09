"""The decision lane and the FastAPI route are one path: generated requests, good and bad,
get the same answer both ways, and the lane stands in for every middleware of the app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.middleware.gzip import GZipMiddleware

from tests.api.conftest import Keys, counts
from tests.conftest import EXAMPLES
from tests.strategies import edge_values, records, render_json
from tierline.api.app import create_app
from tierline.api.decision_lane import STANDS_IN_FOR
from tierline.api.settings import Settings
from tierline.engine.spec import load_spec

SPEC = load_spec(EXAMPLES / "demo.toml")
# Refused before the body is read by the lane; FastAPI reads (and may refuse) it first.
KEY_REFUSALS = {"staff": 403, "unknown": 401, "empty": 401, None: 401}

ids = st.one_of(
    st.sampled_from(["ghost", "c-1042", "a" * 128, "a" * 129, "", "p\u00001", "with space"]),
    st.text(max_size=12),
)
wrong_types = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2), st.none()
)
nested = st.recursive(
    st.integers() | st.text(max_size=4),
    lambda inner: (
        st.dictionaries(st.text(max_size=4), inner, max_size=2) | st.lists(inner, max_size=2)
    ),
    max_leaves=5,
)
signals = st.one_of(
    records(list(SPEC.categorical), list(SPEC.numeric), list(SPEC.boolean)),
    # edge values (NUL, huge numbers, NaN, deep nesting, long text) and nested JSON
    st.dictionaries(
        st.sampled_from([*SPEC.numeric, "campaign", "Zoë", "", "\u0000"]),
        edge_values | nested,
        max_size=3,
    ),
    st.just({"note": "x" * 70_000}),  # over the body limit
    wrong_types,
)
objects = st.fixed_dictionaries(
    {},
    optional={
        "customer_id": ids | wrong_types | edge_values,
        "signals": signals,
        "colour": st.just("red"),  # an unknown field
    },
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A JSON body, valid or not: an object, another JSON value, cut short, or raw bytes."""
    value = draw(st.one_of(objects, objects, nested, edge_values))
    text = render_json(value).encode("utf-8", "surrogatepass")
    match draw(st.sampled_from(["whole", "whole", "whole", "cut", "bytes"])):
        case "cut":
            return text[: draw(st.integers(0, max(len(text) - 1, 0)))]
        case "bytes":
            return draw(st.binary(max_size=24))
    return text


@dataclass(frozen=True)
class Request:
    query: str
    content_type: str | None
    key: str | None
    body: bytes


requests = st.builds(
    Request,
    query=st.sampled_from(
        [
            "",
            "?explain=false",
            "?explain=true",
            "?explain=0",
            "?explain=No",
            "?explain=maybe",
            "?explain=",
            "?explain=yes&explain=off",
            "?other=1",
        ]
    ),
    content_type=st.sampled_from(
        ["application/json", "application/vnd.tierline+json; charset=utf-8", "text/plain", None]
    ),
    key=st.sampled_from(["pos", "pos", "pos", "admin", "staff", "unknown", "empty", None]),
    body=bodies(),
)


@pytest.fixture
def settings_(models_dir: Path, db_path: Path) -> Settings:
    """The API tests' settings, with a rate limit no generated run reaches."""
    return Settings(
        database_url=f"sqlite:///{db_path}",
        models=str(models_dir),
        reload_seconds=0.2,
        rate_limit_per_minute=1_000_000,
    )


@dataclass
class Both:
    lane: TestClient
    plain: TestClient
    keys: Keys


@pytest.fixture
def both(settings_: Settings, db_path: Path) -> Iterator[Both]:
    """One store served by an app with the lane and by one without (FastAPI's route)."""
    with (
        TestClient(create_app(settings_)) as lane,
        TestClient(create_app(settings_, decision_lane=False)) as plain,
    ):
        store = lane.app.state.store  # type: ignore[attr-defined]
        made = {
            role: {"X-API-Key": store.create_key(role=role, site="lyon", name=role)[0]}
            for role in ("pos", "admin", "staff")
        }
        keys = Keys(staff=made["staff"], pos=made["pos"], admin=made["admin"], other_pos={}, ids={})
        yield Both(lane=lane, plain=plain, keys=keys)


def _headers(request: Request, keys: Keys) -> dict[str, str]:
    headers: dict[str, str] = {}
    if request.content_type is not None:
        headers["Content-Type"] = request.content_type
    if request.key in ("pos", "admin", "staff"):
        headers.update(getattr(keys, request.key))
    elif request.key == "unknown":
        headers["X-API-Key"] = "tl_not-a-key"
    elif request.key == "empty":
        headers["X-API-Key"] = ""
    return headers


def _comparable(answer: Any) -> Any:
    """The answer without the decision id, the one field two decisions never share."""
    if isinstance(answer, dict) and "decision_id" in answer:
        return {k: v for k, v in answer.items() if k != "decision_id"}
    return answer


@settings(
    max_examples=120,
    deadline=None,
    # One app pair serves every example: each compares the two at the same moment.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests)
def test_any_request_gets_the_same_answer_through_the_lane_and_through_fastapi(
    both: Both, request: Request
) -> None:
    """Status, body (decision id aside) and the headers a client acts on are the same,
    except that the lane refuses a bad key before it parses the body (FastAPI: 400)."""
    headers = _headers(request, both.keys)
    url = "/v1/decisions" + request.query
    lane = both.lane.post(url, content=request.body, headers=headers)
    plain = both.plain.post(url, content=request.body, headers=headers)
    if plain.status_code == 400 and request.key in KEY_REFUSALS:
        assert lane.status_code == KEY_REFUSALS[request.key], lane.text
        return
    assert lane.status_code == plain.status_code, (lane.text, plain.text)
    assert _comparable(lane.json()) == _comparable(plain.json())
    for name in ("content-type", "www-authenticate", "retry-after", "connection"):
        assert lane.headers.get(name) == plain.headers.get(name), name
    assert lane.status_code < 500, lane.text


def test_a_refused_request_stores_nothing_either_way(both: Both, db_path: Path) -> None:
    """The property above compares answers; this pins that a refusal writes no row."""
    before = counts(db_path)
    for client in (both.lane, both.plain):
        r = client.post("/v1/decisions", json={"signals": {"\u0000": 1}}, headers=both.keys.pos)
        assert r.status_code == 422
    assert counts(db_path) == before


def middleware_stack(app: FastAPI) -> list[type]:
    """The classes of the app's built middleware stack, outermost first, down to the
    router (FastAPI's own layers and the app's alike)."""
    layers: list[type] = []
    layer: Any = app.build_middleware_stack()
    while layer is not app.router:
        layers.append(type(layer))
        layer = layer.app
    return layers


def not_run_by_the_lane(app: FastAPI) -> list[type]:
    """The middlewares of ``app`` that the lane neither runs nor stands in for."""
    return [cls for cls in middleware_stack(app) if cls.__name__ not in STANDS_IN_FOR]


def test_the_lane_stands_in_for_every_middleware_of_the_app(settings: Settings) -> None:
    """Every layer that wraps FastAPI's route is one the lane does the work of (its
    STANDS_IN_FOR names how): a middleware added to the app alone fails here."""
    app = create_app(settings)
    assert not_run_by_the_lane(app) == []
    assert set(STANDS_IN_FOR) <= {cls.__name__ for cls in middleware_stack(app)}, "stale entry"
    # The telemetry layer does nothing while FastAPI's native telemetry is off; on, the
    # lane would skip it.
    assert not app._native_telemetry.enabled()


def test_a_middleware_added_to_the_app_alone_is_caught(settings: Settings) -> None:
    """The check above can fail: a middleware the lane knows nothing of is reported."""
    app = create_app(settings)
    app.add_middleware(GZipMiddleware)
    assert not_run_by_the_lane(app) == [GZipMiddleware]
