"""API keys (shown once, stored hashed, compared in constant time) and the audit log.

A key reads ``tl_<id>_<secret>``: the id is public (it names the key in lists and in the
audit log) and finds the row; the secret is 32 random bytes. Only SHA-256 of the whole
key is stored. A fast hash is the right tool here: slow password hashes (bcrypt, argon2)
protect low-entropy secrets from guessing, and a 256-bit random secret cannot be guessed,
while every API request has to check its key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tierline.engine.errors import NotFound, TierlineError
from tierline.engine.store.database import StorePart
from tierline.engine.store.schema import api_keys, audit

__all__ = ["ROLES", "KeyStore", "new_key_row", "public_record"]

ROLES = ("staff", "pos", "admin")

_KEY = re.compile(r"tl_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
_PUBLIC = tuple(c.name for c in api_keys.c if c.name != "key_hash")


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def new_key_row(
    *, role: str, site: str, name: str | None, now: datetime
) -> tuple[str, dict[str, Any]]:
    """A new key's plaintext and the ``api_keys`` row that stores its hash (for the
    callers that insert it in a transaction of their own, such as a pairing)."""
    if role not in ROLES:
        raise TierlineError(f"Role '{role}' is not one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(6)
    plaintext = f"tl_{key_id}_{secrets.token_urlsafe(32)}"
    row = {
        "id": key_id,
        "key_hash": _digest(plaintext),
        "role": role,
        "site": site,
        "name": name,
        "created_at": now,
        "revoked_at": None,
    }
    return plaintext, row


class KeyStore(StorePart):
    """API keys and the audit log."""

    def create_key(self, *, role: str, site: str, name: str | None) -> tuple[str, dict[str, Any]]:
        """A new key for ``role`` at ``site``: ``(plaintext, public record)``; the plaintext
        is never stored or shown again."""
        plaintext, row = new_key_row(role=role, site=site, name=name, now=self._now())
        with self._db.write() as conn:
            conn.execute(sa.insert(api_keys).values(row))
        return plaintext, public_record(row)

    def authenticate(self, plaintext: str) -> dict[str, Any] | None:
        """The key's public record if ``plaintext`` is a live key; None if it is malformed,
        unknown, wrong or revoked."""
        match = _KEY.fullmatch(plaintext) if isinstance(plaintext, str) else None
        if match is None:
            return None
        with self._db.read() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == match[1])).first()
        if row is None:
            return None
        # Constant time: how much of the hash matched must not show in the response time.
        if not hmac.compare_digest(row.key_hash, _digest(plaintext)):
            return None
        return None if row.revoked_at is not None else public_record(row._mapping)

    def list_keys(self) -> list[dict[str, Any]]:
        """Every key's public record (never the key or its hash), oldest first."""
        query = sa.select(*(api_keys.c[n] for n in _PUBLIC)).order_by(
            api_keys.c.created_at, api_keys.c.id
        )
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        """Revoke a key from now on; revoking it again keeps the first time."""
        with self._db.write() as conn:
            conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFound(f"No API key with id '{key_id}'; `tierline keys list` shows them")
        return public_record(row._mapping)

    def audit(
        self, *, actor: str, action: str, subject: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        """Append one entry (an override, a promotion, a key change) to the audit log."""
        row = {
            "at": self._now(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": dict(detail or {}),
        }
        with self._db.write() as conn:
            conn.execute(sa.insert(audit).values(row))

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` audit entries, newest first."""
        query = sa.select(audit).order_by(audit.c.id.desc()).limit(limit)
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def public_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A key's row without its hash."""
    return {name: row[name] for name in _PUBLIC}
