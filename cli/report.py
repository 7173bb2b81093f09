"""`tierline report`: a model version's report as one self-contained HTML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["report"]

_out = Console(highlight=False, soft_wrap=True)


def report(
    out_path: Annotated[
        Path, typer.Option("--out", help="HTML file to write (replaced atomically).")
    ],
    models: Annotated[
        Path | None,
        typer.Option(
            "--models",
            help="Model registry folder (default: $TIERLINE_MODELS or models/).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        str | None, typer.Argument(help="Model version (default: the champion).")
    ] = None,
) -> None:
    """Write a model version's report (one HTML file, charts inline, nothing fetched).

    Metrics, the gate, tier mix, gains, fit, importance, fairness, drift; prints the path.

    Example: tierline report v0003 --out report.html
    """
    # Imported here, as in cli.main: `tierline --help` stays quick.
    from tierline.training.report import build_report, write_report

    folder = models or Path(os.environ.get("TIERLINE_MODELS", "models"))
    # No drift rows yet: the decision log's drift is not wired in, and the page says so.
    _, html = build_report(models=folder, version=version, drift=None)
    write_report(html, out_path)
    _out.print(str(out_path), markup=False)
