"""The perk loop: decisions logged with and without holdout export to the table the uplift
trainer reads, and `tierline train` with examples/store_uplift.toml learns from it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.command import run
from tests.conftest import COFFEE_CUE, EXAMPLES, api_signals
from tierline.engine.store import Store
from tierline.training.demo_data import generate_customers
from tierline.training.export import arm_of, export, export_frame

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
DESSERT_CUE = {"code": "car_dessert", "text": "Dessert with the Audi logo", "perk": "brand_dessert"}
PLAIN_CUE = {"code": "serve_in_order", "text": "Serve in order, with a smile"}
# Arm by customer number: what the server gave (a held-out customer gets no perk). The
# dessert is listed first, so the arm's spelling must not follow cue order.
ARMS = (
    ("holdout", [PLAIN_CUE], True),
    ("coffee", [COFFEE_CUE], False),
    ("brand_dessert+coffee", [DESSERT_CUE, COFFEE_CUE], False),
    ("no perk", [PLAIN_CUE], False),
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _log_a_season(store: Store, clock: Clock, n: int) -> dict[str, str]:
    """``n`` customers decided a day apart in batches of 50, each given an arm in turn; the
    coffee converts lapsing customers, the rest convert at random. Returns id -> arm."""
    customers = generate_customers(n, seed=31)
    rng = np.random.default_rng(7)
    given: dict[str, str] = {}
    for start in range(0, n, 50):
        clock.now = T0 + timedelta(days=start // 50)
        items: list[dict[str, Any]] = []
        for i in range(start, min(start + 50, n)):
            row = customers.iloc[i]
            _, cues, holdout = ARMS[i % len(ARMS)]
            items.append(
                {
                    "customer_id": row["customer_id"],
                    "site": "lyon",
                    "tier": "vip",
                    "confidence": 0.9,
                    "score": 0.8,
                    "cues": cues,
                    "reasons": [],
                    "model_version": "v0001",
                    "holdout": holdout,
                    "degraded": False,
                    "signals": api_signals(row),
                }
            )
        ids = store.record_decisions(items)
        for k, decision in enumerate(ids):
            i = start + k
            arm = ARMS[i % len(ARMS)][0]
            lapsing = float(customers.iloc[i]["days_since_last_visit"] or 0) > 60
            chance = 0.7 if arm != "holdout" and arm != "no perk" and lapsing else 0.3
            body = {"decision_id": decision, "spend": 30.0, "accepted": [], "declined": []}
            body |= {"converted": bool(rng.random() < chance), "note": None}
            store.record_outcome(site="lyon", idempotency_key=f"o-{decision}", body=body)
            given[decision] = arm
    return given


def test_arm_names_what_the_decision_gave() -> None:
    """The arm is "holdout" for a held-out decision whatever it lists, the perks sorted and
    joined with "+", or "no perk"."""
    assert arm_of("coffee", True) == "holdout"
    assert arm_of("coffee|brand_dessert", False) == "brand_dessert+coffee"
    assert arm_of("coffee", False) == "coffee"
    assert arm_of("", False) == "no perk"


def test_a_logged_holdout_exports_and_trains_an_uplift_model(tmp_path: Path) -> None:
    """Every exported decision carries the arm it was given, and `tierline train` with
    examples/store_uplift.toml fits an uplift model with one arm per perk set against the
    holdout, its costs from the spec."""
    clock = Clock()
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}", clock=clock) as store:
        given = _log_a_season(store, clock, 1600)
        frame = export_frame(store, horizon_days=30, now=T0 + timedelta(days=90))
        data = tmp_path / "decisions.csv"
        export(store, data, horizon_days=30, now=T0 + timedelta(days=90))
    assert frame.set_index("decision_id")["arm"].to_dict() == given
    assert list(frame.columns[8:10]) == ["perks", "arm"]
    assert set(pd.read_csv(data, dtype=str)["arm"]) == {a for a, _, _ in ARMS}

    models = tmp_path / "models"
    spec = EXAMPLES / "store_uplift.toml"
    proc = run("train", "--data", str(data), "--spec", str(spec), "--models", str(models), "--json")
    assert proc.returncode == 0, proc.stderr
    (version,) = [p for p in models.iterdir() if (p / "uplift.json").exists()]
    state = json.loads((version / "uplift.json").read_text(encoding="utf-8"))
    assert state["control"] == "holdout"
    assert set(state["arms"]) == {"coffee", "brand_dessert+coffee", "no perk"}
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "uplift" in summary
