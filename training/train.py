"""Training: data + spec -> a verified model version, measured against baselines, gated.

The one path of a model, each step in its own module: load, label and split the data
(``training.prepare``; time-ordered when the spec has a time column, stratified
otherwise), fit the feature builder, let the model search pick the best candidate
(``training.selection``), make it a tier model and measure it and two baselines on the
held-out customers (``training.assessment``), compare it with the champion
(``training.gate``), write an immutable version (``training.version``) and promote it
when the gates and ``promote`` say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tierline.engine.errors import DataError
from tierline.engine.features import FeatureBuilder
from tierline.engine.playbook import Playbook
from tierline.engine.registry import Registry
from tierline.engine.spec import Spec
from tierline.training import data as data_io
from tierline.training.assessment import assess
from tierline.training.booster import lgb_names, lgb_params
from tierline.training.candidates import CANDIDATES
from tierline.training.dialect import CsvDialect
from tierline.training.distributed import optional_cluster, workers
from tierline.training.fairness import verdict as fairness_verdict
from tierline.training.gate import gate as run_gate
from tierline.training.gate import held_out_floor, promote_action
from tierline.training.prepare import Prepared, prepare
from tierline.training.selection import select
from tierline.training.version import model_file, version_metadata

__all__ = ["PROMOTE_MODES", "TrainResult", "train"]

PROMOTE_MODES = ("auto", "always", "never")

Progress = Callable[[str], None]


@dataclass
class TrainResult:
    version: str
    promoted: bool
    gate: dict[str, Any]
    metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    report: str
    best_iteration: int
    seconds: float
    selection: dict[str, Any] = field(default_factory=dict)
    fairness: dict[str, Any] = field(default_factory=dict)
    uplift: dict[str, Any] | None = None  # the uplift report's figures ([treatment] specs)

    @property
    def why(self) -> str:
        """Why the version was or was not promoted, for a person: the champion gate's
        reason, then the fairness gate's when it refused."""
        why = str(self.gate.get("why"))
        if self.fairness and not self.fairness.get("passed", True):
            override = self.fairness.get("override")
            refusal = f"the fairness gate refused: {self.fairness.get('why')}"
            if override is not None:
                refusal += f"; overridden ({override['reason']})"
            why = f"{why}; {refusal}"
        return why

    def summary(self) -> dict[str, Any]:
        kind_metric = self.gate.get("metric")
        return {
            "version": self.version,
            "promoted": self.promoted,
            "metric": kind_metric,
            "value": self.metrics.get(kind_metric) if kind_metric else None,
            "gate": self.gate,
            "model": self.selection.get("winner"),
            "fairness": fairness_verdict(self.fairness),
            "seconds": round(self.seconds, 2),
        }


def train(
    *,
    data_path: str | Path,
    spec: Spec,
    models: str | Path,
    playbook_path: str | Path | None = None,
    promote: str = "auto",
    reason: str | None = None,
    tolerance: float = 0.01,
    progress: Progress | None = None,
    threads: int | None = None,
    backtest: dict[str, Any] | None = None,
    budget: float | None = None,
    dialect: CsvDialect | None = None,
    dask: str | None = None,
) -> TrainResult:
    """Train, evaluate, write a version and (per ``promote``) make it the champion.

    ``auto`` promotes only when both the champion gate and the fairness gate pass;
    ``always`` promotes anyway, and over a fairness refusal records the override and
    ``reason`` in the version's metadata. ``threads`` caps LightGBM's threads (default:
    every core). ``backtest`` (how the champion's logged decisions did,
    ``training.backtest``) is kept in the gate's record. ``budget``: seconds for the
    model search (``training.selection``; default about twice one fit). ``dialect``
    forces a CSV file's delimiter or decimal mark (default: sniffed). ``dask`` (``local``
    or a scheduler's ``tcp://`` address) boosts the tree candidates on a Dask cluster
    (``training.distributed``) and builds a transaction log's features out of core there
    (``training.transaction_buckets``; the log may then be a folder of files).
    """
    with optional_cluster(dask) as client:
        return _train(
            data_path=Path(data_path),
            spec=spec,
            models=models,
            playbook_path=playbook_path,
            promote=promote,
            reason=reason,
            tolerance=tolerance,
            progress=progress,
            threads=threads,
            backtest=backtest,
            budget=budget,
            dialect=dialect,
            client=client,
        )


def _train(
    *,
    data_path: Path,
    spec: Spec,
    models: str | Path,
    playbook_path: str | Path | None,
    promote: str,
    reason: str | None,
    tolerance: float,
    progress: Progress | None,
    threads: int | None,
    backtest: dict[str, Any] | None,
    budget: float | None,
    dialect: CsvDialect | None,
    client: Any,
) -> TrainResult:
    started = dt.datetime.now(dt.UTC)
    say = progress or (lambda _msg: None)
    if promote not in PROMOTE_MODES:
        raise ValueError(f"promote must be one of {PROMOTE_MODES}")
    data_path = Path(data_path)
    playbook = (
        Playbook.load(playbook_path, tiers=spec.tiers)
        if playbook_path is not None
        else Playbook.default(tiers=spec.tiers)
    )
    say(f"reading {data_path.name}")
    fingerprint = data_io.data_fingerprint(data_path)
    prep = prepare(data_path, spec, dialect, client=client)
    say(f"building features for {len(prep.frame):,} customers")
    builder, X = _features(spec, prep)
    names = list(builder.feature_names_out_)
    say(f"training {len(CANDIDATES)} candidate models on {len(prep.train_idx):,} rows")
    if client is not None:
        say(f"boosting the trees on a Dask cluster of {workers(client)} workers")
    selection = select(
        spec=spec,
        params=lgb_params(spec, rows=len(prep.train_idx), threads=threads),
        X=X,
        y={part: prep.y[idx] for part, idx in prep.parts().items()},
        names=names,
        lgb_names=lgb_names(names),
        budget=budget,
        threads=threads,
        say=say,
        client=client,
    )
    winner = selection.winner
    say(f"{winner.name} won on the validation slice")
    assessment = assess(
        spec=spec,
        prep=prep,
        X=X,
        names=names,
        selection=selection,
        playbook=playbook,
        promote=promote,
        reason=reason,
        threads=threads,
        say=say,
    )
    fairness = assessment.fairness

    registry = Registry(models)
    say("checking against the champion")
    gate = run_gate(
        registry=registry,
        spec=spec,
        challenger=assessment.metrics,
        test_frame=assessment.test_frame,
        y_test=assessment.y_test,
        tolerance=tolerance,
    )
    if backtest is not None:
        gate["backtest"] = backtest
    held_out_floor(gate, len(prep.test_idx))
    metadata = version_metadata(
        started=started,
        spec=spec,
        data={"file": data_path.name, "sha256": fingerprint, "rows": len(prep.frame)},
        prep=prep,
        selection=selection,
        assessment=assessment,
        gate=gate,
        on_dask=client is not None,
    )
    say("writing the model version")
    uplift = assessment.uplift
    version = registry.write(
        **model_file(winner),
        features=builder.to_json(),
        policy=assessment.policy.to_json(),
        playbook_text=playbook.text,
        metadata=metadata,
        extra_files=uplift.model.files() if uplift is not None else None,
    )
    promoted = promote == "always" or (promote == "auto" and gate["passed"] and fairness["passed"])
    if promoted:
        registry.promote(version, reason=promote_action(promote, reason, fairness))
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return TrainResult(
        version=version,
        promoted=promoted,
        gate=gate,
        metrics=assessment.metrics,
        baselines=assessment.baselines,
        report=assessment.report,
        best_iteration=winner.best_iteration or 0,
        selection=selection.summary(),
        seconds=seconds,
        fairness=fairness,
        uplift=assessment.uplift_figures,
    )


def _features(spec: Spec, prep: Prepared) -> tuple[FeatureBuilder, dict[str, np.ndarray]]:
    """The feature builder fitted on the training rows, and each part's matrix."""
    frame = prep.frame
    builder = FeatureBuilder(
        categorical=spec.categorical, numeric=spec.model_numeric, boolean=spec.boolean
    )
    # Only the categorical columns matter for fitting; copying just those keeps memory flat.
    builder.fit(frame[list(spec.categorical)].iloc[prep.train_idx])
    # One matrix, rows laid out train | valid | test; the three parts are views of it.
    order = np.concatenate([prep.train_idx, prep.valid_idx, prep.test_idx])
    X_all = builder.transform(frame, rows=order)
    n_train, n_valid = len(prep.train_idx), len(prep.valid_idx)
    X = {
        "train": X_all[:n_train],
        "valid": X_all[n_train : n_train + n_valid],
        "test": X_all[n_train + n_valid :],
    }
    for col, pos in zip(builder.feature_names_out_, range(X_all.shape[1]), strict=True):
        if np.isnan(X["train"][:, pos]).all():
            raise DataError(
                f"Column '{col}' is empty in the training rows (every value is missing); fill it or remove it from the spec"
            )
    return builder, X
