"""`tierline drift` as cron runs it: a real process, a real store of logged decisions, the
champion's training profile, and the exit code that chains a retrain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.command import assert_refused, run
from tests.conftest import Trained, champion_rewritten, log_decisions, training_signals
from tierline.engine.store import Store

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

SHIFTED = "spend_365d"


def _store_with(tmp_path: Path, signals: list[dict[str, Any]]) -> dict[str, str]:
    """A SQLite store holding one decision per signals dict; the CLI's environment for it."""
    url = f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    with Store.open(url) as store:
        log_decisions(store, signals)
    return {"TIERLINE_DATABASE_URL": url}


def test_a_shifted_signal_acts_and_the_exit_code_follows(trained: Trained, tmp_path: Path) -> None:
    """Decisions drawn from the training rows with one signal tripled: that signal is at
    0.25 or more (act), every other one under 0.1, and the command exits 1."""
    rows = training_signals(trained, 800)
    shifted = [{**r, SHIFTED: r[SHIFTED] * 3} if SHIFTED in r else r for r in rows]
    env = _store_with(tmp_path, shifted)
    proc = run("drift", "--json", "--models", str(trained.models), env=env)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["decisions"] == 800 and report["band"] == "act"
    assert report["model_version"] == trained.result.version
    by_signal = {s["signal"]: s for s in report["signals"]}
    assert set(by_signal) == set(trained.spec.feature_columns)
    assert by_signal[SHIFTED]["psi"] >= 0.25 and by_signal[SHIFTED]["band"] == "act"
    others = {name: s["psi"] for name, s in by_signal.items() if name != SHIFTED}
    assert max(others.values()) < 0.1, others
    table = run("drift", "--models", str(trained.models), env=env)
    assert table.returncode == 1 and SHIFTED in table.stdout and "act" in table.stdout


def test_unshifted_decisions_are_stable_and_exit_0(trained: Trained, tmp_path: Path) -> None:
    """The same draw without the shift: every signal stable, exit 0, a table for people."""
    env = _store_with(tmp_path, training_signals(trained, 800))
    proc = run("drift", "--models", str(trained.models), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "800 decision(s)" in proc.stdout and "stable" in proc.stdout
    report = json.loads(run("drift", "--json", "--models", str(trained.models), env=env).stdout)
    assert report["band"] == "stable" and {s["band"] for s in report["signals"]} == {"stable"}


def test_a_window_without_the_decisions_has_too_few_to_say(
    trained: Trained, tmp_path: Path
) -> None:
    """A window in the past holds none of today's decisions: no figures, a message, exit 0;
    a handful of decisions is not enough either."""
    env = _store_with(tmp_path, training_signals(trained, 20))
    args = ("drift", "--json", "--models", str(trained.models))
    past = run(*args, "--since", "2020-01-01", "--until", "2020-01-31", env=env)
    assert past.returncode == 0, past.stderr
    report = json.loads(past.stdout)
    assert report["decisions"] == 0 and report["signals"] == [] and not report["enough"]
    assert report["since"].startswith("2020-01-01") and report["until"].startswith("2020-02-01")
    few = json.loads(run(*args, env=env).stdout)
    assert few["decisions"] == 20 and "Not enough decisions yet" in few["message"]


def test_bad_dates_are_refused_with_exit_2(trained: Trained, tmp_path: Path) -> None:
    """--since that is not a date, or a window that ends before it starts, exits 2 with a
    one-line message."""
    env = _store_with(tmp_path, [])
    models = ("--models", str(trained.models))
    assert_refused(run("drift", "--since", "last week", *models, env=env), "not a date")
    assert_refused(
        run("drift", "--since", "2026-03-05", "--until", "2026-03-01", *models, env=env),
        "is after until",
    )


def test_a_version_without_a_profile_says_retrain(trained: Trained, tmp_path: Path) -> None:
    """A champion written before drift (no profile in its metadata) exits 2 and says to
    retrain it."""
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    champion_rewritten(models, lambda meta: {k: v for k, v in meta.items() if k != "drift"})
    env = _store_with(tmp_path, [])
    assert_refused(run("drift", "--models", str(models), env=env), "retrain")
