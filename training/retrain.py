"""Retraining from the store's own outcomes: export, backtest, train, gate, promote.

The spec reads the export's columns (``training.export``): ``[data] id = "decision_id"``,
``time = "decided_at"``, the signals as features, and a target the export labels, such as
``spend_next_90d`` (the horizon comes from the name) or ``converted``. Only decisions
whose target is known train: the horizon's columns stay empty until it has passed.

Before the challenger is trained, the champion's own logged decisions in the window are
scored against what happened (``training.backtest``); the figure goes into the gate's
record next to the challenger's.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tierline.engine.errors import DataError
from tierline.engine.registry import Registry
from tierline.engine.spec import Spec
from tierline.engine.store import Store
from tierline.training import data as data_io
from tierline.training import writing
from tierline.training.backtest import backtest
from tierline.training.export import DECISION_COLUMNS, export_frame
from tierline.training.train import TrainResult, train

__all__ = ["horizon_of", "retrain_from_store"]

_HORIZON = re.compile(r"_next_(\d+)d$")
DEFAULT_HORIZON_DAYS = 90


def horizon_of(spec: Spec, horizon_days: int | None) -> int:
    """The horizon the spec's target needs: ``--horizon-days`` if given, else the N of a
    ``*_next_<N>d`` target, else 90 days; a target naming another N is refused."""
    found = _HORIZON.search(spec.target_column or "")
    if found is None:
        return horizon_days or DEFAULT_HORIZON_DAYS
    named = int(found.group(1))
    if horizon_days is not None and horizon_days != named:
        raise DataError(
            f"The spec's target '{spec.target_column}' is a {named}-day horizon but "
            f"--horizon-days is {horizon_days}; drop the option or change the target"
        )
    return named


def _check_spec(spec: Spec) -> None:
    if spec.id != "decision_id":
        raise DataError(
            f'The store\'s export has one row per decision: set [data] id = "decision_id" '
            f"in the spec (it says '{spec.id}'); see examples/store.toml"
        )
    if spec.target_column in DECISION_COLUMNS:
        raise DataError(
            f"The spec's target '{spec.target_column}' is what was decided, not what happened; "
            f"name an outcome such as spend, converted or spend_next_90d"
        )


def retrain_from_store(
    *,
    store: Store,
    spec: Spec,
    models: str | Path,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    horizon_days: int | None = None,
    playbook_path: str | Path | None = None,
    tolerance: float = 0.01,
    progress: Callable[[str], None] | None = None,
    budget: float | None = None,
    dask: str | None = None,
) -> tuple[TrainResult, dict[str, Any]]:
    """Train on the decisions of ``[since, until)`` whose target is known; returns the
    training result and what the export held. ``dask``: as ``training.train.train``."""
    say = progress or (lambda _m: None)
    _check_spec(spec)
    days = horizon_of(spec, horizon_days)
    say("reading the decision log")
    frame = export_frame(store, since=since, until=until, horizon_days=days, progress=say)
    target = spec.target_column
    if target is None or target not in frame.columns:
        raise DataError(
            f"The spec's target '{target}' is not a column of the store's export; it has "
            f"spend, converted, visits_next_{days}d, spend_next_{days}d and the signals"
        )
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    window = {"decisions": len(frame), "labelled": len(labelled), "horizon_days": days}
    if labelled.empty:
        raise DataError(
            f"None of the {len(frame):,} logged decisions has a known '{target}' yet"
            + (f" (its {days}-day horizon has not passed)" if "_next_" in target else "")
        )
    champion = Registry(models).champion()
    say(f"backtesting {champion or 'no champion'} on its logged decisions")
    checked = backtest(labelled, spec, champion)
    with tempfile.TemporaryDirectory(prefix="tierline-retrain-") as tmp:
        data_path = Path(tmp) / "decision-log.parquet"
        writing.write_table(labelled, data_path)
        result = train(
            data_path=data_path,
            spec=spec,
            models=models,
            playbook_path=playbook_path,
            promote="auto",
            tolerance=tolerance,
            progress=say,
            backtest=checked,
            budget=budget,
            dask=dask,
        )
    return result, window


def unchanged_version(
    *, models: str | Path, data_path: str | Path, spec: Spec, playbook_path: str | Path | None
) -> str | None:
    """The newest version if it was trained on these very bytes with this spec and playbook
    (a cron retrain on unchanged data then writes nothing), else None."""
    import json

    from tierline.engine.playbook import Playbook

    registry = Registry(models)
    versions = registry.versions() if Path(models).is_dir() else []
    if not versions:
        return None
    newest = versions[-1]
    meta = registry.metadata(newest)
    if meta.get("data", {}).get("sha256") != data_io.data_fingerprint(data_path):
        return None
    same_spec = json.dumps(meta.get("spec"), sort_keys=True) == json.dumps(
        json.loads(json.dumps(spec.to_dict())), sort_keys=True
    )
    playbook = (
        Playbook.load(playbook_path, tiers=spec.tiers)
        if playbook_path is not None
        else Playbook.default(tiers=spec.tiers)
    )
    kept = (registry.root / newest / "playbook.toml").read_text(encoding="utf-8")
    return newest if same_spec and kept == playbook.text else None
