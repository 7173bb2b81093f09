"""Helpers for tests that start a real server process on loopback."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


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
