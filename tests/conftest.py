"""Shared fixtures: a small demo data set and a model trained on it, built once per run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.spec import Spec, load_spec
from training.data import write_table
from training.demo_data import generate_customers
from training.train import TrainResult, train

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# A guest the demo model places in vip, with a car brand the valet saw (the brand dessert).
VIP = {
    "visits_90d": 9,
    "visits_365d": 30,
    "spend_365d": 4200.0,
    "avg_ticket": 140.0,
    "loyalty_member": True,
    "days_since_last_visit": 3,
    "party_size": 5,
    "booking_lead_days": 15,
    "car_brand": "Porsche",
    "campaign": "brand_search",
    "landing_page": "/book",
}


@dataclass(frozen=True)
class Trained:
    data: Path
    models: Path
    spec: Spec
    result: TrainResult


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
