"""Replicas: two ``tierline serve`` processes (2 workers each) on one PostgreSQL, clients
spread over both, against the same load on one of them alone.

The set-up, the server harness and the pooled figures are ``benchmarks.http_harness``'s,
the load generator ``python -m benchmarks.load_generator``; here two load generators run
at once, one per replica, each with half the connections. Phases alternate (one replica, two
replicas, ...). During the last two-replica phase a new version is written and promoted:
every request of that phase must still be 2xx, and afterwards every worker of both
replicas must serve the new version. Then a perk stock of 100 meets 1,000 concurrent
vip decisions, half on each replica: exactly 100 are issued. Figures and the machine they
were measured on: benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.fixtures import REPO, postgres_schema, python_command, tierline_command
from benchmarks.http_harness import CONNECTIONS, SINGLE_THREADED, Server, combined, set_up
from benchmarks.measure import check, report

__all__ = ["run"]

_FULL = {"model_customers": 100_000, "requests": 5_000, "seconds": 6.0, "rounds": 2}
_QUICK = {"model_customers": 10_000, "requests": 500, "seconds": 3.0, "rounds": 1}
STOCK = 100
BURST = 1_000
_PATH = "/v1/decisions?explain=false"
_SWAP_SECONDS = 10.0  # after the phase with the promotion (each worker reloads within 0.25 s)


def run(*, quick: bool = False) -> dict[str, Any]:
    """Start two replicas on a fresh PostgreSQL schema, load them, return the result."""
    from tierline.engine.registry import Registry
    from tierline.engine.store import Store

    size = _QUICK if quick else _FULL
    with postgres_schema("bench_replicas") as url:
        setup = set_up(
            "replicas",
            model_customers=size["model_customers"],
            requests=size["requests"],
            database_url=url,
        )
        with Store.open(url) as store:
            admin, _ = store.create_key(role="admin", site="bench", name="bench admin")
        replicas = [
            Server(
                name, [*tierline_command(), "serve"], env=setup.env, log=setup.work / f"{name}.log"
            )
            for name in ("replica-a", "replica-b")
        ]
        phases: dict[str, list[dict[str, Any]]] = {}
        try:
            for server in replicas:  # one after the other: four workers loading at once crawl
                server.start()
                server.wait_ready(seconds=240)
            load = {"key": setup.key, "bodies": setup.bodies, "work": setup.work}
            _parallel(replicas, **load, seconds=1.0)  # warm-up: connections, caches
            seconds = size["seconds"]
            for r in range(size["rounds"]):
                one = _parallel(replicas[:1], **load, seconds=seconds)
                phases.setdefault("one", []).append(one)
                promote = None if r < size["rounds"] - 1 else (setup.models, seconds / 2)
                phases.setdefault("two", []).append(
                    _parallel(replicas, **load, seconds=seconds, promote=promote)
                )
            promoted = Registry(setup.models).champion()
            swapped = _swapped(replicas, promoted)
            bases = [s.base for s in replicas]
            perks = asyncio.run(_perk_burst(bases, key=setup.key, admin=admin))
        finally:
            for server in replicas:
                server.stop()
    return _report(phases, promoted=promoted, swapped=swapped, perks=perks, size=size)


def _parallel(
    servers: list[Server],
    *,
    key: str,
    bodies: Path,
    work: Path,
    seconds: float,
    promote: tuple[Path, float] | None = None,
) -> dict[str, Any]:
    """One phase: a load generator per server at once, the connections split between them;
    with ``promote``, a new version is written and promoted that many seconds in."""
    share = CONNECTIONS // len(servers)
    before = sum(s.cpu_seconds() for s in servers)
    running = []
    for s in servers:
        job, out = work / f"job-{s.name}.json", work / f"out-{s.name}.json"
        spec = {"port": s.port, "path": _PATH, "key": key, "seconds": seconds}
        job.write_text(json.dumps({**spec, "connections": share, "bodies": str(bodies)}))
        command = [*python_command(), "-m", "benchmarks.load_generator", str(job), str(out)]
        process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **SINGLE_THREADED})
        running.append((process, out))
    if promote is not None:
        time.sleep(promote[1])
        _promote_copy(promote[0])
    results = []
    for process, out in running:
        if process.wait(timeout=seconds + 120) != 0:
            raise RuntimeError(f"a load generator exited with {process.returncode}")
        results.append(json.loads(out.read_text()))
    merged = {
        "seconds": seconds,
        "latencies_us": [us for r in results for us in r["latencies_us"]],
        "statuses": {},
        "lost": sum(r["lost"] for r in results),
        "unanswered": sum(r["unanswered"] for r in results),
        "client_cpu_seconds": sum(r["client_cpu_seconds"] for r in results),
        "server_cpu_seconds": sum(s.cpu_seconds() for s in servers) - before,
        "wal_peak_bytes": 0,  # PostgreSQL: no SQLite WAL
    }
    for r in results:
        for status, n in r["statuses"].items():
            merged["statuses"][status] = merged["statuses"].get(status, 0) + n
    return merged


def _promote_copy(models: Path) -> str:
    """Write the champion again as a new version and promote it (as a retrain would)."""
    from tierline.engine.registry import Registry

    registry = Registry(models)
    first = registry.champion()
    assert first is not None
    folder = models / first
    version = registry.write(
        booster_text=(folder / "model.txt").read_text(),
        features=json.loads((folder / "features.json").read_text()),
        policy=json.loads((folder / "policy.json").read_text()),
        playbook_text=(folder / "playbook.toml").read_text(),
        metadata=registry.metadata(first),
    )
    registry.promote(version)
    return version


def _swapped(servers: list[Server], version: str | None) -> dict[str, float | None]:
    """Seconds (after the load stopped) until 10 new connections to each replica in a row
    all name ``version``, whichever worker answers; None if not within ``_SWAP_SECONDS``."""
    import httpx

    start, seen = time.monotonic(), {}
    for server in servers:
        while time.monotonic() - start < _SWAP_SECONDS:
            answers = {
                httpx.get(f"{server.base}/readyz", timeout=10).json()["model"] for _ in range(10)
            }
            if answers == {version}:
                break
            time.sleep(0.1)
        else:
            seen[server.name] = None
            continue
        seen[server.name] = round(time.monotonic() - start, 2)
    return seen


async def _perk_burst(bases: list[str], *, key: str, admin: str) -> dict[str, Any]:
    """Set the coffee stock to ``STOCK`` (budget out of the way), then send ``BURST`` vip
    decisions at once, alternating replicas; count the coffees promised and what is left."""
    import httpx

    from tierline.training.demo_data import VIP_REGULAR

    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, pool=None), limits=limits) as http:
        put = await http.put(
            f"{bases[0]}/v1/perks/coffee",
            json={"stock": STOCK, "daily_budget": 10.0**9},
            headers={"X-API-Key": admin},
        )
        put.raise_for_status()

        async def decide(i: int) -> httpx.Response:
            body = {"customer_id": f"burst-{i}", "signals": VIP_REGULAR}
            return await http.post(f"{bases[i % 2]}{_PATH}", json=body, headers={"X-API-Key": key})

        answers = await asyncio.gather(*(decide(i) for i in range(BURST)))
        listed = await http.get(f"{bases[1]}/v1/perks", headers={"X-API-Key": admin})
    ok = [a.json() for a in answers if a.status_code == 200]
    promised = sum(1 for d in ok for cue in d["cues"] if cue.get("perk") == "coffee")
    return {
        "non_2xx": BURST - len(ok),
        "vip": sum(1 for d in ok if d["tier"] == "vip"),
        "coffees_promised": promised,
        "stock_left": next(p for p in listed.json()["items"] if p["name"] == "coffee")["stock"],
    }


def _report(
    phases: dict[str, list[dict[str, Any]]],
    *,
    promoted: str | None,
    swapped: dict[str, float | None],
    perks: dict[str, Any],
    size: dict[str, Any],
) -> dict[str, Any]:
    figures = {name: combined(runs) for name, runs in phases.items()}
    for f in figures.values():
        f.pop("wal_peak_mb")
    one, two = figures["one"], figures["two"]
    errors = one["errors"] + two["errors"] + perks["non_2xx"]
    stale = sum(1 for seconds in swapped.values() if seconds is None)
    return report(
        "replicas",
        [
            check(
                "non-2xx or failed requests (load, promotion, perk burst)",
                value=errors,
                limit=one["answered"] + two["answered"] + BURST,
                unit="requests",
                target=0.0,
                limit_is="requests sent",
            ),
            check(
                f"coffees promised beyond a stock of {STOCK} ({BURST} concurrent decisions)",
                value=abs(perks["coffees_promised"] - STOCK) + perks["stock_left"],
                limit=STOCK,
                unit="perks",
                target=0.0,
                limit_is="the stock",
            ),
            check(
                f"replicas not serving the promoted version {_SWAP_SECONDS:g} s after the load",
                value=stale,
                limit=len(swapped),
                unit="replicas",
                target=0.0,
                limit_is="replicas",
            ),
        ],
        promoted=promoted,
        swapped=swapped,
        perks=perks,
        seconds_each=size["seconds"],
        rounds=size["rounds"],
        figures=figures,
        notes=[
            f"{name}: {f['rps']:,.0f} req/s, p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms,"
            f" server CPU {f['server_cpu_us_per_request']:,.0f} µs/req"
            for name, f in (("one replica x 2 workers", one), ("two replicas x 2 workers", two))
        ],
    )
