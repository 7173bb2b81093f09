"""Batch scoring: ``tierline score`` against a minimal pandas + LightGBM program.

Measured: the wall time of ``tierline score --data customers.csv --out scored.csv`` as a
real subprocess (interpreter start-up, model load and verification, typed reading,
features, model, policy, cues, atomic write) on 1,000,000 demo customers (seed 7).

Limit: the wall time of ``python -m benchmarks.minimal_score`` on the same file with the
same model: ``pd.read_csv``, the feature columns to a float matrix, ``Booster.predict``,
``to_csv`` of ids and scores. That is what scoring costs when written by hand with the
same libraries; tierline may spend at most 0.6x of it (issue 17: it streams the file in
chunks, overlaps reading, scoring and writing, and scores with the compiled forest on
every core).

The model is the champion the ``single`` benchmark uses (trained on 100,000 customers):
the same kind and size of model as one trained on the scored file. The commands run 3
interleaved rounds (the order rotating: A B C, B C A, C A B) and the fastest run of each
is compared, since other processes on the machine only ever add time; every run is
reported. The first rows of both outputs are
compared too, to show that the yardstick does the same scoring.

Second check: ``tierline score --reasons`` on the same file, in the same interleaved
rounds, against ``tierline score`` without reasons (fastest run each); it may take at
most 3x as long (issue 16). The reasons need each customer's per-feature contributions
(TreeSHAP) for the tier given, which ``engine.contributions`` computes from per-leaf
tables on every core.

Third check (issue 17): ``tierline score`` on 10,000,000 customers (ten copies of the
1M file, ids made unique) once, its peak resident memory at most 2 GiB: the file is
streamed, so memory is bounded by the chunks in flight, not by the file.

``--quick``: 10,000 customers scored by a model trained on them, one round; the memory
check on two copies of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.fixtures import (
    customers_csv,
    customers_csv_copies,
    python_command,
    scratch_dir,
    tierline_command,
    trained_models,
)
from benchmarks.measure import (
    GIB,
    check,
    cpu_ratio,
    fastest,
    interleaved_runs,
    report,
    run_measured,
)

__all__ = ["TARGET", "run"]

TARGET = 0.6
REASONS_TARGET = 3.0
MEMORY_TARGET_GIB = 2.0
_FULL = {"customers": 1_000_000, "model_customers": 100_000, "rounds": 3, "copies": 10}
_QUICK = {"customers": 10_000, "model_customers": 10_000, "rounds": 1, "copies": 2}
_COMPARED_ROWS = 2_000


def run(*, quick: bool = False) -> dict[str, Any]:
    """Score the cached file both ways, interleaved, and return the result dict."""
    from tierline.engine.registry import Registry

    size = _QUICK if quick else _FULL
    models = trained_models(size["model_customers"])
    version = Registry(models).champion()
    assert version is not None  # trained_models leaves a champion
    work = scratch_dir("batch")
    data = customers_csv(size["customers"])
    runs = interleaved_runs(
        _commands(data, models, version, work), rounds=size["rounds"], logs=work
    )
    ours, theirs = fastest(runs["tierline"]).seconds, fastest(runs["minimal"]).seconds
    explained = fastest(runs["reasons"]).seconds
    agreement = _max_difference(work / "tierline.csv", work / "minimal.csv")
    for scored in work.glob("*.csv"):
        scored.unlink()  # hundreds of MiB each; the logs stay
    big = customers_csv_copies(size["copies"], n=size["customers"])
    streamed = run_measured(_tierline(big, models, work / "big.csv"), log=work / "big.log")
    (work / "big.csv").unlink()
    return report(
        "batch",
        [
            check(
                "wall time (fastest run)",
                value=ours,
                limit=theirs,
                unit="s",
                target=TARGET,
                limit_is="benchmarks.minimal_score (pandas + Booster.predict), same file and model",
            ),
            check(
                "score --reasons wall time (fastest run)",
                value=explained,
                limit=ours,
                unit="s",
                target=REASONS_TARGET,
                limit_is="tierline score without --reasons, same file and model",
            ),
            check(
                f"peak memory scoring {size['copies']} x {size['customers']:,} customers",
                value=streamed.peak_rss_bytes / GIB,
                limit=1.0,
                unit="GiB",
                target=MEMORY_TARGET_GIB,
                limit_is="1 GiB (the target is absolute: at most 2 GiB)",
            ),
        ],
        customers=size["customers"],
        model_customers=size["model_customers"],
        model_version=version,
        rounds=size["rounds"],
        runs={name: [m.summary() for m in ms] for name, ms in runs.items()},
        cpu_time_ratio=cpu_ratio(runs["tierline"], runs["minimal"]),
        reasons_cpu_time_ratio=cpu_ratio(runs["reasons"], runs["tierline"]),
        steps={name: fastest(ms).steps() for name, ms in runs.items()},
        max_probability_difference=agreement,
        streamed={"customers": size["copies"] * size["customers"], **streamed.summary()},
        notes=[
            f"score --reasons CPU time {cpu_ratio(runs['reasons'], runs['tierline']):.2f}x "
            f"score's (medians)",
            f"largest probability difference between the two outputs: {agreement:.2g}",
        ],
    )


def _commands(data: Path, models: Path, version: str, work: Path) -> dict[str, list[str]]:
    return {
        "minimal": _minimal(data, models / version, work / "minimal.csv"),
        "tierline": _tierline(data, models, work / "tierline.csv"),
        "reasons": _tierline(data, models, work / "reasons.csv", "--reasons"),
    }


def _tierline(data: Path, models: Path, out: Path, *extra: str) -> list[str]:
    command = ["score", "--data", str(data), "--out", str(out), "--models", str(models)]
    return [*tierline_command(), *command, *extra]


def _minimal(data: Path, version_dir: Path, out: Path) -> list[str]:
    module = ["-m", "benchmarks.minimal_score", "--data", str(data)]
    return [*python_command(), *module, "--version-dir", str(version_dir), "--out", str(out)]


def _max_difference(ours: Path, theirs: Path) -> float:
    """Largest gap between the two outputs' probabilities over the first rows."""
    a = pd.read_csv(ours, nrows=_COMPARED_ROWS, dtype=str)
    b = pd.read_csv(theirs, nrows=_COMPARED_ROWS, dtype=str)
    if not a.iloc[:, 0].equals(b.iloc[:, 0]):
        return float("inf")  # the rows are not the same customers: flag it loudly
    shared = [c for c in b.columns[1:] if c in a.columns]
    gap = np.abs(a[shared].astype(float).to_numpy() - b[shared].astype(float).to_numpy())
    return float(gap.max())
