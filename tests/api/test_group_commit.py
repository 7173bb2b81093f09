"""Group commit: decisions of requests handled in the same turn of the event loop are
written in one transaction, and each request answers only once its row is stored."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, Keys
from tierline.api.group_commit import DecisionWriter
from tierline.engine.store import Store, new_decision_id


def _row(i: int) -> dict[str, Any]:
    return {
        "decision_id": new_decision_id(),
        "customer_id": f"c{i}",
        "site": "paris",
        "tier": "vip",
        "confidence": 0.9,
        "score": 0.8,
        "cues": [{"code": "welcome", "text": "Say hello", "perk": None}],
        "reasons": [],
        "model_version": "v1",
        "holdout": False,
        "degraded": False,
    }


def test_writes_queued_in_one_turn_are_one_transaction(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(10)]
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        writer = DecisionWriter(store)

        async def main() -> None:
            await asyncio.gather(*(writer.write([row]) for row in rows))
            await writer.write([_row(99)])  # a later turn: a group of its own

        asyncio.run(main())
        assert (writer.groups, writer.rows) == (2, 11)
        for row in rows:
            stored = store.get_decision(row["decision_id"])
            assert stored is not None and stored["customer_id"] == row["customer_id"]


def test_a_failed_group_is_written_again_one_request_at_a_time(tmp_path: Path) -> None:
    """One bad row (no tier) fails the group's transaction; the group is then written one
    request at a time, so only the request with the bad row gets the error."""
    good, bad = _row(1), _row(2)
    del bad["tier"]
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        writer = DecisionWriter(store)

        async def main() -> list[BaseException | None]:
            return await asyncio.gather(
                writer.write([good]), writer.write([bad]), return_exceptions=True
            )

        results = asyncio.run(main())
        assert results[0] is None and isinstance(results[1], KeyError), results
        assert store.get_decision(good["decision_id"]) is not None
        assert store.get_decision(bad["decision_id"]) is None
        assert (writer.groups, writer.rows) == (1, 1)


def test_a_refused_row_fails_only_its_http_request(client: TestClient, keys: Keys) -> None:
    """Concurrent decisions where the database refuses one customer's row: that request
    gets a 409 in the error shape, every other one a 200 with its decision stored."""
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    with sqlite3.connect(store.url.removeprefix("sqlite:///")) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON decisions WHEN NEW.customer_id = 'g7' "
            "BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END"
        )

    def post(i: int) -> tuple[int, dict[str, Any]]:
        r = client.post(
            "/v1/decisions?explain=false",
            json={"customer_id": f"g{i}", "signals": PLAIN},
            headers=keys.pos,
        )
        return r.status_code, dict(r.json())

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(40)))
    assert [status for status, _ in answers] == [409 if i == 7 else 200 for i in range(40)]
    assert answers[7][1]["error"]["code"] == "conflict"
    for status, answer in answers:
        if status == 200:
            assert store.get_decision(answer["decision_id"]) is not None


@pytest.mark.parametrize("threads", [8])
def test_concurrent_http_decisions_are_grouped_and_all_stored(
    client: TestClient, keys: Keys, threads: int
) -> None:
    def post(i: int) -> dict[str, Any]:
        r = client.post(
            "/v1/decisions?explain=false",
            json={"customer_id": f"g{i}", "signals": PLAIN},
            headers=keys.pos,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(post, range(300)))
    writer: DecisionWriter = client.app.state.decision_writer  # type: ignore[attr-defined]
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    assert writer.rows == 300, writer.groups
    assert writer.groups < 300, "no two concurrent requests shared a transaction"
    for answer in answers:
        stored = store.get_decision(answer["decision_id"])
        assert stored is not None
        assert (stored["customer_id"], stored["tier"]) == (answer["customer_id"], answer["tier"])
