"""The HTTP benchmarks' load generator, a process of its own
(``python -m benchmarks.load_generator JOB OUT``): one asyncio event loop (uvloop when
installed) drives keep-alive connections with requests built beforehand and a minimal
response parser (status line and Content-Length), closed-loop, and writes what it saw.
Why it is built this way, and how it was checked against ``wrk``: benchmarks/README.md."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.http_harness import CONNECTIONS, DRAIN_SECONDS, HOST

__all__ = ["generate"]

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


class _Load:
    """The shared state of one phase: the window, the tallies, the connections still busy."""

    def __init__(self, requests: list[bytes]) -> None:
        self.requests = requests
        self.start = math.inf
        self.end = math.inf
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.lost = 0
        self.broken: list[str] = []  # answers the parser could not read: a bug, not load
        self.busy = 0
        self.drained = asyncio.Event()

    def finished(self) -> None:
        self.busy -= 1
        if self.busy == 0:
            self.drained.set()


class _Connection(asyncio.Protocol):
    """One keep-alive connection: send, read the whole answer, send the next, until the end."""

    def __init__(self, load: _Load, first: int) -> None:
        self.load = load
        self.next = first
        self.buffer = bytearray()
        self.need = -1  # bytes of the answer in progress (head + body), once its head is read
        self.status = 0
        self.sent = 0.0
        self.in_flight = False
        self.transport: Any = None  # uvloop's transports do not subclass asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def send(self) -> None:
        requests = self.load.requests
        self.in_flight = True
        self.sent = time.perf_counter()
        self.transport.write(requests[self.next % len(requests)])
        self.next += 1

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            if self.need < 0:
                head_end = buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                length = _CONTENT_LENGTH.search(buffer, 0, head_end)
                if length is None:  # uvicorn always sends one for these answers
                    self.load.broken.append(f"no Content-Length in {bytes(buffer[:300])!r}")
                    self.transport.close()  # the request in flight counts as lost
                    return
                self.status = int(buffer[9:12])
                self.need = head_end + 4 + int(length[1])
            if len(buffer) < self.need:
                return
            del buffer[: self.need]
            self.need = -1
            self._answered()

    def _answered(self) -> None:
        now = time.perf_counter()
        load = self.load
        self.in_flight = False
        load.statuses[self.status] += 1
        if self.sent >= load.start and now <= load.end:
            load.latencies.append(now - self.sent)
        if now < load.end:
            self.send()
        else:
            load.finished()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:  # the server dropped a request it had not answered
            self.in_flight = False
            self.load.lost += 1
            self.load.finished()


async def generate(job: dict[str, Any]) -> dict[str, Any]:
    bodies = json.loads(Path(job["bodies"]).read_text())
    head = (
        f"POST {job['path']} HTTP/1.1\r\nHost: {HOST}:{job['port']}\r\n"
        f"X-API-Key: {job['key']}\r\nContent-Type: application/json\r\n"
    )
    requests = [f"{head}Content-Length: {len(b.encode())}\r\n\r\n{b}".encode() for b in bodies]
    load = _Load(requests)
    loop = asyncio.get_running_loop()
    n_connections = job.get("connections", CONNECTIONS)
    stride = max(1, len(requests) // n_connections)  # each connection starts elsewhere
    connections = []
    for i in range(n_connections):
        transport, conn = await loop.create_connection(
            lambda i=i: _Connection(load, i * stride), HOST, job["port"]
        )
        conn.transport = transport  # uvloop may call connection_made only after this returns
        connections.append(conn)
    cpu = time.process_time()
    load.busy = len(connections)
    load.start = time.perf_counter()
    load.end = load.start + job["seconds"]
    for conn in connections:
        conn.send()
    with contextlib.suppress(TimeoutError):  # what is still due then counts as unanswered
        await asyncio.wait_for(load.drained.wait(), job["seconds"] + DRAIN_SECONDS)
    cpu = time.process_time() - cpu
    unanswered = sum(c.in_flight for c in connections)
    for conn in connections:
        conn.transport.close()
    return {
        "seconds": job["seconds"],
        "latencies_us": [round(s * 1e6, 1) for s in load.latencies],
        "statuses": {str(k): v for k, v in load.statuses.items()},
        "lost": load.lost,
        "unanswered": unanswered,
        "client_cpu_seconds": cpu,
        "broken": load.broken,
    }


def _load_main(job_path: str, out_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    try:
        import uvloop
    except ImportError:  # plain asyncio works, with a little more client CPU per request
        result = asyncio.run(generate(job))
    else:
        result = uvloop.run(generate(job))
    Path(out_path).write_text(json.dumps(result))
    if result["broken"]:
        sys.exit(f"unreadable answers: {result['broken'][:3]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the load generator of the http benchmarks")
    parser.add_argument("job", metavar="JOB")
    parser.add_argument("out", metavar="OUT")
    arguments = parser.parse_args()
    _load_main(arguments.job, arguments.out)
