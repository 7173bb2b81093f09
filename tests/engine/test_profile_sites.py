"""Profiles per site in the store: scopes, erasure, and migration 0008 both ways."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.engine.conftest import migrate_to
from tierline.engine.errors import StoreError
from tierline.engine.store import Store

_OLD_PROFILE = (
    "INSERT INTO customers (id, signals, updated_at) "
    """VALUES ('c1', '{"visits_90d": 4}', :t)"""
)


def _primary_key(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return list(sa.inspect(engine).get_pk_constraint("customers")["constrained_columns"])
    finally:
        engine.dispose()


def test_a_scope_reads_and_replaces_only_its_own_profile(url: str) -> None:
    """A site's profile and the chain's of one id live side by side; each PUT replaces its own."""
    with Store.open(url, profiles="site") as store:
        assert store.profile_scope("lyon") == "lyon"
        store.upsert_customer("c1", {"visits_90d": 1}, scope="")
        store.upsert_customer("c1", {"visits_90d": 2}, scope="lyon")
        store.upsert_customer("c1", {"visits_90d": 3}, scope="lyon")
        assert store.get_customer("c1", scope="paris") is None
        assert store.get_customer("c1", scope="")["signals"] == {"visits_90d": 1}  # type: ignore[index]
        assert store.get_customer("c1", scope="lyon")["signals"] == {"visits_90d": 3}  # type: ignore[index]
    with Store.open(url) as chain:
        assert chain.profile_scope("lyon") == ""


def test_erasure_deletes_the_profile_in_every_scope(url: str) -> None:
    """Erasing an id deletes the chain's profile and every site's."""
    with Store.open(url, profiles="site") as store:
        for scope in ("", "lyon", "paris"):
            store.upsert_customer("c1", {"visits_90d": 1}, scope=scope)
        store.upsert_customer("c2", {"visits_90d": 1}, scope="lyon")
        assert store.erase_customer("c1", actor="test")["profile"] is True
        assert all(store.get_customer("c1", scope=s) is None for s in ("", "lyon", "paris"))
        assert store.get_customer("c2", scope="lyon") is not None


def test_a_database_at_0007_keeps_its_profiles_chain_wide_and_goes_back(url: str) -> None:
    """Upgrading from 0007 keys profiles by (site, id) and keeps each as the chain's; going
    back is refused while a site has a profile of its own, and keeps the rest otherwise."""
    migrate_to(url, "0007", _OLD_PROFILE)
    with Store.open(url, profiles="site") as store:
        kept = store.get_customer("c1", scope="")
        assert kept is not None and kept["signals"] == {"visits_90d": 4}
        assert store.get_customer("c1", scope="lyon") is None
        store.upsert_customer("c1", {"visits_90d": 5}, scope="lyon")
    assert _primary_key(url) == ["site", "id"]
    with pytest.raises(StoreError, match="1 profiles belong to one site"):
        migrate_to(url, "0007", down=True)
    migrate_to(url, "0008", "DELETE FROM customers WHERE site = 'lyon'")
    migrate_to(url, "0007", down=True)
    assert _primary_key(url) == ["id"]
    with Store.open(url) as store:  # and forward again
        assert store.get_customer("c1", scope="") == kept
