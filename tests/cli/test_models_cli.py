"""`tierline models` (list, show, promote, rollback) and `tierline retrain` on a models
folder: a real process, real files, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.command import assert_refused, run
from tests.conftest import EXAMPLES, Trained

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def test_models_list_show_promote_rollback(trained: Trained, tmp_path: Path) -> None:
    """The models subcommands list, show and move the champion pointer."""
    models = tmp_path / "models"
    for _ in range(2):
        proc = run(
            "train",
            "--data",
            str(trained.data),
            "--spec",
            str(EXAMPLES / "demo.toml"),
            "--models",
            str(models),
            "--promote",
            "always",
            "-q",
        )
        assert proc.returncode == 0, proc.stderr
    listed = json.loads(run("models", "list", "--models", str(models), "--json").stdout)
    assert [v["version"] for v in listed] == ["v0001", "v0002"] and listed[1]["champion"]
    assert run("models", "rollback", "--models", str(models)).returncode == 0
    assert (models / "champion").read_text().strip() == "v0001"
    assert run("models", "promote", "v0002", "--models", str(models)).returncode == 0
    shown = run("models", "show", "v0002", "--models", str(models))
    assert shown.returncode == 0 and '"sha256"' in shown.stdout
    assert_refused(
        run("models", "promote", "v0099", "--models", str(models)), "'v0099' does not exist"
    )


def test_retrain_prints_one_json_line_and_respects_the_lock(
    trained: Trained, tmp_path: Path
) -> None:
    """retrain prints a one-line JSON summary; a held lock gives exit 3 and changes nothing."""
    import fcntl

    models = tmp_path / "models"
    args = (
        "retrain",
        "--data",
        str(trained.data),
        "--spec",
        str(EXAMPLES / "demo.toml"),
        "--models",
        str(models),
    )
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["ok"] and summary["promoted"] and summary["version"] == "v0001"
    with (models / ".retrain.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        busy = run(*args)
    assert busy.returncode == 3 and json.loads(busy.stdout)["ok"] is False
    assert [p.name for p in models.glob("v*")] == ["v0001"]
