"""Group commit: the decisions of requests handled in the same turn of the event loop are
written in one transaction.

Under load a worker takes up several requests per turn of its event loop. Each used to
end with a transaction of its own: the write lock, a commit, and four pages added to the
SQLite WAL (the row and three indexes), most of them the same pages as the request
before. Here each request computes its decision (``engine.decisions.prepare_many``),
queues the row and waits; one task per turn writes all the queued rows in one
transaction and wakes the requests, which answer only then, so an answered decision is
stored exactly as before. A failed write fails every request of its group (a 503, as a
failed write of one decision did).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from api.deps import on_store
from engine.store import Store

__all__ = ["DecisionWriter"]


class DecisionWriter:
    """Writes queued decision rows together; ``write`` returns once they are stored."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queued: list[tuple[Sequence[Mapping[str, Any]], asyncio.Future[None]]] = []
        self._flush: asyncio.Task[None] | None = None
        self.groups = 0  # transactions written and the rows in them (read by the tests)
        self.rows = 0

    async def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((rows, future))
        if self._flush is None:
            # Runs on the loop's next turn, after the requests already taken up this turn.
            self._flush = asyncio.create_task(self._write_queued())
        await future

    async def _write_queued(self) -> None:
        group, self._queued = self._queued, []
        self._flush = None  # rows queued from now on go to the next group
        rows = [row for queued, _ in group for row in queued]
        try:
            await on_store(self._store, self._store.record_decisions, items=rows)
        except Exception as error:
            for _, future in group:
                if not future.done():
                    future.set_exception(error)
            return
        self.groups += 1
        self.rows += len(rows)
        for _, future in group:
            if not future.done():
                future.set_result(None)
