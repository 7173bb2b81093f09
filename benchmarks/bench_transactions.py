"""Transaction log to per-customer features: 10,000,000 rows against absolute limits.

Measured: in a subprocess of its own (``benchmarks.transactions_job``), the time of
``training.data.load_transactions(log.parquet, spec)`` plus
``training.transactions.scoring_frame(log, spec, btyd=...)`` with
``examples/transactions.toml`` (the BG/NBD expectations included), and that process's peak
resident memory (``benchmarks.peak_rss``); the BG/NBD fit is timed apart.

Limits (absolute, on this machine): 60 s and 6 GiB; ``ratio = value / limit``, target 1.

Data: ``generate_transactions(generate_customers(1_000_000, seed=7), seed=7)``, about ten
purchases per customer, so 10.0M rows (the exact count is reported), cached as Parquet.
One run: a single 10M-row pass is long enough to time without repeats.

``--quick``: the log of 5,000 customers (~50,000 rows).
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.fixtures import (
    TRANSACTIONS_SPEC,
    python_command,
    scratch_dir,
    transactions_parquet,
)
from benchmarks.measure import GIB, check, report, run_measured

__all__ = ["LIMIT_GIB", "LIMIT_SECONDS", "run"]

LIMIT_SECONDS = 60.0
LIMIT_GIB = 6.0
_FULL_CUSTOMERS = 1_000_000  # ~10.04 purchases each: ~10M rows
_QUICK_CUSTOMERS = 5_000


def run(*, quick: bool = False) -> dict[str, Any]:
    """Build features from the cached log in a subprocess; return the result dict."""
    customers = _QUICK_CUSTOMERS if quick else _FULL_CUSTOMERS
    data = transactions_parquet(customers)
    work = scratch_dir("transactions")
    job = work / "job.json"
    command = [
        *python_command(),
        *("-m", "benchmarks.transactions_job", "--data", str(data)),
        *("--spec", str(TRANSACTIONS_SPEC), "--report", str(job)),
    ]
    measured = run_measured(command, log=work / "job.log")
    figures = json.loads(job.read_text(encoding="utf-8"))
    peak = measured.peak_rss_bytes / GIB
    return report(
        "transactions",
        [
            check(
                "load + features time",
                value=figures["seconds"],
                limit=LIMIT_SECONDS,
                unit="s",
                target=1.0,
                limit_is="absolute limit",
            ),
            check(
                "peak memory",
                value=peak,
                limit=LIMIT_GIB,
                unit="GiB",
                target=1.0,
                limit_is="absolute limit",
            ),
        ],
        transactions=figures["transactions"],
        customers=figures["customers"],
        load_seconds=figures["load_seconds"],
        features_seconds=figures["features_seconds"],
        btyd_fit_seconds=figures["btyd_fit_seconds"],
        process=measured.summary(),
        data=data.name,
        notes=[
            f"{figures['transactions']:,} transactions -> {figures['customers']:,} customers: "
            f"load {figures['load_seconds']:.1f} s, features {figures['features_seconds']:.1f} s",
            f"BG/NBD and Gamma-Gamma fit on those customers (training only, not in the "
            f"time above): {figures['btyd_fit_seconds']:.1f} s",
        ],
    )
