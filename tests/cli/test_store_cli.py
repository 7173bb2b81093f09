"""`tierline export` and `tierline retrain --from-store` refuse bad input with a message
and exit code 2, and write nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.command import assert_refused, run
from tests.conftest import EXAMPLES
from tierline.engine.store import Store

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


@pytest.fixture
def db(tmp_path: Path) -> dict[str, str]:
    """A store with three fresh decisions (their 90-day horizon still open)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:
        store.record_decisions(
            [
                {
                    "customer_id": f"c{i}",
                    "site": "lyon",
                    "tier": "standard",
                    "confidence": 0.7,
                    "score": 0.3,
                    "cues": [],
                    "reasons": [],
                    "model_version": None,
                    "holdout": False,
                    "degraded": True,
                    "signals": {"visits_90d": i},
                }
                for i in range(3)
            ]
        )
    return {"TIERLINE_DATABASE_URL": url}


def test_export_refuses_bad_dates_and_writes_nothing(db: dict[str, str], tmp_path: Path) -> None:
    """A date that is not one, an --until before --since, or an output format it cannot
    write: exit 2, the problem named, no file."""
    out = tmp_path / "log.csv"
    assert_refused(run("export", "--out", str(out), "--since", "March", env=db), "--since")
    assert_refused(
        run("export", "--out", str(out), "--since", "2026-05-02", "--until", "2026-05-01", env=db),
        "is not after --since",
    )
    assert_refused(run("export", "--out", str(tmp_path / "log.xlsx"), env=db), "log.xlsx")
    assert not out.exists() and not (tmp_path / "log.xlsx").exists()


def test_export_of_a_day_includes_that_day(db: dict[str, str], tmp_path: Path) -> None:
    """--until names the last day included; the JSON summary counts what was written."""
    today = datetime.now(UTC).date()
    out = tmp_path / "log.csv"
    proc = run("export", "--out", str(out), "--until", today.isoformat(), "--json", env=db)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == 3 and json.loads(proc.stdout)["matured"] == 0
    yesterday = (today - timedelta(days=1)).isoformat()
    proc = run("export", "--out", str(out), "--until", yesterday, "--json", env=db)
    assert json.loads(proc.stdout)["rows"] == 0


def _retrain(*args: str, env: dict[str, str], models: Path) -> tuple[int, dict[str, object]]:
    proc = run("retrain", "--models", str(models), *args, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def test_retrain_from_store_refuses_what_cannot_train(db: dict[str, str], tmp_path: Path) -> None:
    """Neither or both data sources, a target the export does not have, a horizon the
    target contradicts, and a log with no matured decision: exit 2, a JSON line saying why,
    no version written."""
    models = tmp_path / "models"
    store_spec = str(EXAMPLES / "store.toml")
    code, said = _retrain("--spec", store_spec, env=db, models=models)
    assert code == 2 and "either --data FILE or --from-store" in str(said["error"])
    code, said = _retrain(
        "--spec", store_spec, "--from-store", "--data", "x.csv", env=db, models=models
    )
    assert code == 2 and "either --data FILE or --from-store" in str(said["error"])
    code, said = _retrain(
        "--spec", str(EXAMPLES / "demo.toml"), "--from-store", env=db, models=models
    )
    assert code == 2 and 'set [data] id = "decision_id"' in str(said["error"])
    decided = tmp_path / "decided.toml"
    text = (EXAMPLES / "store.toml").read_text()
    decided.write_text(
        text.replace('"spend_next_90d"', '"tier"').replace('"site", "tier"', '"site"')
    )
    code, said = _retrain("--spec", str(decided), "--from-store", env=db, models=models)
    assert code == 2 and "'tier' is what was decided" in str(said["error"])
    absent = tmp_path / "absent.toml"
    absent.write_text(
        (EXAMPLES / "store.toml").read_text().replace('"spend_next_90d"', '"returned"')
    )
    code, said = _retrain("--spec", str(absent), "--from-store", env=db, models=models)
    assert code == 2 and "'returned' is not a column of the store's export" in str(said["error"])
    code, said = _retrain(
        "--spec", store_spec, "--from-store", "--horizon-days", "30", env=db, models=models
    )
    assert code == 2 and "a 90-day horizon but --horizon-days is 30" in str(said["error"])
    code, said = _retrain("--spec", store_spec, "--from-store", env=db, models=models)
    assert code == 2 and "None of the 3 logged decisions has a known" in str(said["error"])
    assert not any(models.glob("v*"))
