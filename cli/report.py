"""`tierline report`: a model version's report as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierline.cli.console import ModelsOpt, default_models, out

__all__ = ["report"]


def report(
    out_path: Annotated[
        Path, typer.Option("--out", help="HTML file to write (replaced atomically).")
    ],
    models: ModelsOpt = None,
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

    # No drift rows yet: the decision log's drift is not wired in, and the page says so.
    _, html = build_report(models=models or default_models(), version=version, drift=None)
    write_report(html, out_path)
    out.print(str(out_path), markup=False)
