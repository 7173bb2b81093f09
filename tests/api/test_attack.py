"""Every route under attack: requests generated from the served OpenAPI document
(schemathesis), valid and invalid, and valid ones with edge values mixed in (NUL, 400-digit
integers, raw NaN and Infinity, 1,000-level nesting, unicode), sent with each role's key
and with none to a real `tierline serve` on loopback, on SQLite and on PostgreSQL. No
answer may be a server error, every error answer is in the one error shape, and every
answer keeps the document: a documented status and content type, and a body that its
schema accepts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.command import run_ok
from tests.servers import free_port, start_serve, stop_server, wait_ready
from tests.strategies import Raw, edge_values, render_json

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("staff", "pos", "admin")
# Enough to reach each route's validation and its store with every role in both modes, and
# small enough that both databases stay within a few seconds a mode.
EXAMPLES = 12
# The answer keeps the document: a documented status and content type, a body its schema
# accepts (the one ErrorBody for every error).
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Served:
    base: str
    keys: dict[str, str]
    log: Path


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, models_dir: Path, tmp_path: Path) -> Iterator[Served]:
    """A real `tierline serve` on loopback with a key per role, on the parametrised store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'attack.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    env = {**os.environ, "TIERLINE_DATABASE_URL": url, "TIERLINE_MODELS": str(models_dir)}
    keys = {
        role: json.loads(
            run_ok("keys", "create", "--role", role, "--site", "lyon", "--json", env=env)
        )["key"]
        for role in ROLES
    }
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = start_serve(env, port=port, output=sink)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, seconds=120, process=server)
        yield Served(base=base, keys=keys, log=log)
    finally:
        stop_server(server)


def _problem(response: httpx.Response) -> str | None:
    """Why this answer breaks the contract, or None when it keeps it."""
    if response.status_code >= 500:
        return f"server error {response.status_code}: {response.text[:300]}"
    if response.status_code < 400:
        return None
    try:
        body: Any = response.json()
    except ValueError:
        return f"{response.status_code} without a JSON body: {response.text[:200]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if (
        set(body) != {"error"}
        or not isinstance(error, dict)
        or set(error) != {"code", "message", "details"}
        or not (isinstance(error["message"], str) and error["message"])
    ):
        return f"{response.status_code} not in the error shape: {response.text[:200]}"
    return None


def _broken(case: schemathesis.Case, response: httpx.Response) -> str | None:
    """Why this answer breaks the contract or the document, or None when it keeps both."""
    problem = _problem(response)
    if problem is not None:
        return problem
    try:
        case.validate_response(response, checks=CONFORMANCE)
    except FailureGroup as failures:
        return "; ".join(f"{f.title}: {f.message}" for f in failures.exceptions)[:600]
    return None


def _operations(served: Served) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{served.base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    return operations


def _keys(served: Served) -> st.SearchStrategy[dict[str, str]]:
    """Each role's key, or none."""
    return st.sampled_from([{}] + [{"X-API-Key": served.keys[role]} for role in ROLES])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(served: Served, mode: GenerationMode) -> None:
    """Requests generated from the OpenAPI document for every route, with each role's key
    and with no key, never get a 5xx, every 4xx is in the one error shape, and every
    answer has a documented status, content type and schema."""
    operations = _operations(served)
    found: dict[str, str] = {}
    attacked = 0
    with httpx.Client(base_url=served.base, timeout=30) as http:
        for operation in operations:
            try:
                _attack(operation, mode=mode, http=http, keys=_keys(served), found=found)
            except Unsatisfiable:
                # A route with no parameters and no body has no invalid request to generate.
                assert mode is GenerationMode.NEGATIVE and not _has_inputs(operation)
                continue
            attacked += 1
    assert attacked >= (len(operations) if mode is GenerationMode.POSITIVE else 10)
    assert not found, "\n".join(f"{label}: {why}" for label, why in found.items())


def test_edge_values_get_a_documented_answer(served: Served) -> None:
    """Valid generated requests with an edge value put into their body, their signals, a
    parameter or (for a route that takes none) an unasked-for body and query (NUL, a
    400-digit integer, raw NaN or Infinity, 1,000-level nesting, odd unicode), sent to every
    route, get a documented answer: never a 5xx, errors in the one shape."""
    found: dict[str, str] = {}
    with httpx.Client(base_url=served.base, timeout=30) as http:
        for operation in _operations(served):
            _attack(
                operation,
                mode=GenerationMode.POSITIVE,
                http=http,
                keys=_keys(served),
                found=found,
                edges=True,
            )
    assert not found, "\n".join(f"{label}: {why}" for label, why in found.items())


def _attack(
    operation: Any,
    *,
    mode: GenerationMode,
    http: httpx.Client,
    keys: st.SearchStrategy[dict[str, str]],
    found: dict[str, str],
    edges: bool = False,
) -> None:
    """Send one operation's generated requests (with an edge value mixed in, if ``edges``);
    note the first broken answer under its label."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), key=keys, data=st.data())
    def attack(case: schemathesis.Case, key: dict[str, str], data: st.DataObject) -> None:
        edge = data.draw(edge_values) if edges else None
        in_body = edges
        if edges and case.path_parameters and data.draw(st.booleans(), label="in path"):
            name = data.draw(st.sampled_from(sorted(case.path_parameters)), label="path")
            case.path_parameters[name] = quote(_text(edge), safe="")
            in_body = False
        request = case.as_transport_kwargs(base_url=str(http.base_url), headers=key)
        content = _content(request)
        if in_body:
            request, content = _with_edge(request, content, edge, data)
        try:
            response = http.request(
                request["method"],
                request["url"],
                headers=request.get("headers"),
                params=request.get("params"),
                content=content,
            )
        except httpx.LocalProtocolError:
            return  # a header value HTTP cannot carry (e.g. a trailing space): never sent
        problem = _broken(case, response)
        if problem is not None and label not in found:
            shown = content[:300] if content else content
            found[label] = f"{problem}\n  request: {case.as_curl_command(key)}\n  sent: {shown!r}"

    attack()


def _with_edge(
    request: dict[str, Any], content: bytes | None, edge: Any, data: st.DataObject
) -> tuple[dict[str, Any], bytes]:
    """The request with ``edge`` in its JSON body (a field, a signal's value or name, or
    an item's), else in a parameter, else as an unasked-for body and query parameter."""
    body = json.loads(content) if content else None
    if isinstance(body, dict) and body:
        return request, render_json(_poisoned(body, edge, data)).encode()
    params = dict(request.get("params") or {})
    name = data.draw(st.sampled_from([*params, "edge"]), label="parameter")
    request = {**request, "params": {**params, name: _text(edge)}}
    headers = {**(request.get("headers") or {}), "Content-Type": "application/json"}
    return {**request, "headers": headers}, render_json({"edge": edge}).encode()


def _text(edge: Any) -> str:
    """An edge value as it goes into a URL (which cannot carry a lone surrogate)."""
    text = edge.text if isinstance(edge, Raw) else str(edge)
    return text.encode("utf-8", "replace").decode("utf-8")


def _poisoned(body: dict[str, Any], edge: Any, data: st.DataObject) -> dict[str, Any]:
    """``body`` with ``edge`` in one place drawn from its fields and signals."""
    places: list[tuple[dict[str, Any], str | None]] = [(body, name) for name in body]
    for holder in [body, *(i for i in body.get("items") or [] if isinstance(i, dict))]:
        signals = holder.get("signals")
        if isinstance(signals, dict):
            places += [(signals, None), *((signals, name) for name in signals)]
        elif holder is not body or "signals" in body:
            places.append((holder, "signals"))
    target, name = data.draw(st.sampled_from(places), label="place")
    if name is not None:
        target[name] = edge
    elif isinstance(edge, str):
        target[edge] = 1  # an edge signal name
    else:
        target["visits_90d"] = edge
    return body


def _has_inputs(operation: Any) -> bool:
    """Whether the operation takes a body or a parameter other than the key header."""
    return bool(operation.body) or any(
        p.name.lower() != "x-api-key" for p in operation.iter_parameters()
    )


def _content(request: dict[str, Any]) -> bytes | None:
    """The body as bytes whichever way schemathesis prepared it."""
    if "json" in request:
        return json.dumps(request["json"]).encode()
    data = request.get("data")
    if isinstance(data, str):
        return data.encode()
    return data
