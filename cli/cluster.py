"""The --dask side of commands whose single-machine path lives in ``cli.main``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from tierline.cli.console import default_models, emit_json, err, steps

if TYPE_CHECKING:
    from tierline.training.dialect import CsvDialect

__all__ = ["score_on_dask"]


def score_on_dask(
    address: str,
    data: Path,
    out_path: Path,
    models: Path | None,
    version: str | None,
    reasons: bool,
    as_of: dt.date | None,
    dialect: CsvDialect | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """``tierline score --dask``: score on the cluster, then say what was written."""
    from tierline.training.distributed import score_on_cluster

    with steps(quiet or as_json) as say:
        summary = score_on_cluster(
            address,
            models=models or default_models(),
            version=version,
            data=data,
            out=out_path,
            as_of=as_of,
            explain=reasons,
            dialect=dialect,
            say=say,
        )
    if as_json:
        emit_json(summary)
    elif not quiet:
        mix = ", ".join(f"{t} {n:,}" for t, n in summary["tier_mix"].items())
        err.print(
            f"scored {summary['rows']:,} customers with {summary['model_version']} -> {out_path} ({mix})"
        )
