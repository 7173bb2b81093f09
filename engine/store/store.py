"""``Store``: tierline's state in SQLite or PostgreSQL, behind one small synchronous API.

The API's handlers call it from the thread pool; one ``Store`` is shared by all threads
(the engine pools connections). Every method is one short transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Literal

from tierline.engine.store.bulk_customers import BulkCustomerStore
from tierline.engine.store.customers import CustomerStore
from tierline.engine.store.database import Database, utcnow
from tierline.engine.store.decision_log import DecisionLogStore
from tierline.engine.store.keys import KeyStore
from tierline.engine.store.migrate import upgrade_database
from tierline.engine.store.outcomes import OutcomeStore
from tierline.engine.store.pairing import PairingStore
from tierline.engine.store.perks import PerkStore
from tierline.engine.store.privacy import PrivacyStore
from tierline.engine.store.rate_limits import RateLimitStore
from tierline.engine.store.visits import VisitStore

__all__ = ["Profiles", "Store"]

# Whose profile a customer id names: the chain's one (a CRM sync for the whole group) or
# each site's own, which no other site reads or replaces.
Profiles = Literal["chain", "site"]


class Store(
    CustomerStore,
    BulkCustomerStore,
    DecisionLogStore,
    PerkStore,
    VisitStore,
    OutcomeStore,
    KeyStore,
    PairingStore,
    PrivacyStore,
    RateLimitStore,
):
    """Customers, decisions and the decision log, perks, visits, outcomes, API keys and
    tablet pairing codes, the audit log, erasure and retention, shared rate-limit buckets.

    Open it with ``Store.open(url)``, which also migrates the schema to the newest version.
    """

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime] = utcnow,
        *,
        profiles: Profiles = "chain",
    ) -> None:
        super().__init__(database, clock)
        self.profiles: Profiles = profiles

    @classmethod
    def open(
        cls, url: str, *, clock: Callable[[], datetime] = utcnow, profiles: Profiles = "chain"
    ) -> Store:
        """Connect to ``url`` (``sqlite:///var/tierline.db``, ``postgresql+psycopg://...``)
        and upgrade its schema; ``clock`` gives the current UTC time (tests pass a fake);
        ``profiles`` says whose profile a site reads and writes (``profile_scope``)."""
        database = Database(url)
        try:
            upgrade_database(database)
        except BaseException:
            database.dispose()
            raise
        return cls(database, clock, profiles=profiles)

    def profile_scope(self, site: str) -> str:
        """The scope of ``site``'s profiles: ``''`` (the chain's) or ``site`` itself."""
        return site if self.profiles == "site" else ""

    @property
    def url(self) -> str:
        """The database URL with any password hidden (for logs and errors)."""
        return self._db.name

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "sqlite" if self._db.is_sqlite else "postgresql"

    def ping(self) -> bool:
        """Can the database be reached now? (readiness)"""
        return self._db.ping()

    def close(self) -> None:
        """Close every pooled connection."""
        self._db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
