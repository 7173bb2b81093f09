"""Training an uplift model from a randomized experiment (a spec with ``[treatment]``).

For every arm against the control, two LightGBM meta-learners are fitted on the training
rows (``engine.uplift_model``): the S-learner (one booster, the arm an input) and the
T-learner (one booster per arm). Their boosters are independent, so they are fitted in
parallel (joblib threads: LightGBM releases the GIL), each with its share of the threads.
The learner with the higher mean normalized Qini over the arms on the validation rows is
kept; the test rows, seen by neither choice nor fit, are left for the report
(``training.uplift_report``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
from joblib import Parallel, delayed

from tierline.engine.errors import DataError
from tierline.engine.spec import Spec
from tierline.engine.treatment import TreatmentSpec
from tierline.engine.uplift_model import LEARNERS, UpliftModel, arm_codes
from tierline.training.booster import lgb_names, lgb_params
from tierline.training.prepare import Prepared
from tierline.training.uplift_metrics import Ranked, normalized_qini, perfect_score

__all__ = [
    "MIN_ARM_ROWS",
    "Experiment",
    "UpliftFit",
    "describe_choice",
    "fit_uplift",
    "policy_scores",
    "read_experiment",
]

# Fewer training rows than this in an arm (or the control) teach a booster nothing.
MIN_ARM_ROWS = 20
_ROUNDS, _PATIENCE = 2000, 50


@dataclass(frozen=True)
class Experiment:
    """The arm of every prepared row as a code (0 the control, j the j-th arm)."""

    arms: tuple[str, ...]
    codes: np.ndarray


@dataclass
class UpliftFit:
    """The chosen uplift model and what training needs of it."""

    model: UpliftModel
    experiment: Experiment
    selection: dict[str, float]  # learner -> mean normalized Qini on the validation rows


def read_experiment(prep: Prepared, treatment: TreatmentSpec) -> Experiment:
    """The arms found in the data, checked against the spec; ``DataError`` when unusable."""
    column = treatment.column
    values = prep.frame[column].to_numpy(dtype=object)
    missing = [i for i, v in enumerate(values) if v is None or v != v]
    if missing:
        raise DataError(
            f"Column '{column}' ([treatment] column) has no arm in {len(missing)} rows "
            f"(first: row {missing[0] + 1}); every customer of the experiment needs one "
            f"(values such as 'none' or 'NA' read as missing)"
        )
    found = sorted({str(v) for v in values})
    if treatment.control not in found:
        raise DataError(
            f"[treatment] control '{treatment.control}' does not appear in column '{column}' "
            f"(values: {', '.join(found[:10])}); name the holdout's value"
        )
    arms = tuple(a for a in found if a != treatment.control)
    if not arms:
        raise DataError(
            f"Column '{column}' holds only the control '{treatment.control}'; "
            f"an uplift model needs at least one treated arm"
        )
    unknown = sorted(set(treatment.cost) - set(arms))
    if unknown:
        raise DataError(
            f"[treatment] cost names arm '{unknown[0]}', which no row of column '{column}' "
            f"holds (arms: {', '.join(arms)})"
        )
    codes = arm_codes([str(v) for v in values], arms, treatment.control)
    train_codes = codes[prep.train_idx]
    for j, name in enumerate((treatment.control, *arms)):
        n = int(np.sum(train_codes == j))
        if n < MIN_ARM_ROWS:
            raise DataError(
                f"Arm '{name}' has {n} training rows; an uplift model needs at least "
                f"{MIN_ARM_ROWS} per arm (and thousands to be useful)"
            )
    return Experiment(arms=arms, codes=codes)


def fit_uplift(
    *,
    spec: Spec,
    prep: Prepared,
    X: dict[str, np.ndarray],
    names: list[str],
    threads: int | None = None,
    say: Callable[[str], None] = lambda _msg: None,
) -> UpliftFit:
    """Fit both meta-learners, keep the one with the better validation Qini."""
    treatment = spec.treatment
    assert treatment is not None
    experiment = read_experiment(prep, treatment)
    k = len(experiment.arms)
    codes = {
        part: experiment.codes[idx]
        for part, idx in (("train", prep.train_idx), ("valid", prep.valid_idx))
    }
    y = {"train": prep.y[prep.train_idx], "valid": prep.y[prep.valid_idx]}
    jobs = _jobs(X, y, codes, k)
    total = threads or os.cpu_count() or 1
    n_jobs = max(1, min(len(jobs), total))
    say(f"training S- and T-learners for {k} arm{'s' if k > 1 else ''} ({n_jobs} at a time)")
    boosters = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_fit)(spec=spec, job=job, names=names, threads=max(1, total // n_jobs))
        for job in jobs
    )
    candidates = {
        "s": UpliftModel(
            treatment=treatment, arms=experiment.arms, learner="s", boosters=(boosters[0],)
        ),
        "t": UpliftModel(
            treatment=treatment, arms=experiment.arms, learner="t", boosters=tuple(boosters[1:])
        ),
    }
    selection = {
        name: _mean_qini(model, X["valid"], y["valid"], codes["valid"])
        for name, model in candidates.items()
    }
    best = max(LEARNERS, key=lambda n: -np.inf if np.isnan(selection[n]) else selection[n])
    return UpliftFit(model=candidates[best], experiment=experiment, selection=selection)


_Job = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]


def _jobs(
    X: dict[str, np.ndarray], y: dict[str, np.ndarray], codes: dict[str, np.ndarray], k: int
) -> list[_Job]:
    """(X_train, y_train, X_valid, y_valid, with_arm) of the S-learner on every row, then
    of the T-learner's control and each arm on their own rows."""
    jobs: list[_Job] = [
        (
            _with_arm(X["train"], codes["train"]),
            y["train"],
            _with_arm(X["valid"], codes["valid"]),
            y["valid"],
            True,
        )
    ]
    for j in range(k + 1):
        tr, va = codes["train"] == j, codes["valid"] == j
        jobs.append((X["train"][tr], y["train"][tr], X["valid"][va], y["valid"][va], False))
    return jobs


def _with_arm(X: np.ndarray, codes: np.ndarray) -> np.ndarray:
    return np.hstack([X, codes.astype(np.float64)[:, None]])


def _fit(
    *,
    spec: Spec,
    job: _Job,
    names: list[str],
    threads: int,
) -> lgb.Booster:
    X_train, y_train, X_valid, y_valid, with_arm = job
    params = lgb_params(spec, rows=len(X_train), threads=threads)
    cats = list(range(len(spec.categorical)))
    feature_names = lgb_names([*names, "arm"] if with_arm else names)
    if with_arm:
        cats.append(len(names))  # the arm is a category, not an amount
    dtrain = lgb.Dataset(
        X_train, y_train, feature_name=feature_names, categorical_feature=cats, free_raw_data=True
    )
    callbacks: list[Callable[..., Any]] = []
    valid_sets: list[lgb.Dataset] = []
    # Without validation rows of both outcomes early stopping has nothing to watch.
    if len(X_valid) and len(np.unique(y_valid)) > 1:
        valid_sets = [lgb.Dataset(X_valid, y_valid, reference=dtrain)]
        callbacks = [lgb.early_stopping(_PATIENCE, verbose=False)]
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=_ROUNDS if valid_sets else 200,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )
    best = booster.best_iteration or booster.current_iteration()
    # Kept at its best round, so the artifact's text and the scores agree.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def _mean_qini(model: UpliftModel, X: np.ndarray, y: np.ndarray, codes: np.ndarray) -> float:
    """Mean normalized Qini over the arms, each arm against the control's rows."""
    lift = model.predict_uplift(X, threads=os.cpu_count() or 1)
    values = []
    for j in range(len(model.arms)):
        rows = (codes == 0) | (codes == j + 1)
        treated = (codes[rows] == j + 1).astype(np.float64)
        yj = y[rows]
        perfect = Ranked.by(y=yj, treated=treated, score=perfect_score(yj, treated))
        values.append(normalized_qini(yj, treated, lift[rows, j], perfect=perfect))
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def policy_scores(fit: UpliftFit, X: np.ndarray) -> np.ndarray:
    """What the tier cuts of a [treatment] spec apply to: the best arm's net value."""
    model = fit.model
    _, best_net = model.choose(model.net(model.predict_uplift(X, threads=os.cpu_count() or 1)))
    return best_net


def describe_choice(fit: UpliftFit) -> dict[str, Any]:
    """The learner kept and each candidate's validation Qini, for the metadata."""
    return {
        "learner": fit.model.learner,
        "arms": list(fit.model.arms),
        "validation_qini": {k: (None if np.isnan(v) else v) for k, v in fit.selection.items()},
    }
