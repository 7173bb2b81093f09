"""Group commit: decisions of requests handled in the same turn of the event loop are
written in one transaction, and each request answers only once its row is stored."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.group_commit import DecisionWriter
from engine.store import Store, new_decision_id
from tests.api.conftest import PLAIN, Keys


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


def test_a_failed_write_fails_every_request_of_its_group(tmp_path: Path) -> None:
    """One bad row (no tier) fails the transaction: every request waiting on it gets the
    error, and none of the group's rows is stored."""
    good, bad = _row(1), _row(2)
    del bad["tier"]
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        writer = DecisionWriter(store)

        async def main() -> list[BaseException | None]:
            return await asyncio.gather(
                writer.write([good]), writer.write([bad]), return_exceptions=True
            )

        results = asyncio.run(main())
        assert all(isinstance(r, KeyError) for r in results), results
        assert store.get_decision(good["decision_id"]) is None
        assert writer.groups == 0


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
