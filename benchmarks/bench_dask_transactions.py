"""A transaction log's features out of core on a two-worker LocalCluster: time and the
peak memory of the whole process tree (client, scheduler, workers).

In ``make bench`` as ``dask`` (10,000,000 customers: about 100M transactions; ``--quick``
20,000), or alone: ``python -m benchmarks.bench_dask_transactions CUSTOMERS [FOLDER]``.

The log is generated once into FOLDER as one Parquet file per 200,000 customers (about
two million purchases each: ``generate_transactions`` of ``generate_customers``, seeded
per file, ids offset so that they never repeat), then
``training.transaction_buckets.bucketed_training_frame`` builds the backtest's features.
Memory: the resident set of this process and all its descendants, summed, sampled every
0.2 s (``ru_maxrss`` would see one process only). Prints one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from benchmarks.fixtures import OUT, TRANSACTIONS_SPEC
from benchmarks.measure import check, report

__all__ = ["main"]

PER_FILE = 200_000


def _generate(customers: int, folder: Path) -> int:
    from tierline.training.demo_data import generate_customers
    from tierline.training.demo_transactions import generate_transactions
    from tierline.training.writing import write_table

    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    for i, start in enumerate(range(0, customers, PER_FILE)):
        path = folder / f"part{i:04d}.parquet"
        if path.exists():
            rows += pd.read_parquet(path, columns=["amount"]).shape[0]
            continue
        n = min(PER_FILE, customers - start)
        table = generate_customers(n, seed=100 + i)
        table["customer_id"] = [f"{start + k + 1:09d}" for k in range(n)]
        log = generate_transactions(table, seed=100 + i)
        write_table(log, path)
        rows += len(log)
    return rows


class _Peak(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.done = 0, False

    def run(self) -> None:
        me = psutil.Process()
        while not self.done:
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.2)


_FULL, _QUICK = 10_000_000, 20_000  # customers: about 100M and 200,000 transactions
MEMORY_TARGET_GIB = 6.0


def run(*, quick: bool = False) -> dict[str, Any]:
    """``make bench``'s ``dask``: the features of about 100M transactions (``--quick``:
    200,000), peak memory of the whole process tree at most 6 GiB (issue 17)."""
    customers = _QUICK if quick else _FULL
    figures = measure(customers, OUT / f"dask_log_{customers}")
    return report(
        "dask",
        [
            check(
                f"peak memory, features of {figures['transactions']:,} transactions on Dask",
                value=figures["peak_rss_gib"],
                limit=1.0,
                unit="GiB",
                target=MEMORY_TARGET_GIB,
                limit_is="1 GiB (the target is absolute: at most 6 GiB)",
            )
        ],
        **figures,
    )


def measure(customers: int, folder: Path) -> dict[str, Any]:
    """Generate the log into ``folder`` (kept for the next run), then build its features on
    a LocalCluster of two one-thread workers while the process tree's memory is sampled."""
    from distributed import Client, LocalCluster

    from tierline.engine.spec import load_spec
    from tierline.training.transaction_buckets import bucketed_training_frame

    t0 = time.perf_counter()
    rows = _generate(customers, folder)
    generated = time.perf_counter() - t0
    spec = load_spec(TRANSACTIONS_SPEC)
    peak = _Peak()
    peak.start()
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit="2.5GiB",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        frame = bucketed_training_frame(folder, spec, client=client)
    seconds = time.perf_counter() - t0
    peak.done = True
    peak.join()
    return {
        "transactions": rows,
        "customers": len(frame),
        "seconds": round(seconds, 1),
        "generate_seconds": round(generated, 1),
        "peak_rss_gib": round(peak.peak / 2**30, 2),
    }


def main(argv: list[str]) -> int:
    customers = int(argv[0])
    folder = Path(argv[1] if len(argv) > 1 else f"benchmarks/out/dask_log_{customers}")
    print(json.dumps(measure(customers, folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
