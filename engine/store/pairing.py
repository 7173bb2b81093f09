"""Pairing codes: an admin issues a short code that signs one tablet in as staff.

A code is 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as
``ABCD-EFGH``; typing it is forgiving (case, spaces and dashes do not matter). Only the
code's SHA-256 is stored. A code is spent on its first redemption, in the transaction that
creates the staff key it hands out, and refused after its expiry.

A short code has far fewer possibilities than a key's 256-bit secret: it is safe because it
lives minutes, is spent once, and the API limits redemption attempts per client address.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tierline.engine.errors import Gone, NotFound, TierlineError
from tierline.engine.store.database import StorePart
from tierline.engine.store.keys import new_key_row, public_record
from tierline.engine.store.schema import api_keys, audit, pairing_codes

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "DEFAULT_MINUTES",
    "MAX_MINUTES",
    "PairingStore",
    "normalize_code",
]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
DEFAULT_MINUTES = 10
# Long enough to walk to the tablet and back; a code is not a way to hand out keys by mail.
MAX_MINUTES = 60
# How long a code's row outlives its expiry (for an operator looking at the table).
_KEEP_EXPIRED = timedelta(days=1)


def normalize_code(code: str) -> str | None:
    """The code as stored (upper case, no spaces or dashes), or None if it cannot be one."""
    if not isinstance(code, str):
        return None
    cleaned = "".join(code.split()).replace("-", "").upper()
    if len(cleaned) != CODE_LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


class PairingStore(StorePart):
    """Pairing codes: issue one for a site, redeem it once for a staff key."""

    def issue_pairing(
        self, *, site: str, issued_by: str, minutes: int = DEFAULT_MINUTES
    ) -> dict[str, Any]:
        """A new code for ``site``, valid for ``minutes``: ``{code, site, expires_at}``. The
        code is shown only here; the issue is audited (without the code)."""
        if not 1 <= minutes <= MAX_MINUTES:
            raise TierlineError(
                f"A pairing code lives 1 to {MAX_MINUTES} minutes, not {minutes}; "
                "issue a new one when it runs out"
            )
        if not site:
            raise TierlineError("A pairing code needs a site")
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        now = self._now()
        expires_at = now + timedelta(minutes=minutes)
        with self._db.write() as conn:
            # Spent and expired codes open nothing; the audit log keeps their history.
            conn.execute(
                sa.delete(pairing_codes).where(pairing_codes.c.expires_at < now - _KEEP_EXPIRED)
            )
            conn.execute(
                sa.insert(pairing_codes).values(
                    code_hash=_digest(code),
                    site=site,
                    issued_by=issued_by,
                    created_at=now,
                    expires_at=expires_at,
                    used_at=None,
                    key_id=None,
                )
            )
            conn.execute(
                sa.insert(audit).values(
                    at=now,
                    actor=issued_by,
                    action="pairing.issue",
                    subject=site,
                    detail={"expires_at": expires_at.isoformat()},
                )
            )
        return {"code": f"{code[:4]}-{code[4:]}", "site": site, "expires_at": expires_at}

    def redeem_pairing(self, code: str, *, client: str = "") -> tuple[str, dict[str, Any]]:
        """Spend ``code`` on a new staff key for its site: ``(plaintext, public record)``.

        NotFound if no such code was issued; Gone if it was already spent or has expired.
        Two tablets racing with one code: the conditional update lets exactly one win.
        """
        normalized = normalize_code(code)
        unknown = NotFound("No such pairing code; check it, or ask for a new one")
        if normalized is None:
            raise unknown
        digest = _digest(normalized)
        now = self._now()
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(pairing_codes).where(pairing_codes.c.code_hash == digest)
            ).first()
            if row is None:
                raise unknown
            name = f"tablet paired {now:%Y-%m-%d %H:%M} UTC"
            plaintext, key = new_key_row(role="staff", site=row.site, name=name, now=now)
            spent = conn.execute(
                sa.update(pairing_codes)
                .where(
                    pairing_codes.c.code_hash == digest,
                    pairing_codes.c.used_at.is_(None),
                    pairing_codes.c.expires_at > now,
                )
                .values(used_at=now, key_id=key["id"])
            )
            if spent.rowcount != 1:
                if row.used_at is None and row.expires_at > now:
                    raise Gone("This pairing code was just used; ask for a new one")
                raise Gone(
                    "This pairing code was already used; ask for a new one"
                    if row.used_at is not None
                    else "This pairing code has expired; ask for a new one"
                )
            conn.execute(sa.insert(api_keys).values(key))
            conn.execute(
                sa.insert(audit).values(
                    at=now,
                    actor=f"pairing:{row.issued_by}",
                    action="pairing.redeem",
                    subject=key["id"],
                    detail={"site": row.site, "client": client},
                )
            )
        return plaintext, public_record(key)
