"""A body that dribbles in is cut off with 408 on a real uvicorn, on the decision lane and
on the routes behind the middleware alike."""

from __future__ import annotations

import json
import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, start_serve, stop_server, wait_ready

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

TIMEOUT = 1.0


@pytest.fixture
def port(models_dir: Path, tmp_path: Path) -> Iterator[int]:
    """A real `tierline serve` on loopback with a body timeout of one second."""
    env = {
        **os.environ,
        "TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'slow.db'}",
        "TIERLINE_MODELS": str(models_dir),
        "TIERLINE_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    chosen = free_port()
    with (tmp_path / "server.log").open("wb") as sink:
        server = start_serve(env, port=chosen, output=sink)
    try:
        wait_ready(f"http://127.0.0.1:{chosen}", seconds=120, process=server)
        yield chosen
    finally:
        stop_server(server)


def _dribble(port: int, method: str, path: str) -> tuple[bytes, float]:
    """Send the headers of a 200-byte JSON body, then one byte every 0.2 s until the
    server answers; returns everything it sent and the seconds that took."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 200\r\n\r\n"
    ).encode()
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        for _ in range(100):  # 20 s at most: the server must answer long before
            # Stop sending once the answer is there: a byte sent after the server closed
            # would draw a reset that discards the answer unread.
            if select.select([conn], [], [], 0.2)[0]:
                break
            conn.sendall(b" ")
        answer = b""
        while chunk := _recv(conn):
            answer += chunk
        return answer, time.monotonic() - start


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/decisions"), ("PUT", "/v1/customers/c-1"), ("POST", "/v1/outcomes")],
)
def test_a_dribbled_body_is_408_and_the_connection_closes(
    port: int, method: str, path: str
) -> None:
    """A client that sends headers and then a byte at a time gets 408 in the error shape
    once the body timeout passes, and the server closes the connection."""
    answer, seconds = _dribble(port, method, path)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout" and error["details"] == {"timeout_seconds": TIMEOUT}
    assert TIMEOUT <= seconds < TIMEOUT + 5
