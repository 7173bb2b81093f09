"""Seeded data sets for the fairness gate's tests: demo customers with a `neighbourhood`
column that drives who is vip. In the proxy set the neighbourhood stands in for the
protected `age_band` (older customers mostly live on the hill); in the fair set it does
not, and the same neighbourhood rule gives every age band the same vip rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import EXAMPLES
from tierline.training.demo_data import generate_customers
from tierline.training.writing import write_table

CUSTOMERS = 3000
SEED = 5
OLDER = ("45-54", "55-64", "65+")


def write_neighbourhood_customers(path: Path, *, proxy: bool) -> Path:
    """Demo customers whose vip tier follows the neighbourhood: half of those on the hill
    are vip, one in twenty elsewhere; verified students stay students."""
    frame = generate_customers(CUSTOMERS, seed=SEED)
    rng = np.random.default_rng(SEED)
    older = frame["age_band"].isin(OLDER).to_numpy()
    on_hill = np.where(older, 0.85, 0.08) if proxy else np.full(len(frame), 0.4)
    hill = rng.random(len(frame)) < on_hill
    frame["neighbourhood"] = np.where(hill, "hillside", "riverside")
    vip = rng.random(len(frame)) < np.where(hill, 0.5, 0.05)
    student = frame["student_verified"].to_numpy(dtype=bool)
    frame["tier"] = np.where(student, "student", np.where(vip, "vip", "standard"))
    write_table(frame, path)
    return path


def write_neighbourhood_spec(path: Path, *, fairness: str = "") -> Path:
    """examples/demo.toml with `neighbourhood` as a model input, and ``fairness`` (a
    ``[fairness]`` table's text) appended."""
    text = (EXAMPLES / "demo.toml").read_text(encoding="utf-8")
    old = '"region", "car_brand"'
    assert old in text
    path.write_text(
        text.replace(old, f'{old}, "neighbourhood"') + "\n" + fairness, encoding="utf-8"
    )
    return path
