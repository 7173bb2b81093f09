"""Crash safety: kill -9 the server while outcomes are posted; every acknowledged outcome
is stored exactly once and the SQLite file passes its integrity check after each crash."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import PLAIN
from tests.command import run, start
from tests.servers import free_port, wait_ready

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

POSTS = 5000
KILLS = 10
RESTART_SECONDS = 60  # how long a restarted server may take to answer, on a busy machine


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = start(
        "serve", "--host", "127.0.0.1", "--port", str(port), env=env, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", seconds=RESTART_SECONDS, process=server)
    except AssertionError:
        server.kill()
        raise
    return server


def _retry(call: Any) -> httpx.Response:
    """The client retries with the same request until the (restarted) server answers, for
    as long as a restart may take."""
    deadline = time.monotonic() + RESTART_SECONDS
    while True:
        try:
            return call()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise AssertionError("the server never came back") from None
            time.sleep(0.05)


def test_kill_9_during_outcome_posts_loses_and_doubles_nothing(
    models_dir: Path, tmp_path: Path
) -> None:
    """10 kill -9s during 5,000 retried outcome posts: each acknowledged key stored exactly once."""
    db = tmp_path / "crash.db"
    env = {
        **os.environ,
        "TIERLINE_DATABASE_URL": f"sqlite:///{db}",
        "TIERLINE_MODELS": str(models_dir),
        "TIERLINE_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    key = json.loads(
        run("keys", "create", "--role", "pos", "--site", "s1", "--json", env=env).stdout
    )["key"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    state: dict[str, Any] = {"server": _start(env, port), "kills": 0}
    acknowledged: set[str] = set()
    kill_every = POSTS // (KILLS + 1)
    done = threading.Event()

    def killer() -> None:
        # Kills from another thread whenever another ~450 posts were acknowledged: the
        # client is then usually mid-request, which is the case that matters.
        while state["kills"] < KILLS and not done.is_set():
            if len(acknowledged) >= kill_every * (state["kills"] + 1):
                server = state["server"]
                server.send_signal(signal.SIGKILL)
                server.wait(timeout=10)
                with sqlite3.connect(db) as conn:
                    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                state["kills"] += 1
                state["server"] = _start(env, port)
            time.sleep(0.001)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=5) as http:
            decision = _retry(
                lambda: http.post("/v1/decisions?explain=false", json={"signals": PLAIN})
            )
            for i in range(POSTS):
                body = {
                    "decision_id": decision.json()["decision_id"],
                    "spend": float(i % 97),
                    "accepted": [],
                    "declined": [],
                    "converted": i % 2 == 0,
                    "note": f"post {i} — ünïcode",
                }
                r = _retry(
                    lambda b=body, k=f"k{i}": http.post(
                        "/v1/outcomes", json=b, headers={"Idempotency-Key": k}
                    )
                )
                assert r.status_code == 201, r.text
                acknowledged.add(f"k{i}")
    finally:
        done.set()
        thread.join(timeout=60)
        state["server"].kill()
        state["server"].wait(timeout=10)
    kills = state["kills"]
    assert kills == KILLS and len(acknowledged) == POSTS
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            "SELECT idempotency_key, count(*) FROM outcomes GROUP BY idempotency_key"
        ).fetchall()
    counts = dict(rows)
    assert set(counts) == acknowledged and set(counts.values()) == {1}
