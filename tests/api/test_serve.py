"""One real server: `tierline serve` under uvicorn on loopback, a key from `tierline keys create`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import PLAIN
from tests.command import run, start
from tests.servers import free_port, stop_server, wait_ready

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

ROOT = Path(__file__).resolve().parents[2]


def test_real_uvicorn_serves_a_decision(models_dir: Path, tmp_path: Path) -> None:
    """`tierline serve` answers a real HTTP decision with a key made by `tierline keys create --json`."""
    env = {
        **os.environ,
        "TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TIERLINE_MODELS": str(models_dir),
    }
    created = run("keys", "create", "--role", "pos", "--site", "s1", "--json", env=env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    admin = json.loads(
        run("keys", "create", "--role", "admin", "--site", "s1", "--json", env=env).stdout
    )
    assert key["role"] == "pos" and key["site"] == "s1" and key["key"].startswith("tl_")
    listed = run("keys", "list", "--json", env=env)
    assert key["key"] not in listed.stdout and "s1" in listed.stdout
    assert run("keys", "create", "--role", "chef", "--site", "s1", env=env).returncode == 2

    port = free_port()
    server = start(
        "serve", "--host", "127.0.0.1", "--port", str(port), env=env, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(base, seconds=30, process=server)
        except AssertionError:
            raise AssertionError(server.stderr.read().decode() if server.stderr else "") from None
        r = httpx.post(
            f"{base}/v1/decisions",
            json={"customer_id": "real-1", "signals": PLAIN},
            headers={"X-API-Key": key["key"]},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        assert r.json()["model_version"] == "v0001" and r.json()["degraded"] is False
        bad = httpx.post(
            f"{base}/v1/decisions",
            content=b"{nope",
            headers={"X-API-Key": key["key"], "Content-Type": "application/json"},
            timeout=10,
        )
        assert bad.status_code == 400 and "error" in bad.json()
        _every_route_once(base, pos={"X-API-Key": key["key"]}, admin={"X-API-Key": admin["key"]})
    finally:
        stop_server(server)


def _every_route_once(base: str, *, pos: dict[str, str], admin: dict[str, str]) -> None:
    """Each route of the contract answers over real HTTP with its success status."""
    with httpx.Client(base_url=base, timeout=10) as http:

        def call(method: str, path: str, status: int, **kwargs: object) -> dict[str, object]:
            r = http.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
            return r.json() if r.headers["content-type"].startswith("application/json") else {}

        call("PUT", "/v1/customers/real-2", 200, json={"signals": PLAIN}, headers=pos)
        call("GET", "/v1/customers/real-2", 200, headers=pos)
        call("POST", "/v1/decisions/batch", 200, json={"items": [{"signals": PLAIN}]}, headers=pos)
        visit = call("POST", "/v1/visits", 201, json={"customer_id": "real-2"}, headers=pos)
        ticket, decision = visit["ticket"], visit["decision"]
        assert isinstance(decision, dict)
        call("GET", "/v1/visits", 200, headers=pos)
        call("GET", f"/v1/visits/{ticket}", 200, headers=pos)
        outcome = {"decision_id": decision["decision_id"], "spend": 12.0}
        call("POST", "/v1/outcomes", 201, json=outcome, headers={**pos, "Idempotency-Key": "r-1"})
        override = {"tier": "vip", "reason": "regular"}
        call("POST", f"/v1/visits/{ticket}/override", 200, json=override, headers=pos)
        call("POST", f"/v1/visits/{ticket}/close", 200, json={"spend": 12.0}, headers=pos)
        call("GET", "/v1/reports/day", 200, headers=admin)
        call("GET", "/v1/models", 200, headers=admin)
        call("POST", "/v1/models/v0001/promote", 200, headers=admin)
        call("POST", "/v1/models/rollback", 200, headers=admin)
        for path in ("/healthz", "/readyz", "/metrics", "/display", "/display/display.js"):
            call("GET", path, 200)
