"""Live model swaps under load: promotions and rollbacks while a real server answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.api.conftest import VIP
from tests.api.test_serve import ROOT, _tierline
from tests.servers import free_port, wait_ready
from tierline.engine.registry import Registry

LOAD_SECONDS = 60
SWAPS = 10


def _second_version(models: Path) -> tuple[str, str]:
    """Write a copy of the champion as a new version: two versions to swap between."""
    registry = Registry(models)
    first = registry.champion()
    assert first is not None
    folder = models / first
    second = registry.write(
        booster_text=(folder / "model.txt").read_text(),
        features=json.loads((folder / "features.json").read_text()),
        policy=json.loads((folder / "policy.json").read_text()),
        playbook_text=(folder / "playbook.toml").read_text(),
        metadata=registry.metadata(first),
    )
    return first, second


def test_ten_swaps_during_a_minute_of_load_fail_no_request(
    models_dir: Path, tmp_path: Path
) -> None:
    """10 promotions and rollbacks during 60 s of decisions: 0 non-2xx, every version one of the two."""
    first, second = _second_version(models_dir)
    env = {
        **os.environ,
        "TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'load.db'}",
        "TIERLINE_MODELS": str(models_dir),
        "TIERLINE_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    created = _tierline("keys", "create", "--role", "pos", "--site", "s1", "--json", env=env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["key"]
    port = free_port()
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
            "--workers",
            "2",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    statuses: Counter[int] = Counter()
    versions: Counter[str] = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=10) as http:
            for _ in range(20_000):  # bounded in count as well as in time
                if stop.is_set():
                    return
                r = http.post("/v1/decisions?explain=false", json={"signals": VIP})
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code == 200:
                        versions[r.json()["model_version"]] += 1

    try:
        wait_ready(base, seconds=60, process=server)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        registry = Registry(models_dir)
        for i in range(SWAPS):
            time.sleep(LOAD_SECONDS / (SWAPS + 1))
            if i % 2 == 0:
                registry.promote(second)
            else:
                registry.rollback()
        time.sleep(LOAD_SECONDS / (SWAPS + 1))
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=20)
    print(f"swap-under-load: statuses {dict(statuses)}, versions {dict(versions)}")
    assert set(statuses) == {200}, statuses
    assert set(versions) <= {first, second} and len(versions) == 2, versions
    assert sum(statuses.values()) > 500
