"""The HTTP benchmarks' server harness: their shared set-up (a promoted model, the servers'
environment, a pos key, the request bodies), a real ``tierline serve`` (or the bare app)
started as a user starts it, one phase of closed-loop load from
``benchmarks.load_generator`` and the figures pooled over phases.

How the benchmarks using it measure is in benchmarks/README.md (``http``, ``replicas``)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fixtures import (
    REPO,
    demo_signals,
    python_command,
    scratch_dir,
    tierline_command,
    trained_models,
)
from benchmarks.measure import percentile

__all__ = [
    "CONNECTIONS",
    "DRAIN_SECONDS",
    "HOST",
    "PATH",
    "SINGLE_THREADED",
    "START_SECONDS",
    "WORKERS",
    "Server",
    "SetUp",
    "combined",
    "free_port",
    "pos_key",
    "promoted_copy",
    "run_phase",
    "sanity",
    "set_up",
]

HOST = "127.0.0.1"
WORKERS = 2
CONNECTIONS = 32
DRAIN_SECONDS = 30.0  # how long the client waits for answers still due after a phase
START_SECONDS = 90.0
PATH = "/v1/decisions"
SINGLE_THREADED = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


# -- set-up ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetUp:
    """What a benchmark's servers and load generators share."""

    work: Path  # the benchmark's scratch folder
    models: Path  # a models folder of its own, its champion promoted
    env: dict[str, str]  # the servers' environment
    key: str  # a pos key
    requests: list[dict[str, Any]]  # distinct decision requests
    bodies: Path  # the same, as the load generator reads them


def set_up(
    name: str, *, model_customers: int, requests: int, database_url: str | None = None
) -> SetUp:
    """A scratch folder, a copy of the cached demo model trained on ``model_customers``,
    the servers' environment (a SQLite store in the folder unless ``database_url``), a
    pos key, and ``requests`` decision requests for new customers."""
    work = scratch_dir(name)
    models = promoted_copy(trained_models(model_customers), work / "models")
    env = {
        **os.environ,
        **SINGLE_THREADED,
        "TIERLINE_DATABASE_URL": database_url or f"sqlite:///{work / 'tierline.db'}",
        "TIERLINE_MODELS": str(models),
        # Per key and per worker; far above what the servers can answer in a minute, so
        # one lease lasts the whole run.
        "TIERLINE_RATE_LIMIT_PER_MINUTE": str(10**9),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each server's supervisor makes its own
    key = pos_key(env)
    bodies = [{"customer_id": cid, "signals": s} for cid, s in demo_signals(requests)]
    path = work / "bodies.json"
    path.write_text(json.dumps([json.dumps(b, separators=(",", ":")) for b in bodies]))
    return SetUp(work=work, models=models, env=env, key=key, requests=bodies, bodies=path)


def promoted_copy(source: Path, target: Path) -> Path:
    """A models folder holding a copy of ``source``'s champion, promoted there."""
    from tierline.engine.registry import Registry

    version = Registry(source).champion()
    assert version is not None  # trained_models leaves a champion
    shutil.copytree(source / version, target / version)
    Registry(target).promote(version)
    return target


def pos_key(env: dict[str, str]) -> str:
    """A pos key from the CLI, which also creates and migrates the store before the servers."""
    done = subprocess.run(
        [*tierline_command(), "keys", "create", "--role", "pos", "--site", "bench", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`tierline keys create` exited with {done.returncode}: {done.stderr}")
    return str(json.loads(done.stdout)["key"])


class Server:
    """One uvicorn process tree on a free loopback port, its output in a log file."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.command = [
            *command,
            *("--host", HOST, "--port", str(self.port), "--workers", str(WORKERS)),
        ]
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.children: list[Any] = []  # psutil.Process of each worker, once ready

    def start(self) -> None:
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                self.command, cwd=REPO, env=self.env, stdout=sink, stderr=subprocess.STDOUT
            )

    def wait_ready(self, seconds: float = START_SECONDS) -> None:
        import httpx
        import psutil

        assert self.process is not None
        deadline = time.monotonic() + seconds
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"the {self.name} server did not get ready; {self.log}:\n{tail}")
            time.sleep(0.1)
        self.children = psutil.Process(self.process.pid).children(recursive=True)

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far."""
        import psutil

        assert self.process is not None
        total = 0.0
        for proc in [psutil.Process(self.process.pid), *self.children]:
            times = proc.cpu_times()
            total += times.user + times.system
        return total

    def stop(self) -> None:
        """Terminate the master (uvicorn stops its workers), then any worker left over."""
        import psutil

        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for child in self.children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def sanity(
    tierline: Server, bare: Server, key: str, requests: list[dict[str, Any]], version: str | None
) -> dict[str, int]:
    """Both servers answer a real request as expected; the tiers of a few customers."""
    import httpx

    tiers: Counter[str] = Counter()
    with httpx.Client(headers={"X-API-Key": key}, timeout=30) as http:
        answer = http.post(f"{bare.base}{PATH}?explain=false", json=requests[0])
        if answer.status_code != 200 or answer.json()["tier"] != "standard":
            raise RuntimeError(f"the bare app answered {answer.status_code}: {answer.text}")
        for body in requests[:50]:
            answer = http.post(f"{tierline.base}{PATH}?explain=false", json=body)
            decision = answer.json()
            if answer.status_code != 200 or decision.get("model_version") != version:
                raise RuntimeError(f"tierline answered {answer.status_code}: {answer.text}")
            tiers[decision["tier"]] += 1
    return dict(tiers)


# -- one phase of load -------------------------------------------------------------------


def run_phase(server: Server, job: dict[str, Any], *, bodies: Path, work: Path) -> dict[str, Any]:
    """Run the load generator once against ``server``; its figures and the server's CPU."""
    job_path, out_path = work / "job.json", work / "phase.json"
    job_path.write_text(json.dumps({**job, "bodies": str(bodies)}))
    before = server.cpu_seconds()
    # The SQLite WAL's largest size while the phase runs: it must start over, not grow
    # with every decision (it reached 2 GB in 36 s before the background checkpointer).
    wal, peak, sampled = work / "tierline.db-wal", [0], threading.Event()

    def sample_wal() -> None:
        while not sampled.wait(0.1):
            with contextlib.suppress(OSError):
                peak[0] = max(peak[0], wal.stat().st_size)

    sampler = threading.Thread(target=sample_wal, daemon=True)
    sampler.start()
    done = subprocess.run(
        [*python_command(), "-m", "benchmarks.load_generator", str(job_path), str(out_path)],
        cwd=REPO,
        env={**os.environ, **SINGLE_THREADED},
        capture_output=True,
        text=True,
        timeout=job["seconds"] + DRAIN_SECONDS + 60,
        check=False,
    )
    server_cpu = server.cpu_seconds() - before
    sampled.set()
    sampler.join()
    if done.returncode != 0:
        raise RuntimeError(f"the load generator exited with {done.returncode}:\n{done.stderr}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    result["server_cpu_seconds"] = server_cpu
    result["wal_peak_bytes"] = peak[0]
    return result


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of several phases of one kind, pooled (every latency counts once)."""
    latencies = [us for r in runs for us in r["latencies_us"]]
    seconds = sum(r["seconds"] for r in runs)
    statuses: Counter[str] = Counter()
    for r in runs:
        statuses.update(r["statuses"])
    answered = sum(statuses.values())
    failed = sum(n for status, n in statuses.items() if not status.startswith("2"))
    lost = sum(r["lost"] + r["unanswered"] for r in runs)
    return {
        "rps": len(latencies) / seconds if seconds else 0.0,
        "rps_each": [round(len(r["latencies_us"]) / r["seconds"], 1) for r in runs],
        "p50_ms": percentile(latencies, 50) / 1000 if latencies else math.nan,
        "p90_ms": percentile(latencies, 90) / 1000 if latencies else math.nan,
        "p99_ms": percentile(latencies, 99) / 1000 if latencies else math.nan,
        "max_ms": max(latencies) / 1000 if latencies else math.nan,
        "in_window": len(latencies),
        "answered": answered,
        "statuses": dict(statuses),
        "errors": failed + lost,
        "lost_or_unanswered": lost,
        "seconds": round(seconds, 2),
        # The servers' CPU per answer, free of the client's competition for the cores.
        "server_cpu_us_per_request": (
            1e6 * sum(r["server_cpu_seconds"] for r in runs) / answered if answered else math.nan
        ),
        "client_cpu_share": sum(r["client_cpu_seconds"] for r in runs) / seconds
        if seconds
        else math.nan,
        "wal_peak_mb": max(r["wal_peak_bytes"] for r in runs) / 1e6,
    }
