"""`tierline drift`: how far the logged decisions' signals have moved from the champion's
training rows (PSI per signal, ``engine.drift``), with an exit code cron can chain on:
0 when every signal is under 0.25 (or there are too few decisions to say), 1 when any
signal is at 0.25 or more, 2 on bad input.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tierline.cli.console import (
    DbOpt,
    JsonOpt,
    ModelsOpt,
    database_url,
    default_models,
    emit_json,
    out,
    parse_date,
)
from tierline.engine.errors import NotFound

__all__ = ["drift"]

_STYLE = {"stable": "green", "watch": "yellow", "act": "bold red"}


def drift(
    since: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="First day of the window, UTC (default: 7 days before its end).",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Last day of the window, included (default: now).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    models: ModelsOpt = None,
    db: DbOpt = None,
) -> None:
    """PSI per signal between the decisions logged in a window (every site and model
    version) and the champion's training rows: below 0.1 stable, from 0.1 watch, from 0.25
    act. Exit 1 when any signal acts, so cron can chain a retrain.

    Example: tierline drift --since 2026-11-01 || tierline retrain --data crm.csv --spec spec.toml
    """
    # Imported here, as in cli.main: `tierline --help` does not load numpy or the store.
    from tierline.engine.drift import drift_report, drift_window, training_profile
    from tierline.engine.registry import Registry
    from tierline.engine.store import Store

    start, end = drift_window(
        since=None if since is None else parse_date(since, "--since"),
        until=None if until is None else parse_date(until, "--until"),
        now=dt.datetime.now(dt.UTC),
    )
    registry = Registry(models or default_models())
    version = registry.champion()
    if version is None:
        raise NotFound(
            f"No champion model in {registry.root}; drift compares the decisions with its "
            f"training rows, so train one first"
        )
    registry.verify(version)
    training = training_profile(registry.metadata(version), version)
    with Store.open(db or database_url()) as store:
        report = drift_report(
            training=training,
            pages=store.logged_decisions(since=start, until=end),
            model_version=version,
            since=start,
            until=end,
        )
    if as_json:
        emit_json({**report, **{k: report[k].isoformat() for k in ("since", "until")}})
    else:
        _print(report)
    if report["band"] == "act":
        raise typer.Exit(1)


def _print(report: dict[str, Any]) -> None:
    window = f"{report['since']:%Y-%m-%d %H:%M} to {report['until']:%Y-%m-%d %H:%M} UTC"
    out.print(
        f"drift of {report['decisions']:,} decision(s) from {window} against the training "
        f"rows of {report['model_version']}",
        markup=False,
    )
    if not report["enough"]:
        out.print(report["message"], markup=False)
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
    out.print(table)
