"""`tierline customers`: erase a customer, and prune old decision and visit signals.

Both read the store from ``TIERLINE_DATABASE_URL`` and the retention from
``TIERLINE_RETENTION_DAYS``, as the server does (``api.settings``).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tierline.engine.errors import TierlineError

if TYPE_CHECKING:
    from tierline.api.settings import Settings

__all__ = ["customers_app"]

customers_app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    help="Erase a customer; prune decision and visit signals past the retention.",
    no_args_is_help=True,
)
_out = Console(highlight=False, soft_wrap=True)


def _settings() -> Settings:
    # Imported here, as in cli.main: `tierline --help` does not load pydantic or the store.
    from pydantic import ValidationError

    from tierline.api.settings import Settings

    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "TIERLINE_" + "_".join(str(p) for p in first["loc"]).upper()
        raise TierlineError(f"{name}: {first['msg']}; fix or unset it") from None


@customers_app.command("erase")
def erase(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="The counts as JSON on stdout.")] = False,
) -> None:
    """Erase a customer: the profile goes; decisions, visits and outcomes keep their figures
    but lose the id and personal signals. Audited as "cli"; an unknown id exits 2.

    Example: tierline customers erase 00000042
    """
    from tierline.engine.store import Store

    with Store.open(_settings().database_url) as store:
        erased = store.erase_customer(customer_id, actor="cli")
    if as_json:
        sys.stdout.write(json.dumps(erased) + "\n")
        return
    _out.print(
        f"erased: profile {'deleted' if erased['profile'] else 'not stored'}, "
        f"{erased['decisions']} decision(s), {erased['visits']} visit(s) and "
        f"{erased['outcomes']} outcome(s) scrubbed"
    )


@customers_app.command("prune")
def prune(
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, help="Retention in days (default: $TIERLINE_RETENTION_DAYS)."
        ),
    ] = None,
) -> None:
    """Scrub the signals of decisions and visits older than the retention (figures and ids
    stay). A running server does this itself when TIERLINE_RETENTION_DAYS is set.

    Example: tierline customers prune --days 365
    """
    from tierline.engine.store import Store
    from tierline.engine.store.database import utcnow

    settings = _settings()
    days = days or settings.retention_days
    if days is None:
        raise TierlineError("No retention: pass --days N or set TIERLINE_RETENTION_DAYS")
    with Store.open(settings.database_url) as store:
        pruned = store.prune_signals(older_than=utcnow() - timedelta(days=days))
    _out.print(
        f"pruned the signals of {pruned['decisions']} decision(s) and {pruned['visits']} "
        f"visit(s) older than {days} days"
    )
