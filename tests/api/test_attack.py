"""Every route under attack: requests generated from the served OpenAPI document
(schemathesis), valid and invalid, sent with each role's key and with none to a real
`tierline serve` on loopback, on SQLite and on PostgreSQL. No answer may be a server error,
and every error answer is in the one error shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.servers import free_port, stop_server, wait_ready

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("staff", "pos", "admin")
# Enough to reach each route's validation and its store with every role in both modes, and
# small enough that both databases stay within a few seconds a mode.
EXAMPLES = 12


@dataclass(frozen=True)
class Served:
    base: str
    keys: dict[str, str]
    log: Path


def _tierline(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tierline.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


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
            _tierline("keys", "create", "--role", role, "--site", "lyon", "--json", env=env)
        )["key"]
        for role in ROLES
    }
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tierline.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
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


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(served: Served, mode: GenerationMode) -> None:
    """Requests generated from the OpenAPI document for every route, with each role's key
    and with no key, never get a 5xx, and every 4xx is in the one error shape."""
    schema = schemathesis.openapi.from_url(f"{served.base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    headers = st.sampled_from([{}] + [{"X-API-Key": served.keys[role]} for role in ROLES])
    found: dict[str, str] = {}
    attacked = 0
    with httpx.Client(base_url=served.base, timeout=30) as http:
        for operation in operations:
            try:
                _attack(operation, mode=mode, http=http, headers=headers, found=found)
            except Unsatisfiable:
                # A route with no parameters and no body has no invalid request to generate.
                assert mode is GenerationMode.NEGATIVE and not _has_inputs(operation)
                continue
            attacked += 1
    assert attacked >= (len(operations) if mode is GenerationMode.POSITIVE else 10)
    assert not found, "\n".join(f"{label}: {why}" for label, why in found.items())


def _attack(
    operation: Any,
    *,
    mode: GenerationMode,
    http: httpx.Client,
    headers: st.SearchStrategy[dict[str, str]],
    found: dict[str, str],
) -> None:
    """Send one operation's generated requests; note the first broken answer under its label."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), key=headers)
    def attack(case: schemathesis.Case, key: dict[str, str]) -> None:
        request = case.as_transport_kwargs(base_url=str(http.base_url), headers=key)
        response = http.request(
            request["method"],
            request["url"],
            headers=request.get("headers"),
            params=request.get("params"),
            content=_content(request),
        )
        problem = _problem(response)
        if problem is not None and label not in found:
            found[label] = f"{problem}\n  request: {case.as_curl_command(key)}"

    attack()


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
