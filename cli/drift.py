"""`tierline drift`: how far the logged decisions' signals have moved from the champion's
training rows (PSI per signal, ``engine.drift``), with an exit code cron can chain on:
0 when every signal is under 0.25 (or there are too few decisions to say), 1 when any
signal is at 0.25 or more, 2 on bad input.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tierline.engine.errors import NotFound

__all__ = ["drift"]

_out = Console(highlight=False, soft_wrap=True)
_STYLE = {"stable": "green", "watch": "yellow", "act": "bold red"}


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date like 2026-06-30", param_hint=option
        ) from None


def drift(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="First day of the window, YYYY-MM-DD, UTC (default: 7 days before --until).",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="DATE",
            help="The day the window stops before, YYYY-MM-DD, UTC (default: now).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    models: Annotated[
        Path,
        typer.Option(
            "--models", envvar="TIERLINE_MODELS", help="Model registry folder ($TIERLINE_MODELS)."
        ),
    ] = Path("models"),
    db: Annotated[
        str,
        typer.Option(
            "--db", envvar="TIERLINE_DATABASE_URL", help="The store ($TIERLINE_DATABASE_URL)."
        ),
    ] = "sqlite:///var/tierline.db",
) -> None:
    """PSI per signal between the decisions logged in a window (every site and model
    version) and the champion's training rows: below 0.1 stable, from 0.1 watch, from 0.25
    act. Exit 1 when any signal acts, so cron can chain a retrain.

    Example: tierline drift --since 2026-11-01 || tierline retrain --data crm.csv --spec spec.toml
    """
    # Imported here: `tierline --help` does not load numpy, pandas or the store.
    from tierline.engine.drift import drift_report, drift_window, training_profile
    from tierline.engine.registry import Registry
    from tierline.engine.store import Store

    start, end = drift_window(
        since=_date(since, "--since"), until=_date(until, "--until"), now=dt.datetime.now(dt.UTC)
    )
    registry = Registry(models)
    version = registry.champion()
    if version is None:
        raise NotFound(
            f"No champion model in {registry.root}; drift compares the decisions with its "
            f"training rows, so train one first"
        )
    registry.verify(version)
    training = training_profile(registry.metadata(version), version)
    with Store.open(db) as store:
        report = drift_report(
            training=training,
            pages=store.logged_decisions(since=start, until=end),
            model_version=version,
            since=start,
            until=end,
        )
    if as_json:
        window = {k: report[k].isoformat() for k in ("since", "until")}
        sys.stdout.write(json.dumps({**report, **window}) + "\n")
    else:
        _print(report)
    if report["band"] == "act":
        raise typer.Exit(1)


def _print(report: dict[str, Any]) -> None:
    window = f"{report['since']:%Y-%m-%d %H:%M} to {report['until']:%Y-%m-%d %H:%M} UTC"
    _out.print(
        f"drift of {report['decisions']:,} decision(s) from {window} against the training "
        f"rows of {report['model_version']}",
        markup=False,
    )
    if not report["enough"]:
        _out.print(report["message"], markup=False)
        return
    table = Table("signal", "PSI", "band", "missing (window / training)")
    for s in report["signals"]:
        style = _STYLE[s["band"]]
        table.add_row(
            escape(s["signal"]),
            f"{s['psi']:.3f}",
            f"[{style}]{s['band']}[/{style}]",
            f"{s['missing_share']:.1%} / {s['training_missing_share']:.1%}",
        )
    _out.print(table)
