"""`tierline generate`, `train`, `score` and `evaluate` as a user runs them (a real process,
real files), and the command's help and version."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.command import assert_refused, run
from tests.conftest import Trained

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def test_generate_writes_seeded_customers(tmp_path: Path) -> None:
    """generate writes N customers; the same seed writes the same file."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run("generate", "--customers", "300", "--out", str(a), "-q").returncode == 0
    assert run("generate", "--customers", "300", "--out", str(b), "-q").returncode == 0
    assert a.read_bytes() == b.read_bytes()
    frame = pd.read_csv(a, dtype=str)
    assert len(frame) == 300 and frame["customer_id"].str.startswith("0").all()


def test_score_writes_one_row_per_customer_in_order(trained: Trained, tmp_path: Path) -> None:
    """score writes the contract's columns with ids exactly as they came in."""
    out = tmp_path / "scored.parquet"
    proc = run(
        "score",
        "--data",
        str(trained.data),
        "--out",
        str(out),
        "--models",
        str(trained.models),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    scored = pd.read_parquet(out)
    source = pd.read_csv(trained.data, dtype=str)
    assert summary["rows"] == len(scored) == len(source)
    assert scored["customer_id"].tolist() == source["customer_id"].tolist()
    assert {"tier", "confidence", "score", "rule", "cues", "model_version", "holdout"} <= set(
        scored.columns
    )


def test_score_asks_for_a_missing_column_in_the_file(trained: Trained, tmp_path: Path) -> None:
    """score on a file without a column the model reads names the column and the model and
    asks for the column in the file, not for a spec change (score takes no spec)."""
    data = tmp_path / "no_visits.csv"
    pd.read_csv(trained.data, dtype=str).drop(columns=["visits_90d"]).to_csv(data, index=False)
    proc = run(
        "score",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "s.csv"),
        "--models",
        str(trained.models),
    )
    assert_refused(
        proc, "Column 'visits_90d' is declared numeric ([features]) in the spec of model"
    )
    assert "add the column to no_visits.csv (a cell left empty reads as unknown)" in proc.stderr
    assert "spec" not in proc.stderr.split(";", 1)[1]
    assert not (tmp_path / "s.csv").exists()


def test_score_with_reasons(trained: Trained, tmp_path: Path) -> None:
    """--reasons adds a readable reasons column: the spec's [labels] words where it has them,
    "name = value" for a signal without a label or a value."""
    out = tmp_path / "scored.csv"
    proc = run(
        "score",
        "--data",
        str(trained.data),
        "--out",
        str(out),
        "--models",
        str(trained.models),
        "--reasons",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    reasons = pd.read_csv(out)["reasons"]
    assert reasons.str.contains(r"\S, (?:raises|lowers) ").all()
    assert reasons.str.contains(" € in the last year, ").any()
    assert reasons.str.contains(r"\w = \S+, ").any()


def test_evaluate_json(trained: Trained) -> None:
    """evaluate --json reports the metrics of the champion on labelled data."""
    proc = run("evaluate", "--data", str(trained.data), "--models", str(trained.models), "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)["metrics"]
    assert 0.5 < metrics["macro_f1"] <= 1.0 and set(metrics["tier_mix"]) == {
        "vip",
        "standard",
        "student",
    }


def test_tampered_champion_is_refused_when_scoring(trained: Trained, tmp_path: Path) -> None:
    """A changed artifact byte makes score refuse with exit 2 and write nothing."""
    import shutil

    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    target = models / trained.result.version / "policy.json"
    target.chmod(0o644)
    target.write_text(target.read_text().replace("standard", "vip", 1))
    out = tmp_path / "scored.csv"
    assert_refused(
        run("score", "--data", str(trained.data), "--out", str(out), "--models", str(models)),
        "SHA-256",
    )
    assert not out.exists()


def test_help_has_examples() -> None:
    """--help of the main commands shows an example invocation."""
    for command in ("train", "score", "retrain", "generate"):
        proc = run(command, "--help")
        assert proc.returncode == 0 and "tierline" in proc.stdout


def test_readme_quick_start_on_a_hand_written_export(tmp_path: Path) -> None:
    """The README's train and score steps work on a messy CRM export the tests did not
    generate; its 60 customers hold out too few to promote on without --promote always."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    models, out = tmp_path / "models", tmp_path / "scored.csv"
    train = ("train", "--data", str(fixtures / "crm_export.csv"))
    train += ("--spec", str(fixtures / "crm_export.toml"), "--models", str(models))
    proc = run(*train)
    assert proc.returncode == 0, proc.stderr
    assert "not promoted" in proc.stdout and "too few to trust" in proc.stdout
    proc = run(*train, "--promote", "always")
    assert proc.returncode == 0, proc.stderr
    assert "macro_f1" in proc.stdout and "promoted to champion" in proc.stdout
    proc = run(
        "score",
        "--data",
        str(fixtures / "crm_export.csv"),
        "--out",
        str(out),
        "--models",
        str(models),
        "--reasons",
    )
    assert proc.returncode == 0, proc.stderr
    scored = pd.read_csv(out, dtype={"Client No": str})
    source = pd.read_csv(fixtures / "crm_export.csv", dtype=str)
    assert scored["Client No"].tolist() == source["Client No"].tolist()  # 000101 stays 000101
    students = source["Student card"].str.lower().isin(["yes", "y", "true", "1"])
    assert (scored.loc[students, "tier"] == "student").all()
    assert (scored.loc[students, "rule"] == "student card").all()
    labelled = source["Tier"].str.strip()
    assert (scored["tier"] == labelled).mean() > 0.8


def test_european_export_trains_and_scores(tmp_path: Path) -> None:
    """A semicolon, decimal-comma, Windows-1252 export with € amounts trains as it is, and
    scores with the dialect forced."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    data, models, out = fixtures / "crm_export_eu.csv", tmp_path / "models", tmp_path / "s.csv"
    spec = str(fixtures / "crm_export.toml")
    # Sixty customers are too few for an automatic promotion; the dialect is what is tested.
    promote = ("--promote", "always")
    proc = run("train", "--data", str(data), "--spec", spec, "--models", str(models), *promote)
    assert proc.returncode == 0, proc.stderr
    forced = ("--sep", ";", "--decimal", ",")
    proc = run("score", "--data", str(data), "--out", str(out), "--models", str(models), *forced)
    assert proc.returncode == 0, proc.stderr
    scored = pd.read_csv(out, dtype={"Client No": str})
    source = pd.read_csv(fixtures / "crm_export.csv", dtype=str)
    assert scored["Client No"].tolist() == source["Client No"].tolist()


def test_version_and_flags_read_as_flags() -> None:
    """`tierline --version` prints the version; help shows a flag as `--json`, never as an
    option taking a value."""
    proc = run("--version")
    assert proc.returncode == 0 and re.fullmatch(r"tierline \S+\n", proc.stdout)
    helped = run("train", "--help").stdout
    assert re.search(r"^\s+--json\s+Machine-readable", helped, re.MULTILINE), helped
    assert "<bool>" not in helped
