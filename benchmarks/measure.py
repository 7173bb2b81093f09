"""Measuring and reporting: per-call timings, measured subprocesses, result dicts.

Ratios are taken between runs interleaved in the same session (A B B A ...), so a burst
of load from another process lands on both sides instead of on one.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fixtures import REPO, python_command

__all__ = [
    "GIB",
    "Measured",
    "check",
    "cpu_ratio",
    "fastest",
    "interleaved_calls",
    "interleaved_runs",
    "percentile",
    "report",
    "run_measured",
    "step_seconds",
]

GIB = 1024**3
_STEP = re.compile(r"✓ (?P<step>.+) \((?P<seconds>[0-9.]+)s\)")


# -- results -----------------------------------------------------------------------------


def check(
    name: str, *, value: float, limit: float, unit: str, target: float, limit_is: str
) -> dict[str, Any]:
    """One target: ``ratio = value / limit`` must be at most ``target``."""
    ratio = value / limit
    return {
        "check": name,
        "value": value,
        "limit": limit,
        "unit": unit,
        "ratio": ratio,
        "target": target,
        "ok": ratio <= target,
        "limit_is": limit_is,
    }


def report(bench: str, checks: Sequence[Mapping[str, Any]], **details: Any) -> dict[str, Any]:
    """A benchmark's result: its first check at the top level, all of them under ``checks``."""
    main = checks[0]
    return {
        "bench": bench,
        "value": main["value"],
        "limit": main["limit"],
        "unit": main["unit"],
        "ratio": main["ratio"],
        "target": main["target"],
        "ok": all(c["ok"] for c in checks),
        "checks": [dict(c) for c in checks],
        **details,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# -- in-process timings --------------------------------------------------------------------


def _time_each(fn: Callable[[Any], object], items: Sequence[Any], out: list[float]) -> None:
    clock = time.perf_counter_ns
    for item in items:
        start = clock()
        fn(item)
        out.append((clock() - start) / 1e9)


def interleaved_calls(
    fns: Mapping[str, Callable[[Any], object]],
    items: Sequence[Any],
    *,
    rounds: int,
    warmup: int = 2,
) -> dict[str, list[float]]:
    """Seconds per call of each function over ``items``, ``rounds`` times, interleaved.

    The order of the functions is reversed every other round (A B, B A, ...) so neither
    always runs first. Warm-up rounds run the same way and are thrown away.
    """
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            sink: list[float] = []
            _time_each(fns[name], items, sink)
            if r >= warmup:
                times[name].extend(sink)
    return times


# -- subprocesses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One finished command: wall and CPU seconds, peak resident memory, its log."""

    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    load_average: tuple[float, float]  # 1-minute load average at start and at end
    log: Path

    def steps(self) -> dict[str, float]:
        return step_seconds(self.log.read_text(encoding="utf-8", errors="replace"))

    def summary(self) -> dict[str, Any]:
        """The figures as they go into results.json."""
        return {
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "peak_rss_gib": round(self.peak_rss_bytes / GIB, 3),
            "load_average": [round(x, 2) for x in self.load_average],
        }


def run_measured(command: Sequence[str], *, log: Path) -> Measured:
    """Run ``command`` from the repository root under ``benchmarks.peak_rss``.

    Its stdout and stderr go to ``log``; a non-zero exit raises ``RuntimeError`` quoting
    the end of the log.
    """
    report_path = log.with_suffix(".rss.json")
    wrapper = [*python_command(), "-m", "benchmarks.peak_rss", str(report_path), "--"]
    with log.open("w", encoding="utf-8") as sink:
        done = subprocess.run(
            [*wrapper, *command], cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(
            f"`{' '.join(command)}` exited with {done.returncode}; end of {log}:\n{tail}"
        )
    measured = json.loads(report_path.read_text(encoding="utf-8"))
    return Measured(
        seconds=float(measured["seconds"]),
        cpu_seconds=float(measured["cpu_seconds"]),
        peak_rss_bytes=int(measured["peak_rss_bytes"]),
        load_average=(measured["load_average"][0], measured["load_average"][1]),
        log=log,
    )


def interleaved_runs(
    commands: Mapping[str, Sequence[str]], *, rounds: int, logs: Path
) -> dict[str, list[Measured]]:
    """Run every command ``rounds`` times, rotating the order each round (A B C, B C A, ...)."""
    names = list(commands)
    runs: dict[str, list[Measured]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            log = logs / f"{name}.{r}.log"
            runs[name].append(run_measured(commands[name], log=log))
    return runs


def fastest(runs: Sequence[Measured]) -> Measured:
    """The quickest of several runs of one command: other processes only ever add time."""
    return min(runs, key=lambda m: m.seconds)


def cpu_ratio(ours: Sequence[Measured], theirs: Sequence[Measured]) -> float:
    """Median CPU seconds of ``ours`` over those of ``theirs`` (less load-sensitive than wall)."""
    return statistics.median(m.cpu_seconds for m in ours) / statistics.median(
        m.cpu_seconds for m in theirs
    )


def step_seconds(log_text: str) -> dict[str, float]:
    """The ``✓ step (1.2s)`` progress lines of a ``tierline`` command, as step -> seconds."""
    return {m["step"]: float(m["seconds"]) for m in _STEP.finditer(log_text)}
