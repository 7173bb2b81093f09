"""The file formats tierline reads and writes, known by their extension."""

from __future__ import annotations

from pathlib import Path

from tierline.engine.errors import DataError

__all__ = ["SUPPORTED", "file_format", "first_line"]

SUPPORTED = (".csv", ".csv.gz", ".parquet")


def file_format(path: Path, *, what: str = "Data file", verb: str = "reads") -> str:
    """Which of ``SUPPORTED`` a path is, by its extension (any case); DataError otherwise."""
    name = path.name.lower()
    for fmt in sorted(SUPPORTED, key=len, reverse=True):  # ".csv.gz" before ".csv"
        if name.endswith(fmt):
            return fmt
    ext = f"extension '{path.suffix}'" if path.suffix else "no extension"
    raise DataError(f"{what} '{path.name}' has {ext}; tierline {verb} .csv, .csv.gz and .parquet")


def first_line(exc: BaseException) -> str:
    """An exception's first line, cut to a length that fits a message."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."
