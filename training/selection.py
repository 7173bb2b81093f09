"""Model selection: a few candidates fitted on the training rows, the best on the validation
slice serves (the candidates and their fits: ``training.candidates``).

With a ``time`` column the validation slice is the newest part of the training period
(``training.prepare``), so a candidate wins by doing well on the customers closest to
those it will serve, which is where a shifted market shows.

The candidates after the first are fitted in parallel with joblib (threads: LightGBM and
the linear solvers release the GIL), each on a share of the cores; under
``joblib.parallel_config(backend="dask")`` they run on a Dask cluster instead. With
``--dask`` the tree candidates boost one after another with ``lightgbm.dask``, each over
every worker of the cluster (``training.distributed``). The other
candidates start only while ``budget`` seconds have not gone (default: twice the first
candidate's time), and a tree candidate still boosting when the budget runs out stops
there: it is measured and may win with the rounds it has (the report marks it). The
linear candidates are fitted on a sample and end well within any budget.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import lightgbm as lgb
import numpy as np
from joblib import Parallel, delayed
from scipy.stats import spearmanr
from sklearn.metrics import f1_score, roc_auc_score

from tierline.engine.linear import LinearModel
from tierline.engine.spec import Spec
from tierline.training.candidates import (
    BTYD_CANDIDATE,
    CANDIDATES,
    Candidate,
    fit_btyd,
    fit_linear,
    fit_tree,
    fit_tree_dask,
    monotone_directions,
    tree_settings,
)

__all__ = ["Selection", "select"]


@dataclass
class Selection:
    winner: Candidate
    candidates: list[Candidate]
    skipped: list[str]
    metric: str
    budget: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        return predict(self.winner, X)

    def scores(self, part: str) -> np.ndarray:
        """The winner's predictions on the ``valid`` or ``test`` rows, as measured."""
        return self.winner.scores[part]

    def summary(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "winner": self.winner.name,
            "budget_seconds": round(self.budget, 2),
            "candidates": [c.summary() for c in self.candidates],
            "skipped": self.skipped,
        }


def predict(candidate: Candidate, X: np.ndarray) -> np.ndarray:
    model = candidate.model
    if isinstance(model, LinearModel):
        return model.predict(X)
    assert model is not None
    return np.asarray(model.predict(X, num_iteration=candidate.best_iteration))


def select(
    *,
    spec: Spec,
    params: dict[str, Any],
    X: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    names: list[str],
    lgb_names: list[str],
    budget: float | None = None,
    threads: int | None = None,
    say: Any = None,
    client: Any = None,
) -> Selection:
    """Fit the candidates, measure each on the validation and test rows, pick the best on
    validation (ties go to the earlier candidate). With a Dask ``client`` the tree
    candidates boost on its cluster, one after another (``training.distributed``)."""
    from tierline.training.evaluate import PRIMARY

    cores = threads or os.cpu_count() or 1
    settings = tree_settings(len(X["train"]), X["train"].shape[1])
    monotone = monotone_directions(spec, names)

    deadline: float | None = None  # set once the first candidate has shown how long a fit takes

    def fit(name: str, threads: int) -> Candidate:
        if name == "linear":
            return fit_linear(spec, X, y, names)
        if client is not None:
            return fit_tree_dask(
                client, name, params, settings[name], monotone, X, y, spec, lgb_names
            )
        return fit_tree(
            name, params, settings[name], monotone, X, y, spec, lgb_names, threads, deadline
        )

    classic = fit_btyd(spec, X, y, names)
    started = time.perf_counter()
    first = _run("lightgbm", partial(fit, "lightgbm", cores))
    limit = budget if budget is not None else 2.0 * max(first.seconds, 1.0)
    deadline = started + limit
    rest = [n for n in CANDIDATES if n != "lightgbm"]
    done: list[Candidate] = [first]
    skipped: list[str] = []
    if rest and time.perf_counter() - started < limit:
        jobs = 1 if client is not None else min(len(rest), cores)
        if say:
            where = "on the Dask cluster" if client is not None else f"on {jobs} workers"
            say(f"trying {len(rest)} more candidates {where}")
        fitted = Parallel(n_jobs=jobs, prefer="threads")(
            delayed(_start)(name, partial(fit, name, max(1, cores // jobs)), deadline)
            for name in rest
        )
        done += [c for c in fitted if c is not None]
        skipped = [name for name, c in zip(rest, fitted, strict=True) if c is None]
    else:
        skipped = rest
    if classic is not None:
        done.append(classic)
    kind = spec.target_kind
    for cand in done:
        if cand.model is None:
            continue
        cand.scores = {
            part: cand.scores[part] if part in cand.scores else predict(cand, X[part])
            for part in ("valid", "test")
        }
        cand.valid = _metric(kind, y["valid"], cand.scores["valid"])
        cand.test = _metric(kind, y["test"], cand.scores["test"])
    usable = [c for c in done if c.model is not None and c.valid is not None]
    order = (*CANDIDATES, BTYD_CANDIDATE)
    winner = max(usable, key=lambda c: (c.valid, -order.index(c.name)))
    for cand in done:
        if cand is not winner:
            cand.scores = {}  # only the winner's are read again
    return Selection(
        winner=winner, candidates=done, skipped=skipped, metric=PRIMARY[kind], budget=limit
    )


def _start(name: str, fit: Callable[[], Candidate], deadline: float) -> Candidate | None:
    """A candidate whose turn comes after the deadline is not tried (None)."""
    return None if time.perf_counter() >= deadline else _run(name, fit)


def _run(name: str, fit: Callable[[], Candidate]) -> Candidate:
    """A candidate that fails to fit is reported with its error, not fatal: others serve."""
    t0 = time.perf_counter()
    try:
        cand = fit()
    except (lgb.basic.LightGBMError, ValueError, np.linalg.LinAlgError) as exc:
        cand = Candidate(name=name, model=None, error=f"{type(exc).__name__}: {exc}")
    cand.seconds = time.perf_counter() - t0
    return cand


def _metric(kind: str, y: np.ndarray, scores: np.ndarray) -> float | None:
    """The headline metric from scores alone (class: macro-F1 of the likeliest tier)."""
    try:
        if kind == "binary":
            return float(roc_auc_score(y, scores)) if len(np.unique(y)) > 1 else None
        if kind == "value":
            value = spearmanr(y, scores).statistic
            return None if not np.isfinite(value) else float(value)
        return float(f1_score(y.astype(np.int64), np.argmax(scores, axis=1), average="macro"))
    except ValueError:
        return None
