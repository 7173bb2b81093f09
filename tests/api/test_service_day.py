"""The loop closed, on SQLite and PostgreSQL: decisions and outcomes through the API, the
decision log exported point in time, a retrain from the store, and the running server
swapping to the new champion for the next decisions."""

from __future__ import annotations

import json
import math
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.command import run
from tests.conftest import EXAMPLES, api_signals
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.registry import Registry
from tierline.engine.spec import load_spec
from tierline.engine.store.schema import decisions
from tierline.training.demo_data import generate_customers
from tierline.training.train import train
from tierline.training.writing import write_table

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

STORE_SPEC = EXAMPLES / "store.toml"
FIRST_DAYS_AGO = 200
RETURN_EVERY_DAYS = 15


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the store spec (no protected columns) and a registry (models/) whose
    champion was trained with it on generated customers."""
    work = tmp_path_factory.mktemp("service-day")
    # The loop is under test here, not the fairness gate (tests/training/test_fairness.py):
    # the demo's tiers do differ by age band, and the gate could hold the new version back.
    (work / "store.toml").write_text(
        STORE_SPEC.read_text().replace('protected = ["age_band", "gender"]', "")
    )
    frame = generate_customers(3000, seed=5).rename(
        columns={"customer_id": "decision_id", "signup_date": "decided_at"}
    )
    write_table(frame, work / "history.csv")
    train(
        data_path=work / "history.csv",
        spec=load_spec(work / "store.toml"),
        models=work / "models",
        promote="always",
    )
    return work


def _serve_a_season(client: TestClient, pos: dict[str, str]) -> list[tuple[str, int]]:
    """Each customer comes once, then every 15 days as often as their recent visits say,
    spending their usual ticket each time; returns (decision id, days ago) pairs."""
    customers = generate_customers(400, seed=23)
    visits: list[tuple[str, dict[str, Any], int, float]] = []
    for _, row in customers.iterrows():
        returns = min(int(row["visits_90d"]), 4)
        ticket = 20.0 if math.isnan(row["avg_ticket"]) else round(float(row["avg_ticket"]), 2)
        for k in range(returns + 1):
            days_ago = FIRST_DAYS_AGO - k * RETURN_EVERY_DAYS
            visits.append((row["customer_id"], api_signals(row), days_ago, ticket))
    placed: list[tuple[str, int]] = []
    for start in range(0, len(visits), 100):
        chunk = visits[start : start + 100]
        items = [{"customer_id": c, "signals": s} for c, s, _, _ in chunk]
        answer = client.post(
            "/v1/decisions/batch?explain=false", json={"items": items}, headers=pos
        )
        assert answer.status_code == 200, answer.text
        for (_, _, days_ago, spend), decided in zip(chunk, answer.json()["items"], strict=True):
            body = {"decision_id": decided["decision_id"], "spend": spend, "converted": True}
            key = {**pos, "Idempotency-Key": f"o-{decided['decision_id']}"}
            assert client.post("/v1/outcomes", json=body, headers=key).status_code == 201
            placed.append((decided["decision_id"], days_ago))
    return placed


def _back_date(url: str, placed: list[tuple[str, int]]) -> None:
    """Move each decision to the day it stands for (the test cannot wait a season)."""
    now = datetime.now(UTC)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.update(decisions)
            .where(decisions.c.id == sa.bindparam("did"))
            .values(created_at=sa.bindparam("at")),
            [{"did": d, "at": now - timedelta(days=days_ago)} for d, days_ago in placed],
        )
    engine.dispose()


def test_a_season_of_service_retrains_the_champion(
    champion: Path, url: str, tmp_path: Path
) -> None:
    """Decisions and outcomes go in through the API; the export labels each decision only
    with the visits after it; retrain --from-store backtests the champion, trains on the
    log and promotes; the running server's next decisions carry the new version."""
    models = tmp_path / "models"
    shutil.copytree(champion / "models", models)
    spec = champion / "store.toml"
    settings = Settings(
        database_url=url, models=str(models), reload_seconds=0.2, rate_limit_per_minute=100_000
    )
    env = {"TIERLINE_DATABASE_URL": url}
    with TestClient(create_app(settings)) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        pos = {"X-API-Key": store.create_key(role="pos", site="lyon", name="till")[0]}
        placed = _serve_a_season(client, pos)
        _back_date(url, placed)

        exported = tmp_path / "log.parquet"
        proc = run("export", "--out", str(exported), "--json", env=env)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["rows"] == len(placed)
        log = pd.read_parquet(exported)
        first = log[log["decided_at"] < log["decided_at"].min() + pd.Timedelta(days=1)]
        by_customer = log.groupby("customer_id")["spend"]
        expected = by_customer.sum() - by_customer.first()  # the returns, not the first visit
        got = first.set_index("customer_id")["spend_next_90d"]
        assert (got - expected.loc[got.index]).abs().max() < 1e-6

        proc = run(
            "retrain", "--from-store", "--spec", str(spec), "--models", str(models),
            "--tolerance", "1000", env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        assert summary["ok"] and summary["version"] == "v0002", summary
        assert summary["promoted"], summary["gate"]
        assert summary["store"]["labelled"] == len(placed)
        backtest = summary["gate"]["backtest"]
        assert backtest["model_version"] == "v0001" and backtest["rows"] == len(placed)
        assert backtest["value"] is not None and backtest["value"] > 0

        deadline = time.monotonic() + 15
        while True:
            answer = client.post("/v1/decisions", json={"signals": {"visits_90d": 2}}, headers=pos)
            assert answer.status_code == 200, answer.text
            if answer.json()["model_version"] == "v0002" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert answer.json()["model_version"] == "v0002"
    assert Registry(models).champion() == "v0002"
