"""Profile import: 1,000,000 demo customers into the store against an absolute 60-second
limit, on SQLite and on PostgreSQL.

Measured: ``tierline customers import --data customers.csv --json`` as a subprocess
(start-up, reading and typing the file with the champion's spec, checking every row,
the chunked upsert) into an empty store: a fresh SQLite file, and a fresh schema of the
PostgreSQL database at ``TIERLINE_BENCH_PG_URL`` (default: the test database at
127.0.0.1:5432). Limit: 60 s each (issue 16's absolute target on this machine);
``ratio = value / limit``, target 1. The same import run again (nothing to change) is
reported beside it, with peak memory.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.fixtures import (
    customers_csv,
    postgres_schema,
    scratch_dir,
    tierline_command,
    trained_models,
)
from benchmarks.measure import Measured, check, report, run_measured

__all__ = ["run"]

_FULL = {"customers": 1_000_000, "model_customers": 100_000}
_QUICK = {"customers": 20_000, "model_customers": 10_000}
_LIMIT_SECONDS = 60.0


def run(*, quick: bool = False) -> dict[str, Any]:
    """Import the cached customer file into each backend, twice; return the result dict."""
    size = _QUICK if quick else _FULL
    n = size["customers"]
    models = trained_models(size["model_customers"])
    data = customers_csv(n)
    work = scratch_dir("import")
    checks, details, notes = [], {}, []
    for backend in ("sqlite", "postgresql"):
        with _database(backend, work) as url:
            first, summary = _import(url, data, models, work / f"{backend}.log")
            again, rerun = _import(url, data, models, work / f"{backend}-again.log")
        if summary["inserted"] != n or rerun["unchanged"] != n:
            raise RuntimeError(f"{backend}: the import did not store {n:,} profiles: {summary}")
        checks.append(
            check(
                f"import of {n:,} profiles ({backend})",
                value=first.seconds,
                limit=_LIMIT_SECONDS,
                unit="s",
                target=1.0,
                limit_is="absolute limit (issue 16)",
            )
        )
        details[backend] = {"import": first.summary(), "again": again.summary()}
        notes.append(
            f"{backend}: again (all unchanged) {again.seconds:.1f} s, peak memory "
            f"{first.peak_rss_bytes / 2**30:.2f} GiB (no target)"
        )
    return report("import", checks, customers=n, **details, notes=notes)


def _import(url: str, data: Path, models: Path, log: Path) -> tuple[Measured, dict[str, Any]]:
    os.environ["TIERLINE_DATABASE_URL"] = url
    try:
        measured = run_measured(
            [
                *tierline_command(),
                "customers",
                "import",
                "--data",
                str(data),
                "--models",
                str(models),
                "--json",
            ],
            log=log,
        )
    finally:
        os.environ.pop("TIERLINE_DATABASE_URL", None)
    lines = log.read_text(encoding="utf-8").splitlines()
    summary = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
    return measured, summary


@contextlib.contextmanager
def _database(backend: str, work: Path) -> Iterator[str]:
    """An empty store: a SQLite file in ``work``, or a PostgreSQL schema dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{work / 'var' / 'tierline.db'}"
        return
    with postgres_schema("tierline_bench_import") as url:
        yield url
