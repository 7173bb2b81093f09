"""Shared fixtures: a small demo data set and a model trained on it, built once per run, and
empty PostgreSQL schemas for the tests that run on both databases."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.uplift_perk_data import Gated, build_gated
from tierline.engine.registry import Registry
from tierline.engine.spec import Spec, load_spec
from tierline.engine.store import Store
from tierline.engine.store.scratch_schema import fresh_schema
from tierline.training.demo_data import VIP_REGULAR, generate_customers
from tierline.training.train import TrainResult, train
from tierline.training.writing import write_table

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TIERLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EXAMPLES = ROOT / "examples"

# The demo regular the demo model places in vip, with a car brand the valet saw (the brand
# dessert) and where they came from.
VIP = {
    **VIP_REGULAR,
    "car_brand": "Porsche",
    "campaign": "brand_search",
    "landing_page": "/book",
}


def record_vip_decision(
    store: Store,
    customer_id: str | None,
    *,
    cues: list[dict[str, Any]],
    reasons: list[dict[str, Any]] | None = None,
    site: str = "lyon",
    signals: dict[str, Any] | None = None,
) -> str:
    """Store a vip decision with these cues, reasons and signals as the API would; returns
    its id."""
    return store.record_decision(
        customer_id=customer_id,
        site=site,
        tier="vip",
        confidence=0.91,
        score=0.87,
        cues=cues,
        reasons=reasons or [],
        model_version="v0001",
        holdout=False,
        degraded=False,
        signals=signals,
    )


COFFEE_CUE = {"code": "welcome_coffee", "text": "Offer a coffee on the house", "perk": "coffee"}


def record_uplift_log(
    store: Store, *, treated: int, held: int, site: str = "lyon", tier: str = "vip"
) -> None:
    """Store ``treated`` customers of ``tier`` who took coffee and spent 50 (every other
    one converted) and ``held`` holdout customers who spent 20 and 40 in turn, none
    converted, each with one decision and its outcome."""
    items = [
        {
            "customer_id": f"{site}-{tier}-{'h' if i >= treated else 't'}{i}",
            "site": site,
            "tier": tier,
            "confidence": 0.9,
            "score": 0.8,
            "cues": [] if i >= treated else [COFFEE_CUE],
            "reasons": [],
            "model_version": "v0001",
            "holdout": i >= treated,
            "degraded": False,
        }
        for i in range(treated + held)
    ]
    for i, decision in enumerate(store.record_decisions(items)):
        spend = 50.0 if i < treated else (40.0 if i % 2 else 20.0)
        body: dict[str, Any] = {"decision_id": decision, "spend": spend, "accepted": []}
        body |= {"declined": [], "converted": i < treated and i % 2 == 0, "note": None}
        store.record_outcome(site=site, idempotency_key=decision, body=body)


@dataclass(frozen=True)
class Trained:
    data: Path
    models: Path
    spec: Spec
    result: TrainResult


def training_signals(trained: Trained, n: int, *, seed: int = 5) -> list[dict[str, Any]]:
    """``n`` customers drawn from the demo model's training rows (its oldest, as the
    time-ordered split has them), as the API stores signals: plain values, a missing one
    absent."""
    from tierline.training.data import load_customers

    frame = load_customers(trained.data, trained.spec, with_target=False)
    meta = Registry(trained.models).metadata(trained.result.version)
    oldest = frame.sort_values(trained.spec.time or trained.spec.id, kind="stable")
    pool = oldest.iloc[: meta["split"]["train"]]
    sample = pool.sample(n=n, random_state=seed)[list(trained.spec.feature_columns)]
    booleans = set(trained.spec.boolean)
    return [
        {
            k: (bool(v) if k in booleans else v)
            for k, v in row.items()
            if v is not None and v == v  # NaN: absent, as a request leaves it out
        }
        for row in sample.to_dict("records")
    ]


def log_decisions(
    store: Store, signals: list[dict[str, Any]], *, model_version: str = "v0001"
) -> None:
    """Store one standard decision per signals dict, as the API would, in one transaction."""
    store.record_decisions(
        [
            {
                "customer_id": None,
                "site": "lyon",
                "tier": "standard",
                "confidence": 0.8,
                "score": 0.8,
                "cues": [],
                "reasons": [],
                "model_version": model_version,
                "holdout": False,
                "degraded": False,
                "signals": s,
            }
            for s in signals
        ]
    )


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 seeded demo customers as CSV."""
    path = tmp_path_factory.mktemp("demo") / "customers.csv"
    write_table(generate_customers(6000, seed=11), path)
    return path


@pytest.fixture(scope="session")
def trained(demo_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A class-target model trained on the demo customers and promoted to champion."""
    models = tmp_path_factory.mktemp("models")
    spec = load_spec(EXAMPLES / "demo.toml")
    result = train(data_path=demo_csv, spec=spec, models=models, promote="always")
    return Trained(data=demo_csv, models=models, spec=spec, result=result)


def champion_rewritten(
    models: Path,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    playbook: Callable[[str], str] = lambda text: text,
) -> str:
    """Write the champion again as a new version whose metadata is ``change(metadata)`` and
    playbook ``playbook(text)`` (through the registry's own writer, so it verifies), and
    promote it."""
    registry = Registry(models)
    old = registry.champion()
    assert old is not None
    folder = models / old
    version = registry.write(
        booster_text=(folder / "model.txt").read_text(encoding="utf-8"),
        features=json.loads((folder / "features.json").read_text(encoding="utf-8")),
        policy=json.loads((folder / "policy.json").read_text(encoding="utf-8")),
        playbook_text=playbook((folder / "playbook.toml").read_text(encoding="utf-8")),
        metadata=change(registry.metadata(old)),
    )
    registry.promote(version)
    return version


def champion_with_features(models: Path, **options: Any) -> str:
    """Write the champion again as a new version whose spec's [features] table gains
    ``options``, and promote it."""

    def change(meta: dict[str, Any]) -> dict[str, Any]:
        return {
            **meta,
            "spec": {**meta["spec"], "features": {**meta["spec"]["features"], **options}},
        }

    return champion_rewritten(models, change)


@pytest.fixture(scope="session")
def gate_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small clean customers, and the same with the training part's tiers shuffled."""
    from tests.gate_data import write_customers, write_worse_customers

    folder = tmp_path_factory.mktemp("gate_data")
    return {
        "clean": write_customers(folder / "clean.csv"),
        "worse": write_worse_customers(folder / "worse.csv"),
    }


@pytest.fixture(scope="session")
def gate_champion(gate_data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder whose champion v0001 was trained on the small clean customers."""
    models = tmp_path_factory.mktemp("gate_models")
    spec = load_spec(EXAMPLES / "demo.toml")
    train(data_path=gate_data["clean"], spec=spec, models=models, promote="always", threads=1)
    return models


@pytest.fixture(scope="session")
def fairness_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Customers whose vip tier follows a neighbourhood that is a proxy for age (`proxy`) or
    not (`fair`), and the demo spec with the neighbourhood as a model input (`spec`)."""
    from tests.fairness_data import write_neighbourhood_customers, write_neighbourhood_spec

    folder = tmp_path_factory.mktemp("fairness_data")
    return {
        "proxy": write_neighbourhood_customers(folder / "proxy.csv", proxy=True),
        "fair": write_neighbourhood_customers(folder / "fair.csv", proxy=False),
        "spec": write_neighbourhood_spec(folder / "spec.toml"),
    }


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine]:
    """An autocommit engine on the PostgreSQL test database; fails the test if unreachable."""
    engine = sa.create_engine(
        PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as error:
        pytest.fail(
            f"PostgreSQL at {PG_URL} is unreachable ({error.orig}); the tests on PostgreSQL "
            "need it. Start it, or point TIERLINE_TEST_PG_URL at one.",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin: sa.Engine) -> Iterator[str]:
    """A URL to an empty PostgreSQL schema of its own, dropped after the test."""
    with fresh_schema(pg_admin, prefix="tierline_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind under test."""
    return str(request.param)


@pytest.fixture
def url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def gated(demo_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Gated:
    """A registry holding the demo experiment's uplift model (v0001) and a tier model
    (v0002) whose playbook gives coffee only where v0001's coffee arm pays."""
    return build_gated(demo_csv, tmp_path_factory.mktemp("perk-offer"))


# The demo signals a till sends (features and what the rules read).
API_SIGNALS = (
    *("campaign", "landing_page", "channel", "device", "region", "car_brand"),
    *("visits_90d", "visits_365d", "spend_365d", "avg_ticket", "days_since_last_visit"),
    *("party_size", "booking_lead_days", "loyalty_member", "student_verified"),
    "gift_card_buyer",
)


def api_signals(row: pd.Series) -> dict[str, Any]:
    """A demo customer's row as the API takes its signals: plain values, a missing one absent."""
    out = {}
    for name in API_SIGNALS:
        value = row[name]
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            continue
        out[name] = value.item() if hasattr(value, "item") else value
    return out


# Fixtures that train a model for the tests using them: those tests are `slow`, like the
# modules that start real processes (their own `pytestmark`), and `make test-fast` skips both.
_TRAINING_FIXTURES = frozenset(
    {"trained", "gated", "gate_data", "gate_champion", "fairness_data", "models_dir"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# A module that marks itself slow as a whole (its first column says exactly this).
_SLOW_MODULE = re.compile(r"^pytestmark = pytest\.mark\.slow\b", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m "not slow"` a module marked slow as a whole is not imported: every test in
    it would be deselected, and importing it (servers, browsers, Dask) costs each worker."""
    if (
        collection_path.suffix == ".py"
        and collection_path.name.startswith("test_")
        and config.getoption("markexpr", "").strip() == "not slow"
        and _SLOW_MODULE.search(collection_path.read_text(encoding="utf-8"))
    ):
        return True
    return None
