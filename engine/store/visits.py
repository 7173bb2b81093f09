"""Visits: the coat-check ticket, unique among a site's open visits, reused once closed.

Kept whole (over 400 lines): a ticket's allocation, its reuse and the visit's life share one locking discipline.

The database enforces uniqueness with a partial unique index on ``(site, ticket) WHERE
closed_at IS NULL``. ``open_visit`` picks the lowest free number in the tier's range; on
PostgreSQL two check-ins may pick the same number at once, the index refuses the second,
and it tries again with the next free one.

What the staff display reads is one "visit view": the visit, its decision, the tier in
force (a staff override wins over the model's), where the customer came from, and the cues
already marked accepted or declined. Closing and overriding take an optional idempotency
key, stored on the row and unique at its site, so a tablet that retries after a lost
response gets the first answer back instead of a conflict, even once the ticket is reused.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import exc

from tierline.engine.errors import Conflict, IdempotencyKeyReused, NotFound
from tierline.engine.store.customers import DECISION_FIELDS, insert_decisions
from tierline.engine.store.database import StorePart, is_foreign_key_violation, is_unique_violation
from tierline.engine.store.perks import CuePick, repick_in
from tierline.engine.store.schema import audit, decisions, outcomes, perk_usage, perks, visits

__all__ = ["VisitStore"]

# Each lost race means another check-in got a ticket, so this bounds waiting, not progress.
_TICKET_ATTEMPTS = 50

# Columns a caller never sees: the row id and the idempotency keys.
_HIDDEN = {"id", "close_key", "override_key", "override_cues"}
_OVERRIDE = ("override_tier", "override_reason", "overridden_at", "overridden_by")
# What a visit view shows of its decision: all but who and where, which the visit holds.
_DECISION = tuple(f for f in DECISION_FIELDS if f not in {"customer_id", "site"})


class _Override(NamedTuple):
    """One override request: what its idempotency key stands for."""

    site: str
    ticket: int
    tier: str
    reason: str
    key: str | None


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
        source: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Check a customer in with the lowest free ticket of ``ticket_range`` at ``site``,
        for a stored decision.

        ``source`` is where the customer came from (campaign, landing page, channel), kept
        for the staff display and the manager's spend-by-campaign view.
        """
        return self._open(
            site=site,
            ticket_range=ticket_range,
            decision=None,
            decision_id=decision_id,
            customer_id=customer_id,
            party_size=party_size,
            source=source,
        )

    def check_in(
        self,
        *,
        decision: Mapping[str, Any],
        ticket_range: tuple[int, int],
        party_size: int | None,
        source: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store ``decision`` (an item of ``record_decisions``, its perks taken here) and
        open its visit (``open_visit``) in one transaction: neither is stored without the
        other."""
        return self._open(
            site=decision["site"],
            ticket_range=ticket_range,
            decision=decision,
            decision_id=decision["decision_id"],
            customer_id=decision["customer_id"],
            party_size=party_size,
            source=source,
        )

    def _open(
        self,
        *,
        site: str,
        ticket_range: tuple[int, int],
        decision: Mapping[str, Any] | None,
        decision_id: str,
        customer_id: str | None,
        party_size: int | None,
        source: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        for _ in range(_TICKET_ATTEMPTS):
            try:
                with self._db.write() as conn:
                    if decision is not None:
                        insert_decisions(self._db.raw.cursor_of(conn), [decision], now=self._now())
                    return self._try_open(
                        conn,
                        site=site,
                        ticket_range=ticket_range,
                        decision_id=decision_id,
                        customer_id=customer_id,
                        party_size=party_size,
                        source=dict(source) if source else None,
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
        conn: sa.Connection,
        *,
        site: str,
        ticket_range: tuple[int, int],
        decision_id: str,
        customer_id: str | None,
        party_size: int | None,
        source: dict[str, Any] | None,
    ) -> dict[str, Any]:
        low, high = ticket_range
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
                f"All tickets {low}-{high} at site '{site}' are in use; close a visit to free one"
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
            "source": source,
        }
        conn.execute(sa.insert(visits).values(row))
        return row

    def list_open_visits(self, site: str) -> list[dict[str, Any]]:
        """The site's open visits as display views, newest first (the staff display)."""
        query = (
            sa.select(visits)
            .where(visits.c.site == site, visits.c.closed_at.is_(None))
            .order_by(visits.c.opened_at.desc(), visits.c.id.desc())
        )
        with self._db.read() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
            return self._views(conn, rows)

    def get_visit(self, site: str, ticket: int) -> dict[str, Any]:
        """The open visit with this ticket at ``site``, else its latest closed one (a view)."""
        with self._db.read() as conn:
            return self._views(conn, [self._latest(conn, site, ticket)])[0]

    def close_visit(
        self, site: str, ticket: int, *, spend: float, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Close the open visit with this ticket, recording the spend; the ticket is free again.

        A repeat with the same ``idempotency_key`` (the site's own), ticket and spend
        returns the closed visit; the key with another ticket or spend is refused.
        """
        try:
            with self._db.write() as conn:
                return self._close(conn, site, ticket, spend=spend, key=idempotency_key)
        except exc.IntegrityError as error:
            # Another ticket took this key at the same time (PostgreSQL): it answers.
            if idempotency_key is None or not is_unique_violation(error):
                raise
            with self._db.read() as conn:
                replay = self._close_replay(conn, site, ticket, spend=spend, key=idempotency_key)
            if replay is None:
                raise
            return replay

    def _close(
        self, conn: sa.Connection, site: str, ticket: int, *, spend: float, key: str | None
    ) -> dict[str, Any]:
        replay = self._close_replay(conn, site, ticket, spend=spend, key=key)
        if replay is not None:
            return replay
        row = self._latest(conn, site, ticket)
        if row["closed_at"] is None:
            closed_at = self._now()
            done = conn.execute(
                sa.update(visits)
                .where(visits.c.id == row["id"], visits.c.closed_at.is_(None))
                .values(closed_at=closed_at, spend=spend, close_key=key)
            )
            if done.rowcount == 1:
                row.update(closed_at=closed_at, spend=spend, close_key=key)
                return self._views(conn, [row])[0]
            # Closed by a concurrent request since we read it: perhaps a retry of this one.
            replay = self._close_replay(conn, site, ticket, spend=spend, key=key)
            if replay is not None:
                return replay
        raise Conflict(f"Ticket {ticket} at site '{site}' is already closed")

    def _close_replay(
        self, conn: sa.Connection, site: str, ticket: int, *, spend: float, key: str | None
    ) -> dict[str, Any] | None:
        """The visit this key already closed, if the request is the same; None for a new key."""
        row = self._visit_by_key(conn, site, visits.c.close_key, key)
        if row is None:
            return None
        if (row["ticket"], row["spend"]) != (ticket, spend):
            raise IdempotencyKeyReused(
                f"Idempotency key '{key}' already closed ticket {row['ticket']} with spend "
                f"{row['spend']}; use a new key for another close"
            )
        return self._views(conn, [row])[0]

    def override_visit(
        self,
        site: str,
        ticket: int,
        *,
        tier: str,
        reason: str,
        actor: str,
        idempotency_key: str | None = None,
        pick_cues: CuePick | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Override the tier of an open visit, audited in the same transaction.

        Returns ``(view, replay)``: a repeat with the same ``idempotency_key`` (the site's
        own), ticket, tier and reason returns the visit without a second audit entry; the
        key with another request is refused. ``pick_cues`` picks the cues for the new tier
        in the same transaction, with the perks of the cues in force until now
        (``repick_in``).
        """
        request = _Override(site, ticket, tier, reason, idempotency_key)
        try:
            with self._db.write() as conn:
                return self._override(conn, request, actor=actor, pick_cues=pick_cues)
        except exc.IntegrityError as error:
            # Another ticket took this key at the same time (PostgreSQL): it answers.
            if idempotency_key is None or not is_unique_violation(error):
                raise
            with self._db.read() as conn:
                replay = self._override_replay(conn, request)
            if replay is None:
                raise
            return replay, True

    def _override(
        self, conn: sa.Connection, request: _Override, *, actor: str, pick_cues: CuePick | None
    ) -> tuple[dict[str, Any], bool]:
        replay = self._override_replay(conn, request)
        if replay is not None:
            return replay, True
        site, ticket, tier, reason, key = request
        row = self._latest(conn, site, ticket)
        closed = Conflict(f"Ticket {ticket} is closed; only an open visit can be overridden")
        if row["closed_at"] is not None:
            raise closed
        decided = conn.execute(
            sa.select(decisions.c.tier, decisions.c.cues, decisions.c.created_at).where(
                decisions.c.id == row["decision_id"]
            )
        ).one()
        previous = row["override_tier"] or decided.tier
        now = self._now()
        change = {
            "override_tier": tier,
            "override_reason": reason,
            "override_key": key,
            "overridden_at": now,
            "overridden_by": actor,
        }
        query = sa.update(visits).where(visits.c.id == row["id"], visits.c.closed_at.is_(None))
        if key is not None:  # a retry racing this request must not be audited twice
            query = query.where(visits.c.override_key.is_distinct_from(key))
        if conn.execute(query.values(**change)).rowcount != 1:
            replay = self._override_replay(conn, request)
            if replay is None:
                raise closed
            return replay, True
        # Perks move only once this request owns the override (a racing retry replays).
        cues = row["override_cues"]
        if pick_cues is not None:
            in_force = decided.cues if cues is None else cues
            cues = repick_in(
                self._db.raw.cursor_of(conn),
                pick_cues,
                held=[c["perk"] for c in in_force if c.get("perk") is not None],
                held_day=(row["overridden_at"] or decided.created_at).date(),
            )
            conn.execute(
                sa.update(visits).where(visits.c.id == row["id"]).values(override_cues=cues)
            )
        change["override_cues"] = cues
        conn.execute(
            sa.insert(audit).values(
                at=now,
                actor=actor,
                action="override",
                subject=f"{site}/{ticket}",
                detail={
                    "decision_id": row["decision_id"],
                    "from": previous,
                    "to": tier,
                    "reason": reason,
                    "cues": None if cues is None else [c["code"] for c in cues],
                },
            )
        )
        row.update(change)
        return self._views(conn, [row])[0], False

    def _override_replay(self, conn: sa.Connection, request: _Override) -> dict[str, Any] | None:
        """The visit this key already overrode, if the request is the same; None for a new key."""
        row = self._visit_by_key(conn, request.site, visits.c.override_key, request.key)
        if row is None:
            return None
        done = (row["ticket"], row["override_tier"], row["override_reason"])
        if done != (request.ticket, request.tier, request.reason):
            raise IdempotencyKeyReused(
                f"Idempotency key '{request.key}' was already used for another override at "
                "this site; use a new key"
            )
        return self._views(conn, [row])[0]

    def day_report(self, site: str, day: dt.date, *, zone: dt.tzinfo = dt.UTC) -> dict[str, Any]:
        """The manager's view of ``day`` at ``site``, from midnight to midnight in ``zone``
        (23 or 25 hours on a daylight-saving change): visits and spend by tier and by
        campaign, and each perk issued against its stock and the daily budget of the
        same date."""
        start, end = (
            dt.datetime.combine(d, dt.time(), tzinfo=zone) for d in (day, day + dt.timedelta(1))
        )
        query = sa.select(visits).where(
            visits.c.site == site, visits.c.opened_at >= start, visits.c.opened_at < end
        )
        by_tier: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"visits": 0, "open": 0, "spend": 0.0}
        )
        by_campaign: dict[str, dict[str, Any]] = defaultdict(lambda: {"visits": 0, "spend": 0.0})
        with self._db.read() as conn:
            views = self._views(conn, [dict(r._mapping) for r in conn.execute(query)])
            perk_rows = conn.execute(
                sa.select(perks, perk_usage.c.issued, perk_usage.c.spent)
                .select_from(
                    perks.outerjoin(
                        perk_usage, (perk_usage.c.perk == perks.c.name) & (perk_usage.c.day == day)
                    )
                )
                .order_by(perks.c.name)
            ).all()
        for view in views:
            spend = view["spend"] or 0.0
            tier = by_tier[view["tier"]]
            tier["visits"] += 1
            tier["open"] += view["closed_at"] is None
            tier["spend"] += spend
            campaign = by_campaign[str((view["source"] or {}).get("campaign") or "(none)")]
            campaign["visits"] += 1
            campaign["spend"] += spend
        return {
            "site": site,
            "day": day.isoformat(),
            "timezone": str(zone),
            "visits": len(views),
            "spend": round(sum(v["spend"] or 0.0 for v in views), 2),
            "by_tier": _rounded(by_tier, "tier"),
            "by_campaign": _rounded(by_campaign, "campaign"),
            "perks": [
                {
                    "perk": p.name,
                    "issued": p.issued or 0,
                    "spent": round(p.spent or 0.0, 2),
                    "stock_left": p.stock,
                    "daily_budget": p.daily_budget,
                }
                for p in perk_rows
            ],
        }

    def _views(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Visit rows as display views: decision, tier in force, source, cues marked."""
        ids = list({row["decision_id"] for row in rows})
        found: dict[str, dict[str, Any]] = {}
        marked: dict[str, dict[str, set[str]]] = defaultdict(
            lambda: {"accepted": set(), "declined": set()}
        )
        # One query each, in chunks that stay under every database's parameter limit.
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for d in conn.execute(
                sa.select(decisions.c.id, *(decisions.c[c] for c in _DECISION)).where(
                    decisions.c.id.in_(chunk)
                )
            ):
                found[d.id] = {c: d._mapping[c] for c in _DECISION}
            for o in conn.execute(
                sa.select(outcomes.c.decision_id, outcomes.c.accepted, outcomes.c.declined)
                .where(outcomes.c.decision_id.in_(chunk))
                .order_by(outcomes.c.created_at)
            ):
                # The latest outcome about a cue wins: staff may correct a mistaken tap.
                mark = marked[o.decision_id]
                for code in o.accepted:
                    mark["accepted"].add(code)
                    mark["declined"].discard(code)
                for code in o.declined:
                    mark["declined"].add(code)
                    mark["accepted"].discard(code)
        views = []
        for row in rows:
            decision = found.get(row["decision_id"], {})
            mark = marked.get(row["decision_id"], {"accepted": set(), "declined": set()})
            view = {k: v for k, v in row.items() if k not in _HIDDEN and k not in _OVERRIDE}
            view["tier"] = row["override_tier"] or decision.get("tier")
            view["override"] = (
                None
                if row["override_tier"] is None
                else {
                    "tier": row["override_tier"],
                    "reason": row["override_reason"],
                    "at": row["overridden_at"],
                    "by": row["overridden_by"],
                }
            )
            view["decision"] = decision
            # The cues in force: those picked for an override's tier, else the decision's.
            view["cues"] = (
                decision.get("cues") if row.get("override_cues") is None else row["override_cues"]
            )
            view["accepted"] = sorted(mark["accepted"])
            view["declined"] = sorted(mark["declined"])
            views.append(view)
        return views

    def _visit_by_key(
        self, conn: sa.Connection, site: str, column: sa.Column[Any], key: str | None
    ) -> dict[str, Any] | None:
        """The visit at ``site`` whose close or override (``column``) used ``key``."""
        if key is None:
            return None
        row = conn.execute(sa.select(visits).where(visits.c.site == site, column == key)).first()
        return None if row is None else dict(row._mapping)

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


def _rounded(groups: Mapping[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        {name: key, **{k: round(v, 2) if isinstance(v, float) else v for k, v in g.items()}}
        for key, g in sorted(groups.items())
    ]
