"""`tierline perks`: perk stock and budgets, listed and restocked (audited)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from tierline.cli.console import JsonOpt, actor, out
from tierline.cli.console import database_url as _database_url
from tierline.cli.console import emit_json as _emit_json

# -- perks -------------------------------------------------------------------------------
perks_app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    help="Perk stock and budgets: list them, restock (audited).",
    no_args_is_help=True,
)


@perks_app.command("list")
def perks_list(as_json: JsonOpt = False) -> None:
    """List perks: stock left, daily budget, what the playbook declared, today's use (UTC)."""
    from tierline.engine.store import Store

    with Store.open(_database_url()) as store:
        perks = store.list_perks(day=dt.datetime.now(dt.UTC).date())
    if as_json:
        _emit_json(perks)
        return
    table = Table("perk", "stock", "daily budget", "declared", "issued today", "spent today")
    for p in perks:
        table.add_row(
            p["name"],
            _or_none(p["stock"], "unlimited"),
            _or_none(p["daily_budget"], "none"),
            f"{_or_none(p['declared_stock'], 'unlimited')} / "
            f"{_or_none(p['declared_budget'], 'none')}",
            str(p["issued"]),
            str(p["spent"]),
        )
    out.print(table)


def _or_none(value: object, none: str) -> str:
    return none if value is None else str(value)


@perks_app.command("set")
def perks_set(
    name: Annotated[str, typer.Argument(help="The perk's name (perks list).")],
    stock: Annotated[int, typer.Option("--stock", min=0, help="Units in stock from now.")],
    budget: Annotated[
        float | None,
        typer.Option("--budget", min=0, help="Daily budget (money); left as it is if omitted."),
    ] = None,
) -> None:
    """Restock a perk (and set its daily budget); audited. A later start or model swap keeps
    it until the playbook declares another stock or budget.

    Example: tierline perks set coffee --stock 200 --budget 150
    """
    from tierline.engine.store import Store
    from tierline.engine.store.perks import KEEP

    with Store.open(_database_url()) as store:
        perk = store.set_perk(
            name, stock=stock, daily_budget=KEEP if budget is None else budget, actor=actor()
        )
    out.print(
        f"perk {perk['name']}: stock {perk['stock']}, daily budget "
        f"{_or_none(perk['daily_budget'], 'none')}",
        markup=False,
    )
