"""`tierline export`: the decision log as a training table (``training.export``)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from tierline.cli.console import JsonOpt, QuietOpt, database_url, emit_json, err, steps

__all__ = ["export", "parse_moment"]


def parse_moment(text: str | None, option: str, *, end_of_day: bool = False) -> dt.datetime | None:
    """A date (midnight UTC; with ``end_of_day`` the next midnight, so the day is included)
    or an ISO time (UTC when it names no zone)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return moment + dt.timedelta(days=1) if end_of_day else moment
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date like 2026-06-30 or a time like 2026-06-30T18:00",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def export(
    out: Annotated[Path, typer.Option("--out", help="CSV, .csv.gz or Parquet file to write.")],
    since: Annotated[
        str | None, typer.Option(help="First day (or time) of decisions, UTC; default all.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day of decisions (included), or a time (excluded).")
    ] = None,
    horizon_days: Annotated[
        int,
        typer.Option(
            "--horizon-days", min=1, help="Days after each decision counted as its future."
        ),
    ] = 90,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write one row per logged decision: its fields, its signals, and what happened after
    it (spend, converted, visits_next_<N>d, spend_next_<N>d; the horizon's columns are empty
    until N days have passed). Reads the store from TIERLINE_DATABASE_URL.

    Example: tierline export --out decisions.parquet --since 2026-01-01 --horizon-days 90
    """
    from tierline.engine.store import Store
    from tierline.training.export import export as run_export
    from tierline.training.writing import check_output_path

    start = parse_moment(since, "--since")
    end = parse_moment(until, "--until", end_of_day=True)
    if start is not None and end is not None and start >= end:
        raise typer.BadParameter(f"--until {until} is not after --since {since}")
    check_output_path(out)
    t0 = time.perf_counter()
    with steps(quiet or as_json) as say, Store.open(database_url()) as store:
        say("reading the decision log")
        summary = run_export(
            store, out, since=start, until=end, horizon_days=horizon_days, progress=say
        )
    summary = {**summary, "out": str(out), "seconds": round(time.perf_counter() - t0, 2)}
    if as_json:
        emit_json(summary)
    elif not quiet:
        err.print(
            f"exported {summary['rows']:,} decisions ({summary['with_result']:,} with a result, "
            f"{summary['matured']:,} past the {horizon_days}-day horizon) -> {out}",
            markup=False,
        )
