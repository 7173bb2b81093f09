"""Batch use of a trained model on a file: reading rows for scoring, evaluating on labels.

A model's spec travels inside its artifact, so these need only the data file: a customer
table is read with the spec's declared types; a transaction log is turned into
per-customer features at the cut-off (scoring) or at the backtest cut-off with labels
(evaluation), exactly as training did.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.errors import DataError, SpecError
from tierline.engine.model import TierModel
from tierline.engine.spec import Spec
from tierline.training import data as data_io
from tierline.training import writing
from tierline.training.btyd import BtydFit
from tierline.training.dialect import CsvDialect
from tierline.training.evaluate import measure_scored
from tierline.training.honest import training_share
from tierline.training.streaming import ScoredFile, score_chunks

__all__ = ["evaluate_model", "load_for_scoring", "score_file"]


def check_as_of(spec: Spec, as_of: dt.date | None) -> None:
    """A feature cut-off is a transaction log's: refuse it for a customer table's model."""
    if spec.transactions is None and as_of is not None:
        raise SpecError(
            "--as-of applies to models trained on a transaction log; this model reads a customer table"
        )


def load_for_scoring(
    path: str | Path,
    spec: Spec,
    *,
    as_of: dt.date | None = None,
    btyd: BtydFit | None = None,
    dialect: CsvDialect | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """The rows to score: the customer table itself, or per-customer features of a log.

    ``btyd`` is the model's fitted BG/NBD pair (``BtydFit.of_model``), reused as it is;
    ``model`` is the version whose spec this is, named when a column is missing.
    """
    check_as_of(spec, as_of)
    if spec.transactions is None:
        return data_io.load_customers(path, spec, with_target=False, dialect=dialect, model=model)
    from tierline.training.transactions import scoring_frame

    log = data_io.load_transactions(path, spec, dialect=dialect, model=model)
    return scoring_frame(log, spec, as_of=as_of, btyd=btyd)


def score_file(
    model: TierModel,
    path: str | Path,
    out: str | Path,
    *,
    as_of: dt.date | None = None,
    explain: bool = False,
    dialect: CsvDialect | None = None,
) -> ScoredFile:
    """Score every row of ``path`` into ``out`` (written atomically). A customer table is
    streamed in chunks (``training.streaming``); a transaction log is read whole, since a
    customer's features need all of their purchases."""
    if model.spec.transactions is None and as_of is None:
        return score_chunks(model, path, out, explain=explain, dialect=dialect)
    btyd = BtydFit.of_model(model.metadata, list(model.features.feature_names_out_))
    frame = load_for_scoring(
        path, model.spec, as_of=as_of, btyd=btyd, dialect=dialect, model=model.version
    )
    scored = model.score_frame(frame, explain=explain)
    writing.write_table(scored, out)
    tiers = scored["tier"].value_counts()
    return ScoredFile(rows=len(scored), tier_mix={str(t): int(n) for t, n in tiers.items()})


def evaluate_model(
    model: TierModel, path: str | Path, *, dialect: CsvDialect | None = None
) -> dict[str, Any]:
    """The model's metrics on labelled data (for a log: the backtest labels)."""
    spec = model.spec
    if spec.transactions is None:
        frame = data_io.load_customers(
            path, spec, with_target=True, dialect=dialect, model=model.version
        )
        assert spec.target_column is not None
        target = spec.target_column
    else:
        from tierline.training.transactions import LABEL_COLUMN, training_frame

        btyd = BtydFit.of_model(model.metadata, list(model.features.feature_names_out_))
        log = data_io.load_transactions(path, spec, dialect=dialect, model=model.version)
        frame = training_frame(log, spec, btyd=btyd)
        target = LABEL_COLUMN
    if len(frame) == 0:
        raise DataError(f"{Path(path).name} holds no labelled customers to evaluate on")
    y = frame[target].to_numpy(dtype=object if spec.target_kind == "class" else np.float64)
    metrics = measure_scored(spec, scored=model.score_frame(frame), y_true=y)
    ids = frame[spec.id] if spec.id in frame.columns else frame.index.to_series()
    metrics["training_rows_share"] = training_share(
        model.metadata.get("training_ids"), [str(i) for i in ids]
    )
    return metrics
