"""Benchmark: generate 1,000,000 demo customers against a 30-second limit.

Run with ``python -m benchmarks.bench_generate``; prints one JSON line and returns it as a
dict from ``run()`` / ``main()``. Nothing runs at import time.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tierline.training.demo_data import generate_customers

__all__ = ["CUSTOMERS", "LIMIT_SECONDS", "main", "run"]

CUSTOMERS = 1_000_000
LIMIT_SECONDS = 30


def run() -> dict[str, Any]:
    """Time one ``generate_customers(CUSTOMERS)`` call; return the result line as a dict."""
    start = time.perf_counter()
    frame = generate_customers(CUSTOMERS)
    seconds = time.perf_counter() - start
    if len(frame) != CUSTOMERS:
        raise RuntimeError(f"generated {len(frame)} customers, expected {CUSTOMERS}")
    return {
        "bench": "generate",
        "customers": CUSTOMERS,
        "seconds": round(seconds, 3),
        "limit_seconds": LIMIT_SECONDS,
        "ratio": round(seconds / LIMIT_SECONDS, 4),
    }


def main() -> dict[str, Any]:
    """Run the benchmark and print its JSON line."""
    result = run()
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
