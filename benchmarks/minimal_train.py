"""The train benchmark's yardstick: the same LightGBM fit with nothing but pandas.

Usage: ``python -m benchmarks.minimal_train --data FILE.csv --spec SPEC.toml --report R.json``

What ``tierline train`` does at its core, written by hand: ``pd.read_csv`` (default
engine), the spec's feature columns to a float64 matrix in the simplest way (category
codes, numbers as floats, booleans to 1/0), the same time-ordered split (sorted by the
spec's time column; the newest ``TEST_FRACTION`` held out, the next-newest
``VALID_FRACTION`` of the rest for validation), and ``lightgbm.train`` with
``training.booster.lgb_params(spec)``, 2000 rounds and early stopping after 50 on the
validation set. The split fractions and parameters are imported from ``training.prepare``
and ``training.booster`` so both sides fit the same model by construction. The model text is saved, as any
training program would; no baselines, no evaluation, no registry.

The report (JSON) holds ``best_iteration`` and the split sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from tierline.engine.spec import Spec, load_spec
from tierline.training.booster import lgb_params
from tierline.training.prepare import TEST_FRACTION, VALID_FRACTION

__all__ = ["EARLY_STOPPING_ROUNDS", "NUM_BOOST_ROUND", "main"]

# The values training.booster.fit_booster passes (it keeps them inline, not as names).
NUM_BOOST_ROUND = 2000
EARLY_STOPPING_ROUNDS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    spec = load_spec(args.spec)

    start = time.perf_counter()
    frame = pd.read_csv(args.data)
    start = _done("read_csv", start)
    X, y = _matrix(frame, spec), _labels(frame, spec)
    train, valid = _split(frame, spec)
    del frame
    start = _done("matrix and split", start)
    dtrain = lgb.Dataset(
        X[train],
        y[train],
        categorical_feature=list(range(len(spec.categorical))),
        free_raw_data=True,
    )
    dvalid = lgb.Dataset(X[valid], y[valid], reference=dtrain)
    booster = lgb.train(
        lgb_params(spec),
        dtrain,
        num_boost_round=NUM_BOOST_ROUND,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    start = _done("lightgbm.train", start)
    model_path = args.report.with_suffix(".model.txt")
    booster.save_model(str(model_path), num_iteration=booster.best_iteration)
    _done("save_model", start)
    report = {"best_iteration": booster.best_iteration, "train": len(train), "valid": len(valid)}
    args.report.write_text(json.dumps(report), encoding="utf-8")


def _matrix(frame: pd.DataFrame, spec: Spec) -> np.ndarray:
    return np.column_stack(
        [_codes(frame[c]) for c in spec.categorical]
        + [frame[c].to_numpy(np.float64) for c in spec.model_numeric]
        + [frame[c].map({True: 1.0, False: 0.0}).to_numpy(np.float64) for c in spec.boolean]
    )


def _codes(column: pd.Series) -> np.ndarray:
    codes = column.astype("category").cat.codes.to_numpy(np.float64)
    return np.where(codes < 0, np.nan, codes)  # -1 is pandas' code for missing


def _labels(frame: pd.DataFrame, spec: Spec) -> np.ndarray:
    assert spec.target_column is not None
    lookup = {t: float(i) for i, t in enumerate(spec.tiers)}
    return frame[spec.target_column].map(lookup).to_numpy(np.float64)


def _split(frame: pd.DataFrame, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation rows: the newest customers are held out, as tierline does."""
    assert spec.time is not None
    order = np.argsort(pd.to_datetime(frame[spec.time]).to_numpy(), kind="stable")
    n = len(order)
    n_test = max(1, round(n * TEST_FRACTION))
    n_valid = max(1, round((n - n_test) * VALID_FRACTION))
    return np.sort(order[: n - n_test - n_valid]), np.sort(order[n - n_test - n_valid : n - n_test])


def _done(step: str, start: float) -> float:
    """Print the step's time as tierline's progress does (the benchmark reads both)."""
    now = time.perf_counter()
    print(f"✓ {step} ({now - start:.1f}s)", file=sys.stderr, flush=True)
    return now


if __name__ == "__main__":
    main()
