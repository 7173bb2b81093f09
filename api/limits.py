"""Limits: request body size and read time (ASGI middleware), a per-key token-bucket rate
limit, and the short-lived cache of checked keys."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tierline.api.errors import error_body
from tierline.engine.store.rate_limits import RateLimitStore

__all__ = [
    "BodyLimits",
    "KeyCache",
    "RateLimiter",
    "declared_too_large",
    "refuse_too_large",
    "refuse_too_slow",
    "send_json",
]


class _Refused(Exception):
    """The body broke a limit: ``answer`` sends the refusal."""

    def __init__(self, answer: Callable[[Send], Awaitable[None]]) -> None:
        super().__init__("request body refused")
        self.answer = answer


def declared_too_large(scope: Scope, max_bytes: int) -> bool:
    """Whether the request's Content-Length says more than ``max_bytes``."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value) > max_bytes
            except ValueError:
                return False
    return False


async def send_json(
    send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer ``body`` (JSON already encoded) with ``status``, straight on ASGI: for the
    answers sent in front of the app (the body limit, the decision lane)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def refuse_too_large(send: Send, max_bytes: int) -> None:
    """Answer 413 in the error shape and close the connection (the rest of the body is
    not read)."""
    body = json.dumps(
        error_body(
            "payload_too_large",
            f"The request body is larger than {max_bytes} bytes",
            {"max_bytes": max_bytes},
        )
    ).encode()
    await send_json(send, 413, body, ((b"connection", b"close"),))


async def refuse_too_slow(send: Send, seconds: float) -> None:
    """Answer 408 in the error shape and close the connection: the body did not arrive
    within ``seconds``."""
    body = json.dumps(
        error_body(
            "request_timeout",
            f"The request body did not arrive within {seconds:g} seconds; send it at once",
            {"timeout_seconds": seconds},
        )
    ).encode()
    await send_json(send, 408, body, ((b"connection", b"close"),))


class BodyLimits:
    """Refuse bodies over ``max_bytes`` with 413 (by Content-Length, and by counting the
    bytes as they stream in: a chunked body has no Content-Length), and bodies that take
    longer than ``timeout`` seconds to arrive with 408 (a client dribbling a body would
    otherwise hold its connection and a worker's memory for as long as it likes).
    ``larger`` names the paths allowed a limit of their own (the bulk profile sync)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout: float,
        larger: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope["path"], self.max_bytes)
        if declared_too_large(scope, max_bytes):
            await refuse_too_large(send, max_bytes)
            return
        seen = 0
        deadline = asyncio.get_running_loop().time() + self.timeout
        complete = False
        refusal: _Refused | None = None
        refused = False

        async def limited_receive() -> Message:
            nonlocal seen, complete, refusal
            if complete:  # only a disconnect is left to wait for, as long as it takes
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                refusal = _Refused(lambda s: refuse_too_slow(s, self.timeout))
                raise refusal from None
            complete = not message.get("more_body", False)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    refusal = _Refused(lambda s: refuse_too_large(s, max_bytes))
                    raise refusal
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns an error while reading the body into its own 400; once a limit
            # is crossed, whatever the app answers is replaced by the limit's refusal.
            nonlocal refused
            if refusal is None:
                await send(message)
            elif not refused and message["type"] == "http.response.start":
                refused = True
                await refusal.answer(send)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _Refused as error:
            if not refused:
                refused = True
                await error.answer(send)


class RateLimiter:
    """A token bucket per key: ``per_minute`` tokens, refilled continuously.

    In memory by default, so each process limits on its own. After ``share(store)`` (the
    app does it on PostgreSQL, where replicas share the store) the bucket lives in the
    store and every process leases up to ``batch`` tokens at a time, spending them in
    memory for at most ``LEASE_SECONDS``; unspent ones go back with the next lease. A busy
    key costs one short transaction per lease rather than one per request; the price is
    that another process may be refused while this one holds up to ``batch - 1`` tokens it
    has not spent yet. A refusal is remembered until the wait it named has passed, so a
    refused client hammering away does not reach the store either.
    """

    LEASE_SECONDS = 1.0

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        # A twentieth of the limit per lease: one transaction per 5% of a key's allowance.
        self.batch = max(1, per_minute // 20)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._store: RateLimitStore | None = None
        # Shared mode: key -> (tokens leased and unspent, lease expiry, refused until).
        self._leases: dict[str, tuple[int, float, float]] = {}
        self._leasing: dict[str, asyncio.Lock] = {}

    def share(self, store: RateLimitStore) -> None:
        """Keep the buckets in ``store`` from now on, shared with every process using it."""
        self._store = store

    async def admit(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if allowed, else the seconds until one is free."""
        wait = self.take(key)
        if wait is not None:
            return wait
        # Shared, and nothing leased here: one lease per key at a time (a burst of requests
        # would otherwise each lease a batch and drain the bucket), off the event loop.
        if len(self._leasing) > 10_000:
            self._leasing.clear()
        async with self._leasing.setdefault(key, asyncio.Lock()):
            wait = self.take(key)  # the lease just made by another request may serve this one
            if wait is None:
                wait = await run_in_threadpool(self.lease, key)
        return wait

    def take(self, key: str) -> float | None:
        """Take one token for ``key`` from memory: 0.0 if allowed, else the seconds until
        one is free; None when the buckets are shared and a lease is needed first."""
        now = self._clock()
        with self._lock:
            if self._store is not None:
                held, expires, refused_until = self._leases.get(key, (0, 0.0, 0.0))
                if held >= 1 and now < expires:
                    self._leases[key] = (held - 1, expires, 0.0)
                    return 0.0
                return refused_until - now if now < refused_until else None
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return max((1.0 - tokens) / self.rate, 0.001)

    def lease(self, key: str) -> float:
        """Lease tokens for ``key`` from the shared bucket and spend one: as ``take``."""
        assert self._store is not None, "lease() needs share(store) first"
        with self._lock:
            unspent = self._leases.pop(key, (0, 0.0, 0.0))[0]
        granted, wait = self._store.lease_tokens(
            bucket=key,
            capacity=self.capacity,
            per_second=self.rate,
            want=self.batch,
            returned=float(unspent),
        )
        now = self._clock()
        with self._lock:
            if len(self._leases) > 10_000:  # a flood of distinct keys cannot grow it forever
                self._leases.clear()
            held = self._leases.get(key, (0, 0.0, 0.0))[0]  # leased meanwhile by another call
            if granted:
                self._leases[key] = (held + granted - 1, now + self.LEASE_SECONDS, 0.0)
                return 0.0
            self._leases[key] = (held, now + self.LEASE_SECONDS, now + wait)
            return wait

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))


class KeyCache:
    """Keys checked in the last ``ttl`` seconds, so a busy till does not read the store on
    every request. Entries are found by the key's SHA-256, never by the key itself. A
    revoked key therefore keeps working for at most ``ttl`` seconds in a process that has
    just seen it."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[bytes, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        """What ``put`` stored for ``key`` within the last ``ttl`` seconds, else None."""
        entry = self._entries.get(_fingerprint(key))
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        if len(self._entries) > 10_000:  # a flood of distinct keys cannot grow it forever
            self._entries.clear()
        self._entries[_fingerprint(key)] = (self._clock() + self._ttl, value)


def _fingerprint(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
