"""One decision in process: ``engine.decisions.decide`` on a SQLite store, next to ``score_record``.

Measured: the time of one ``decide(store=..., model=..., fallback=..., site=...,
customer_id=..., signals=..., explain=False)``, the use case behind ``POST /v1/decisions``
without HTTP: the stored profile of a known customer is read and merged with the visit's
signals (here the party size, which the request wins on), the model scores the merged
record, each perk cue is checked against stock and today's budget (a write transaction),
and the decision is written (a durable commit: WAL with ``synchronous=FULL``, so an fsync).

No target: the figure is reported next to the ``single`` benchmark's, as the ratio
``decision / score_record``, where ``score_record`` is timed in the same run, interleaved,
on the same model and the same merged records. The gap is what the store adds.

Store: ``Store.open("sqlite:///benchmarks/out/tmp/decision/store.db")``, the model's perks
synced as the API does at start-up, and every customer upserted beforehand (their signals
from ``benchmarks.fixtures.demo_signals``: every column but the id and the labels). The
default playbook's daily budgets run out after some dozens of perks, and from then on a
perk check is a write transaction that is rolled back (no fsync), as on a busy day.

Model: the champion the ``single`` benchmark uses (100,000 demo customers, seed 7). 300
customers, 30 interleaved rounds of both calls after 2 warm-up rounds, every call timed;
median and p99 of each.

Extra figures (no target), to break the gap down, 5 rounds each: ``store.get_customer``
(the profile read), ``store.record_decisions`` of one decision (the write), and a bare
``sqlite3`` INSERT + COMMIT with the same journal settings in the same folder (what one
durable commit costs on this disk, with no SQLAlchemy in it).

``--quick``: a model on 10,000 customers, 100 customers x 5 rounds.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.fixtures import demo_signals, scratch_dir, trained_models
from benchmarks.measure import check, interleaved_calls, percentile, report

__all__ = ["run"]

_FULL = {"customers": 100_000, "records": 300, "rounds": 30, "extra_rounds": 5}
_QUICK = {"customers": 10_000, "records": 100, "rounds": 5, "extra_rounds": 2}
_SITE = "bench"

# One known customer: id, the visit's signals (sent) and profile + visit (what is scored).
_Case = tuple[str, dict[str, Any], dict[str, Any]]


def run(*, quick: bool = False) -> dict[str, Any]:
    """Fill a store, time ``decide`` and ``score_record`` interleaved, return the result."""
    from tierline.engine.decisions import Fallback, decide
    from tierline.engine.playbook import Playbook
    from tierline.engine.registry import Registry
    from tierline.engine.store import Store

    size = _QUICK if quick else _FULL
    model = Registry(trained_models(size["customers"])).load()
    work = scratch_dir("decision")
    # The fallback as api.serving builds it; it only answers when no model is loaded.
    fallback = Fallback(model.spec.default_tier, Playbook.default(tiers=model.spec.tiers))
    with Store.open(f"sqlite:///{work / 'store.db'}") as store:
        store.sync_perks(model.playbook.perks)  # as the API does when it loads a model
        cases = _cases(store, size["records"])

        def decision(c: _Case) -> dict[str, Any]:
            return decide(
                store=store,
                model=model,
                fallback=fallback,
                site=_SITE,
                customer_id=c[0],
                signals=c[1],
                explain=False,
            )

        timings = interleaved_calls(
            {
                "decide": decision,
                "score_record": lambda c: model.score_record(c[2], customer_id=c[0]),
            },
            cases,
            rounds=size["rounds"],
        )
        same = all(decision(c)["tier"] == model.score_record(c[2]).tier for c in cases)
        stored = {k: v for k, v in decision(cases[0]).items() if k != "decision_id"}
        extra = interleaved_calls(
            {
                "store_get_customer": lambda c: store.get_customer(c[0], scope=""),
                "store_record_decision": lambda c: store.record_decisions(
                    [{**stored, "site": _SITE}]
                ),
            },
            cases,
            rounds=size["extra_rounds"],
            warmup=1,
        )
    extra["sqlite3_commit"] = _raw_commits(work / "raw.db", len(cases) * size["extra_rounds"])
    us = {name: _summary(t) for name, t in {**timings, **extra}.items()}
    ours, theirs = us["decide"], us["score_record"]
    return report(
        "decision",
        [
            _reported(
                "median time per decision",
                value=ours["median_us"],
                limit=theirs["median_us"],
                limit_is="score_record on the same model and merged record, same run",
            ),
            _reported(
                "p99 time per decision",
                value=ours["p99_us"],
                limit=theirs["p99_us"],
                limit_is="p99 of score_record, same calls",
            ),
        ],
        model_customers=size["customers"],
        model_version=model.version,
        records=len(cases),
        rounds=size["rounds"],
        calls_each=len(cases) * size["rounds"],
        timings_us=us,
        same_tier=same,
        notes=[
            f"{name}: median {v['median_us']:,.0f} µs, p99 {v['p99_us']:,.0f} µs"
            for name, v in us.items()
        ],
    )


def _cases(store: Any, n: int) -> list[_Case]:
    """``n`` demo customers upserted into ``store``; each visit sends only the party size."""
    cases = []
    for customer_id, signals in demo_signals(n):
        store.upsert_customer(customer_id, signals, scope="")
        visit = {"party_size": int(signals.get("party_size", 2)) % 8 + 1}
        cases.append((customer_id, visit, {**signals, **visit}))
    return cases


def _raw_commits(path: Path, n: int) -> list[float]:
    """Seconds of ``n`` one-row INSERT + COMMIT with the store's journal settings."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL").fetchall()
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        times = []
        for i in range(n):
            start = time.perf_counter_ns()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (body) VALUES (?)", (f"decision {i}",))
            conn.execute("COMMIT")
            times.append((time.perf_counter_ns() - start) / 1e9)
        return times
    finally:
        conn.close()


def _reported(name: str, *, value: float, limit: float, limit_is: str) -> dict[str, Any]:
    """A figure without a target: a ratio to show, never MISSED (``run.py`` prints 'none')."""
    reported = check(name, value=value, limit=limit, unit="us", target=0.0, limit_is=limit_is)
    return {**reported, "target": None, "ok": True}


def _summary(seconds: Sequence[float]) -> dict[str, float]:
    us = [s * 1e6 for s in seconds]
    return {
        "median_us": statistics.median(us),
        "p90_us": percentile(us, 90),
        "p99_us": percentile(us, 99),
        "calls": len(us),
    }
