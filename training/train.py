"""Training: data + spec -> a verified model version, measured against baselines, gated.

Over 400 lines: the split, the fit and the evaluation's assembly are still to be split apart.

The one path of a model: load and validate the data (``training.data``; for a transaction
log, per-customer features at the backtest cut-off), split off a held-out test set
(time-ordered when the spec has a time column, stratified otherwise), fit the feature
builder and LightGBM with early stopping on a validation split, freeze the tier policy's
thresholds, measure the model and two baselines on the test set, write an immutable
version, and let the promotion gate decide whether it becomes the champion.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import platform
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn
from sklearn.model_selection import train_test_split

from tierline.engine.drift import profile as drift_profile
from tierline.engine.errors import DataError
from tierline.engine.features import FeatureBuilder
from tierline.engine.linear import LinearModel
from tierline.engine.playbook import Playbook
from tierline.engine.registry import Registry
from tierline.engine.spec import Spec
from tierline.engine.tiers import TierPolicy
from tierline.training import data as data_io
from tierline.training.baselines import fit_baselines
from tierline.training.calibrate import fit_calibration, reliability
from tierline.training.candidates import CANDIDATES, Candidate
from tierline.training.dialect import CsvDialect
from tierline.training.distributed import DASK_ROUNDS, cluster, workers
from tierline.training.evaluate import (
    format_calibration,
    format_interval,
    format_report,
    format_selection,
    measure,
)
from tierline.training.fairness import assess as assess_fairness
from tierline.training.fairness import format_fairness, record_override
from tierline.training.fairness import verdict as fairness_verdict
from tierline.training.figures import feature_importance, linear_importance, report_figures
from tierline.training.gate import gate as run_gate
from tierline.training.honest import MIN_HELD_OUT, interval, training_ids
from tierline.training.selection import select

__all__ = ["PROMOTE_MODES", "TrainResult", "lgb_params", "prepare", "train"]

PROMOTE_MODES = ("auto", "always", "never")
SEED = 42
TEST_FRACTION = 0.2
VALID_FRACTION = 0.1
MIN_ROWS = 40

Progress = Callable[[str], None]


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


def lgb_params(
    spec: Spec, *, rows: int | None = None, threads: int | None = None
) -> dict[str, Any]:
    """LightGBM parameters for a spec's target kind; fixed seeds for repeatable models."""
    params: dict[str, Any] = {
        "learning_rate": 0.08,
        "num_leaves": 31,
        # 40 customers per leaf; fewer on a small export so the trees can still split.
        "min_data_in_leaf": 40 if rows is None else int(min(40, max(3, rows // 10))),
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "max_cat_to_onehot": 8,
        "cat_smooth": 10.0,
        "seed": SEED,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads or os.cpu_count() or 1,
        "verbose": -1,
    }
    if spec.target_kind == "class":
        params.update(objective="multiclass", num_class=len(spec.tiers), metric="multi_logloss")
    elif spec.target_kind == "binary":
        params.update(objective="binary", metric="binary_logloss")
    else:
        params.update(objective="tweedie", tweedie_variance_power=1.3, metric="tweedie")
    return params


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


def _lgb_names(names: list[str]) -> list[str]:
    # LightGBM refuses some characters in feature names; ours keep theirs in features.json.
    return [f"f{i}_{re.sub(r'[^0-9A-Za-z_]', '_', n)}"[:60] for i, n in enumerate(names)]


def fit_booster(
    *,
    spec: Spec,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    names: list[str],
    threads: int | None = None,
) -> lgb.Booster:
    params = lgb_params(spec, rows=len(X_train), threads=threads)
    cat_idx = list(range(len(spec.categorical)))
    dtrain = lgb.Dataset(
        X_train,
        y_train,
        feature_name=_lgb_names(names),
        categorical_feature=cat_idx,
        free_raw_data=True,
    )
    dvalid = lgb.Dataset(X_valid, y_valid, reference=dtrain)
    return lgb.train(
        params,
        dtrain,
        num_boost_round=2000,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )


def _held_out_floor(gate: dict[str, Any], rows: int) -> None:
    """Too few held-out customers to trust any figure: auto-promotion is refused."""
    gate["held_out"] = {"rows": rows, "min": MIN_HELD_OUT}
    if rows < MIN_HELD_OUT and gate.get("passed"):
        gate["passed"] = False
        gate["why"] = (
            f"only {rows} held-out customers (fewer than {MIN_HELD_OUT}): too few to trust "
            f"its figures; add labelled customers or use --promote always"
        )


def _ids(frame: pd.DataFrame, spec: Spec, rows: np.ndarray) -> list[Any]:
    values = frame[spec.id] if spec.id in frame.columns else frame.index.to_series()
    return [str(v) for v in values.iloc[rows]]


def _parts(prep: Prepared) -> dict[str, np.ndarray]:
    return {"train": prep.train_idx, "valid": prep.valid_idx, "test": prep.test_idx}


def _importance(winner: Candidate, X: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    if isinstance(winner.model, LinearModel):
        return linear_importance(winner.model, X, names)
    assert isinstance(winner.model, lgb.Booster)
    return feature_importance(winner.model, names, iteration=winner.best_iteration or 0)


def _model_file(winner: Candidate) -> dict[str, Any]:
    """The winner as the registry stores it: LightGBM's text or the linear JSON."""
    if isinstance(winner.model, LinearModel):
        return {"linear": winner.model.to_json()}
    assert isinstance(winner.model, lgb.Booster)
    return {"booster_text": winner.model.model_to_string(num_iteration=winner.best_iteration)}


def _git_revision() -> str | None:
    # Only a checkout has a revision: an installed package may sit in someone else's repository.
    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=checkout,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


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
    with _cluster(dask) as client:
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
    frame = prep.frame
    say(f"building features for {len(frame):,} customers")
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
    names = list(builder.feature_names_out_)
    say(f"training {len(CANDIDATES)} candidate models on {len(prep.train_idx):,} rows")
    if client is not None:
        say(f"boosting the trees on a Dask cluster of {workers(client)} workers")
    selection = select(
        spec=spec,
        params=lgb_params(spec, rows=len(prep.train_idx), threads=threads),
        X=X,
        y={part: prep.y[idx] for part, idx in _parts(prep).items()},
        names=names,
        lgb_names=_lgb_names(names),
        budget=budget,
        threads=threads,
        say=say,
        client=client,
    )
    winner = selection.winner
    say(f"{winner.name} won on the validation slice")
    say("calibrating the probabilities on the validation slice")
    kind = spec.target_kind
    calibration = fit_calibration(kind, prep.y[prep.valid_idx], selection.scores("valid"))
    policy = dataclasses.replace(TierPolicy.from_spec(spec), calibration=calibration)
    uplift = None
    if spec.treatment is not None:
        from tierline.training.uplift import fit_uplift, policy_scores

        uplift = fit_uplift(spec=spec, prep=prep, X=X, names=names, threads=threads, say=say)
    say("evaluating on the held-out customers")
    if kind != "class":
        train_scores = policy.calibrate(selection.predict(X["train"]))
        if uplift is not None:
            train_scores = policy_scores(uplift, X["train"])  # cuts on the best net value
        policy = policy.fit_thresholds(spec=spec, train_scores=train_scores)
    test_frame = frame.iloc[prep.test_idx]
    raw_test = selection.scores("test")
    test_scores = policy.calibrate(raw_test)
    calibrated = {"method": calibration.method, **calibration.to_json()}
    if kind != "value":
        y_held = prep.y[prep.test_idx]
        calibrated["before"] = reliability(kind, y_held, raw_test)
        calibrated["after"] = reliability(kind, y_held, test_scores)
    decided = policy.place_many(
        scores=test_scores if uplift is None else policy_scores(uplift, X["test"]),
        frame=test_frame,
    )
    y_test = prep.labels[prep.test_idx]
    metrics = measure(spec, y_true=y_test, tier_pred=decided["tier"], scores=test_scores)
    metrics["interval"] = interval(
        kind, prep.y[prep.test_idx], test_scores, n_classes=len(spec.tiers)
    )
    say("fitting baselines")
    baseline_scores: dict[str, np.ndarray] = {}
    baselines = fit_baselines(
        spec=spec, prep=prep, X=X, n_cat=len(spec.categorical), scores=baseline_scores
    )
    fairness = assess_fairness(
        spec=spec, frame=test_frame, tiers=decided["tier"], rules=decided["rule"]
    )
    if promote == "always" and not fairness["passed"]:
        record_override(fairness, reason=reason)
    report = format_report(kind=spec.target_kind, metrics=metrics, baselines=baselines)
    report += "\n" + format_interval(metrics, rows=len(prep.test_idx))
    if playbook.generic_tiers:
        report += (
            f"\nwarning: the shipped playbook has no cues for "
            f"{', '.join(playbook.generic_tiers)}; staff get a generic cue for them until a "
            f"playbook (--playbook) says what to do"
        )
    report += "\n" + format_selection(selection.summary())
    report += "\n" + format_calibration(calibrated)
    report += "\n\n" + format_fairness(fairness)
    uplift_figures: dict[str, Any] | None = None
    if uplift is not None:
        from tierline.training.uplift_report import format_uplift_report
        from tierline.training.uplift_report import uplift_figures as measure_uplift

        say("measuring the uplift on the held-out customers")
        assert spec.treatment is not None
        uplift_figures = measure_uplift(
            fit=uplift,
            treatment=spec.treatment,
            X_test=X["test"],
            y_test=prep.y[prep.test_idx],
            codes_test=uplift.experiment.codes[prep.test_idx],
            response_test=test_scores,
        )
        report += "\n\n" + format_uplift_report(uplift_figures)

    registry = Registry(models)
    say("checking against the champion")
    gate = run_gate(
        registry=registry,
        spec=spec,
        challenger=metrics,
        test_frame=test_frame,
        y_test=y_test,
        tolerance=tolerance,
    )
    if backtest is not None:
        gate["backtest"] = backtest
    _held_out_floor(gate, len(prep.test_idx))
    metadata = {
        "created": started.isoformat(timespec="seconds"),
        "spec": spec.to_dict(),
        "data": {"file": data_path.name, "sha256": fingerprint, "rows": len(frame)},
        "split": {
            "train": len(prep.train_idx),
            "valid": len(prep.valid_idx),
            "test": len(prep.test_idx),
            "method": "time-ordered"
            if spec.time
            else ("stratified" if spec.target_kind != "value" else "random"),
        },
        "lightgbm": {
            "params": lgb_params(spec, rows=len(prep.train_idx)),
            "best_iteration": winner.best_iteration,
            **({"dask": {"rounds": DASK_ROUNDS}} if client is not None else {}),
        },
        "selection": selection.summary(),
        "calibration": calibrated,
        "training_ids": training_ids(
            _ids(frame, spec, np.concatenate([prep.train_idx, prep.valid_idx]))
        ),
        "metrics": metrics,
        "baselines": baselines,
        "btyd": prep.btyd,
        "gate": gate,
        # Each input's distribution over the training rows, what `tierline drift` compares
        # the logged decisions' signals with.
        "drift": drift_profile(frame, spec, rows=prep.train_idx),
        "fairness": fairness,
        "report": report_figures(
            spec=spec,
            y_true=y_test,
            tier_pred=decided["tier"],
            scores=test_scores,
            baseline_scores=baseline_scores,
            importance=_importance(winner, X["test"], names),
        ),
        "versions": {
            "python": platform.python_version(),
            "lightgbm": lgb.__version__,
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
        "git_revision": _git_revision(),
    }
    if uplift_figures is not None:
        metadata["uplift"] = uplift_figures
    say("writing the model version")
    version = registry.write(
        **_model_file(winner),
        features=builder.to_json(),
        policy=policy.to_json(),
        playbook_text=playbook.text,
        metadata=metadata,
        extra_files=uplift.model.files() if uplift is not None else None,
    )
    promoted = promote == "always" or (promote == "auto" and gate["passed"] and fairness["passed"])
    if promoted:
        registry.promote(version, reason=_promote_action(promote, reason, fairness))
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return TrainResult(
        version=version,
        promoted=promoted,
        gate=gate,
        metrics=metrics,
        baselines=baselines,
        report=report,
        best_iteration=winner.best_iteration or 0,
        selection=selection.summary(),
        seconds=seconds,
        fairness=fairness,
        uplift=uplift_figures,
    )


@contextlib.contextmanager
def _cluster(address: str | None) -> Iterator[Any]:
    """The Dask client to boost on, or None (this machine)."""
    if address is None:
        yield None
        return
    with cluster(address) as client:
        yield client


def _promote_action(promote: str, reason: str | None, fairness: dict[str, Any]) -> str:
    """The registry history's action: how the version came to be promoted, and why."""
    if promote == "auto":
        return "auto-promote"
    if "override" in fairness:
        return f"promote over the fairness gate: {fairness['override']['reason']}"
    return f"promote: {reason}" if reason else "promote"
