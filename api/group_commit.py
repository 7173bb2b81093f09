"""Group commit: the decisions of requests handled in the same turn of the event loop are
written in one transaction.

Under load a worker takes up several requests per turn of its event loop. Each used to
end with a transaction of its own: the write lock, a commit, and four pages added to the
SQLite WAL (the row and three indexes), most of them the same pages as the request
before. Here each request computes its decision (``engine.decisions.prepare_many``),
queues the row and waits; one task per turn writes all the queued rows in one
transaction and wakes the requests, which answer only then, so an answered decision is
stored exactly as before, with the perks it shows (taken in that transaction).

A write that fails for one request's row must not fail its neighbours: the group is then
written again one request at a time, so only the request whose row is refused fails (a
4xx for a value the database refuses, ``api.errors``), and each other request's perks are
taken in its own transaction. When the store itself is unavailable every request of the
group gets the 503 at once: writing them one by one would only wait on it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from tierline.api.deps import on_store
from tierline.engine.errors import StoreError
from tierline.engine.store import Store

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
            if len(group) == 1 or isinstance(error, StoreError):
                for _, future in group:
                    _settle(future, error)
                return
            await self._write_one_by_one(group)
            return
        self.groups += 1
        self.rows += len(rows)
        for _, future in group:
            _settle(future, None)

    async def _write_one_by_one(
        self, group: list[tuple[Sequence[Mapping[str, Any]], asyncio.Future[None]]]
    ) -> None:
        """Each request of a failed group in a transaction of its own."""
        for rows, future in group:
            try:
                await on_store(self._store, self._store.record_decisions, items=rows)
            except Exception as error:
                _settle(future, error)
                continue
            self.groups += 1
            self.rows += len(rows)
            _settle(future, None)


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    """Wake a waiting request (unless it has gone: its future is cancelled)."""
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
