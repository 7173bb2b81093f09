"""The transactions benchmark's measured work, in a process of its own.

Usage: ``python -m benchmarks.transactions_job --data LOG.parquet --spec SPEC.toml --report R.json``

Times ``training.data.load_transactions(path, spec)`` followed by
``training.transactions.scoring_frame(log, spec, btyd=...)``: a transaction log read and
typed, then turned into one row of features per customer as of ``[transactions] as_of``,
the BG/NBD and Gamma-Gamma expectations included (with fixed parameters: their cost does
not depend on the values). The BG/NBD and Gamma-Gamma fit that training runs on such a
frame is timed apart (``btyd_fit_seconds``), outside ``seconds``. The report (JSON) holds
the seconds of each step and of both, and the row counts; the runner measures this
process's peak memory from outside (``benchmarks.peak_rss``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()

    from tierline.engine.spec import load_spec
    from tierline.training.btyd import BtydFit, fit_btyd
    from tierline.training.data import load_transactions
    from tierline.training.demo_btyd import CDNOW_BGNBD, CDNOW_GAMMA_GAMMA
    from tierline.training.transactions import scoring_frame

    spec = load_spec(args.spec)
    assert spec.transactions is not None
    horizon = spec.transactions.horizon_days
    fixed = BtydFit(
        bgnbd=CDNOW_BGNBD, gamma_gamma=CDNOW_GAMMA_GAMMA, horizon_days=horizon, customers=0
    )
    start = time.perf_counter()
    log = load_transactions(args.data, spec)
    loaded = time.perf_counter()
    frame = scoring_frame(log, spec, btyd=fixed)
    done = time.perf_counter()
    fit_btyd(frame, horizon_days=horizon)
    fitted = time.perf_counter()
    report = {
        "btyd_fit_seconds": fitted - done,
        "seconds": done - start,
        "load_seconds": loaded - start,
        "features_seconds": done - loaded,
        "transactions": len(log),
        "customers": len(frame),
    }
    args.report.write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    main()
