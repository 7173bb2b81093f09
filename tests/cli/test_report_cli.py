"""`tierline report` as a user runs it: the champion's or a named version's page, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.command import assert_refused, run
from tests.conftest import Trained, log_decisions, training_signals
from tierline.engine.registry import Registry
from tierline.engine.store import Store

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def test_report_writes_the_champions_page_and_prints_its_path(
    trained: Trained, tmp_path: Path
) -> None:
    """Without a version the report is the champion's; the command prints the file's path."""
    out = tmp_path / "reports" / "model.html"
    nowhere = f"sqlite:///{tmp_path / 'none.db'}"
    proc = run("report", "--out", str(out), "--models", str(trained.models), "--db", nowhere)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    champion = Registry(trained.models).champion()
    assert html.startswith("<!DOCTYPE html>")
    assert f"Model report: {champion}" in html and ">champion<" in html
    assert "No drift figures:" in html and "no decision log at" in html
    assert not (tmp_path / "none.db").exists()


def test_report_shows_the_drift_of_the_logged_decisions(trained: Trained, tmp_path: Path) -> None:
    """With a store of this week's decisions, one signal shifted, the drift section lists
    every signal and flags the shifted one."""
    rows = training_signals(trained, 300)
    shifted = [{**r, "spend_365d": r["spend_365d"] * 3} if "spend_365d" in r else r for r in rows]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:
        log_decisions(store, shifted)
    out = tmp_path / "model.html"
    proc = run("report", "--out", str(out), "--models", str(trained.models), "--db", url)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    assert "No drift figures" not in html
    section = html[html.index("spend_365d", html.index("Drift")) :]
    assert "act" in section[:400]


def test_report_of_a_named_version_and_models_from_the_environment(
    trained: Trained, tmp_path: Path
) -> None:
    """A named version is reported, with the registry taken from TIERLINE_MODELS."""
    out = tmp_path / "v1.html"
    proc = run("report", "v0001", "--out", str(out), env={"TIERLINE_MODELS": str(trained.models)})
    assert proc.returncode == 0, proc.stderr
    assert "Model report: v0001" in out.read_text(encoding="utf-8")


def test_report_refuses_an_unknown_version_and_a_folder(trained: Trained, tmp_path: Path) -> None:
    """An unknown version, an empty registry and a folder as --out exit 2 with a message,
    and write nothing."""
    out = tmp_path / "report.html"
    models = str(trained.models)
    assert_refused(run("report", "v0999", "--out", str(out), "--models", models), "v0999")
    empty = str(tmp_path / "no_models")
    assert_refused(run("report", "--out", str(out), "--models", empty), "No champion")
    assert_refused(run("report", "--out", str(tmp_path), "--models", models), "is a folder")
    assert not out.exists()
