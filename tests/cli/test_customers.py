"""`tierline customers import`, `erase` and `prune` as an admin runs them: a real process,
a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import site_key
from tests.command import assert_refused, run
from tests.conftest import Trained, record_vip_decision
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.registry import Registry
from tierline.engine.store import Store
from tierline.engine.store.privacy import ERASE_ACTION
from tierline.training.data import load_customers

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

GUEST = "guest-3b8f0"
CUES = [{"code": "brand_dessert", "text": "Dessert with the Porsche logo", "perk": None}]


def _decide(store: Store) -> str:
    reasons = [{"feature": "car_brand", "value": "Porsche", "effect": 0.2, "text": "x"}]
    return record_vip_decision(store, GUEST, cues=CUES, reasons=reasons)


def test_erase_scrubs_the_customer_and_audits_the_cli(tmp_path: Path) -> None:
    """`customers erase ID --json` prints what it erased, the profile is gone, the decision
    has lost its customer id, the audit names "cli", and a second run exits 2."""
    url = f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    with Store.open(url) as store:
        store.upsert_customer(GUEST, {"car_brand": "Porsche"}, scope="")
        decision_id = _decide(store)
    env = {"TIERLINE_DATABASE_URL": url}
    proc = run("customers", "erase", GUEST, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"profile": True, "decisions": 1, "visits": 0, "outcomes": 0}
    with Store.open(url) as store:
        assert store.get_customer(GUEST, scope="") is None
        assert store.get_decision(decision_id)["customer_id"] is None  # type: ignore[index]
        assert [e["actor"] for e in store.audit_log() if e["action"] == ERASE_ACTION] == ["cli"]
    assert_refused(run("customers", "erase", GUEST, env=env), "erased already")


def test_prune_scrubs_signals_older_than_the_retention(tmp_path: Path) -> None:
    """`customers prune` takes TIERLINE_RETENTION_DAYS (or --days) and scrubs the signals of
    older decisions only; the customer id stays."""
    url = f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    past = datetime.now(UTC) - timedelta(days=40)
    with Store.open(url, clock=lambda: past) as store:
        old = _decide(store)
    with Store.open(url) as store:
        fresh = _decide(store)
    env = {"TIERLINE_DATABASE_URL": url, "TIERLINE_RETENTION_DAYS": "30"}
    proc = run("customers", "prune", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "1 decision(s)" in proc.stdout and "older than 30 days" in proc.stdout
    assert "0 decision(s)" in run("customers", "prune", "--days", "1", env=env).stdout
    with Store.open(url) as store:
        pruned = store.get_decision(old)
        assert pruned is not None and pruned["cues"][0]["text"] == "brand_dessert"
        assert pruned["customer_id"] == GUEST
        assert store.get_decision(fresh)["cues"] == CUES  # type: ignore[index]


@pytest.mark.parametrize(
    ("env", "needle"),
    [({}, "pass --days N"), ({"TIERLINE_RETENTION_DAYS": "soon"}, "TIERLINE_RETENTION_DAYS")],
)
def test_prune_without_a_usable_retention_is_refused(
    env: dict[str, str], needle: str, tmp_path: Path
) -> None:
    """`customers prune` with no retention, or a retention that is not a number, exits 2
    with a message naming the fix."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert_refused(run("customers", "prune", env={"TIERLINE_DATABASE_URL": url, **env}), needle)


# -- customers import ----------------------------------------------------------------------


def _import(data: Path, models: Path, url: str, *extra: str, profiles: str = "chain"):
    env = {"TIERLINE_DATABASE_URL": url, "TIERLINE_PROFILES": profiles}
    return run("customers", "import", "--data", str(data), "--models", str(models), *extra, env=env)


def test_import_then_a_lookup_by_id_alone_decides_as_batch_scoring(
    trained: Trained, url: str
) -> None:
    """`customers import --json` stores every row (a rerun changes nothing); the API then
    answers a lookup by id alone with the imported signals, and a decision by id alone
    gives the tier and score that batch scoring of the same file gives."""
    proc = _import(trained.data, trained.models, url, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["rows"] == summary["inserted"] == 6000
    assert (summary["scope"], summary["model_version"]) == ("chain", trained.result.version)
    again = json.loads(_import(trained.data, trained.models, url, "--json").stdout)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 6000)

    frame = load_customers(trained.data, trained.spec, with_target=False).head(40)
    scored = Registry(trained.models).load().score_frame(frame)
    settings = Settings(database_url=url, models=str(trained.models))
    with TestClient(create_app(settings)) as client:
        key = site_key(client, "pos")
        first = client.get(f"/v1/customers/{frame['customer_id'].iloc[0]}", headers=key)
        assert first.status_code == 200, first.text
        signals = first.json()["signals"]
        assert signals["loyalty_member"] in (True, False) and "tier" not in signals
        assert signals["visits_90d"] == int(frame["visits_90d"].iloc[0])
        assert signals["signup_date"] == frame["signup_date"].iloc[0].isoformat()
        for row in scored.itertuples():
            answer = client.post(
                "/v1/decisions", json={"customer_id": row.customer_id}, headers=key
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["tier"] == row.tier
            assert answer.json()["score"] == pytest.approx(row.score, abs=1e-9)


def test_import_lists_every_bad_row_and_writes_nothing(trained: Trained, tmp_path: Path) -> None:
    """Three bad rows (an id the API cannot read, an infinite number, a text longer than a
    profile may hold) are listed in one refusal with their row numbers, exit 2, and no
    profile is stored. (A NUL byte makes the whole file binary: tests/training/test_dialect.py.)"""
    frame = pd.read_csv(trained.data, dtype=str, keep_default_na=False)
    frame.loc[3, "visits_90d"] = "inf"
    frame.loc[5, "customer_id"] = "guest 5"
    frame.loc[7, "campaign"] = "spring menu " * 6000
    bad = tmp_path / "crm.csv"
    frame.to_csv(bad, index=False)
    url = f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    proc = _import(bad, trained.models, url)
    assert_refused(proc, "3 rows of crm.csv cannot be imported (nothing was written)")
    for needle in ("row 4 (id '00000004'): 'visits_90d' is inf", "row 6 (id 'guest 5')", "row 8"):
        assert needle in proc.stderr
    assert "longer than 60,000 characters" in proc.stderr
    with Store.open(url) as store:
        assert store.get_customer(str(frame.loc[0, "customer_id"]), scope="") is None


def test_import_writes_the_scope_the_server_reads(trained: Trained, tmp_path: Path) -> None:
    """Under TIERLINE_PROFILES=site an import needs --site and writes that site's
    profiles; under chain (the default) --site is refused, since no site would read them."""
    url = f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    assert_refused(_import(trained.data, trained.models, url, "--site", "lyon"), "drop --site")
    assert_refused(_import(trained.data, trained.models, url, profiles="site"), "pass --site")
    proc = _import(trained.data, trained.models, url, "--site", "lyon", profiles="site")
    assert proc.returncode == 0, proc.stderr
    assert "6,000 new" in proc.stderr
    customer = str(pd.read_csv(trained.data, dtype=str)["customer_id"].iloc[0])
    with Store.open(url) as store:
        assert store.get_customer(customer, scope="lyon") is not None
        assert store.get_customer(customer, scope="") is None


def test_import_without_a_champion_is_refused(demo_csv: Path, tmp_path: Path) -> None:
    """With no champion to type the file by, the import exits 2 and says how to get one."""
    url = f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    assert_refused(_import(demo_csv, tmp_path / "models", url), "No champion model")
