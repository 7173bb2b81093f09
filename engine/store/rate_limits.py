"""Rate-limit buckets shared by every API process on one database (replicas, workers).

One row per key: the tokens left and when they were last counted. A process leases a few
tokens at a time (``lease_tokens``) and spends them in memory, so a busy key costs one
short transaction per lease, not one per request (``api.limits.RateLimiter``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import sqlalchemy as sa

from tierline.engine.store.database import StorePart
from tierline.engine.store.schema import rate_buckets

__all__ = ["RateLimitStore"]


class RateLimitStore(StorePart):
    """Token buckets in the ``rate_buckets`` table."""

    wall_clock: Callable[[], float] = staticmethod(time.time)

    def lease_tokens(
        self, *, bucket: str, capacity: float, per_second: float, want: int, returned: float = 0.0
    ) -> tuple[int, float]:
        """Take up to ``want`` whole tokens from ``bucket`` (full at first), after giving back
        ``returned`` unspent ones; returns (tokens granted, seconds until the next one is
        free when none was). The row is locked for the transaction, so two processes never
        grant the same token."""
        now = self.wall_clock()
        with self._db.write() as conn:
            conn.execute(
                self._db.insert(rate_buckets)
                .values(bucket=bucket, tokens=capacity, counted_at=now)
                .on_conflict_do_nothing(index_elements=["bucket"])
            )
            row = conn.execute(
                sa.select(rate_buckets.c.tokens, rate_buckets.c.counted_at)
                .where(rate_buckets.c.bucket == bucket)
                .with_for_update()
            ).one()
            elapsed = max(0.0, now - row.counted_at)
            tokens = min(capacity, row.tokens + returned + elapsed * per_second)
            granted = max(0, min(want, math.floor(tokens)))
            conn.execute(
                sa.update(rate_buckets)
                .where(rate_buckets.c.bucket == bucket)
                .values(tokens=tokens - granted, counted_at=max(now, row.counted_at))
            )
        wait = 0.0 if granted else max((1.0 - tokens) / per_second, 0.001)
        return granted, wait
