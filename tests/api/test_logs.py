"""Logging policy: a statement's parameters (a staff note, an idempotency key, a customer
id) never reach a log, even when the store fails on PostgreSQL and the server logs a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, SITE, VIP
from tierline.api.app import create_app
from tierline.api.settings import Settings

SECRET = "Zq7-SECRET-4711"


@pytest.fixture
def failing_client(models_dir: Path, pg_url: str) -> Iterator[TestClient]:
    """An app on PostgreSQL whose outcome, decision and visit inserts all fail in a
    trigger, as a bug in the store would: the server answers 500 and logs it."""
    settings = Settings(database_url=pg_url, models=str(models_dir), reload_seconds=0.2)
    # The server's answer is checked, not the exception re-raised into the test.
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        engine = sa.create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused by a test trigger' "
                    # As a check constraint's refusal does, the DETAIL quotes the row.
                    "USING DETAIL = 'Failing row contains ' || to_jsonb(NEW)::text; "
                    "END $$ LANGUAGE plpgsql"
                )
            )
            for table in ("outcomes", "visits"):
                conn.execute(
                    sa.text(
                        f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION refuse()"
                    )
                )
        engine.dispose()
        yield client


def _key(client: TestClient, role: str) -> dict[str, str]:
    plaintext, _ = client.app.state.store.create_key(role=role, site=SITE, name=role)  # type: ignore[attr-defined]
    return {"X-API-Key": plaintext}


def test_a_failed_store_write_logs_no_parameter(
    failing_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """When the store fails an outcome's and a check-in's insert, the 500s' log records
    (every logger, DEBUG and up) hold neither the note, the idempotency key nor the
    customer id sent."""
    client = failing_client
    pos, staff = _key(client, "pos"), _key(client, "staff")
    decided = client.post("/v1/decisions", json={"signals": PLAIN}, headers=pos)
    assert decided.status_code == 200, decided.text
    caplog.set_level(logging.DEBUG)
    outcome = {"decision_id": decided.json()["decision_id"], "note": f"note {SECRET}"}
    headers = {**staff, "Idempotency-Key": f"key-{SECRET}"}
    posted = client.post("/v1/outcomes", json=outcome, headers=headers)
    visit = {"customer_id": f"c-{SECRET}", "signals": VIP}
    checked_in = client.post("/v1/visits", json=visit, headers=pos)
    assert posted.status_code == checked_in.status_code == 500, (posted.text, checked_in.text)
    assert any(r.levelno >= logging.ERROR for r in caplog.records)
    logged = caplog.text + "".join(
        logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info
    )
    assert "refused by a test trigger" in logged
    assert SECRET not in logged
    assert SECRET not in posted.text + checked_in.text
