"""`tierline demo` as `make demo` runs it: train, score, then a live API with working keys."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.command import run, start
from tests.servers import free_port, wait_ready

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def test_demo_serves_the_api_with_printed_keys_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """The demo prints keys, the pos key gets a decision from the live API, the staff key sees
    the demo guests checked in, a key made with `tierline keys create` (the CLI's default
    state is the demo's) is accepted too, Ctrl-C stops it cleanly."""
    port = free_port()
    state = {
        "TIERLINE_MODELS": str(tmp_path / "models"),
        "TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'tierline.db'}",
    }
    proc = start(
        "demo",
        "--customers",
        "3000",
        "--workdir",
        str(tmp_path),
        "--port",
        str(port),
        stdout=subprocess.PIPE,
        text=True,
        env={"COLUMNS": "200", **state},
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        keys: dict[str, str] = {}
        deadline = time.monotonic() + 240
        while len(keys) < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = re.match(r"(staff|pos|admin) key: (\S+)", line.strip())
            if match:
                keys[match.group(1)] = match.group(2)
        assert len(keys) == 3, "".join(seen)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, seconds=max(1.0, deadline - time.monotonic()), process=proc)
        response = httpx.post(
            f"{base}/v1/decisions",
            headers={"X-API-Key": keys["pos"]},
            json={"signals": {"student_verified": True, "visits_90d": 2}},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.json()["tier"] == "student" and not response.json()["degraded"]
        assert (
            httpx.post(
                f"{base}/v1/decisions", headers={"X-API-Key": keys["staff"]}, json={"signals": {}}
            ).status_code
            == 403
        )
        # Demo guests are checked in, one tier or more, so the staff display has cards.
        listing = httpx.get(f"{base}/v1/visits", headers={"X-API-Key": keys["staff"]}).json()
        assert len(listing["items"]) >= 3 and len({v["tier"] for v in listing["items"]}) >= 2
        assert httpx.get(f"{base}/display").status_code == 200
        said = "".join(seen)
        assert "made now; kept 0 earlier version(s)" in said and state["TIERLINE_MODELS"] in said
        assert f"Store: {state['TIERLINE_DATABASE_URL']}" in said
        made = run("keys", "create", "--role", "pos", "--site", "demo", "--json", env=state)
        assert made.returncode == 0 and "database: sqlite:///" in made.stderr
        cli_key = json.loads(made.stdout)["key"]
        response = httpx.post(
            f"{base}/v1/decisions",
            headers={"X-API-Key": cli_key},
            json={"signals": {"visits_90d": 2}},
        )
        assert response.status_code == 200, response.text
        listed = run("models", "list", "--json", env=state)
        assert json.loads(listed.stdout)[0]["champion"] and "models: " in listed.stderr
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_refuses_a_taken_port(tmp_path: Path) -> None:
    """A port already in use is a one-line refusal with exit code 2, not a traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run(
            "demo",
            "--customers",
            "1000",
            "--workdir",
            str(tmp_path),
            "--port",
            str(port),
            timeout=240,
        )
    assert proc.returncode == 2 and f"Port {port}" in proc.stderr and "Traceback" not in proc.stderr
