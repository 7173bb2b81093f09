"""Outcomes: what happened after a decision, recorded exactly once per idempotency key.

A client that does not know whether its post arrived (a timeout, a killed server) sends it
again with the same ``Idempotency-Key``. Keys are the site's own: another site may use the
same one. The first body is stored with the SHA-256 of its canonical JSON; a repeat with
the same body gets the stored outcome back (a replay), a repeat with a different body is
``IdempotencyKeyReused``. The row is committed (and, on SQLite,
synced to disk) before ``record_outcome`` returns, so an acknowledged outcome survives a
``kill -9``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from tierline.engine.errors import IdempotencyKeyReused, NotFound
from tierline.engine.store.database import StorePart, is_unique_violation
from tierline.engine.store.schema import decisions, outcomes

__all__ = ["OutcomeStore", "request_hash"]

# The site is the key's scope, already the caller's own: answers look as they did before.
_PUBLIC = tuple(c.name for c in outcomes.c if c.name not in {"request_hash", "site"})


def request_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 of the body as canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class OutcomeStore(StorePart):
    """Outcomes with idempotency keys."""

    def record_outcome(
        self, *, site: str, idempotency_key: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Store the outcome ``body`` once per ``idempotency_key`` at ``site``; returns
        ``(stored outcome, replay)``.

        The decision must be one of ``site``'s. ``body`` is the validated request
        (``decision_id``, ``spend``, ``accepted``, ``declined``, ``converted``, ``note``),
        dumped with its defaults so that the same request always hashes the same.
        """
        digest = request_hash(body)
        try:
            with self._db.write() as conn:
                stored = self._outcome_by_key(conn, site, idempotency_key)
                if stored is not None:
                    return _replay(stored, digest, idempotency_key), True
                decided_at = conn.scalar(
                    sa.select(decisions.c.site).where(decisions.c.id == body["decision_id"])
                )
                if decided_at != site:
                    # The same words for another site's decision as for one never stored.
                    raise NotFound(f"Decision '{body['decision_id']}' does not exist")
                row = _row(body, key=idempotency_key, digest=digest)
                row["site"] = site
                row["id"] = uuid.uuid4().hex
                row["created_at"] = self._now()
                conn.execute(sa.insert(outcomes).values(row))
        except exc.IntegrityError as error:
            # Two requests with one key raced (PostgreSQL); the winner's row answers.
            if not is_unique_violation(error):
                raise
            with self._db.read() as conn:
                stored = self._outcome_by_key(conn, site, idempotency_key)
            if stored is None:
                raise
            return _replay(stored, digest, idempotency_key), True
        return _public(row), False

    def get_outcome(self, site: str, idempotency_key: str) -> dict[str, Any] | None:
        """The outcome stored under this idempotency key at ``site``, or None."""
        with self._db.read() as conn:
            stored = self._outcome_by_key(conn, site, idempotency_key)
        return None if stored is None else _public(stored)

    def _outcome_by_key(self, conn: sa.Connection, site: str, key: str) -> dict[str, Any] | None:
        row = conn.execute(
            sa.select(outcomes).where(outcomes.c.site == site, outcomes.c.idempotency_key == key)
        ).first()
        return None if row is None else dict(row._mapping)


def _public(row: Mapping[Any, Any]) -> dict[str, Any]:
    # The same keys in the same order on the first response and on every replay.
    return {name: row[name] for name in _PUBLIC}


def _row(body: Mapping[str, Any], *, key: str, digest: str) -> dict[str, Any]:
    spend, converted = body.get("spend"), body.get("converted")
    return {
        "idempotency_key": key,
        "request_hash": digest,
        "decision_id": body["decision_id"],
        # As the database gives them back, so that a replay looks like the first answer.
        "spend": None if spend is None else float(spend),
        "accepted": list(body.get("accepted") or []),
        "declined": list(body.get("declined") or []),
        "converted": None if converted is None else bool(converted),
        "note": body.get("note"),
    }


def _replay(stored: dict[str, Any], digest: str, key: str) -> dict[str, Any]:
    if stored["request_hash"] != digest:
        raise IdempotencyKeyReused(
            f"Idempotency key '{key}' was already used at this site with a different "
            "request; use a new key for a new outcome"
        )
    return _public(stored)
