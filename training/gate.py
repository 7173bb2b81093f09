"""The promotion gate: a challenger is promoted only if it is not worse than the champion.

Both are measured on the challenger's held-out customers with the target's headline metric
(``training.evaluate.PRIMARY``). A champion that predicts another target or reads other
columns cannot be compared, so the gate refuses and says to use ``--promote always``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.registry import Registry
from engine.spec import Spec
from training.evaluate import PRIMARY, measure_scored

__all__ = ["gate"]


def gate(
    *,
    registry: Registry,
    spec: Spec,
    challenger: dict[str, Any],
    test_frame: pd.DataFrame,
    y_test: np.ndarray,
    tolerance: float,
) -> dict[str, Any]:
    """Compare the challenger with the champion on the challenger's held-out rows."""
    metric = PRIMARY[spec.target_kind]
    result: dict[str, Any] = {
        "metric": metric,
        "challenger": challenger.get(metric),
        "tolerance": tolerance,
    }
    champion_name = registry.champion()
    if champion_name is None:
        result.update(champion=None, passed=True, why="no champion yet")
        return result
    result["champion_version"] = champion_name
    try:
        champion = registry.load(champion_name)
    except Exception as exc:  # a broken champion must not block a good challenger
        result.update(champion=None, passed=True, why=f"the champion cannot be loaded ({exc})")
        return result
    cspec = champion.spec
    needed = set(cspec.feature_columns) | set(cspec.rule_columns)
    if (
        cspec.target_kind != spec.target_kind
        or cspec.tiers != spec.tiers
        or not needed <= set(test_frame.columns)
    ):
        result.update(
            champion=None,
            passed=False,
            why="the champion predicts a different target or reads other columns; use --promote always",
        )
        return result
    m = measure_scored(spec, scored=champion.score_frame(test_frame), y_true=y_test)
    result["champion"] = m.get(metric)
    passed = (
        result["challenger"] is not None and result["challenger"] >= m.get(metric, 0.0) - tolerance
    )
    result.update(
        passed=bool(passed),
        why="not worse than the champion"
        if passed
        else "worse than the champion by more than the tolerance",
    )
    return result
