"""`tierline uplift-report`: treated against holdout per tier and per perk, from the
store's decision log (``engine.uplift``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Column, Table

from tierline.cli.console import JsonOpt, database_url, emit_json, out
from tierline.cli.export import parse_moment

__all__ = ["uplift_report"]


def uplift_report(
    since: Annotated[
        str | None, typer.Option(help="First day (or time) of decisions, UTC; default all.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day of decisions (included), or a time (excluded).")
    ] = None,
    site: Annotated[str | None, typer.Option(help="One site only; default every site.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Measured uplift: per tier and per perk, treated against holdout customers (the
    first decision of each customer in the window), conversion rate and spend per
    customer, the difference with its 95 % interval, and the net value after the perks'
    cost; "not enough data yet" under 30 customers in either arm. Reads the store from
    TIERLINE_DATABASE_URL.

    Example: tierline uplift-report --since 2026-09-01 --until 2026-11-30
    """
    from tierline.engine.store import Store
    from tierline.engine.uplift import measure_uplift

    start = parse_moment(since, "--since")
    end = parse_moment(until, "--until", end_of_day=True)
    if start is not None and end is not None and start >= end:
        raise typer.BadParameter(f"--until {until} is not after --since {since}")
    with Store.open(database_url()) as store:
        report = measure_uplift(store, site=site, since=start, until=end)
    window = {
        k: None if t is None else t.isoformat() for k, t in (("since", start), ("until", end))
    }
    report = {"site": site, **window, **report}
    if as_json:
        emit_json(report)
        return
    out.print(_table(report))
    out.print(
        f"{report['customers']:,} customers (first decision each; "
        f"{report['anonymous_decisions']:,} anonymous decisions left out: never held out). "
        f"Each arm needs {report['min_customers']} customers before any figure. "
        "Converted: share of customers; spend: per customer; difference: treated minus "
        "holdout; net: the spend difference minus the perks' cost per treated customer.",
        markup=False,
    )


def _table(report: dict[str, Any]) -> Table:
    """A block of rows per tier and per perk: customers, then each measure treated and
    holdout, and the difference with its interval (narrow enough for a terminal)."""
    table = Table(
        "tier",
        "perk",
        "",
        Column("treated", justify="right"),
        Column("holdout", justify="right"),
        "difference [95 % interval]",
        title="Measured uplift",
        box=box.SIMPLE_HEAD,
    )
    for row in report["rows"]:
        treated, held = row["treated"], row["holdout"]
        counts = (f"{treated['customers']:,}", f"{held['customers']:,}")
        name = (row["tier"], row["perk"] or "(all)")
        if not row["enough_data"]:
            table.add_row(*name, "customers", *counts, "not enough data yet", end_section=True)
            continue
        table.add_row(*name, "customers", *counts, "")
        table.add_row(
            "",
            "",
            "converted",
            f"{treated['conversion_rate']:.1%}",
            f"{held['conversion_rate']:.1%}",
            _interval(row["conversion_difference"], "{:+.1%}"),
        )
        table.add_row(
            "",
            "",
            "spend",
            f"{treated['spend_per_customer']:.2f}",
            f"{held['spend_per_customer']:.2f}",
            _interval(row["spend_difference"], "{:+.2f}"),
        )
        table.add_row(
            "",
            "",
            f"net of {row['cost_per_customer']:.2f}",
            "",
            "",
            _interval(row["net_value"], "{:+.2f}"),
            end_section=True,
        )
    return table


def _interval(value: dict[str, float], form: str) -> str:
    low, high = form.format(value["low"]), form.format(value["high"])
    return f"{form.format(value['estimate'])} [{low}, {high}]"
