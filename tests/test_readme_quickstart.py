"""The README's quick start, walked as written in a fresh clone: `make demo`, then its
command-line block against the running demo's state, ending in a key the demo accepts.

The commands are read from README.md (the ```sh blocks under "## Quick start"), so the
test fails when the README drifts from what works. The clone is of this checkout's HEAD:
only committed files count, as for someone who clones the repository.

Two things differ from a first run on a new machine, both to keep the test short:
- The clone's `.venv` is a folder of links into the running virtual environment plus its
  own install stamp, newer than the clone's pyproject.toml. `make` then finds it installed
  and never runs its recipe, which would create a venv and `pip install -e` into the shared
  one (minutes, and it would repoint the shared install at a folder about to be deleted).
  That install points at another checkout, so PYTHONPATH puts the clone's code first.
- `make demo` gets `DEMO_ARGS` (the Makefile's documented knob) from the environment: a free
  port, so a demo already running on 8000 does not break the test, and fewer customers.
  The command-line block's `127.0.0.1:8000` is rewritten to that port, and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import free_port, wait_ready

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

HEADING = "## Quick start"
DEMO_URL = "127.0.0.1:8000"
TIERS = {"vip", "standard", "student"}  # examples/demo.toml's


def _quick_start_blocks(readme: Path) -> list[str]:
    """The ```sh blocks under the README's quick-start heading, in order."""
    text = readme.read_text(encoding="utf-8")
    _, found, section = text.partition(f"\n{HEADING}\n")
    assert found, f"README.md has no '{HEADING}' section"
    section = section.split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def _commands(block: str) -> list[str]:
    """A block's lines without comments or blank lines."""
    return [kept for line in block.splitlines() if (kept := line.split("#", 1)[0].strip())]


def _clone_head(dest: Path) -> Path:
    """A clone of this checkout at its HEAD commit."""

    def git(*args: str, cwd: Path = ROOT) -> str:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    head = git("rev-parse", "HEAD")
    git("clone", "--quiet", "--no-checkout", str(ROOT), str(dest))
    git("checkout", "--quiet", "--detach", head, cwd=dest)
    return dest


def _borrow_venv(clone: Path) -> None:
    """Give the clone a `.venv` that links to the running one's contents, with its own
    install stamp (see the module docstring)."""
    assert sys.prefix != sys.base_prefix, "run the tests from the project's venv (make test)"
    local = clone / ".venv"
    local.mkdir()
    for entry in Path(sys.prefix).iterdir():
        if entry.name != ".installed-stamp":
            (local / entry.name).symlink_to(entry)
    stamp = local / ".installed-stamp"
    stamp.touch()
    older = stamp.stat().st_mtime - 1  # a stamp as new as pyproject.toml would be too
    os.utime(clone / "pyproject.toml", (older, older))


def _user_env(clone: Path, port: int) -> dict[str, str]:
    """The environment of a user's shell in the clone (no TIERLINE_* settings, no outer
    make), with the clone's code first and DEMO_ARGS; checked before anything runs."""
    _borrow_venv(clone)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TIERLINE_", "MAKE")) and k not in ("MFLAGS", "VIRTUAL_ENV")
    } | {
        "PYTHONPATH": str(clone),
        "DEMO_ARGS": f"--port {port} --customers 5000",
        "COLUMNS": "120",
    }
    fresh = subprocess.run(["make", "-q", ".venv/.installed-stamp"], cwd=clone, env=env, timeout=30)
    assert fresh.returncode == 0, "make would rebuild the borrowed venv"
    which = subprocess.run(
        [".venv/bin/python", "-c", "import tierline.cli; print(tierline.cli.__file__)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert which.stdout.startswith(str(clone)), (which.stdout, which.stderr)
    return env


def test_the_readme_quick_start_runs_as_written_in_a_fresh_clone(tmp_path: Path) -> None:
    """`make demo` serves the demo; the README's commands then list its model, score its
    customers, write a report, import them, and make a pos key with which the README's
    curl gets a decision (a 2xx, or curl fails the block) for an imported customer;
    Ctrl-C then stops the demo."""
    clone = _clone_head(tmp_path / "tierline")
    blocks = _quick_start_blocks(clone / "README.md")  # the clone's: HEAD, as committed
    assert len(blocks) == 2, f"expected the demo block and the command block, got {blocks}"
    demo, commands = blocks
    # The set-up is the two commands; `make test` is the suite running this test.
    assert _commands(demo) == ["make demo", "make test"], demo
    demo = "make demo"
    assert not any(c.startswith("make") for c in _commands(commands)), commands
    port = free_port()
    assert DEMO_URL in commands, f"the command block no longer calls the demo at {DEMO_URL}"
    commands = commands.replace(DEMO_URL, f"127.0.0.1:{port}")

    env = _user_env(clone, port)

    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        # Its own session, so that Ctrl-C can go to make and everything under it at once.
        server = subprocess.Popen(
            ["bash", "-c", demo],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_ready(f"http://127.0.0.1:{port}", seconds=300, process=server)
        except AssertionError as error:
            raise AssertionError(f"{error}:\n{log.read_text()[-3000:]}") from None
        said = log.read_text()
        assert "pos key: tl_" in said and "made now; kept 0 earlier version(s)" in said, said

        walked = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", commands],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert walked.returncode == 0, walked.stdout[-3000:] + walked.stderr[-3000:]
        assert "v0001" in walked.stdout and "champion" in walked.stdout, walked.stdout
        assert "imported 5,000 profiles" in walked.stderr, walked.stderr
        assert (clone / "var/demo/scored.csv").stat().st_size > 0
        assert (clone / "var/demo/report.html").stat().st_size > 0
        decision = json.loads(walked.stdout.rsplit("\n", 1)[-1])
        assert decision["customer_id"] == "00000042" and decision["tier"] in TIERS, decision
        assert not decision["degraded"] and decision["reasons"], decision

        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C in the demo's terminal
        server.wait(timeout=30)
        assert "server stopped" in log.read_text(), log.read_text()[-3000:]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
