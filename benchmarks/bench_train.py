"""Training: ``tierline train`` against a minimal pandas + ``lightgbm.train`` program.

Measured: the wall time and the peak resident memory of
``tierline train --data customers.csv --spec examples/demo.toml --models TMP --promote never
--budget 0`` as a real subprocess on 1,000,000 demo customers (seed 7): typed reading,
fingerprint, split, features, one candidate (LightGBM's default settings) with early
stopping, calibration, evaluation, both baselines, the gates and writing the version.

Limit: the same two figures for ``python -m benchmarks.minimal_train`` on the same file:
``pd.read_csv``, a simple 22-column matrix, the same time-ordered split, and
``lightgbm.train`` with ``training.booster.lgb_params(spec)``, 2000 rounds and early
stopping after 50. LightGBM's fit dominates both, so what tierline adds around it (its
checks, evaluation and baselines) may cost at most 1.3x the time and 1.5x the memory.

Both run in 2 rounds, A B then B A (each run takes minutes), through
``benchmarks.peak_rss`` so the peak is the command's own. The fastest run of each is
compared: LightGBM runs one OpenMP thread per core, and when another process holds one of
the two cores every parallel region waits for a time slice (seen here: the same fit taking
3x longer from one run to the next), so noise only ever adds time. Memory is the larger
peak of each. CPU seconds are reported too.

Both ``best_iteration`` counts are reported, with LightGBM's seconds per boosting round:
early stopping decides how many rounds run, so if the counts differ a lot the time ratio
compares two different amounts of boosting, and a note says so.

The model search (``training.selection``) is measured too: the same command with its
default budget, against the single candidate's run (target: at most 3x its time), with
its peak memory reported.

``--quick``: 10,000 customers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.fixtures import (
    DEMO_SPEC,
    customers_csv,
    python_command,
    scratch_dir,
    tierline_command,
)
from benchmarks.measure import (
    GIB,
    Measured,
    check,
    cpu_ratio,
    fastest,
    interleaved_runs,
    report,
)

__all__ = ["MEMORY_TARGET", "SEARCH_TARGET", "TIME_TARGET", "run"]

TIME_TARGET = 1.3
SEARCH_TARGET = 3.0
MEMORY_TARGET = 1.5
# Best iterations further apart than this share make the time ratio compare unlike fits.
_ITERATION_TOLERANCE = 0.2
_PATIENCE = 50  # early stopping's rounds past the best one (training.booster.fit_booster)
_FULL = {"customers": 1_000_000, "rounds": 2}
_QUICK = {"customers": 10_000, "rounds": 1}
# The progress step that holds LightGBM's fit (Dataset construction included) on each side.
_FIT_STEP = {"tierline": "training", "minimal": "lightgbm.train"}


def run(*, quick: bool = False) -> dict[str, Any]:
    """Train both ways on the cached file, interleaved, and return the result dict."""
    size = _QUICK if quick else _FULL
    work = scratch_dir("train")
    data = customers_csv(size["customers"])
    runs = interleaved_runs(_commands(data, work), rounds=size["rounds"], logs=work)
    iterations = {
        "tierline": _tierline_best_iteration(work / "models"),
        "minimal": int(json.loads((work / "minimal.json").read_text())["best_iteration"]),
    }
    per_round = {
        name: _fit_seconds(fastest(runs[name]), step=step) / (iterations[name] + _PATIENCE)
        for name, step in _FIT_STEP.items()
    }
    raw = fastest(runs["tierline"]).seconds / fastest(runs["minimal"]).seconds
    search = fastest(runs["search"])
    return report(
        "train",
        [
            *_checks(runs, iterations, per_round),
            check(
                "model search wall time",
                value=search.seconds,
                limit=fastest(runs["tierline"]).seconds,
                unit="s",
                target=SEARCH_TARGET,
                limit_is="tierline train with one candidate (--budget 0), same file",
            ),
        ],
        customers=size["customers"],
        rounds=size["rounds"],
        runs={name: [m.summary() for m in ms] for name, ms in runs.items()},
        cpu_time_ratio=cpu_ratio(runs["tierline"], runs["minimal"]),
        best_iteration=iterations,
        lightgbm_seconds_per_round=per_round,
        steps={name: fastest(ms).steps() for name, ms in runs.items()},
        search=_search_summary(work / "models-search"),
        notes=[
            *_notes(iterations, per_round),
            f"raw wall-time ratio (unequal rounds): {raw:.3f}",
            f"model search: {search.seconds:.1f} s, peak {search.peak_rss_bytes / GIB:.2f} GiB",
        ],
    )


def _commands(data: Path, work: Path) -> dict[str, list[str]]:
    return {
        "minimal": [
            *python_command(),
            *("-m", "benchmarks.minimal_train", "--data", str(data), "--spec", str(DEMO_SPEC)),
            *("--report", str(work / "minimal.json")),
        ],
        "tierline": [
            *tierline_command(),
            *("train", "--data", str(data), "--spec", str(DEMO_SPEC)),
            *("--models", str(work / "models"), "--promote", "never", "--budget", "0"),
        ],
        "search": [
            *tierline_command(),
            *("train", "--data", str(data), "--spec", str(DEMO_SPEC)),
            *("--models", str(work / "models-search"), "--promote", "never"),
        ],
    }


def _checks(
    runs: dict[str, list[Measured]], iterations: dict[str, int], per_round: dict[str, float]
) -> list[dict[str, Any]]:
    ours, theirs = runs["tierline"], runs["minimal"]
    # Early stopping can stop the two programs after different numbers of rounds (the
    # matrices encode categories differently). "The same parameters" means the same amount
    # of boosting, so the reference is credited with the rounds it did not run, at its own
    # measured seconds per round. The raw ratio is kept in the notes.
    extra_rounds = iterations["tierline"] - iterations["minimal"]
    limit = fastest(theirs).seconds + extra_rounds * per_round["minimal"]
    return [
        check(
            "wall time, same boosting rounds",
            value=fastest(ours).seconds,
            limit=limit,
            unit="s",
            target=TIME_TARGET,
            limit_is="benchmarks.minimal_train (pandas + lightgbm.train), same file and params, "
            "scaled to tierline's boosting rounds",
        ),
        check(
            "peak memory",
            value=max(m.peak_rss_bytes for m in ours) / GIB,
            limit=max(m.peak_rss_bytes for m in theirs) / GIB,
            unit="GiB",
            target=MEMORY_TARGET,
            limit_is="peak RSS of benchmarks.minimal_train",
        ),
    ]


def _tierline_best_iteration(models: Path) -> int:
    """``best_iteration`` of the newest version ``tierline train`` wrote."""
    from tierline.engine.registry import Registry

    registry = Registry(models)
    newest = registry.versions()[-1]
    return int(registry.metadata(newest)["lightgbm"]["best_iteration"])


def _search_summary(models: Path) -> dict[str, Any]:
    """The newest search's candidates: names, figures and seconds, and the winner."""
    from tierline.engine.registry import Registry

    registry = Registry(models)
    selection: dict[str, Any] = registry.metadata(registry.versions()[-1])["selection"]
    return selection


def _fit_seconds(measured: Measured, *, step: str) -> float:
    """Seconds of the progress step starting with ``step`` (NaN if the log lacks it)."""
    found = (s for name, s in measured.steps().items() if name.startswith(step))
    return next(found, float("nan"))


def _notes(iterations: dict[str, int], per_round: dict[str, float]) -> list[str]:
    low, high = min(iterations.values()), max(iterations.values())
    text = (
        f"best_iteration tierline {iterations['tierline']}, minimal {iterations['minimal']}; "
        f"LightGBM seconds per round tierline {per_round['tierline']:.3g}, "
        f"minimal {per_round['minimal']:.3g}"
    )
    if high - low > _ITERATION_TOLERANCE * high:
        text += " (the counts differ a lot: the time ratio compares unlike amounts of boosting)"
    return [text]
