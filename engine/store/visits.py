"""Visits: the coat-check ticket, unique among a site's open visits, reused once closed.

The database enforces uniqueness with a partial unique index on ``(site, ticket) WHERE
closed_at IS NULL``. ``open_visit`` picks the lowest free number in the tier's range; on
PostgreSQL two check-ins may pick the same number at once, the index refuses the second,
and it tries again with the next free one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from engine.errors import Conflict, NotFound
from engine.store.database import StorePart, is_foreign_key_violation, is_unique_violation
from engine.store.schema import visits

__all__ = ["VisitStore"]

# Each lost race means another check-in got a ticket, so this bounds waiting, not progress.
_TICKET_ATTEMPTS = 50

_PUBLIC = [c for c in visits.c if c.name != "id"]


class VisitStore(StorePart):
    """Check-in, display and close of visits."""

    def open_visit(
        self,
        *,
        site: str,
        ticket_range: tuple[int, int],
        decision_id: str,
        customer_id: str | None,
        party_size: int | None,
    ) -> dict[str, Any]:
        """Check a customer in with the lowest free ticket of ``ticket_range`` at ``site``."""
        for _ in range(_TICKET_ATTEMPTS):
            try:
                return self._try_open(
                    site=site,
                    ticket_range=ticket_range,
                    decision_id=decision_id,
                    customer_id=customer_id,
                    party_size=party_size,
                )
            except exc.IntegrityError as error:
                if is_foreign_key_violation(error):
                    raise NotFound(f"Decision '{decision_id}' does not exist") from error
                if not is_unique_violation(error):
                    raise
        raise Conflict(
            f"Could not hand out a ticket at site '{site}' after {_TICKET_ATTEMPTS} attempts "
            "(too many check-ins at once); try again"
        )

    def _try_open(
        self,
        *,
        site: str,
        ticket_range: tuple[int, int],
        decision_id: str,
        customer_id: str | None,
        party_size: int | None,
    ) -> dict[str, Any]:
        low, high = ticket_range
        with self._db.write() as conn:
            taken = set(
                conn.scalars(
                    sa.select(visits.c.ticket).where(
                        visits.c.site == site,
                        visits.c.closed_at.is_(None),
                        visits.c.ticket.between(low, high),
                    )
                )
            )
            ticket = next((t for t in range(low, high + 1) if t not in taken), None)
            if ticket is None:
                raise Conflict(
                    f"All tickets {low}-{high} at site '{site}' are in use; close a visit "
                    "to free one"
                )
            row = {
                "site": site,
                "ticket": ticket,
                "decision_id": decision_id,
                "customer_id": customer_id,
                "party_size": party_size,
                "opened_at": self._now(),
                "closed_at": None,
                "spend": None,
            }
            conn.execute(sa.insert(visits).values(row))
        return row

    def list_open_visits(self, site: str) -> list[dict[str, Any]]:
        """The site's open visits, newest first (the staff display)."""
        query = (
            sa.select(*_PUBLIC)
            .where(visits.c.site == site, visits.c.closed_at.is_(None))
            .order_by(visits.c.opened_at.desc(), visits.c.id.desc())
        )
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def get_visit(self, site: str, ticket: int) -> dict[str, Any]:
        """The open visit with this ticket at ``site``, else its latest closed one."""
        with self._db.read() as conn:
            row = self._latest(conn, site, ticket)
        return {k: v for k, v in row.items() if k != "id"}

    def close_visit(self, site: str, ticket: int, *, spend: float) -> dict[str, Any]:
        """Close the open visit with this ticket, recording the spend; the ticket is free again."""
        with self._db.write() as conn:
            row = self._latest(conn, site, ticket)
            if row["closed_at"] is not None:
                raise Conflict(f"Ticket {ticket} at site '{site}' is already closed")
            closed_at = self._now()
            done = conn.execute(
                sa.update(visits)
                .where(visits.c.id == row["id"], visits.c.closed_at.is_(None))
                .values(closed_at=closed_at, spend=spend)
            )
            if done.rowcount != 1:  # closed by a concurrent request since we read it
                raise Conflict(f"Ticket {ticket} at site '{site}' is already closed")
        row.update(closed_at=closed_at, spend=spend)
        return {k: v for k, v in row.items() if k != "id"}

    def _latest(self, conn: sa.Connection, site: str, ticket: int) -> dict[str, Any]:
        # At most one visit per ticket is open, and it is the newest: a closed visit with
        # a larger id would have been open at the same time as it.
        row = conn.execute(
            sa.select(visits)
            .where(visits.c.site == site, visits.c.ticket == ticket)
            .order_by(visits.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            # The same words whether the ticket is unknown or another site's.
            raise NotFound(f"No visit with ticket {ticket} at this site")
        return dict(row._mapping)
