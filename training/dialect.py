"""How a CSV file is written: its delimiter, its decimal mark and its text encoding.

Spreadsheet exports differ by country: a French or German CRM writes ``1.234,50`` between
semicolons, in Windows-1252. The dialect is sniffed from the first 64 KB of the file (a
header and a few hundred rows are enough) unless the user forces it (``--sep``,
``--decimal``); the reader then parses the file as it was written.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
from dataclasses import dataclass
from gzip import open as gzip_open
from pathlib import Path

import pyarrow as pa

from tierline.engine.errors import DataError

__all__ = [
    "DECIMALS",
    "SEPARATORS",
    "CsvDialect",
    "Sniffed",
    "bad_utf8_line",
    "read_sample",
    "sniff",
]

# The delimiters tierline recognises, in the order a tie is broken.
SEPARATORS = (",", ";", "\t", "|")
DECIMALS = (".", ",")
_SAMPLE = 64 * 1024
# A number written with a decimal comma (12,50 or 1.234,50), money symbols allowed.
_COMMA_DECIMAL = re.compile(r"^[+-]?[€$£]?\s?\d{1,3}(?:[. ]\d{3})*,\d+\s?[€$£]?$|^[+-]?\d+,\d+$")
# A number with a decimal point that is not a thousands group (12.5, 3.14159, not 1.234).
_POINT_DECIMAL = re.compile(r"^[+-]?[€$£]?\d+\.(?:\d{1,2}|\d{4,})[€$£]?$")


@dataclass(frozen=True)
class CsvDialect:
    """What the user forces about a CSV file; ``None`` leaves a setting to the sniffer."""

    sep: str | None = None
    decimal: str | None = None

    def __post_init__(self) -> None:
        if self.sep is not None and self.sep not in SEPARATORS:
            raise DataError(
                f"The separator {self.sep!r} is not one tierline reads; use one of: , ; tab |"
            )
        if self.decimal is not None and self.decimal not in DECIMALS:
            raise DataError(f"The decimal mark {self.decimal!r} is not . or ,")


@dataclass(frozen=True)
class Sniffed:
    """The dialect a CSV file is read with."""

    sep: str
    decimal: str
    encoding: str  # "utf8" (a BOM is skipped) or "cp1252"


def sniff(sample: bytes, *, name: str, forced: CsvDialect) -> Sniffed:
    """The dialect of a CSV file from its first bytes, with what the user forced kept."""
    text, encoding = _decode(sample, name=name)
    lines = text.splitlines()
    if len(sample) >= _SAMPLE and len(lines) > 1:
        lines = lines[:-1]  # the sample may end inside a line
    sep = forced.sep or _delimiter(lines)
    decimal = forced.decimal or _decimal(lines, sep)
    return Sniffed(sep=sep, decimal=decimal, encoding=encoding)


def read_sample(stream: pa.NativeFile) -> bytes:
    return bytes(stream.read(_SAMPLE))


def _decode(sample: bytes, *, name: str) -> tuple[str, str]:
    """The sample as text and the encoding it decodes with: UTF-8, else Windows-1252."""
    if b"\x00" in sample:
        line = sample[: sample.index(b"\x00")].count(b"\n") + 1
        raise DataError(
            f"Data file '{name}' cannot be read as CSV: it holds binary data (a NUL byte on "
            f"line {line}); export it as CSV text"
        )
    try:
        # Incremental: the sample may end inside a multi-byte character.
        return codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False), "utf8"
    except UnicodeDecodeError:
        pass
    try:
        return sample.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line = sample[: exc.start].count(b"\n") + 1
        raise DataError(
            f"Data file '{name}' is neither UTF-8 nor Windows-1252/Latin-1 text (byte "
            f"0x{sample[exc.start]:02x} on line {line}); save it as UTF-8 text"
        ) from None


def _delimiter(lines: list[str]) -> str:
    """The separator that splits every sampled line into the header's number of fields."""
    best, best_fields = ",", 1
    for sep in SEPARATORS:
        try:
            rows = [r for r in csv.reader(io.StringIO("\n".join(lines[:200])), delimiter=sep) if r]
        except csv.Error:  # the sample does not parse with this separator
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = all(len(r) == width for r in rows)
        # A consistent split beats any inconsistent one; then more fields win.
        score = width + (10_000 if consistent else 0)
        if score > best_fields:
            best, best_fields = sep, score
    return best


def _decimal(lines: list[str], sep: str) -> str:
    """A decimal comma only where the delimiter leaves the comma free (; tab |)."""
    if sep == ",":
        return "."
    comma = point = 0
    with contextlib.suppress(csv.Error):  # counts so far still tell
        for row in csv.reader(io.StringIO("\n".join(lines[1:200])), delimiter=sep):
            for cell in row:
                cell = cell.strip()
                comma += bool(_COMMA_DECIMAL.match(cell))
                point += bool(_POINT_DECIMAL.match(cell))
    return "," if comma > point else "."


def bad_utf8_line(path: Path, *, gzip: bool) -> int | None:
    """The first line of a file that is not UTF-8 (error path only: reads the whole file)."""
    opener = gzip_open if gzip else open
    with opener(path, "rb") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None
