"""A transaction log's per-customer features out of core, on Dask.

Every feature of ``training.transactions`` reads one customer's own transactions only, so
the log is split by customer: each input file (a Parquet or CSV file of a folder, read by
the same typed loader as on one machine) is hashed by customer id into ``buckets`` on disk,
and each bucket, a share of the customers with all their transactions, goes through the
single-machine ``customer_features``. Memory is then about one input file or one bucket,
whichever is larger, per worker; the rows are the single-machine frame's, in its order.

The checks that speak of the whole log (no history before the cut-off, nothing in the
label window) hold for the log when they hold for every bucket, so a bucket that fails
them alone contributes no customers (no history) or zero labels (an empty window).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.errors import DataError
from tierline.engine.spec import Spec
from tierline.training import data as data_io
from tierline.training.btyd import BtydFit
from tierline.training.dialect import CsvDialect
from tierline.training.distributed import table_files
from tierline.training.transactions import LABEL_COLUMN, customer_features

__all__ = ["BUCKETS", "bucketed_features", "bucketed_training_frame"]

BUCKETS = 64
_BUCKET = "__bucket__"


def bucketed_features(
    path: Path,
    spec: Spec,
    *,
    as_of: dt.date,
    label_horizon_days: int | None = None,
    btyd: BtydFit | None = None,
    client: Any = None,
    buckets: int = BUCKETS,
    scratch: Path | None = None,
    dialect: CsvDialect | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """``customer_features`` of the log at ``path`` (a file or a folder of files), computed
    bucket by bucket on ``client``'s cluster (default: Dask's local scheduler). ``dialect``
    and ``model`` as for ``training.data.load_transactions``."""
    import dask
    import dask.dataframe as dd

    tx = spec.transactions
    assert tx is not None
    files = [str(f) for f in table_files(path)]
    scheduler = {"scheduler": client} if client is not None else {}
    work = Path(tempfile.mkdtemp(prefix="tierline-buckets-", dir=scratch))
    # Dask would turn text columns into Arrow strings; the features keep the loader's types.
    # Each bucket's features go to a file, not back through the scheduler: the client then
    # holds the finished frame once, never every bucket's copy beside it.
    try:
        with dask.config.set({"dataframe.convert-string": False}):
            parts = dd.from_map(
                _Bucketed(spec, buckets, dialect, model), files, enforce_metadata=False
            )
            parts.to_parquet(
                str(work), partition_on=[_BUCKET], write_index=False, compute_kwargs=scheduler
            )
            empty = parts._meta.drop(columns=[_BUCKET])  # the typed columns, no rows
            types = dict(empty.dtypes)
            done = work / "features"
            done.mkdir()
            features = [
                dask.delayed(_bucket_features)(
                    str(f), str(done / f"{i}.pkl"), spec, types, as_of, label_horizon_days, btyd
                )
                for i, f in enumerate(sorted(work.glob(f"{_BUCKET}=*")))
            ]
            written = [w for w in dask.compute(*features, **scheduler) if w is not None]
            if not written:
                # No bucket had history: the whole log has none; the single-machine message.
                customer_features(empty, spec, as_of=as_of)
            numeric = pd.api.types.is_numeric_dtype(empty[tx.customer])
            return _gathered(written, spec.id, numeric)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bucketed_training_frame(
    path: Path, spec: Spec, *, client: Any = None, dialect: CsvDialect | None = None
) -> pd.DataFrame:
    """``training.transactions.training_frame`` out of core: the backtest's features one
    horizon before ``[transactions] as_of`` and the label up to it."""
    tx = spec.transactions
    assert tx is not None
    return bucketed_features(
        path,
        spec,
        as_of=tx.as_of - dt.timedelta(days=tx.horizon_days),
        label_horizon_days=tx.horizon_days,
        client=client,
        dialect=dialect,
    )


class _Bucketed:
    """One input file, typed as on one machine, with each row's bucket (a Dask task)."""

    def __init__(
        self, spec: Spec, buckets: int, dialect: CsvDialect | None, model: str | None
    ) -> None:
        self.spec, self.buckets, self.dialect, self.model = spec, buckets, dialect, model

    def __dask_tokenize__(self) -> tuple[str, ...]:
        return (repr(self.spec.to_dict()), str(self.buckets), repr(self.dialect), str(self.model))

    def __call__(self, file: str) -> pd.DataFrame:
        log = data_io.load_transactions(file, self.spec, dialect=self.dialect, model=self.model)
        tx = self.spec.transactions
        assert tx is not None
        ids = log[tx.customer].astype(str)
        hashed = pd.util.hash_pandas_object(ids, index=False).to_numpy()
        log[_BUCKET] = (hashed % np.uint64(self.buckets)).astype(np.int32)
        return log


_Written = tuple[str, pd.Series, dict[str, Any]]


def _bucket_features(
    folder: str,
    out: str,
    spec: Spec,
    types: dict[str, Any],
    as_of: dt.date,
    label_horizon_days: int | None,
    btyd: BtydFit | None,
) -> _Written | None:
    """A bucket's features written to ``out``; its ids and column types for the gather."""
    frame = _features_of(folder, spec, types, as_of, label_horizon_days, btyd)
    if frame is None:
        return None
    frame.to_pickle(out)  # a scratch file read back by this run only: exact pandas types
    return out, frame[spec.id], dict(frame.dtypes)


def _features_of(
    folder: str,
    spec: Spec,
    types: dict[str, Any],
    as_of: dt.date,
    label_horizon_days: int | None,
    btyd: BtydFit | None,
) -> pd.DataFrame | None:
    # Back to the loader's types, which a Parquet round trip does not all keep.
    log = pd.read_parquet(folder, columns=list(types)).astype(types)
    source = "the transaction log"
    with warnings.catch_warnings():
        # A bucket's last transaction is not the log's: the window warning is the log's.
        warnings.simplefilter("ignore", UserWarning)
        try:
            return customer_features(
                log,
                spec,
                as_of=as_of,
                label_horizon_days=label_horizon_days,
                source=source,
                btyd=btyd,
            )
        except DataError:
            if label_horizon_days is None:
                return None  # no history here: none of these customers is in the frame
        try:
            frame = customer_features(log, spec, as_of=as_of, source=source, btyd=btyd)
        except DataError:
            return None
    frame[LABEL_COLUMN] = 0.0  # history but nothing in the window: no spend
    return frame


def _gathered(written: list[_Written], id_column: str, numeric: bool) -> pd.DataFrame:
    """The buckets' features as one frame in the single-machine order (ids sorted as their
    column's type sorts them), built column by column in place: one bucket is read at a
    time and each of its rows goes straight to its final position."""
    ids = pd.concat([w[1] for w in written], ignore_index=True)
    order = ids.sort_values(key=pd.to_numeric if numeric else None, kind="stable").index
    position = np.empty(len(ids), dtype=np.intp)
    position[order.to_numpy()] = np.arange(len(ids))
    columns = list(written[0][2])
    # A column whose type is one NumPy type in every bucket is filled in place; any other
    # (an extension type, or types that differ between buckets) is concatenated as before.
    placed = {
        c: np.empty(len(ids), dtype=written[0][2][c])
        for c in columns
        if isinstance(written[0][2][c], np.dtype)
        and all(w[2].get(c) == written[0][2][c] for w in written)
    }
    rest: dict[str, list[pd.Series]] = {c: [] for c in columns if c not in placed}
    start = 0
    for path, bucket_ids, _ in written:
        at = position[start : start + len(bucket_ids)]
        start += len(bucket_ids)
        bucket = pd.read_pickle(path)
        for c in columns:
            if c in placed:
                placed[c][at] = bucket[c].to_numpy()
            else:
                rest[c].append(bucket[c].set_axis(at))
        del bucket
    merged = {c: pd.concat(rest[c]).sort_index().reset_index(drop=True) for c in rest}
    return pd.DataFrame({c: placed[c] if c in placed else merged[c] for c in columns}, copy=False)
