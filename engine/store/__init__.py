"""The store: tierline's state (customers, decisions, perks, visits, outcomes, keys, audit).

SQLAlchemy 2 over SQLite (the embedded default, a WAL file under ``var/``) or PostgreSQL
(``TIERLINE_DATABASE_URL``, shared by API workers and replicas). The schema is built by
Alembic migrations in ``engine/store/migrations``, applied by ``Store.open`` and
``upgrade``. Every time is UTC and timezone-aware.
"""

from tierline.engine.store.customers import new_decision_id
from tierline.engine.store.keys import ROLES
from tierline.engine.store.migrate import head, upgrade
from tierline.engine.store.outcomes import request_hash
from tierline.engine.store.store import Profiles, Store

__all__ = ["ROLES", "Profiles", "Store", "head", "new_decision_id", "request_hash", "upgrade"]
