"""The batch benchmark's yardstick: scoring a CSV with nothing but pandas and LightGBM.

Usage: ``python -m benchmarks.minimal_score --data FILE.csv --version-dir DIR --out FILE.csv``

Same input and output as ``tierline score``, done the simplest way a careful person would
write it by hand: ``pd.read_csv`` (default engine), the model's feature columns to a
float64 matrix (categories through the model's vocabularies with a dict map, booleans to
1/0, numbers as floats), ``Booster.predict`` with the version's ``model.txt``, then
``to_csv`` of the ids and the scores. No validation, no policy, no cues: whatever tierline
costs beyond this is the price of what it adds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--version-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    features = json.loads((args.version_dir / "features.json").read_text(encoding="utf-8"))
    spec = json.loads((args.version_dir / "metadata.json").read_text(encoding="utf-8"))["spec"]
    id_column, tiers = spec["data"]["id"], spec["tiers"]["names"]
    booster = lgb.Booster(model_file=str(args.version_dir / "model.txt"))

    start = time.perf_counter()
    frame = pd.read_csv(args.data, dtype={id_column: str})
    start = _done("read_csv", start)
    X = np.column_stack(
        [frame[c].map(_vocabulary(v)).to_numpy(np.float64) for c, v in _categories(features)]
        + [frame[c].to_numpy(np.float64) for c in features["numeric"]]
        + [frame[c].map({True: 1.0, False: 0.0}).to_numpy(np.float64) for c in features["boolean"]]
    )
    start = _done("matrix", start)
    scores = np.asarray(booster.predict(X))
    start = _done("predict", start)
    columns = [f"p_{t}" for t in tiers] if scores.ndim == 2 else ["score"]
    out = pd.DataFrame(scores.reshape(len(frame), -1), columns=columns)
    out.insert(0, id_column, frame[id_column])
    out.to_csv(args.out, index=False)
    _done("to_csv", start)


def _done(step: str, start: float) -> float:
    """Print the step's time as tierline's progress does (the benchmark reads both)."""
    now = time.perf_counter()
    print(f"✓ {step} ({now - start:.1f}s)", file=sys.stderr, flush=True)
    return now


def _categories(features: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(c, features["categories"][c]) for c in features["categorical"]]


def _vocabulary(values: list[str]) -> dict[str, float]:
    return {v: float(i) for i, v in enumerate(values)}


if __name__ == "__main__":
    main()
