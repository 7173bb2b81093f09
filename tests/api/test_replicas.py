"""Two `tierline serve` replicas on one PostgreSQL, on loopback: replica A with two workers,
replica B with one. A key's rate limit is one budget across them, a revoked key is refused
by both within the key cache's lifetime, /metrics on A sums its workers, tickets stay unique
per site, one Idempotency-Key sent to both records one outcome, and a promotion reaches
every replica."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.api.conftest import PLAIN, write_second_version
from tests.command import run
from tests.conftest import Trained
from tests.servers import free_port, start_serve, stop_server, wait_ready
from tierline.engine.store import Store
from tierline.engine.store.scratch_schema import fresh_schema

pytestmark = pytest.mark.slow  # real processes: two servers on PostgreSQL

RATE = 20  # per minute: a lease of one token (RateLimiter.batch), refilled every 3 s
KEY_CACHE = 1.0


@dataclass
class Replicas:
    a: str
    b: str
    url: str
    models: Path
    env: dict[str, str]
    store: Store

    def key(self, site: str = "lyon", role: str = "pos") -> dict[str, str]:
        plaintext, _ = self.store.create_key(role=role, site=site, name="replica test")
        return {"X-API-Key": plaintext}


@pytest.fixture(scope="module")
def replicas(
    trained: Trained, pg_admin: sa.Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    """Both replicas on a fresh PostgreSQL schema and one models folder, ready."""
    tmp = tmp_path_factory.mktemp("replicas")
    models = tmp / "models"
    shutil.copytree(trained.models, models)
    with fresh_schema(pg_admin, prefix="tierline_replicas") as url:
        env = {
            **os.environ,
            "TIERLINE_DATABASE_URL": url,
            "TIERLINE_MODELS": str(models),
            "TIERLINE_RATE_LIMIT_PER_MINUTE": str(RATE),
            "TIERLINE_KEY_CACHE_SECONDS": str(KEY_CACHE),
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        store = Store.open(url)  # migrates once, before the servers race to
        ports = free_port(), free_port()
        logs = [open(tmp / f"replica-{i}.log", "wb") for i in range(2)]  # noqa: SIM115
        servers = [
            start_serve(env, port=ports[0], output=logs[0], args=("--workers", "2")),
            start_serve(env, port=ports[1], output=logs[1]),
        ]
        try:
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            for base, server in zip(bases, servers, strict=True):
                wait_ready(base, seconds=240, process=server)  # a busy shared machine
            yield Replicas(a=bases[0], b=bases[1], url=url, models=models, env=env, store=store)
        finally:
            for server in servers:
                stop_server(server)
            for log in logs:
                log.close()
            store.close()


def _status(base: str, key: dict[str, str]) -> int:
    return httpx.get(f"{base}/v1/visits", headers=key, timeout=10).status_code


def test_a_keys_limit_is_one_budget_across_replicas(replicas: Replicas) -> None:
    """Half a key's per-minute limit spent on each replica leaves nothing: the next request,
    on the second replica, is refused with 429, and the key gets no more from either replica
    than its bucket refilled meanwhile (one token per 60/RATE seconds)."""
    key = replicas.key()
    with httpx.Client(headers=key, timeout=10) as client:
        start = time.monotonic()
        statuses = [client.get(f"{replicas.a}/v1/visits").status_code for _ in range(RATE // 2)]
        statuses += [client.get(f"{replicas.b}/v1/visits").status_code for _ in range(RATE // 2)]
        refused = client.get(f"{replicas.b}/v1/visits")
        first_refill = (time.monotonic() - start) * RATE / 60
        more = [
            client.get(f"{base}/v1/visits").status_code for base in (replicas.a, replicas.b) * 4
        ]
        refilled = (time.monotonic() - start) * RATE / 60
    assert statuses == [200] * RATE
    if first_refill < 1:  # no token came back yet
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
    allowed = [refused.status_code, *more].count(200)
    assert set(more) <= {200, 429} and allowed <= refilled, (refused, more, refilled)
    assert _status(replicas.b, replicas.key()) == 200  # another key has its own budget


def test_a_revoked_key_is_refused_by_both_within_the_key_cache_lifetime(
    replicas: Replicas,
) -> None:
    """A key both replicas have just accepted (and cached) is refused by both no later than
    ``key_cache_seconds`` after `tierline keys revoke`, and stays refused."""
    key = replicas.key()
    key_id = key["X-API-Key"].split("_")[1]
    assert _status(replicas.a, key) == _status(replicas.b, key) == 200
    revoked = run("keys", "revoke", key_id, env=replicas.env)
    assert revoked.returncode == 0, revoked.stderr
    start = time.monotonic()
    refused_at: dict[str, float] = {}
    while len(refused_at) < 2 and time.monotonic() - start < KEY_CACHE + 3:
        for base in (replicas.a, replicas.b):
            if base not in refused_at and _status(base, key) == 401:
                refused_at[base] = time.monotonic() - start
        time.sleep(0.02)
    assert len(refused_at) == 2, refused_at
    assert max(refused_at.values()) <= KEY_CACHE + 0.5, refused_at
    assert _status(replicas.a, key) == _status(replicas.b, key) == 401


def _sample(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def test_metrics_on_a_multi_worker_replica_sum_its_workers(replicas: Replicas) -> None:
    """Decisions sent to replica A over fresh connections (spread over its two workers) are
    all counted by /metrics, whichever worker answers the scrape, and the model gauge shows
    both workers."""
    key = replicas.key(site="metrics-site")
    before = _sample(httpx.get(f"{replicas.a}/metrics").text, "tierline_decisions_total")
    sent = RATE - 2  # within the key's limit
    for i in range(sent):
        r = httpx.post(
            f"{replicas.a}/v1/decisions",
            json={"customer_id": f"m-{i}", "signals": PLAIN},
            headers=key,
            timeout=10,
        )
        assert r.status_code == 200, r.text
    for _ in range(8):  # each scrape on a new connection: either worker may answer
        text = httpx.get(f"{replicas.a}/metrics", timeout=10).text
        assert _sample(text, "tierline_decisions_total") - before == sent
        pids = set(re.findall(r'^tierline_model_info{pid="(\d+)",version="v0001"} 1', text, re.M))
        assert len(pids) == 2, text


def test_tickets_stay_unique_per_site_across_replicas(replicas: Replicas) -> None:
    """Check-ins at one site sent at once to both replicas each get their own ticket."""
    keys = [replicas.key(site="tickets") for _ in range(4)]

    def check_in(i: int) -> int:
        base = (replicas.a, replicas.b)[i % 2]
        r = httpx.post(
            f"{base}/v1/visits", json={"signals": PLAIN}, headers=keys[i % 4], timeout=30
        )
        assert r.status_code == 201, r.text
        return int(r.json()["ticket"])

    with ThreadPoolExecutor(8) as pool:
        tickets = list(pool.map(check_in, range(16)))
    assert len(set(tickets)) == 16, sorted(tickets)


def test_one_idempotency_key_sent_to_both_replicas_records_one_outcome(
    replicas: Replicas,
) -> None:
    """The same outcome posted with one Idempotency-Key to both replicas at once is
    recorded once, and both answers carry that one outcome."""
    till = replicas.key(site="idem")
    visit = httpx.post(f"{replicas.a}/v1/visits", json={"signals": PLAIN}, headers=till)
    assert visit.status_code == 201, visit.text
    decision = visit.json()["decision"]
    body = {"decision_id": decision["decision_id"], "accepted": [decision["cues"][0]["code"]]}
    keyed = {**till, "Idempotency-Key": "till-9-0001"}
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda base: httpx.post(f"{base}/v1/outcomes", json=body, headers=keyed),
                (replicas.a, replicas.b),
            )
        )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    with sa.create_engine(replicas.url).connect() as conn:
        stored = conn.execute(
            sa.text("SELECT count(*) FROM outcomes WHERE idempotency_key = 'till-9-0001'")
        ).scalar_one()
    assert stored == 1


def test_a_promotion_reaches_every_replica(replicas: Replicas) -> None:
    """`tierline models promote` once: every worker of both replicas serves the new version
    within a few reload intervals."""
    _, second = write_second_version(replicas.models)
    promoted = run("models", "promote", second, "--models", str(replicas.models), env=replicas.env)
    assert promoted.returncode == 0, promoted.stderr
    deadline = time.monotonic() + 10
    for base in (replicas.a, replicas.b):
        while True:  # ten answers in a row on new connections: every worker has swapped
            versions = {httpx.get(f"{base}/readyz", timeout=10).json()["model"] for _ in range(10)}
            if versions == {second}:
                break
            assert time.monotonic() < deadline, (base, versions)
            time.sleep(0.1)
