"""Cached benchmark inputs: demo customer tables, a transaction log and a trained model.

Everything lives under ``benchmarks/out/`` (git-ignored) with the size and the seed in
its name, so a rerun skips the minutes of generation and training. A file is written
atomically (``training.data.write_table``) and a model folder only counts once it has a
champion, so an interrupted run never leaves a cache entry that looks complete.
Delete ``benchmarks/out/`` (``python -m benchmarks.run --fresh``) after changing the
generator or the training code, since the cache key does not cover code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "DEMO_SPEC",
    "OUT",
    "PG_URL",
    "REPO",
    "SEED",
    "TRANSACTIONS_SPEC",
    "customers_csv",
    "customers_csv_copies",
    "demo_signals",
    "postgres_schema",
    "python_command",
    "scratch_dir",
    "tierline_command",
    "trained_models",
    "transactions_parquet",
]

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
DEMO_SPEC = REPO / "examples" / "demo.toml"
TRANSACTIONS_SPEC = REPO / "examples" / "transactions.toml"
SEED = 7  # the demo generator's default: the figures in the README come from this data
PG_URL = os.environ.get(
    "TIERLINE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def customers_csv(n: int, *, seed: int = SEED) -> Path:
    """``generate_customers(n, seed=seed)`` written as CSV, generated on first use."""
    path = OUT / "data" / f"customers_{n}_seed{seed}.csv"
    if not path.is_file():
        from tierline.training.demo_data import generate_customers
        from tierline.training.writing import write_table

        _say(f"generating {n:,} demo customers -> {path.relative_to(REPO)}")
        write_table(generate_customers(n, seed=seed), path)
    return path


def customers_csv_copies(copies: int, *, n: int = 1_000_000, seed: int = SEED) -> Path:
    """``copies`` copies of ``customers_csv(n, seed)``'s rows, the ids made unique by a
    ``-k`` suffix: a file too large to generate in memory (the 10M-row memory check),
    written a copy at a time."""
    path = OUT / "data" / f"customers_{copies}x{n}_seed{seed}.csv"
    if not path.is_file():
        import pyarrow.compute as pc
        import pyarrow.csv as pv

        from tierline.training.writing import table_writer

        source = customers_csv(n, seed=seed)
        names = pv.read_csv(source, read_options=pv.ReadOptions(skip_rows_after_names=n))
        text = pv.ConvertOptions(column_types=dict.fromkeys(names.column_names, "string"))
        table = pv.read_csv(source, convert_options=text)
        ids = table.column("customer_id")
        _say(f"writing {copies} x {n:,} demo customers -> {path.relative_to(REPO)}")
        with table_writer(path) as write:
            for k in range(copies):
                suffix = pc.binary_join_element_wise(ids, f"-{k}", "")
                write(table.set_column(0, "customer_id", suffix))
    return path


def transactions_parquet(n_customers: int, *, seed: int = SEED) -> Path:
    """The transaction log of ``n_customers`` demo customers as Parquet, generated once."""
    path = OUT / "data" / f"transactions_{n_customers}_seed{seed}.parquet"
    if not path.is_file():
        from tierline.training.demo_data import generate_customers
        from tierline.training.demo_transactions import generate_transactions
        from tierline.training.writing import write_table

        _say(f"generating the transaction log of {n_customers:,} customers")
        log = generate_transactions(generate_customers(n_customers, seed=seed), seed=seed)
        _say(f"writing {len(log):,} transactions -> {path.relative_to(REPO)}")
        write_table(log, path)
    return path


def trained_models(n: int, *, seed: int = SEED) -> Path:
    """A models folder whose champion was trained on ``customers_csv(n, seed)`` (demo spec)."""
    folder = OUT / "models" / f"demo_{n}_seed{seed}"
    from tierline.engine.registry import Registry

    if Registry(folder).champion() is None:
        from tierline.engine.spec import load_spec
        from tierline.training.train import train

        data = customers_csv(n, seed=seed)
        shutil.rmtree(folder, ignore_errors=True)  # a half-trained folder from a crash
        _say(f"training the demo model on {n:,} customers -> {folder.relative_to(REPO)}")
        train(data_path=data, spec=load_spec(DEMO_SPEC), models=folder, promote="always")
    return folder


# The demo table's targets (examples/demo.toml, binary.toml, value.toml): labels, never signals.
_DEMO_LABELS = ("tier", "returned_90d", "spend_next_90d")


def demo_signals(n: int, *, seed: int = SEED + 1) -> list[tuple[str, dict[str, Any]]]:
    """``n`` demo customers as ``(customer_id, signals)``, the signals JSON-ready.

    Every column but the id and the labels, as a POS or CRM would send it: missing values
    left out, numpy scalars as Python numbers and bools, dates as ISO text. The default
    seed is not the training data's, so these are new customers to the model.
    """
    import pandas as pd

    from tierline.training.demo_data import generate_customers

    frame = generate_customers(n, seed=seed)
    columns = [c for c in frame.columns if c not in ("customer_id", *_DEMO_LABELS)]
    out = []
    for record in frame.to_dict("records"):
        signals: dict[str, Any] = {}
        for column in columns:
            value = record[column]
            if pd.isna(value):
                continue
            if isinstance(value, pd.Timestamp):
                value = value.date().isoformat()
            elif hasattr(value, "item"):  # numpy scalar -> int, float or bool
                value = value.item()
            signals[column] = value
        out.append((str(record["customer_id"]), signals))
    return out


@contextlib.contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A URL to an empty schema of the PostgreSQL database at ``PG_URL``, dropped after."""
    import sqlalchemy as sa

    from tierline.engine.store.scratch_schema import fresh_schema

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with fresh_schema(admin, prefix=prefix) as url:
            yield url
    finally:
        admin.dispose()


def scratch_dir(name: str) -> Path:
    """An empty folder under ``benchmarks/out/tmp`` for one benchmark's outputs."""
    folder = OUT / "tmp" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def python_command() -> list[str]:
    """The interpreter running the benchmarks (the project's venv under ``make bench``)."""
    return [sys.executable]


def tierline_command() -> list[str]:
    """The installed ``tierline`` script beside the interpreter, else ``python -m tierline.cli``."""
    script = Path(sys.executable).parent / "tierline"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "tierline.cli"]


def _say(message: str) -> None:
    print(f"  [setup] {message}", file=sys.stderr, flush=True)
