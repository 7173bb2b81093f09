"""Performance benchmarks: ``make bench`` (``python -m benchmarks.run``).

Each ``bench_*`` module measures one thing against a limit taken in the same run on the
same machine (or, for ``transactions`` and ``generate``, an absolute limit), and returns
one result dict from ``run(*, quick=False)``:
``{"bench", "value", "limit", "unit", "ratio", "target", "ok", ...details}`` with
``ratio = value / limit`` and ``ok = ratio <= target``.

* ``single``: ``TierModel.score_record`` against ``Booster.predict`` on the prepared row.
* ``decision``: one ``engine.decisions.decide`` on SQLite (profile look-up, decision,
  write), reported next to ``score_record`` on the same model (no target).
* ``batch``: ``tierline score`` against a minimal pandas + LightGBM program.
* ``train``: ``tierline train`` against a minimal pandas + ``lightgbm.train`` program
  (wall time and peak memory).
* ``transactions``: a 10M-row transaction log to per-customer features (absolute limits).
* ``generate``: 1M demo customers (``benchmarks.bench_generate``, absolute limit).
* ``http``: ``POST /v1/decisions`` on a real 2-worker ``tierline serve`` against a bare
  FastAPI app served the same way (throughput ratio, p99 at 32 connections).

Generated data and the trained model are cached under ``benchmarks/out/`` (git-ignored),
keyed by size and seed; delete that folder (or pass ``--fresh``) to rebuild them.
"""
