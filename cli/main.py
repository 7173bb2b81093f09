"""The `tierline` command: its commands, each in the module named for its group, and the
entry point.

Every refusal of bad input is a message on stderr (one line, or one line per problem of a
data file) and exit code 2; an unexpected failure
is one line too (set TIERLINE_DEBUG=1 for the traceback) and exit code 1. A retrain that
finds another retrain running exits 3, so cron can tell "busy" from "broken".
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from tierline.cli.console import err, out
from tierline.cli.customers import customers_app
from tierline.cli.demo import demo
from tierline.cli.drift import drift
from tierline.cli.export import export
from tierline.cli.keys import keys_app
from tierline.cli.modelling import evaluate, generate, score, train
from tierline.cli.models import models_app
from tierline.cli.perks import perks_app
from tierline.cli.report import report
from tierline.cli.retrain import retrain
from tierline.cli.serve import serve
from tierline.cli.uplift import uplift_report
from tierline.engine.errors import Conflict, TierlineError

__all__ = ["app", "main"]

app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    name="tierline",
    help="Segment customers into service tiers and tell staff what to do.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models_app, name="models")


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"tierline {version('tierline')}", markup=False)
        except PackageNotFoundError:
            out.print("tierline (not installed: run from a checkout)", markup=False)
        raise typer.Exit()


@app.callback()
def _main(
    shown: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Segment customers into service tiers and tell staff what to do."""


app.add_typer(customers_app, name="customers")
app.command("drift")(drift)
app.command("export")(export)
app.command("report")(report)
app.command("uplift-report")(uplift_report)
app.command()(generate)
app.command()(train)
app.command()(score)
app.command()(evaluate)
app.command()(retrain)
app.command()(demo)
app.add_typer(keys_app, name="keys")
app.command()(serve)
app.add_typer(perks_app, name="perks")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning refusals into messages and exit codes.

    Typer's standalone mode already turns usage errors into exit code 2 with a message;
    what reaches us here are the domain's refusals and genuine failures.
    """
    try:
        app(args=argv)
    except TierlineError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(3 if isinstance(exc, Conflict) else 2)
    except Exception as exc:
        if os.environ.get("TIERLINE_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set TIERLINE_DEBUG=1 for the traceback)",
            markup=False,
        )
        sys.exit(1)
