"""What browser tests need: a real `tierline serve` they can stop and restart, keys made by
`tierline keys create`, a headless Chromium, and the WCAG contrast of two CSS colours."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from tests.command import start
from tests.servers import stop_server, wait_ready

ROOT = Path(__file__).resolve().parent.parent

# Debian's Chromium: there is no network here, so Playwright's own browser download is not
# an option, and nothing the browser does on its own may reach out either. Another machine
# can point TIERLINE_TEST_CHROMIUM at its own Chromium.
CHROMIUM = os.environ.get("TIERLINE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def create_keys(specs: Mapping[str, tuple[str, str]], *, env: Mapping[str, str]) -> dict[str, str]:
    """``{label: (role, site)}`` to ``{label: key}``, made by `tierline keys create --json`.

    The commands run side by side: each one spends most of its second importing, and the
    database already exists (the server made it), so they do not race on the schema.
    """
    running = {
        label: start(
            *("keys", "create", "--role", role, "--site", site, "--name", label, "--json"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label, (role, site) in specs.items()
    }
    made = {}
    for label, process in running.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        made[label] = json.loads(out)["key"]
    return made


def key_id(key: str) -> str:
    """The public id inside a key (``tl_<id>_<secret>``), which `keys revoke` takes."""
    match = re.fullmatch(r"tl_([0-9a-f]{12})_.+", key)
    assert match, "not a tierline key"
    return match[1]


@dataclass
class LiveServer:
    """`tierline serve` on loopback with its output (and uvicorn's access log) in a file.

    The log goes to a file, not a pipe: a page polling every second writes a line a
    second, and a pipe nobody reads fills up and stalls the server.
    """

    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready: bool = True, seconds: float = 45) -> None:
        """Start it and wait until it answers: /readyz when ``ready``, else /healthz (a
        server without a model is alive but never ready)."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log.open("ab") as log:
            # uvicorn's access log goes to stdout, its own messages to stderr: both to the log
            self.process = start(
                "serve", "--host", "127.0.0.1", "--port", str(self.port), env=self.env, stdout=log
            )
        path = "/readyz" if ready else "/healthz"
        try:
            wait_ready(self.base, seconds=seconds, process=self.process, path=path)
        except AssertionError as error:
            self.stop()  # a server that never got ready must not outlive the test run
            raise AssertionError(f"{error}:\n{self.log.read_text()[-3000:]}") from None

    def stop(self) -> None:
        """Terminate it (SIGTERM, then SIGKILL if it hangs) and wait for it to exit."""
        if self.process is None or self.process.poll() is not None:
            return
        stop_server(self.process)


def server_env(*, database: Path, models: Path) -> dict[str, str]:
    """The environment `tierline serve` and `tierline keys` read their settings from."""
    return {
        **os.environ,
        "TIERLINE_DATABASE_URL": f"sqlite:///{database}",
        "TIERLINE_MODELS": str(models),
    }


def _rgb(css: str) -> tuple[float, float, float]:
    """``rgb(r, g, b)`` or ``rgba(r, g, b, a)`` as getComputedStyle gives it (opaque only)."""
    match = re.fullmatch(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", css)
    assert match, f"not a computed colour: {css!r}"
    assert match[4] is None or float(match[4]) == 1.0, f"translucent colour: {css!r}"
    return float(match[1]), float(match[2]), float(match[3])


def _luminance(rgb: tuple[float, float, float]) -> float:
    def linear(c: float) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio of two computed CSS colours (1 to 21)."""
    high, low = sorted((_luminance(_rgb(foreground)), _luminance(_rgb(background))), reverse=True)
    return (high + 0.05) / (low + 0.05)
