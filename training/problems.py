"""Every problem a data file has, collected while it is read and reported at once.

Typing a column notes each bad cell instead of stopping at the first, so one run names
them all: grouped by column in the spec's order, with the line a spreadsheet or text
editor shows (the header is line 1; a Parquet file has no lines, so its rows count from
1), up to a limit per problem and per file.
"""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc

from tierline.engine.errors import DataError

__all__ = ["MAX_CELLS", "MAX_PROBLEMS", "Problems"]

MAX_CELLS = 10  # cells named per problem; the rest are counted
MAX_PROBLEMS = 30  # problems listed per file; the rest are counted


class Problems:
    """The problems found in one data file, raised together as one ``DataError``."""

    def __init__(self, name: str, *, lines: bool, first_row: int = 0) -> None:
        """``first_row``: the file's row index of the data's first row (a chunk of the file)."""
        self.name = name
        self._lines = lines
        self._first_row = first_row
        self._found: list[tuple[str, str]] = []
        self._lock = threading.Lock()  # columns are typed in parallel threads

    def where(self, index: int) -> str:
        """Where the data row at ``index`` (0-based) is, as the user sees the file."""
        index += self._first_row
        return f"line {index + 2}" if self._lines else f"row {index + 1}"

    def add(self, column: str, message: str) -> None:
        with self._lock:
            self._found.append((column, message))

    def has(self, column: str) -> bool:
        with self._lock:
            return any(col == column for col, _ in self._found)

    def cells(self, values: pa.ChunkedArray, mask: pa.ChunkedArray, *, quoted: bool = True) -> str:
        """The first bad cells as ``'twelve' (line 5), 'x' (line 9) and 3 more``."""
        rows, count = _positions(mask)
        q = "'" if quoted else ""
        shown = ", ".join(f"{q}{values[i].as_py()}{q} ({self.where(i)})" for i in rows)
        return shown + (f" and {count - len(rows)} more" if count > len(rows) else "")

    def rows(self, mask: pa.ChunkedArray) -> str:
        """The first rows of ``mask`` as ``line 5`` or ``lines 5, 9 and 3 more``."""
        rows, count = _positions(mask)
        if count == 1:
            return self.where(rows[0])
        kind = "lines" if self._lines else "rows"
        shown = ", ".join(self.where(i).split()[1] for i in rows)
        return f"{kind} {shown}" + (f" and {count - len(rows)} more" if count > len(rows) else "")

    def raise_if_any(self, order: list[str]) -> None:
        """Raise one DataError listing every problem, by column in ``order``; else nothing."""
        if not self._found:
            return
        rank = {col: i for i, col in enumerate(order)}
        found = sorted(self._found, key=lambda p: rank.get(p[0], len(rank)))
        if len(found) == 1:
            raise DataError(found[0][1])
        listed = found[:MAX_PROBLEMS]
        more = len(found) - len(listed)
        text = [f"Data file '{self.name}' has {len(found)} problems; fix them all, then run again:"]
        text += [f"- {message}" for _, message in listed]
        if more:
            text.append(f"- and {more} more problems")
        raise DataError("\n".join(text))


def _positions(mask: pa.ChunkedArray) -> tuple[list[int], int]:
    mask = pc.fill_null(mask, False)
    count = int(pc.sum(mask).as_py() or 0)
    first = pc.indices_nonzero(mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask)
    return [int(i) for i in first.slice(0, MAX_CELLS).to_pylist()], count
