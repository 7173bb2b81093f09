"""`tierline customers erase` and `prune` as an admin runs them: a real process, a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.test_cli import assert_refused, run
from tests.conftest import record_vip_decision
from tierline.engine.store import Store
from tierline.engine.store.privacy import ERASE_ACTION

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
