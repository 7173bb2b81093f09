"""Shared rate limits: ``RateLimiter``s of several processes on one store (SQLite and
PostgreSQL) spend one budget per key, lease tokens in batches, give back what they did not
spend, and refill with the store's wall clock. The clocks are fakes; the store is real."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tierline.api.limits import RateLimiter
from tierline.engine.store import Store

PER_MINUTE = 40  # a lease of 2 tokens (a twentieth), refilled one every 1.5 s


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with Store.open(url) as opened:
        yield opened


def _admit(limiter: RateLimiter, key: str) -> float:
    """``RateLimiter.admit`` without the event loop: memory first, then a lease."""
    wait = limiter.take(key)
    return limiter.lease(key) if wait is None else wait


def _replicas(store: Store, wall: Clock) -> tuple[RateLimiter, RateLimiter, Clock]:
    store.wall_clock = wall  # type: ignore[method-assign]
    local = Clock()
    a, b = RateLimiter(PER_MINUTE, clock=local), RateLimiter(PER_MINUTE, clock=local)
    a.share(store)
    b.share(store)
    return a, b, local


def test_two_processes_spend_one_budget_per_key(store: Store) -> None:
    """Half the limit on each of two limiters sharing the store, then both refuse the key
    (with the wait until a token is back), while another key has its own budget."""
    wall = Clock()
    a, b, local = _replicas(store, wall)
    assert a.batch == 2
    assert [_admit(a, "k1") for _ in range(PER_MINUTE // 2)] == [0.0] * (PER_MINUTE // 2)
    assert [_admit(b, "k1") for _ in range(PER_MINUTE // 2)] == [0.0] * (PER_MINUTE // 2)
    assert _admit(b, "k1") == pytest.approx(1.5)
    assert _admit(a, "k1") == pytest.approx(1.5)
    assert _admit(a, "k2") == 0.0
    wall.now += 3.0  # two tokens back
    local.now += 3.0
    assert [_admit(b, "k1") for _ in range(3)] == [0.0, 0.0, pytest.approx(1.5)]


def test_a_lease_unspent_goes_back_with_the_next_one(store: Store) -> None:
    """A token leased but not spent within the lease's lifetime is returned when that
    process leases again, so the key's budget is exact across processes."""
    wall = Clock()
    a, b, local = _replicas(store, wall)
    assert _admit(a, "k") == 0.0  # leases 2, spends 1
    local.now += RateLimiter.LEASE_SECONDS + 0.1
    assert _admit(a, "k") == 0.0  # gives back the unspent one, leases 2, spends 1
    spent = 2 + sum(_admit(b, "k") == 0.0 for _ in range(PER_MINUTE))
    spent += sum(_admit(a, "k") == 0.0 for _ in range(PER_MINUTE))
    assert spent == PER_MINUTE


def test_a_refusal_is_answered_from_memory_until_its_wait_has_passed(store: Store) -> None:
    """Once refused, a limiter refuses the key without asking the store until the wait it
    named is over (the store's bucket is not read: a token given back there is not seen)."""
    wall = Clock()
    a, _, local = _replicas(store, wall)
    while _admit(a, "k") == 0.0:
        pass
    assert a.take("k") == pytest.approx(1.5)
    local.now += 1.6
    assert a.take("k") is None  # now it asks the store again
    wall.now += 1.6
    assert a.lease("k") == 0.0


def test_without_a_store_each_limiter_keeps_its_own_buckets() -> None:
    """Unshared (SQLite's default), a limiter never asks for a lease: it answers from memory."""
    local = Clock()
    limiter = RateLimiter(PER_MINUTE, clock=local)
    assert [limiter.take("k") for _ in range(PER_MINUTE)] == [0.0] * PER_MINUTE
    assert limiter.take("k") == pytest.approx(1.5)


def test_a_burst_on_one_process_takes_one_lease(store: Store) -> None:
    """Many requests of one key arriving together in one process wait for one lease rather
    than each taking a batch (which drained the bucket of a key with a huge limit)."""
    store.wall_clock = Clock()  # type: ignore[method-assign]
    limiter = RateLimiter(1000, clock=Clock())  # a lease of 50
    limiter.share(store)

    async def burst() -> list[float]:
        return await asyncio.gather(*(limiter.admit("k") for _ in range(50)))

    assert asyncio.run(burst()) == [0.0] * 50
    left, _ = store.lease_tokens(bucket="k", capacity=1000, per_second=1000 / 60, want=10**6)
    assert left == 1000 - limiter.batch
