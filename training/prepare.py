"""The first half of training: the labelled customer rows, their target in model form, and
the split into training, validation and held-out test rows.

A transaction log becomes one row per customer at the backtest cut-off (with its BG/NBD
fit, kept for scoring). The split is time-ordered when the spec has a time column (the
newest customers are the test set, as they would be in use), stratified otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from tierline.engine.errors import DataError
from tierline.engine.spec import Spec
from tierline.training import data as data_io
from tierline.training.dialect import CsvDialect

__all__ = ["MIN_ROWS", "SEED", "TEST_FRACTION", "VALID_FRACTION", "Prepared", "prepare"]

SEED = 42
TEST_FRACTION = 0.2
VALID_FRACTION = 0.1
MIN_ROWS = 40


@dataclass
class Prepared:
    """Labelled rows split for training, with the target in model form."""

    frame: pd.DataFrame
    y: np.ndarray  # class: tier index; binary: 1.0/0.0; value: amount
    labels: np.ndarray  # class: tier names; otherwise = y
    train_idx: np.ndarray
    valid_idx: np.ndarray
    test_idx: np.ndarray
    btyd: dict[str, Any] | None = None  # a transaction log's fitted BG/NBD, for the artifact

    def parts(self) -> dict[str, np.ndarray]:
        """The row positions of each part, by name (``train``, ``valid``, ``test``)."""
        return {"train": self.train_idx, "valid": self.valid_idx, "test": self.test_idx}


def prepare(
    data_path: Path, spec: Spec, dialect: CsvDialect | None = None, *, client: Any = None
) -> Prepared:
    """Load, label and split: the shared first half of training and its benchmark. With a
    Dask ``client``, a transaction log's features are computed out of core on it."""
    frame, target, btyd = _load(data_path, spec, dialect, client)
    raw = frame[target]
    if spec.target_kind == "class":
        labels = raw.to_numpy(dtype=object)
        lookup = {t: i for i, t in enumerate(spec.tiers)}
        y = np.fromiter((lookup[v] for v in labels), dtype=np.float64, count=len(labels))
        strat: np.ndarray | None = labels
    else:
        y = raw.to_numpy(dtype=np.float64)
        labels = y
        strat = y if spec.target_kind == "binary" else None
    train_idx, valid_idx, test_idx = _split(frame, spec, strat)
    if spec.target_kind == "class" and len(np.unique(y[train_idx])) < 2:
        raise DataError(
            "The training split holds a single tier; add more labelled customers of the other tiers"
        )
    return Prepared(
        frame=frame,
        y=y,
        labels=labels,
        train_idx=train_idx,
        valid_idx=valid_idx,
        test_idx=test_idx,
        btyd=btyd,
    )


def _load(
    data_path: Path, spec: Spec, dialect: CsvDialect | None = None, client: Any = None
) -> tuple[pd.DataFrame, str, dict[str, Any] | None]:
    """The labelled customer rows, the name of their target column and a log's BTYD fit."""
    if spec.transactions is not None:
        from tierline.training.btyd import fit_btyd
        from tierline.training.transactions import LABEL_COLUMN, training_frame

        if client is not None:
            from tierline.training.transaction_buckets import bucketed_training_frame

            frame = bucketed_training_frame(data_path, spec, client=client, dialect=dialect)
        else:
            log = data_io.load_transactions(data_path, spec, dialect=dialect)
            frame = training_frame(log, spec)
        if frame[LABEL_COLUMN].nunique() < 2:
            raise DataError(
                f"Every customer in {data_path.name} has the same label in the horizon; a model needs variation"
            )
        # Fitted on the history before the training cut-off only, then kept for scoring.
        btyd = fit_btyd(frame, horizon_days=spec.transactions.horizon_days)
        frame = btyd.applied(frame)
        return frame, LABEL_COLUMN, btyd.to_dict()
    assert spec.target_column is not None
    frame = data_io.load_customers(data_path, spec, with_target=True, dialect=dialect)
    return frame, spec.target_column, None


def _split(
    frame: pd.DataFrame, spec: Spec, strat: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(frame)
    if n < MIN_ROWS:
        raise DataError(
            f"Only {n} labelled rows; training needs at least {MIN_ROWS} (and thousands to be useful)"
        )
    idx = np.arange(n)
    if spec.time and spec.time in frame.columns:
        # Time-ordered: the newest customers are the test set, as they would be in use.
        order = np.argsort(frame[spec.time].to_numpy(dtype="datetime64[ns]"), kind="stable")
        n_test = max(1, round(n * TEST_FRACTION))
        n_valid = max(1, round((n - n_test) * VALID_FRACTION))
        train = np.sort(order[: n - n_test - n_valid])
        return (
            train,
            np.sort(order[n - n_test - n_valid : n - n_test]),
            np.sort(order[n - n_test :]),
        )

    def stratify(ix: np.ndarray) -> np.ndarray | None:
        if strat is None:
            return None
        values, counts = np.unique(strat[ix], return_counts=True)
        return strat[ix] if counts.min() >= 2 and len(values) > 1 else None

    rest, test = train_test_split(
        idx, test_size=TEST_FRACTION, random_state=SEED, stratify=stratify(idx)
    )
    train, valid = train_test_split(
        rest, test_size=VALID_FRACTION, random_state=SEED, stratify=stratify(rest)
    )
    return np.sort(train), np.sort(valid), np.sort(test)
