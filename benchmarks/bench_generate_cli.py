"""Demo data generation: 1,000,000 customers against an absolute 30-second limit.

Measured: ``benchmarks.bench_generate.run()`` (that module belongs to its own author and
is imported as it is): one in-process ``generate_customers(1_000_000)`` call, no writing.
Limit: 30 s (absolute, this machine); ``ratio = value / limit``, target 1. It runs at
1,000,000 customers in ``--quick`` too, since ``bench_generate`` has a fixed size and takes
seconds.

Extra figure (no target): ``tierline generate --customers N --out x.csv`` end to end as a
subprocess (start-up, generation and the atomic CSV write), N = 1,000,000 (10,000 with
``--quick``).
"""

from __future__ import annotations

from typing import Any

from benchmarks import bench_generate
from benchmarks.fixtures import SEED, scratch_dir, tierline_command
from benchmarks.measure import check, report, run_measured

__all__ = ["run"]

_FULL_CLI_CUSTOMERS = 1_000_000
_QUICK_CLI_CUSTOMERS = 10_000


def run(*, quick: bool = False) -> dict[str, Any]:
    """Run the owner's generate benchmark, then time the command; return the result dict."""
    owned = bench_generate.run()
    cli = _command(_QUICK_CLI_CUSTOMERS if quick else _FULL_CLI_CUSTOMERS)
    return report(
        "generate",
        [
            check(
                "generate_customers time",
                value=float(owned["seconds"]),
                limit=float(owned["limit_seconds"]),
                unit="s",
                target=1.0,
                limit_is="absolute limit (benchmarks.bench_generate)",
            )
        ],
        customers=owned["customers"],
        bench_generate=owned,
        cli=cli,
        notes=[
            f"tierline generate --customers {cli['customers']:,} with the CSV write: "
            f"{cli['seconds']:.1f} s, peak {cli['peak_rss_gib']:.2f} GiB (no target)"
        ],
    )


def _command(customers: int) -> dict[str, Any]:
    work = scratch_dir("generate")
    out = work / "customers.csv"
    command = [
        *tierline_command(),
        *("generate", "--customers", str(customers), "--out", str(out), "--seed", str(SEED)),
    ]
    measured = run_measured(command, log=work / "generate.log")
    size = out.stat().st_size
    out.unlink()
    return {
        "customers": customers,
        **measured.summary(),
        "csv_mib": round(size / 2**20, 1),
        "steps": measured.steps(),
    }
