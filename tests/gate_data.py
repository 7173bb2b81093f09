"""Small seeded data sets for the promotion gate's tests: a clean customer table, and one
whose model must come out worse than a champion trained on the clean one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from tierline.engine.registry import Registry
from tierline.training.demo_data import generate_customers
from tierline.training.writing import write_table

CUSTOMERS = 1500
SEED = 11
TEST_FRACTION = 0.2  # training.prepare's held-out share, the newest customers by signup_date


def write_customers(path: Path) -> Path:
    """The clean demo customers (small enough to train in about a second)."""
    write_table(generate_customers(CUSTOMERS, seed=SEED), path)
    return path


def write_worse_customers(path: Path) -> Path:
    """The same customers with the tiers of the older, training part shuffled.

    The newest customers (the held-out part) keep their true tiers, so a model trained on
    this file is measured honestly, and is worse than one trained on the clean file.
    """
    frame = generate_customers(CUSTOMERS, seed=SEED)
    order = np.argsort(frame["signup_date"].to_numpy(), kind="stable")
    older = order[: len(frame) - round(len(frame) * TEST_FRACTION)]
    tiers = frame["tier"].to_numpy(dtype=object).copy()
    tiers[older] = np.random.default_rng(SEED).permutation(tiers[older])
    frame["tier"] = tiers
    write_table(frame, path)
    return path


def copy_models(source: Path, target: Path) -> Registry:
    """A writable copy of a models folder (versions are written read-only)."""
    shutil.copytree(source, target)
    for p in target.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return Registry(target)
