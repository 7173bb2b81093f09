"""Helpers the training test modules share: small customer files and their spec, the messy
CRM export of tests/fixtures, and a hand-checked transaction log with its spec."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd

from tierline.engine.spec import Spec, load_spec, parse_spec
from tierline.training.data import load_customers
from tierline.training.transactions import cutoff_instant

# -- customer files ----------------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MESSY = FIXTURES / "messy_customers.csv"

HEADER = "customer_id,signup_date,campaign,visits_90d,loyalty_member,student_verified,tier"
GOOD_ROWS = [
    "001,2026-03-01,spring,3,yes,no,vip",
    "002,2026-03-02,google,5,no,no,standard",
    "003,20260303,spring,1,,yes,student",
]


def table_spec(**overrides: Any) -> Spec:
    """A small class-target spec over HEADER's columns; overrides replace whole sections."""
    raw: dict[str, Any] = {
        "data": {"id": "customer_id", "time": "signup_date"},
        "features": {
            "categorical": ["campaign"],
            "numeric": ["visits_90d"],
            "boolean": ["loyalty_member"],
        },
        "target": {"kind": "class", "column": "tier"},
        "tiers": {
            "names": ["vip", "standard", "student"],
            "default": "standard",
            "rules": [{"tier": "student", "when": {"column": "student_verified", "equals": True}}],
        },
    }
    raw.update(overrides)
    return parse_spec(raw, source="test spec")


def write_csv(
    tmp_path: Path, rows: list[str], *, header: str = HEADER, name: str = "data.csv"
) -> Path:
    """``rows`` under ``header`` as a UTF-8 file in ``tmp_path``."""
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def messy_customers() -> pd.DataFrame:
    """The hand-kept messy CRM export, read by its spec with the target."""
    return load_customers(MESSY, load_spec(FIXTURES / "messy_spec.toml"), with_target=True)


# -- transaction logs --------------------------------------------------------------------

AS_OF = dt.date(2026, 3, 31)  # cut-off 2026-04-01 00:00
NAN = math.nan
LOG_COLUMNS = ["customer_id", "ts", "amount", "campaign", "channel", "visits", "student_verified"]

# Deliberately not in time order: "latest" must follow the time column, not the row order.
LOG_ROWS: list[tuple[Any, ...]] = [
    ("00017", "2025-01-01 00:00", 100.0, "spring", "web", 1.0, 0.0),
    ("00017", "2026-03-02 00:00", -20.0, None, "app", NAN, NAN),  # refund; 30-day edge
    ("00017", "2026-01-01 00:00", 50.0, "winter", None, 3.0, 1.0),  # 90-day edge
    ("00017", "2025-04-01 00:00", 7.0, None, "store", NAN, NAN),  # 365-day edge
    ("00017", "2026-03-01 12:00", 10.0, None, None, NAN, NAN),  # just outside 30 days
    ("00017", "2026-04-01 00:00", 500.0, "leak", "leak", 99.0, 0.0),  # at the cut-off
    ("00002", "2026-03-31 18:00", 40.0, "summer", None, 2.0, NAN),  # the only purchase
    ("00002", "2026-06-29 23:00", 5.0, "later", "web", 5.0, 1.0),  # last hour of the label
    ("00002", "2026-06-30 00:00", 1000.0, None, None, NAN, NAN),  # just after the label
    ("00003", "2026-02-01 00:00", 30.0, None, None, NAN, NAN),
    ("00003", "2026-04-05 00:00", -30.0, None, None, NAN, NAN),  # refund in the label window
    ("A9", "2026-04-10 00:00", 70.0, "new", "web", 1.0, 1.0),  # only after the cut-off
]
CUT = cutoff_instant(AS_OF)


def log_spec(
    *,
    kind: str = "value",
    as_of: str = "2026-06-29",
    horizon_days: int = 90,
    numeric: tuple[str, ...] = ("visits",),
    rules: tuple[dict[str, Any], ...] = (),
) -> Spec:
    """A value (or ``kind``) target spec over a log of LOG_COLUMNS with these options."""
    tiers: dict[str, Any] = {
        "names": ["vip", "standard"],
        "default": "standard",
        "cuts": [{"tier": "vip", "top_fraction": 0.1}],
    }
    if rules:
        tiers["rules"] = list(rules)
    return parse_spec(
        {
            "data": {"id": "customer_id"},
            "features": {
                "categorical": ["campaign", "channel"],
                "numeric": list(numeric),
                "boolean": ["student_verified"],
            },
            "target": {"kind": kind},
            "tiers": tiers,
            "transactions": {
                "customer": "customer_id",
                "time": "ts",
                "amount": "amount",
                "as_of": as_of,
                "horizon_days": horizon_days,
            },
        }
    )


def make_log(rows: list[tuple[Any, ...]] = LOG_ROWS) -> pd.DataFrame:
    """The log as the loader hands it over: str ids and categories, datetime64, float64."""
    frame = pd.DataFrame(rows, columns=LOG_COLUMNS)
    for column in ("customer_id", "campaign", "channel"):
        frame[column] = frame[column].astype("str")
    frame["ts"] = pd.to_datetime(frame["ts"])
    for column in ("amount", "visits", "student_verified"):
        frame[column] = frame[column].astype("float64")
    return frame
