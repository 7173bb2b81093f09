"""The store's API keys (kept only as hashes) and the append-only audit log."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from tierline.engine.errors import NotFound, TierlineError
from tierline.engine.store import Store


def test_keys_are_stored_only_as_hashes(store: Store, raw: Callable[[str], list[Any]]) -> None:
    """Neither the key nor its secret part appears anywhere in the keys table."""
    plaintext, record = store.create_key(role="pos", site="paris", name="till 1")
    assert plaintext.startswith(f"tl_{record['id']}_")
    secret = plaintext.split("_", 2)[2]
    cells = [str(cell) for row in raw("SELECT * FROM api_keys") for cell in row]
    assert cells and not any(plaintext in c or secret in c for c in cells)
    assert "key_hash" not in record and all("key_hash" not in k for k in store.list_keys())


def test_authenticate_accepts_only_live_well_formed_keys(store: Store) -> None:
    """A live key authenticates; wrong, unknown, malformed and revoked keys do not."""
    plaintext, record = store.create_key(role="staff", site="paris", name=None)
    assert store.authenticate(plaintext) == record
    wrong = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    other, _ = store.create_key(role="admin", site="hq", name="ops")
    spliced = f"tl_{record['id']}_{other.split('_', 2)[2]}"
    unknown = f"tl_{'0' * 12}_{plaintext.split('_', 2)[2]}"
    for bad in [wrong, spliced, unknown, "", "tl_", "Bearer x", plaintext + "x", "ü" * 60]:
        assert store.authenticate(bad) is None, bad
    revoked = store.revoke_key(record["id"])
    assert revoked["revoked_at"] is not None
    assert store.authenticate(plaintext) is None
    assert store.revoke_key(record["id"])["revoked_at"] == revoked["revoked_at"]
    assert store.authenticate(other) is not None


def test_authenticate_compares_hashes_in_constant_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored and presented hashes are compared with hmac.compare_digest."""
    plaintext, _ = store.create_key(role="pos", site="paris", name=None)
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert store.authenticate(plaintext) is not None
    assert len(calls) == 1


def test_key_management_lists_revokes_and_refuses_bad_input(store: Store) -> None:
    """Keys list oldest first without secrets; unknown roles and unknown ids are refused."""
    _, first = store.create_key(role="pos", site="paris", name="till")
    _, second = store.create_key(role="admin", site="hq", name="Zoë's laptop")
    assert [k["id"] for k in store.list_keys()] == [first["id"], second["id"]]
    assert store.list_keys()[1]["name"] == "Zoë's laptop"
    with pytest.raises(TierlineError, match="staff, pos, admin"):
        store.create_key(role="root", site="paris", name=None)
    with pytest.raises(NotFound):
        store.revoke_key("nope")


def test_audit_log_is_append_only(store: Store, raw: Callable[[str], list[Any]]) -> None:
    """Entries come back newest first, and the database refuses to change or delete them."""
    store.audit(actor="cli", action="promote", subject="v2", detail={"from": "v1"})
    store.audit(actor="k1", action="override", subject="d1", detail={"reason": "stammgast ☕"})
    store.audit(actor="cli", action="key.revoke", subject="k1", detail={})
    log = store.audit_log()
    assert [e["action"] for e in log] == ["key.revoke", "override", "promote"]
    assert log[1]["detail"] == {"reason": "stammgast ☕"} and log[1]["at"].tzinfo is not None
    assert [e["action"] for e in store.audit_log(limit=1)] == ["key.revoke"]
    for sql in ["UPDATE audit SET actor = 'x'", "DELETE FROM audit"]:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            raw(sql)
    assert store.audit_log() == log
