"""Run one command and write its wall time and peak resident memory as JSON.

Usage: ``python -m benchmarks.peak_rss REPORT.json -- COMMAND [ARG ...]``

Why a wrapper: ``ru_maxrss`` of a child also counts the memory it had before ``exec``,
and Python may start children with ``vfork``, in which case that is the parent's memory.
The benchmark runner holds a trained model and large frames, so the runner's own
children would report its peak rather than theirs. This wrapper is a small process, so
its child's ``ru_maxrss`` (read with ``os.wait4`` for that one child, after it exits) is
the command's own peak, give or take the wrapper's few MiB.

The child inherits stdin, stdout and stderr; the report holds ``seconds`` (from start to
exit, interpreter start-up included), ``cpu_seconds`` (user + system, all threads),
``peak_rss_bytes``, ``returncode`` and the 1-minute load average at start and end. CPU
time is less sensitive than wall time to other processes on the machine, so when the two
disagree the load averages say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Run ``argv[2:]`` (after ``REPORT --``), write the report, return the child's code."""
    if len(argv) < 3 or argv[1] != "--":
        print(
            "usage: python -m benchmarks.peak_rss REPORT.json -- COMMAND [ARG ...]", file=sys.stderr
        )
        return 2
    report, command = Path(argv[0]), argv[2:]
    load_before, start = os.getloadavg()[0], time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    result = {
        "command": command,
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # Linux reports KiB
        "returncode": child.returncode,
        "load_average": [load_before, os.getloadavg()[0]],
    }
    report.write_text(json.dumps(result), encoding="utf-8")
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
