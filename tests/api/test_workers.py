"""`tierline serve --workers N`: each worker owns a socket on the port (SO_REUSEPORT), so a
burst of keep-alive connections is spread over the workers; a dead worker is replaced;
SIGTERM stops them all; a taken port is refused with a message."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.command import run, start
from tests.servers import free_port, stop_server, wait_ready

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

CONNECTIONS = 32


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    env = {
        **os.environ,
        "TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'workers.db'}",
        "TIERLINE_MODELS": str(tmp_path / "no-models"),
    }
    port = free_port()
    server = start(
        "serve", "--port", str(port), "--workers", "2", env=env, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", seconds=60, process=server, path="/healthz")
        _wait_for_listeners(server.pid, port, 2)
        yield server, port
    finally:
        children = _children(server.pid)
        stop_server(server)
        for child in children:
            if child.is_running():
                child.kill()


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _listening_workers(pid: int, port: int) -> dict[int, int]:
    """Worker pid -> its established connections on ``port``, for workers listening on it."""
    found = {}
    for child in _children(pid):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            conns = child.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
            found[child.pid] = sum(
                1 for c in conns if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
            )
    return found


def _wait_for_listeners(
    pid: int, port: int, count: int, seconds: float = 60, without: int | None = None
) -> dict[int, int]:
    deadline = time.monotonic() + seconds
    while True:
        workers = _listening_workers(pid, port)
        if len(workers) == count and without not in workers:
            return workers
        assert time.monotonic() < deadline, f"{len(workers)} of {count} workers listen on {port}"
        time.sleep(0.2)


def _burst(port: int) -> list[socket.socket]:
    """Open CONNECTIONS keep-alive connections at once, one answered request on each."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(CONNECTIONS)]
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    for s in socks:
        s.sendall(request)
    for s in socks:
        assert s.recv(4096).startswith(b"HTTP/1.1 200"), "a connection got no 200"
    return socks


def test_a_burst_of_connections_is_spread_over_the_workers(
    two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    """32 connections opened together land on both workers (the chance that fair hashing
    leaves one worker 3 or fewer is about one in a million); with one shared socket, all
    32 were seen on one worker while the other idled."""
    server, port = two_workers
    socks = _burst(port)
    try:
        workers = _listening_workers(server.pid, port)
        assert sum(workers.values()) == CONNECTIONS
        assert min(workers.values()) >= 4, f"connections per worker: {workers}"
    finally:
        for s in socks:
            s.close()


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(
    two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = two_workers
    victim = next(iter(_listening_workers(server.pid, port)))
    os.kill(victim, signal.SIGKILL)
    # A worker killed a moment ago may still be listed: wait for a new one in its place.
    _wait_for_listeners(server.pid, port, 2, without=victim)
    for s in _burst(port):
        s.close()
    children = _children(server.pid)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"workers left running: {[p.pid for p in alive]}"


def test_a_taken_port_is_refused_with_a_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            env={"TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
            timeout=60,
        )
    assert done.returncode == 2
    assert f"Port {port} on 127.0.0.1 is taken" in done.stderr
    assert "Traceback" not in done.stderr
