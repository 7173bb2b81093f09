"""Profiles in bulk (``Store.upsert_customers``) on SQLite and PostgreSQL: counts, chunks,
idempotency, scopes, and refusals that write nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tierline.engine.errors import DataError
from tierline.engine.store import Store

T0 = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _profiles(n: int, *, visits: int = 1) -> list[tuple[str, dict[str, object]]]:
    return [
        (f"c-{i:04d}", {"visits_90d": visits + i % 3, "campaign": "spring", "member": i % 2 == 0})
        for i in range(n)
    ]


def test_bulk_upsert_counts_and_stores_every_profile(url: str) -> None:
    """A first import inserts every profile across several chunks, each readable by id with
    the signals given; the progress callback hears each chunk's running total."""
    heard: list[int] = []
    with Store.open(url) as store:
        counts = store.upsert_customers(
            _profiles(25), scope="", chunk_rows=10, progress=heard.append
        )
        assert counts == {"inserted": 25, "updated": 0, "unchanged": 0}
        assert heard == [10, 20, 25]
        stored = store.get_customer("c-0007", scope="")
    assert stored is not None
    assert stored["signals"] == {"visits_90d": 2, "campaign": "spring", "member": False}


def test_the_same_import_twice_changes_nothing(url: str) -> None:
    """Importing the same profiles again reports them unchanged and keeps their
    updated_at; a changed profile is counted updated and gets the new time."""
    clock = _Clock()
    with Store.open(url, clock=clock) as store:
        store.upsert_customers(_profiles(12), scope="", chunk_rows=5)
        clock.now = T0 + timedelta(hours=1)
        again = store.upsert_customers(_profiles(12), scope="", chunk_rows=5)
        assert again == {"inserted": 0, "updated": 0, "unchanged": 12}
        assert store.get_customer("c-0003", scope="")["updated_at"] == T0  # type: ignore[index]
        changed = [("c-0003", {"visits_90d": 40}), ("c-0099", {"visits_90d": 1})]
        assert store.upsert_customers(changed, scope="") == {
            "inserted": 1,
            "updated": 1,
            "unchanged": 0,
        }
        after = store.get_customer("c-0003", scope="")
    assert after == {"id": "c-0003", "signals": {"visits_90d": 40}, "updated_at": clock.now}


def test_a_site_scope_leaves_the_chain_profiles_alone(url: str) -> None:
    """Profiles imported for one site are that site's only: the chain's profile of the
    same id is neither read nor replaced."""
    with Store.open(url, profiles="site") as store:
        store.upsert_customer("c-0001", {"visits_90d": 9}, scope="")
        counts = store.upsert_customers(_profiles(3), scope="lyon")
        assert counts["inserted"] == 3
        assert store.get_customer("c-0001", scope="")["signals"] == {"visits_90d": 9}  # type: ignore[index]
        assert store.get_customer("c-0001", scope="lyon")["signals"]["visits_90d"] == 2  # type: ignore[index]
        assert store.get_customer("c-0001", scope="paris") is None


def test_a_repeated_id_is_refused_before_anything_is_written(url: str) -> None:
    """An id given twice is a DataError naming it, and no profile of the call is stored,
    not even those of earlier chunks."""
    profiles = [*_profiles(6), ("c-0001", {"visits_90d": 5})]
    with Store.open(url) as store:
        with pytest.raises(DataError, match="c-0001"):
            store.upsert_customers(profiles, scope="", chunk_rows=2)
        assert store.get_customer("c-0000", scope="") is None
