"""The scheduling examples in deploy/ run what they say: absolute paths, real options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.command import run

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _commands() -> list[list[str]]:
    found = []
    for name in ("tierline-retrain.cron", "tierline-retrain.service"):
        for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
            line = line.lstrip("# ")
            if "bin/tierline " in line:
                words = shlex.split(line.split("ExecStart=")[-1])
                start = next(i for i, w in enumerate(words) if w.endswith("bin/tierline"))
                found.append(words[start:])
    return found


def test_every_scheduled_command_uses_absolute_paths_and_real_options() -> None:
    """Each command in the cron file and the systemd unit names its program, spec and data
    by absolute path (cron has no working directory), and every option it passes is one
    `tierline retrain --help` lists."""
    commands = _commands()
    assert len(commands) >= 3
    known = set(re.findall(r"--[a-z-]+", run("retrain", "--help").stdout))
    for words in commands:
        assert words[0].startswith("/") and words[1] == "retrain", words
        options = [w for w in words if w.startswith("--")]
        assert set(options) <= known, (options, known)
        for option in ("--spec", "--data"):
            if option in words:
                assert words[words.index(option) + 1].startswith("/"), words
    timer = (DEPLOY / "tierline-retrain.timer").read_text(encoding="utf-8")
    assert "OnCalendar=" in timer and "Persistent=true" in timer
