"""``make bench``: run the benchmarks, print a line each and a summary, save the results.

Usage: ``python -m benchmarks.run [NAME ...] [--quick] [--fresh]``

* ``NAME``: any of single, decision, batch, train, transactions, generate, http, replicas, export,
  uplift, import, dask (default: all, in order).
* ``--quick``: small sizes, a smoke test of the suite (about three minutes); its figures
  say nothing about the targets.
* ``--fresh``: delete the cached data and models under ``benchmarks/out`` first.

A check whose ratio must reach its target (``http`` throughput) carries ``at_least``
and prints ``>=``; a figure reported without a target (``decision``) has target None and
prints ``none``.

The results go to ``benchmarks/out/results.json`` (``results-quick.json`` with
``--quick``, so a smoke test never overwrites real figures). A missed target is reported
as MISSED and the exit code stays 0, since this is a report; a benchmark that fails to
run makes the exit code 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

from benchmarks.fixtures import OUT

__all__ = ["BENCHMARKS", "main"]

BENCHMARKS = {
    "single": "benchmarks.bench_single",
    "decision": "benchmarks.bench_decision",
    "batch": "benchmarks.bench_batch",
    "train": "benchmarks.bench_train",
    "transactions": "benchmarks.bench_transactions",
    "generate": "benchmarks.bench_generate_cli",
    "http": "benchmarks.bench_http",
    "replicas": "benchmarks.bench_replicas",
    "export": "benchmarks.bench_export",
    "uplift": "benchmarks.bench_uplift",
    "import": "benchmarks.bench_import",
    "dask": "benchmarks.bench_dask_transactions",
}
_UNITS = {"us": "µs", "s": "s", "GiB": "GiB"}
_DIGITS = {"us": 1, "s": 1, "ms": 2, "req/s": 0, "requests": 0}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    if args.fresh:
        for cached in ("data", "models", "tmp"):
            shutil.rmtree(OUT / cached, ignore_errors=True)
    names = args.names or list(BENCHMARKS)
    started = dt.datetime.now(dt.UTC)
    results = [_run_one(name, quick=args.quick) for name in names]
    _print_summary(results)
    path = OUT / ("results-quick.json" if args.quick else "results.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": _machine(),
        "results": results,
    }
    path.write_text(json.dumps(document, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nresults written to {path}")
    return 1 if any("error" in r for r in results) else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--fresh", action="store_true", help="rebuild cached data and models")
    return parser


def _run_one(name: str, *, quick: bool) -> dict[str, Any]:
    print(f"== {name}{' (quick)' if quick else ''}", flush=True)
    load_before, start = os.getloadavg()[0], time.perf_counter()
    try:
        result = importlib.import_module(BENCHMARKS[name]).run(quick=quick)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        result = {"bench": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["bench_seconds"] = round(time.perf_counter() - start, 1)
    result["load_average"] = {"before": load_before, "after": os.getloadavg()[0]}
    notes = [f"  note: {n}" for n in result.get("notes", [])]
    for line in [*_lines(result), *notes, *_load_note(result["load_average"])]:
        print(line, flush=True)
    return result


def _load_note(load: dict[str, float]) -> list[str]:
    """A warning when other processes competed for the cores during a benchmark.

    LightGBM runs one OpenMP thread per core; when another process holds a core, every
    parallel region waits for a time slice, which on this 2-core machine has slowed a small
    training run 100-fold. Interleaving spreads that over both sides but cannot cancel it.
    """
    cpus = os.cpu_count() or 1
    busiest = max(load.values())
    if busiest <= cpus:
        return []
    return [
        f"  note: 1-minute load average up to {busiest:.1f} on {cpus} CPUs: other processes "
        f"competed for the cores, so these times are less reliable"
    ]


def _lines(result: dict[str, Any]) -> list[str]:
    """The readable lines of one result: one per check, or the error."""
    name = result["bench"]
    if "error" in result:
        return [f"{name}: ERROR {result['error']}"]
    return [
        f"{name}: {c['check']} {_figure(c['value'], c['unit'])} vs limit "
        f"{_figure(c['limit'], c['unit'])} ({c['limit_is']}) -> ratio {c['ratio']:.3f}, "
        f"target {_target(c)}: {_status(c)}"
        for c in result["checks"]
    ]


def _print_summary(results: list[dict[str, Any]]) -> None:
    header = ("bench", "check", "value", "limit", "ratio", "target", "status")
    rows = [header]
    for r in results:
        if "error" in r:
            rows.append((r["bench"], "-", "-", "-", "-", "-", "ERROR"))
            continue
        for c in r["checks"]:
            rows.append(
                (
                    r["bench"],
                    c["check"],
                    _figure(c["value"], c["unit"]),
                    _figure(c["limit"], c["unit"]),
                    f"{c['ratio']:.3f}",
                    _target(c),
                    _status(c),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    missed = [r["bench"] for r in results if not r["ok"]]
    print(f"\n{len(results) - len(missed)}/{len(results)} benchmarks met their targets", end="")
    print(f"; MISSED or failed: {', '.join(missed)}" if missed else "")


def _figure(value: float, unit: str) -> str:
    return f"{value:,.{_DIGITS.get(unit, 2)}f} {_UNITS.get(unit, unit)}"


def _target(check: dict[str, Any]) -> str:
    """``<= t``; ``>= t`` for a check where more is better (throughput); ``none`` if reported only."""
    if check["target"] is None:
        return "none"
    return f"{'>=' if check.get('at_least') else '<='} {check['target']:g}"


def _status(check: dict[str, Any]) -> str:
    if check["target"] is None:
        return "-"
    return "ok" if check["ok"] else "MISSED"


def _machine() -> dict[str, Any]:
    import lightgbm
    import numpy
    import pandas
    import psutil

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "lightgbm": lightgbm.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
    }


if __name__ == "__main__":
    sys.exit(main())
