"""Helpers for tests that start a real server process on loopback."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from tests.command import start

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    base: str,
    *,
    seconds: float,
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
    path: str = "/readyz",
) -> None:
    """Poll ``{base}{path}`` until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process is None or process.poll() is None, "the server process exited"
        assert time.monotonic() < deadline, f"{base} not ready within {seconds:g} s"
        time.sleep(0.1)


def stop_server(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], seconds: float = 30
) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it has not exited within ``seconds``."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_serving(server: int, port: int, stream: object) -> int:
    """The pid of the process under ``server`` that holds the other end of a client's
    connection to ``port`` (``stream``: httpx's ``response.extensions["network_stream"]``)."""
    import psutil

    client_port = stream.get_extra_info("client_addr")[1]  # type: ignore[attr-defined]
    for child in psutil.Process(server).children(recursive=True):
        for conn in child.net_connections(kind="tcp"):
            if conn.laddr.port == port and conn.raddr and conn.raddr.port == client_port:
                return child.pid
    raise AssertionError(f"no process under {server} holds the connection from {client_port}")


def start_serve(
    env: dict[str, str], *, port: int, output: int | IO[bytes], args: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """`tierline serve` on 127.0.0.1:``port`` as a user starts it, from the repository."""
    return start("serve", "--host", "127.0.0.1", "--port", str(port), *args, env=env, stdout=output)
