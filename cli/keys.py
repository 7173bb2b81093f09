"""`tierline keys`: create, list and revoke API keys (a key is shown once), pair a tablet."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from tierline.cli.console import JsonOpt, actor, err, out
from tierline.cli.console import database_url as _database_url
from tierline.cli.console import emit_json as _emit_json

keys_app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    help="Create, list and revoke API keys (a key is shown once); pair a tablet.",
    no_args_is_help=True,
)


def _say_store() -> None:
    """Which store a keys command works on: the running server's only if it reads the same
    TIERLINE_DATABASE_URL."""
    err.print(f"database: {_database_url()}", markup=False)


class Role(StrEnum):
    staff = "staff"
    pos = "pos"
    admin = "admin"


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option("--role", help="staff, pos or admin.")],
    site: Annotated[str, typer.Option("--site", help="The site (restaurant) the key belongs to.")],
    name: Annotated[str | None, typer.Option("--name", help="A label for people.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once (only its hash is stored).

    Example: tierline keys create --role pos --site lyon-1 --name "till 3"
    """
    from tierline.engine.store import Store

    _say_store()
    with Store.open(_database_url()) as store:
        plaintext, record = store.create_key(role=role.value, site=site, name=name)
    if as_json:
        _emit_json({"key": plaintext, "role": record["role"], "site": site, "name": name})
        return
    out.print(plaintext, markup=False)
    err.print(
        f"key {record['id']} ({record['role']} at {site}) created; it is shown only this once"
    )


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """List keys (id, role, site, name, created, revoked); never the keys themselves."""
    from tierline.engine.store import Store

    _say_store()
    with Store.open(_database_url()) as store:
        keys = store.list_keys()
    if as_json:
        _emit_json(keys)
        return
    table = Table("id", "role", "site", "name", "created", "revoked")
    for k in keys:
        table.add_row(
            k["id"],
            k["role"],
            k["site"],
            k["name"] or "",
            str(k["created_at"]),
            str(k["revoked_at"] or ""),
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Revoke a key from now on."""
    from tierline.engine.store import Store

    _say_store()
    with Store.open(_database_url()) as store:
        record = store.revoke_key(key_id)
    out.print(f"key {record['id']} revoked at {record['revoked_at']}")


@keys_app.command("pair")
def keys_pair(
    site: Annotated[str, typer.Option("--site", help="The site the tablet will serve.")],
    minutes: Annotated[
        int, typer.Option("--minutes", min=1, max=60, help="How long the code works.")
    ] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Issue a short pairing code: typed into a tablet's display, it signs the tablet in as
    staff of SITE, once, until it expires; audited.

    Example: tierline keys pair --site lyon-1 --minutes 5
    """
    from tierline.engine.store import Store

    _say_store()
    with Store.open(_database_url()) as store:
        issued = store.issue_pairing(site=site, issued_by=actor(), minutes=minutes)
    expires = issued["expires_at"].isoformat(timespec="seconds")
    if as_json:
        _emit_json({"code": issued["code"], "site": site, "expires_at": expires})
        return
    out.print(issued["code"], markup=False)
    err.print(
        f"pairing code for a staff tablet at {site}; type it on the display's sign-in screen "
        f"before {expires} (it works once)",
        markup=False,
    )
