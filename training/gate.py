"""The promotion gate: a challenger is promoted only if it is not worse than the champion.

Both are measured on the challenger's held-out customers with the target's headline metric
(``training.evaluate.PRIMARY``); ``compare`` applies the tolerance. The outcomes, each with
a ``why`` for a person:

* no champion yet: promoted;
* the champion cannot be loaded (tampered, files missing, the pointer names a missing
  version): promoted, since there is nothing to compare with and a verified version
  repairs the pointer;
* the champion predicts another target kind, gives other tiers or reads columns the new
  data does not hold: refused, naming the difference (``--promote always`` overrides);
* otherwise ``compare`` decides.

Whatever the champion, fewer than ``training.honest.MIN_HELD_OUT`` held-out customers refuse
auto-promotion (``held_out_floor``). ``promote_action`` words the registry history's line
for a promotion.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.errors import ArtifactError, NotFound
from tierline.engine.model import TierModel
from tierline.engine.registry import Registry
from tierline.engine.spec import Spec
from tierline.training.btyd import BtydFit
from tierline.training.evaluate import PRIMARY, measure_scored
from tierline.training.honest import MIN_HELD_OUT

__all__ = ["compare", "gate", "held_out_floor", "promote_action"]

# Float subtraction can land a hair past an exact tie (0.8 - 0.1 > 0.7); no real metric
# difference is this small.
_SLACK = 1e-9
_OVERRIDE = "use --promote always to promote it anyway"


def compare(
    *, metric: str, challenger: float | None, champion: float | None, tolerance: float
) -> tuple[bool, str]:
    """Whether the challenger may replace the champion on ``metric`` (higher is better), and why.

    Promoted when it is worse by at most ``tolerance``, the boundary included.
    """
    if challenger is None or not math.isfinite(challenger):
        return False, (
            f"the new version's {metric} cannot be measured on its held-out customers "
            f"({challenger}); {_OVERRIDE}"
        )
    if champion is None or not math.isfinite(champion):
        return True, (
            f"the champion's {metric} cannot be measured on these customers ({champion}), "
            f"so it cannot hold the new version back"
        )
    worse_by = champion - challenger
    figures = f"{metric} {challenger:.4f} against the champion's {champion:.4f}"
    if worse_by <= 0:
        return True, f"not worse than the champion ({figures})"
    if worse_by <= tolerance + _SLACK:
        return (
            True,
            f"worse than the champion by {worse_by:.4f}, within the tolerance {tolerance:g} ({figures})",
        )
    return False, (
        f"worse than the champion by {worse_by:.4f}, more than the tolerance {tolerance:g} "
        f"({figures}); {_OVERRIDE}"
    )


def _mismatch(champion: Spec, spec: Spec, columns: Iterable[str]) -> str | None:
    """What makes the champion incomparable with the challenger, or None."""
    if champion.target_kind != spec.target_kind:
        return (
            f"the champion predicts a {champion.target_kind} target and the new version "
            f"a {spec.target_kind} target"
        )
    # The metric is computed per tier name, so only the set matters, not the display order.
    if set(champion.tiers) != set(spec.tiers):
        return (
            f"the champion gives the tiers {', '.join(champion.tiers)} and the new version "
            f"{', '.join(spec.tiers)}"
        )
    present = set(columns)
    needed = dict.fromkeys(champion.feature_columns + champion.rule_columns)
    missing = [c for c in needed if c not in present]
    if missing:
        return (
            f"the champion reads {', '.join(repr(c) for c in missing)}, which the new "
            f"version's data does not hold"
        )
    return None


def _with_champion_btyd(champion: TierModel, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with the champion's own BG/NBD expectations: they hold the challenger's,
    from parameters fitted on newer history, which the champion was not trained with."""
    fit = BtydFit.of_model(champion.metadata, list(champion.features.feature_names_out_))
    return frame if fit is None else fit.applied(frame)


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
        "champion": None,
    }
    champion_name = registry.champion()
    if champion_name is None:
        result.update(passed=True, why="no champion yet")
        return result
    result["champion_version"] = champion_name
    try:
        champion = registry.load(champion_name)
    except (ArtifactError, NotFound) as exc:
        result.update(
            passed=True,
            why=f"the champion {champion_name} cannot be loaded, so there is nothing to "
            f"compare with ({exc})",
        )
        return result
    mismatch = _mismatch(champion.spec, spec, test_frame.columns)
    if mismatch is not None:
        result.update(passed=False, why=f"{mismatch}, so they cannot be compared; {_OVERRIDE}")
        return result
    try:
        test_frame = _with_champion_btyd(champion, test_frame)
    except ArtifactError as exc:
        result.update(passed=True, why=f"the champion {champion_name} cannot score ({exc})")
        return result
    measured = measure_scored(spec, scored=champion.score_frame(test_frame), y_true=y_test)
    result["champion"] = measured.get(metric)
    passed, why = compare(
        metric=metric,
        challenger=result["challenger"],
        champion=result["champion"],
        tolerance=tolerance,
    )
    result.update(passed=passed, why=why)
    return result


def held_out_floor(gate: dict[str, Any], rows: int) -> None:
    """Too few held-out customers to trust any figure: auto-promotion is refused."""
    gate["held_out"] = {"rows": rows, "min": MIN_HELD_OUT}
    if rows < MIN_HELD_OUT and gate.get("passed"):
        gate["passed"] = False
        gate["why"] = (
            f"only {rows} held-out customers (fewer than {MIN_HELD_OUT}): too few to trust "
            f"its figures; add labelled customers or use --promote always"
        )


def promote_action(promote: str, reason: str | None, fairness: dict[str, Any]) -> str:
    """The registry history's action: how the version came to be promoted, and why."""
    if promote == "auto":
        return "auto-promote"
    if "override" in fairness:
        return f"promote over the fairness gate: {fairness['override']['reason']}"
    return f"promote: {reason}" if reason else "promote"
