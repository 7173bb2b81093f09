"""The one way tests run the `tierline` command: as a user runs it, from this checkout and
this venv (``python -m tierline.cli``), in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
CLI = (sys.executable, "-m", "tierline.cli")

__all__ = ["CLI", "ROOT", "assert_refused", "run", "run_ok", "start"]


def run(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `tierline ARGS` to the end; ``env`` is laid over this process's environment."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def run_ok(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run `tierline ARGS`, which must succeed, and return what it printed."""
    done = run(*args, cwd=cwd, env=env)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def assert_refused(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    """Exit code 2, a short message naming the problem, never a traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert needle in proc.stderr + proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr


def start(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[bytes] = subprocess.DEVNULL,
    stderr: int | IO[bytes] = subprocess.STDOUT,
    cwd: Path | None = None,
    text: bool = False,
) -> subprocess.Popen[Any]:
    """Start `tierline ARGS` (a server, a demo) and return the running process."""
    return subprocess.Popen(
        [*CLI, *args],
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        stdout=stdout,
        stderr=stderr,
        text=text,
    )
