"""Uplift on the command line: the demo experiment, training with [treatment], scored columns."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.command import assert_refused, run
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def _spec(tmp_path: Path, *, cost: str, control: str = "holdout") -> Path:
    """examples/uplift.toml with another [treatment] cost line (and control)."""
    text = (EXAMPLES / "uplift.toml").read_text(encoding="utf-8")
    text = text.replace('cost = { "coffee" = 1.5, "dessert" = 4.0 }', f"cost = {cost}")
    text = text.replace('control = "holdout"', f'control = "{control}"')
    path = tmp_path / f"spec-{control}-{len(list(tmp_path.glob('spec-*')))}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_generate_experiment_writes_a_seeded_randomized_perk(tmp_path: Path) -> None:
    """generate --experiment adds the randomly given perk; the same seed writes the same file."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for path in (a, b):
        proc = run("generate", "--experiment", "-n", "900", "--out", str(path), "-q")
        assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes()
    frame = pd.read_csv(a, dtype=str)
    assert set(frame["perk"]) == {"holdout", "coffee", "dessert"}
    assert 0.25 < float((frame["perk"] == "holdout").mean()) < 0.42


def test_generate_experiment_refuses_a_transaction_log(tmp_path: Path) -> None:
    """The experiment is a customer table; asking for a log too is refused with exit code 2."""
    proc = run(
        "generate", "--experiment", "-n", "50", "--out", str(tmp_path / "e.csv"),
        "--transactions", str(tmp_path / "t.csv"),
    )  # fmt: skip
    assert_refused(proc, "--experiment writes a customer table only")


def test_train_and_score_an_uplift_model_and_treat_follows_cost(tmp_path: Path) -> None:
    """train with [treatment] prints the uplift report (and --json its figures); score writes
    uplift_, net_ and treat without the arm or outcome columns; a cost above any perk's
    value treats no one."""
    data = tmp_path / "experiment.csv"
    assert run("generate", "--experiment", "-n", "4000", "--out", str(data), "-q").returncode == 0
    scoring = tmp_path / "customers.csv"
    pd.read_csv(data, dtype=str).drop(columns=["perk", "returned_90d"]).to_csv(scoring, index=False)
    models = tmp_path / "models"
    proc = run("train", "--data", str(data), "--spec", str(EXAMPLES / "uplift.toml"),
               "--models", str(models))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "normalized Qini" in proc.stdout and "treat no one" in proc.stdout
    out = tmp_path / "scored.csv"
    proc = run(
        "score", "--data", str(scoring), "--out", str(out), "--models", str(models), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)["tier_mix"]) <= {"treat", "hold"}
    scored = pd.read_csv(out, keep_default_na=False)
    for column in ("uplift_coffee", "uplift_dessert", "net_coffee", "net_dessert", "treat"):
        assert column in scored.columns
    assert "holdout" in set(scored["treat"]) and len(set(scored["treat"])) > 1

    dear = _spec(tmp_path, cost='{ "coffee" = 1000.0, "dessert" = 1000.0 }')
    proc = run("train", "--data", str(data), "--spec", str(dear), "--models", str(models),
               "--promote", "always", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)["uplift"]
    assert set(figures["per_arm"]) == {"coffee", "dessert"} and figures["treat_share"] == 0.0
    proc = run("score", "--data", str(scoring), "--out", str(out), "--models", str(models), "-q")
    assert proc.returncode == 0, proc.stderr
    assert set(pd.read_csv(out, keep_default_na=False)["treat"]) == {"holdout"}


def test_train_refuses_a_control_the_data_does_not_hold(tmp_path: Path) -> None:
    """A [treatment] control absent from the arm column is refused with exit code 2."""
    data = tmp_path / "experiment.csv"
    assert run("generate", "--experiment", "-n", "300", "--out", str(data), "-q").returncode == 0
    spec = _spec(tmp_path, cost="{}", control="nobody")
    proc = run("train", "--data", str(data), "--spec", str(spec), "--models", str(tmp_path / "m"))
    assert_refused(proc, "control 'nobody' does not appear in column 'perk'")
