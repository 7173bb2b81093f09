"""A trained version as the registry writes it: the winner's model file, and the metadata
that keeps its provenance (the data's fingerprint, the spec, the split, the libraries'
versions, the git revision) next to the model search, the assessment and the gate's record.
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn

from tierline.engine.drift import profile as drift_profile
from tierline.engine.linear import LinearModel
from tierline.engine.spec import Spec
from tierline.training.assessment import Assessment
from tierline.training.booster import lgb_params
from tierline.training.candidates import Candidate
from tierline.training.distributed import DASK_ROUNDS
from tierline.training.honest import training_ids
from tierline.training.prepare import Prepared
from tierline.training.selection import Selection

__all__ = ["model_file", "version_metadata"]


def model_file(winner: Candidate) -> dict[str, Any]:
    """The winner as the registry stores it: LightGBM's text or the linear JSON."""
    if isinstance(winner.model, LinearModel):
        return {"linear": winner.model.to_json()}
    assert isinstance(winner.model, lgb.Booster)
    return {"booster_text": winner.model.model_to_string(num_iteration=winner.best_iteration)}


def version_metadata(
    *,
    started: dt.datetime,
    spec: Spec,
    data: dict[str, Any],
    prep: Prepared,
    selection: Selection,
    assessment: Assessment,
    gate: dict[str, Any],
    on_dask: bool,
) -> dict[str, Any]:
    """The version's metadata; ``data`` names the file, its digest and its rows."""
    frame = prep.frame
    metadata = {
        "created": started.isoformat(timespec="seconds"),
        "spec": spec.to_dict(),
        "data": data,
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
            "best_iteration": selection.winner.best_iteration,
            **({"dask": {"rounds": DASK_ROUNDS}} if on_dask else {}),
        },
        "selection": selection.summary(),
        "calibration": assessment.calibration,
        "training_ids": training_ids(
            _ids(frame, spec, np.concatenate([prep.train_idx, prep.valid_idx]))
        ),
        "metrics": assessment.metrics,
        "baselines": assessment.baselines,
        "btyd": prep.btyd,
        "gate": gate,
        # Each input's distribution over the training rows, what `tierline drift` compares
        # the logged decisions' signals with.
        "drift": drift_profile(frame, spec, rows=prep.train_idx),
        "fairness": assessment.fairness,
        "report": assessment.figures,
        "versions": {
            "python": platform.python_version(),
            "lightgbm": lgb.__version__,
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
        "git_revision": _git_revision(),
    }
    if assessment.uplift_figures is not None:
        metadata["uplift"] = assessment.uplift_figures
    return metadata


def _ids(frame: pd.DataFrame, spec: Spec, rows: np.ndarray) -> list[Any]:
    values = frame[spec.id] if spec.id in frame.columns else frame.index.to_series()
    return [str(v) for v in values.iloc[rows]]


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
