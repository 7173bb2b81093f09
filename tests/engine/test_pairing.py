"""Pairing codes in the store, on SQLite and PostgreSQL: hashed, single use, expiring."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tierline.engine.errors import Gone, NotFound, TierlineError
from tierline.engine.store import Store
from tierline.engine.store.pairing import ALPHABET


class FakeClock:
    """A UTC clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_code_is_short_unambiguous_and_stored_only_as_a_hash(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """A code reads ABCD-EFGH from an alphabet without look-alikes, and no cell holds it."""
    issued = store.issue_pairing(site="lyon", issued_by="k1", minutes=10)
    code = issued["code"]
    assert len(code) == 9 and code[4] == "-"
    assert all(c in ALPHABET for c in code.replace("-", ""))
    assert not set(code) & set("01OIL")
    cells = [str(cell) for row in raw("SELECT * FROM pairing_codes") for cell in row]
    assert cells and not any(code.replace("-", "") in c or code in c for c in cells)
    assert issued["site"] == "lyon" and issued["expires_at"].tzinfo is not None


def test_a_code_signs_in_once_as_staff_of_its_site(store: Store) -> None:
    """Redeeming gives a live staff key of the code's site, named for the tablet; the code
    typed in lower case with spaces works; a second redemption is refused as gone."""
    code = store.issue_pairing(site="lyon", issued_by="k1")["code"]
    plaintext, record = store.redeem_pairing(" " + code.lower().replace("-", " ") + " ")
    assert record["role"] == "staff" and record["site"] == "lyon"
    assert record["name"].startswith("tablet paired ")
    assert store.authenticate(plaintext) == record
    with pytest.raises(Gone, match="already used"):
        store.redeem_pairing(code)
    assert [k["id"] for k in store.list_keys()] == [record["id"]]


def test_an_expired_code_is_gone_and_makes_no_key(url: str) -> None:
    """A code redeemed after its minutes have run out is refused and creates no key."""
    clock = FakeClock()
    with Store.open(url, clock=clock) as store:
        code = store.issue_pairing(site="lyon", issued_by="k1", minutes=2)["code"]
        clock.now += timedelta(minutes=2)
        with pytest.raises(Gone, match="expired"):
            store.redeem_pairing(code)
        assert store.list_keys() == []


def test_unknown_and_malformed_codes_are_not_found(store: Store) -> None:
    """A code never issued, or one that cannot be a code, is not found."""
    store.issue_pairing(site="lyon", issued_by="k1")
    for bad in ["ABCD-EFGH", "", "0000-0000", "ABC", "x" * 500, "ÄBCD-EFGH"]:
        with pytest.raises(NotFound):
            store.redeem_pairing(bad)


def test_issue_and_redeem_are_audited_without_the_code(store: Store) -> None:
    """The audit log names who issued a code and which key it made, never the code."""
    code = store.issue_pairing(site="lyon", issued_by="admin-key")["code"]
    _, record = store.redeem_pairing(code, client="10.0.0.7")
    redeem, issue = store.audit_log()[:2]
    assert (issue["action"], issue["actor"], issue["subject"]) == (
        "pairing.issue",
        "admin-key",
        "lyon",
    )
    assert (redeem["action"], redeem["subject"]) == ("pairing.redeem", record["id"])
    assert redeem["detail"] == {"site": "lyon", "client": "10.0.0.7"}
    assert code not in str(store.audit_log())


def test_a_code_lives_one_to_sixty_minutes(store: Store) -> None:
    """A lifetime outside 1 to 60 minutes is refused."""
    for minutes in (0, -1, 61):
        with pytest.raises(TierlineError, match="1 to 60 minutes"):
            store.issue_pairing(site="lyon", issued_by="k1", minutes=minutes)


def test_two_tablets_racing_with_one_code_get_one_key(store: Store) -> None:
    """Of eight concurrent redemptions of one code, exactly one gets a key."""
    code = store.issue_pairing(site="lyon", issued_by="k1")["code"]

    def attempt(_: int) -> str:
        try:
            store.redeem_pairing(code)
        except Gone:
            return "gone"
        return "key"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert sorted(results) == ["gone"] * 7 + ["key"]
    assert len(store.list_keys()) == 1


def test_codes_expired_a_day_ago_are_deleted_when_a_new_one_is_issued(
    url: str, raw: Callable[[str], list[Any]]
) -> None:
    """Issuing a code deletes the rows of codes that expired more than a day before, and
    keeps younger ones."""
    clock = FakeClock()
    with Store.open(url, clock=clock) as store:
        store.issue_pairing(site="lyon", issued_by="k1", minutes=1)
        clock.now += timedelta(hours=12)
        store.issue_pairing(site="lyon", issued_by="k1", minutes=1)
        assert raw("SELECT COUNT(*) FROM pairing_codes") == [(2,)]
        clock.now += timedelta(hours=12, minutes=2)
        store.issue_pairing(site="lyon", issued_by="k1", minutes=1)
        assert raw("SELECT COUNT(*) FROM pairing_codes") == [(2,)]
