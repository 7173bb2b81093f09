"""Reading numeric cells: plain numbers, and amounts as spreadsheets write money.

A numeric column may hold ``€40``, ``40 €``, ``1.234,50`` (with a decimal comma) or
``1,234.50`` (with a decimal point): the currency symbol, spaces and thousands separators
are dropped and the decimal mark read as the file's dialect says. A cell that could mean
two amounts (``12,50`` in a decimal-point file, ``12.50`` beside ``1.234`` in a
decimal-comma one) is refused rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Numbers", "amount_advice", "parse_numbers"]

# What a float cast accepts once money is cleaned (the same forms as Python's float()).
_NUMBER = r"(?i)^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf|infinity|nan)$"
_SYMBOL_BEFORE = r"^([+-]?)\s*[€$£]\s*"
_SYMBOL_AFTER = r"\s*[€$£]$"
# Thousands groups (1.234.567,50 and 1,234,567.50), the only place a second mark may appear.
_GROUPED = {
    ",": r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?$|^[+-]?,\d+$",
    ".": r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$",
}
# A bad cell that holds a digit and a symbol or a mark is an amount written another way.
_LOOKS_LIKE_AMOUNT = r"\d.*[€$£.,]|[€$£.,].*\d"


@dataclass(frozen=True)
class Numbers:
    """A text column read as numbers: ``values`` (null where bad) and the bad cells."""

    values: pa.ChunkedArray
    bad: pa.ChunkedArray | None = None  # True where a cell is not a number
    amounts: pa.ChunkedArray | None = None  # True where a bad cell looks like money


def parse_numbers(text: pa.ChunkedArray, *, decimal: str) -> Numbers:
    """Numbers from stripped text with missing cells as null, under the file's decimal mark."""
    try:
        # The common cases, without a regular expression: plain numbers, and plain numbers
        # with a decimal comma (no point anywhere, so none is a thousands separator).
        if decimal == ".":
            return Numbers(text.cast(pa.float64()))
        if not pc.any(pc.match_substring(text, ".")).as_py():
            return Numbers(pc.replace_substring(text, ",", ".").cast(pa.float64()))
    except pa.ArrowInvalid:
        pass
    cleaned = pc.replace_substring_regex(text, _SYMBOL_BEFORE, r"\1")
    cleaned = pc.replace_substring_regex(cleaned, _SYMBOL_AFTER, "")
    # Spaces between digits group thousands (1 234,50; 12 500 €).
    cleaned = pc.replace_substring_regex(cleaned, r"(\d)[ \x{a0}\x{202f}'](\d)", r"\1\2")
    grouped = pc.fill_null(pc.match_substring_regex(cleaned, _GROUPED[decimal]), False)
    if decimal == ",":
        plain = pc.replace_substring(pc.replace_substring(cleaned, ".", ""), ",", ".")
        # Outside thousands groups a point is ambiguous: 1.500 and 1.5 must not both pass.
        refused = pc.and_(pc.invert(grouped), pc.match_substring(cleaned, "."))
    else:
        plain = pc.replace_substring(cleaned, ",", "")
        refused = pc.invert(pc.or_(grouped, pc.invert(pc.match_substring(cleaned, ","))))
    normal = pc.if_else(grouped, plain, cleaned)
    ok = pc.and_(pc.match_substring_regex(normal, _NUMBER), pc.invert(pc.fill_null(refused, False)))
    ok = pc.fill_null(ok, False)
    values = pc.if_else(ok, normal, pa.scalar(None, pa.string())).cast(pa.float64())
    bad = pc.and_(pc.is_valid(text), pc.invert(ok))
    if not pc.any(bad).as_py():
        return Numbers(values)
    amounts = pc.and_(bad, pc.fill_null(pc.match_substring_regex(text, _LOOKS_LIKE_AMOUNT), False))
    return Numbers(values, bad=bad, amounts=amounts)


def amount_advice(decimal: str) -> str:
    """What to do about an amount that does not read under the file's decimal mark."""
    if decimal == ",":
        return "write amounts as 1234,50 (a decimal comma, no other point) or pass --decimal ."
    return "write amounts as 1234.50 (a decimal point) or pass --decimal , for a decimal comma"
