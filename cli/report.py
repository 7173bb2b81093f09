"""`tierline report`: a model version's report as one self-contained HTML file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from tierline.cli.console import DbOpt, ModelsOpt, database_url, default_models, out

__all__ = ["report"]


def report(
    out_path: Annotated[
        Path, typer.Option("--out", help="HTML file to write (replaced atomically).")
    ],
    models: ModelsOpt = None,
    version: Annotated[
        str | None, typer.Argument(help="Model version (default: the champion).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Write a model version's report (one HTML file, charts inline, nothing fetched).

    Metrics, the gate, tier mix, gains, fit, importance, fairness, and drift of the last
    seven days of logged decisions against the version's training rows; prints the path.

    Example: tierline report v0003 --out report.html
    """
    # Imported here, as in cli.main: `tierline --help` stays quick.
    from tierline.engine.registry import Registry
    from tierline.training.report import build_report, write_report

    registry = Registry(models or default_models())
    name = version or registry.champion()
    drift = _drift(registry, name, db or database_url()) if name else None
    _, html = build_report(models=registry.root, version=version, drift=drift)
    write_report(html, out_path)
    out.print(str(out_path), markup=False)


def _drift(registry: Any, version: str, url: str) -> list[dict[str, Any]] | str:
    """The drift rows of the default window, or why there are none (no log, no profile)."""
    from tierline.engine.drift import drift_report, drift_window, training_profile
    from tierline.engine.errors import TierlineError
    from tierline.engine.store import Store

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return f"no decision log at {url}: the drift table needs the store the server writes"
    try:
        training = training_profile(registry.metadata(version), version)
        start, end = drift_window(since=None, until=None, now=dt.datetime.now(dt.UTC))
        with Store.open(url) as store:
            found = drift_report(
                training=training,
                pages=store.logged_decisions(since=start, until=end),
                model_version=version,
                since=start,
                until=end,
            )
    except TierlineError as exc:
        return str(exc)
    rows: list[dict[str, Any]] = found["signals"]
    return rows if found["enough"] else str(found["message"])
