"""The winner of the model search made into a tier model and measured: its probabilities
calibrated on the validation slice, its tier cuts frozen on the training rows, and its
tiers measured on the held-out customers next to the baselines, with the fairness checks,
an uplift model's figures ([treatment] specs) and the report that says all of it.

The measures themselves are ``training.evaluate``'s, ``training.baselines``',
``training.fairness``' and ``training.uplift_report``'s; this module puts them together in
the order training needs them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tierline.engine.linear import LinearModel
from tierline.engine.playbook import Playbook
from tierline.engine.spec import Spec
from tierline.engine.tiers import TierPolicy
from tierline.training.baselines import fit_baselines
from tierline.training.calibrate import fit_calibration, reliability
from tierline.training.candidates import Candidate
from tierline.training.evaluate import (
    format_calibration,
    format_interval,
    format_report,
    format_selection,
    measure,
)
from tierline.training.fairness import assess as assess_fairness
from tierline.training.fairness import format_fairness, record_override
from tierline.training.figures import feature_importance, linear_importance, report_figures
from tierline.training.honest import interval
from tierline.training.prepare import Prepared
from tierline.training.selection import Selection

if TYPE_CHECKING:
    from tierline.training.uplift import UpliftFit

__all__ = ["Assessment", "assess"]


@dataclass
class Assessment:
    """The tier model around the winner and what the held-out customers say of it."""

    policy: TierPolicy  # calibrated, its cuts frozen
    calibration: dict[str, Any]  # the method, its parameters, reliability before and after
    metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    fairness: dict[str, Any]
    report: str
    figures: dict[str, Any]  # the report's figures (``training.figures``)
    test_frame: pd.DataFrame
    y_test: np.ndarray  # the held-out customers' labels (tier names for a class target)
    uplift: UpliftFit | None = None
    uplift_figures: dict[str, Any] | None = None


def assess(
    *,
    spec: Spec,
    prep: Prepared,
    X: dict[str, np.ndarray],
    names: list[str],
    selection: Selection,
    playbook: Playbook,
    promote: str,
    reason: str | None,
    threads: int | None,
    say: Callable[[str], None],
) -> Assessment:
    """Calibrate, cut and measure the winner; with ``promote`` ``always``, a fairness
    refusal is recorded as overridden for ``reason``."""
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
    test_frame = prep.frame.iloc[prep.test_idx]
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
    report = _report(
        spec=spec,
        held_out=len(prep.test_idx),
        metrics=metrics,
        baselines=baselines,
        playbook=playbook,
        selection=selection,
        calibrated=calibrated,
        fairness=fairness,
    )
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
    figures = report_figures(
        spec=spec,
        y_true=y_test,
        tier_pred=decided["tier"],
        scores=test_scores,
        baseline_scores=baseline_scores,
        importance=_importance(selection.winner, X["test"], names),
    )
    return Assessment(
        policy=policy,
        calibration=calibrated,
        metrics=metrics,
        baselines=baselines,
        fairness=fairness,
        report=report,
        figures=figures,
        test_frame=test_frame,
        y_test=y_test,
        uplift=uplift,
        uplift_figures=uplift_figures,
    )


def _report(
    *,
    spec: Spec,
    held_out: int,
    metrics: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    playbook: Playbook,
    selection: Selection,
    calibrated: dict[str, Any],
    fairness: dict[str, Any],
) -> str:
    """The report's text: the measures next to the baselines, then the model search,
    the calibration and the fairness checks."""
    report = format_report(kind=spec.target_kind, metrics=metrics, baselines=baselines)
    report += "\n" + format_interval(metrics, rows=held_out)
    if playbook.generic_tiers:
        report += (
            f"\nwarning: the shipped playbook has no cues for "
            f"{', '.join(playbook.generic_tiers)}; staff get a generic cue for them until a "
            f"playbook (--playbook) says what to do"
        )
    report += "\n" + format_selection(selection.summary())
    report += "\n" + format_calibration(calibrated)
    report += "\n\n" + format_fairness(fairness)
    return report


def _importance(winner: Candidate, X: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    if isinstance(winner.model, LinearModel):
        return linear_importance(winner.model, X, names)
    assert isinstance(winner.model, lgb.Booster)
    return feature_importance(winner.model, names, iteration=winner.best_iteration or 0)
