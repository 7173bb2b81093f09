"""`tierline customers`: import profiles in bulk, erase a customer, and prune old decision
and visit signals.

They read the store from ``TIERLINE_DATABASE_URL``, whose profiles a site reads from
``TIERLINE_PROFILES`` and the retention from ``TIERLINE_RETENTION_DAYS``, as the server
does (``api.settings``).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tierline.cli.console import JsonOpt, ModelsOpt, QuietOpt, default_models, err, steps
from tierline.engine.errors import TierlineError

if TYPE_CHECKING:
    from tierline.api.settings import Settings
    from tierline.engine.spec import Spec

__all__ = ["customers_app"]

customers_app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    help="Import profiles in bulk; erase a customer; prune signals past the retention.",
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


@customers_app.command("import")
def import_profiles(
    data: Annotated[
        Path, typer.Option("--data", help="Customer table (.csv, .csv.gz, .parquet), one row each.")
    ],
    site: Annotated[
        str | None,
        typer.Option(
            "--site", help="The site whose own profiles these are (TIERLINE_PROFILES=site)."
        ),
    ] = None,
    chain: Annotated[
        bool,
        typer.Option("--chain", help="The chain's profiles, read by every site (the default)."),
    ] = False,
    models: ModelsOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create or replace customer profiles from a CRM export, typed by the champion's spec
    as training reads it, so a lookup by id alone finds them. Every bad row is listed at
    once (exit 2, nothing written); importing the same file again changes nothing.

    Example: tierline customers import --data crm.csv
    """
    from tierline.engine.store import Store
    from tierline.training.profiles import read_profiles

    settings = _settings()
    scope = _import_scope(settings.profiles, site=site, chain=chain)
    models = models or default_models()
    t0 = time.perf_counter()
    with steps(quiet or as_json) as say:
        say(f"reading the champion's spec in {models}")
        version, spec = _champion_spec(models)
        say(f"reading {data.name}")
        profiles = read_profiles(data, spec, model=version)
        with Store.open(settings.database_url, profiles=settings.profiles) as store:
            total = len(profiles)
            say(f"writing {total:,} profiles to {store.url}")
            counts = store.upsert_customers(
                profiles,
                scope=scope,
                progress=lambda done: say.update(
                    f"writing profiles to {store.url}: {done:,} of {total:,}"
                ),
            )
            database = store.url
    summary = {
        "rows": total,
        **counts,
        "scope": site or "chain",
        "model_version": version,
        "database": database,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    elif not quiet:
        err.print(
            f"imported {total:,} profiles into {database} ({summary['scope']}): "
            f"{counts['inserted']:,} new, {counts['updated']:,} updated, "
            f"{counts['unchanged']:,} unchanged",
            markup=False,
        )


def _champion_spec(models: Path) -> tuple[str, Spec]:
    """The champion's version and spec, verified, without loading the model itself."""
    from tierline.engine.errors import NotFound
    from tierline.engine.registry import Registry
    from tierline.engine.spec import Spec

    registry = Registry(models)
    version = registry.champion()
    if version is None:
        raise NotFound(
            f"No champion model in {models}; the import types the file with the champion's "
            "spec: train one with `tierline train`, or pass --models"
        )
    registry.verify(version)
    return version, Spec.from_dict(registry.metadata(version)["spec"])


def _import_scope(profiles: str, *, site: str | None, chain: bool) -> str:
    """The store scope an import writes: the chain's (``''``) or one site's, as the server
    reads them under ``TIERLINE_PROFILES``."""
    if site is not None and chain:
        raise TierlineError("Pass --site SITE or --chain, not both")
    if profiles == "chain":
        if site is not None:
            raise TierlineError(
                f"TIERLINE_PROFILES is 'chain': every site reads the chain's profiles, so "
                f"profiles imported for site '{site}' would never be read; drop --site, or "
                "set TIERLINE_PROFILES=site for the server and this command"
            )
        return ""
    if site is None or not site.strip():
        raise TierlineError(
            "TIERLINE_PROFILES is 'site': each site reads its own profiles; pass --site SITE"
        )
    return site
