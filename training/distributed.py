"""Dask: a cluster to train and score on (``--dask local`` or ``--dask tcp://host:8786``).

Training keeps its one path (``training.train``); only the tree candidates' boosting runs
on the cluster, with LightGBM's own Dask estimators (``lightgbm.dask``, data-parallel over
the workers). Their booster is an ordinary ``lgb.Booster``, so the artifact is the same
model text. ``lightgbm.dask`` has no early stopping (each worker would judge its own slice
of the validation rows), so a fixed number of rounds is boosted and the best round is
then read on the client from the whole validation slice, the round early stopping would
have kept; the model text is cut there.

Scoring reads a customer table file, or a folder of them, as a ``dask.dataframe`` with one
partition per file (each read by the same typed loader as single-machine scoring) and
scores each partition with ``TierModel.score_frame``. A transaction log's customers are
scored from its features, built out of core (``training.transaction_buckets``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tierline.engine.errors import DataError
from tierline.training import data as data_io
from tierline.training import writing
from tierline.training.batch import check_as_of

if TYPE_CHECKING:
    from distributed import Client

    from tierline.engine.model import TierModel
    from tierline.training.dialect import CsvDialect

__all__ = [
    "DASK_ROUNDS",
    "best_round",
    "cluster",
    "fit_tree",
    "optional_cluster",
    "score_on_cluster",
    "workers",
]

# Rounds boosted on the cluster: early stopping single-machine ends well before this at
# the shared learning rate (see benchmarks/README.md).
DASK_ROUNDS = 600
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


@contextlib.contextmanager
def cluster(address: str) -> Iterator[Client]:
    """A client of a LocalCluster sized to the machine (``local``), or of the scheduler at
    ``tcp://host:port``; closed (and the local cluster stopped) on the way out."""
    from distributed import Client, LocalCluster

    if address == "local":
        cores = os.cpu_count() or 1
        # The workers inherit stderr as their stdout: LightGBM's native network prints
        # there, and a command's stdout (--json) must stay its own.
        with _stdout_to_stderr():
            local = LocalCluster(
                n_workers=max(1, min(cores, 4)),
                threads_per_worker=1,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        with local, Client(local) as client:
            yield client
        return
    if not address.startswith("tcp://"):
        raise DataError(
            f"--dask takes 'local' or a scheduler address like tcp://host:8786, not {address!r}"
        )
    try:
        client = Client(address, timeout="5s")
    except (OSError, TimeoutError) as exc:
        raise DataError(f"no Dask scheduler answered at {address}: {exc}") from None
    with client:
        yield client


@contextlib.contextmanager
def optional_cluster(address: str | None) -> Iterator[Client | None]:
    """``cluster(address)``'s client, or None (this machine) without an address."""
    if address is None:
        yield None
        return
    with cluster(address) as client:
        yield client


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def workers(client: Client) -> int:
    return len(client.scheduler_info()["workers"])


def fit_tree(
    client: Client,
    *,
    params: dict[str, Any],
    X: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    lgb_names: list[str],
    n_cat: int,
) -> tuple[lgb.Booster, int]:
    """One tree candidate boosted on the cluster, and its best round on the validation
    slice."""
    import dask.array as da
    from lightgbm.dask import DaskLGBMRegressor

    rows, width = X["train"].shape
    chunk = max(1, math.ceil(rows / max(1, workers(client))))
    dX = da.from_array(X["train"], chunks=(chunk, width))
    dy = da.from_array(y["train"], chunks=(chunk,))
    # The regressor passes any objective through (multiclass included) and, unlike the
    # classifier, never re-labels the classes: class k stays tier k even when absent.
    settings = {k: v for k, v in params.items() if k not in ("num_threads", "verbose")}
    model = DaskLGBMRegressor(
        client=client, n_estimators=DASK_ROUNDS, num_threads=1, verbose=-1, **settings
    )
    with contextlib.redirect_stdout(sys.stderr):  # lightgbm.dask prints its progress
        model.fit(dX, dy, feature_name=lgb_names, categorical_feature=list(range(n_cat)))
    booster = model.booster_
    return booster, best_round(booster, params, X["valid"], y["valid"])


def best_round(booster: lgb.Booster, params: dict[str, Any], X: np.ndarray, y: np.ndarray) -> int:
    """The number of rounds with the lowest validation loss (the spec kind's LightGBM
    metric), as early stopping would keep them."""
    rounds = booster.current_iteration()
    raw: np.ndarray | None = None
    losses = np.empty(rounds)
    for i in range(rounds):
        step = np.asarray(booster.predict(X, raw_score=True, start_iteration=i, num_iteration=1))
        raw = step if raw is None else raw + step
        losses[i] = _loss(params, raw, y)
    return int(np.argmin(losses)) + 1 if rounds else 0


def _loss(params: dict[str, Any], raw: np.ndarray, y: np.ndarray) -> float:
    objective = params["objective"]
    if objective == "multiclass":
        z = raw - raw.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y)), y.astype(np.int64)].mean())
    if objective == "binary":
        # log(1 + e^-z) for the positives, log(1 + e^z) for the negatives.
        return float(np.mean(np.logaddexp(0.0, np.where(y > 0.5, -raw, raw))))
    rho = float(params.get("tweedie_variance_power", 1.5))
    a = y * np.exp((1 - rho) * raw) / (1 - rho)
    b = np.exp((2 - rho) * raw) / (2 - rho)
    return float(np.mean(-a + b))


def table_files(path: Path) -> list[Path]:
    """The customer table files of ``path``: itself, or a folder's, in name order."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith(TABLE_SUFFIXES))
        if not files:
            raise DataError(f"{path} holds no .csv, .csv.gz or .parquet files to read")
        return files
    return [path]


def score_on_cluster(
    address: str,
    *,
    models: Path,
    version: str | None,
    data: Path,
    out: Path,
    as_of: dt.date | None = None,
    explain: bool = False,
    dialect: CsvDialect | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """``tierline score --dask``: the summary the command prints. A customer table is scored
    file by file on the workers; a transaction log's features are built out of core
    (``training.transaction_buckets``) and its customers, one row each, scored on the client.
    """
    import dask.dataframe as dd

    from tierline.engine.registry import Registry

    started = time.perf_counter()
    folder = not out.suffix
    if folder and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"Output folder '{out}' exists and is not empty; name a new folder")
    if not folder:
        writing.check_output_path(out)
    say("loading the model")
    model = Registry(models).load(version)
    check_as_of(model.spec, as_of)
    files = table_files(data)
    with cluster(address) as client:
        if model.spec.transactions is not None:
            say(
                f"building features from {len(files)} log file(s) on {workers(client)} Dask workers"
            )
            tiers = _score_log(
                client, model, data, out, as_of=as_of, explain=explain, dialect=dialect
            )
        else:
            say(f"scoring {len(files)} file(s) on {workers(client)} Dask workers")
            parts = dd.from_map(
                _Scorer(models, model.version, explain, dialect),
                [str(f) for f in files],
                enforce_metadata=False,
            )
            tiers = _written(client, parts, out)
    return {
        "rows": int(sum(tiers.values())),
        "out": str(out),
        "model_version": model.version,
        "tier_mix": tiers,
        "seconds": round(time.perf_counter() - started, 2),
    }


class _Scorer:
    """One file's rows, read by the typed loader and scored (a Dask task). The model
    travels as its version's files (a model holds closures that do not pickle) and is
    loaded, verified as the registry always does, once per worker process."""

    def __init__(self, root: Path, version: str, explain: bool, dialect: CsvDialect | None):
        folder = root / version
        self.files = {
            str(f.relative_to(folder)): f.read_bytes() for f in folder.rglob("*") if f.is_file()
        }
        self.version, self.explain, self.dialect = version, explain, dialect
        self.token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> str:
        return self.token

    def model(self) -> TierModel:
        from tierline.engine.registry import Registry

        if self.token not in _LOADED:
            root = Path(tempfile.mkdtemp(prefix="tierline-model-"))
            for name, data in self.files.items():
                (root / self.version / name).parent.mkdir(parents=True, exist_ok=True)
                (root / self.version / name).write_bytes(data)
            _LOADED[self.token] = Registry(root).load(self.version)
            shutil.rmtree(root, ignore_errors=True)
        return _LOADED[self.token]

    def __call__(self, file: str) -> pd.DataFrame:
        model = self.model()
        frame = data_io.load_customers(
            file, model.spec, with_target=False, dialect=self.dialect, model=model.version
        )
        return model.score_frame(frame, explain=self.explain)


_LOADED: dict[str, TierModel] = {}  # per worker process: the models its tasks scored with


def _score_log(
    client: Client,
    model: TierModel,
    data: Path,
    out: Path,
    *,
    as_of: dt.date | None,
    explain: bool,
    dialect: CsvDialect | None,
) -> dict[str, int]:
    """A transaction log model's scores: the features as of ``as_of`` (default the spec's)
    built bucket by bucket on the cluster with the model's own BG/NBD fit, then scored."""
    import dask.dataframe as dd

    from tierline.training.btyd import BtydFit
    from tierline.training.transaction_buckets import bucketed_features

    tx = model.spec.transactions
    assert tx is not None
    btyd = BtydFit.of_model(model.metadata, list(model.features.feature_names_out_))
    frame = bucketed_features(
        data,
        model.spec,
        as_of=tx.as_of if as_of is None else as_of,
        btyd=btyd,
        client=client,
        dialect=dialect,
        model=model.version,
    )
    scored = model.score_frame(frame, explain=explain)
    return _written(client, dd.from_pandas(scored, npartitions=max(1, workers(client))), out)


def _written(client: Client, parts: Any, out: Path) -> dict[str, int]:
    """``parts`` (a dask frame of scored rows) written as one file, or as a folder of
    Parquet parts moved into place when all are; the tier mix."""
    if out.suffix:
        frame = client.compute(parts).result()
        writing.write_table(frame, out)
        counts = frame["tier"].value_counts()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
        try:
            parts.to_parquet(str(staging), write_index=False, compute_kwargs={"scheduler": client})
            counts = pd.read_parquet(staging, columns=["tier"])["tier"].value_counts()
            if out.exists():
                out.rmdir()  # checked empty above
            staging.rename(out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return {str(t): int(n) for t, n in counts.items()}
