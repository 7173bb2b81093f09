"""What every `tierline` command shares: its consoles, progress lines, common options,
and where it finds the model registry and the store by default."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from tierline.training.dialect import CsvDialect

__all__ = [
    "BudgetOpt",
    "DaskOpt",
    "DbOpt",
    "DecimalOpt",
    "JsonOpt",
    "ModelsOpt",
    "QuietOpt",
    "SepOpt",
    "Steps",
    "actor",
    "csv_dialect",
    "database_url",
    "default_models",
    "emit_json",
    "err",
    "out",
    "parse_date",
    "steps",
]

err = Console(stderr=True, highlight=False, soft_wrap=True)  # messages stay one line
out = Console(highlight=False, soft_wrap=True)


def default_models() -> Path:
    return Path(os.environ.get("TIERLINE_MODELS", "models"))


ModelsOpt = Annotated[
    Path | None,
    typer.Option(
        "--models",
        help="Model registry folder (default: $TIERLINE_MODELS or models/).",
        show_default=False,
    ),
]
BudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--budget",
        min=0.0,
        help="Seconds for the model search after the first fit (default: twice that fit).",
        show_default=False,
    ),
]
SepOpt = Annotated[
    str | None,
    typer.Option(
        "--sep",
        help="The CSV file's delimiter: , ; tab or | (default: detected).",
        show_default=False,
    ),
]
DecimalOpt = Annotated[
    str | None,
    typer.Option(
        "--decimal",
        help="The decimal mark of the CSV file's numbers: . or , (default: detected).",
        show_default=False,
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="The store (default: $TIERLINE_DATABASE_URL or sqlite:///var/tierline.db).",
        show_default=False,
    ),
]
DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask",
        metavar="local|tcp://HOST:PORT",
        help="Run on Dask: a local cluster sized to the machine, or a running scheduler.",
        show_default=False,
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


class Steps:
    """Progress on stderr: a spinner naming the current step, then its time when done."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self._status: Any = None
        self._step: str | None = None
        self._t0 = 0.0

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        self._finish()
        self._step, self._t0 = message, time.perf_counter()
        if self._status is None:
            self._status = err.status(message)
            self._status.start()
        else:
            self._status.update(message)

    def update(self, message: str) -> None:
        """Change the current step's words (a count as it goes) without finishing it."""
        if self.quiet or self._status is None:
            return
        self._step = message
        self._status.update(message)

    def _finish(self) -> None:
        if self._step is not None:
            err.print(f"[dim]✓ {self._step} ({time.perf_counter() - self._t0:.1f}s)[/dim]")
            self._step = None

    def close(self) -> None:
        self._finish()
        if self._status is not None:
            self._status.stop()
            self._status = None


@contextlib.contextmanager
def steps(quiet: bool) -> Iterator[Steps]:
    steps = Steps(quiet=quiet)
    try:
        yield steps
    finally:
        steps.close()


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")


def parse_date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date like 2026-06-30", param_hint=option
        ) from None


def csv_dialect(sep: str | None, decimal: str | None) -> CsvDialect | None:
    """What --sep and --decimal force about a CSV file (None: detect both)."""
    if sep is None and decimal is None:
        return None
    from tierline.training.dialect import DECIMALS, SEPARATORS, CsvDialect

    if sep is not None:
        sep = {"tab": "\t", "\\t": "\t"}.get(sep.lower(), sep)
        if sep not in SEPARATORS:
            raise typer.BadParameter(f"{sep!r} is not one of , ; tab |", param_hint="--sep")
    if decimal is not None and decimal not in DECIMALS:
        raise typer.BadParameter(f"{decimal!r} is not . or ,", param_hint="--decimal")
    return CsvDialect(sep=sep, decimal=decimal)


def database_url() -> str:
    return os.environ.get("TIERLINE_DATABASE_URL", "sqlite:///var/tierline.db")


def actor() -> str:
    """Who a CLI change is audited as: the operating-system user, where there is one."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in the environment or the password file
        return "cli"
