"""Decisions: score one customer or a batch (the one decision path in engine.decisions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request

from tierline.api.answers import DecisionBatchAnswer
from tierline.api.deps import MetricsDep, PosKey, SettingsDep, SnapshotDep, StoreDep, on_store
from tierline.api.errors import ApiError
from tierline.api.examples import documented
from tierline.api.group_commit import DecisionWriter
from tierline.api.metrics import Metrics
from tierline.api.schemas import BatchRequest, DecisionRequest
from tierline.api.serving import Serving
from tierline.engine.decisions import decide_many, prepare_many
from tierline.engine.store import Store

__all__ = ["create_decision", "create_decisions", "decide_and_store", "router"]

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


async def decide_and_store(
    state: Any,
    *,
    site: str,
    customer_id: str | None,
    signals: Mapping[str, Any] | None,
    explain: bool,
) -> dict[str, Any]:
    """One decision at ``site``, stored (with the other decisions of this turn of the event
    loop, ``api.group_commit``) before it is returned. ``state`` is the app's."""
    store: Store = state.store
    serving: Serving = state.serving.current  # one snapshot for the whole request
    writer: DecisionWriter = state.decision_writer
    decisions, rows = await on_store(
        store,
        prepare_many,
        store=store,
        model=serving.model,
        fallback=serving.fallback,
        site=site,
        requests=[(customer_id, signals)],
        explain=explain,
    )
    await writer.write(rows)  # stored, with the perks it takes, before the answer
    metrics: Metrics = state.metrics
    metrics.count_decisions(decisions)
    return decisions[0]


@router.post("", response_model=None, responses=documented("decision", 400, 404, 413))
async def create_decision(
    body: DecisionRequest,
    key: PosKey,
    request: Request,
    explain: bool = True,
) -> dict[str, Any]:
    """Score one customer (known id, signals, or both) and store the decision."""
    # Served by api.decision_lane, which skips FastAPI's machinery for this busiest route;
    # this declaration documents it and answers where the lane does not (under a prefix).
    return await decide_and_store(
        request.app.state,
        site=key.site,
        customer_id=body.customer_id,
        signals=body.signals,
        explain=explain,
    )


@router.post(
    "/batch",
    response_model=DecisionBatchAnswer,
    responses=documented("decisions", 400, 404, 413),
)
def create_decisions(
    body: BatchRequest,
    key: PosKey,
    store: StoreDep,
    serving: SnapshotDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    explain: bool = True,
) -> dict[str, Any]:
    """Score several customers in one call (at most batch_cap) with the same code path."""
    if len(body.items) > settings.batch_cap:
        raise ApiError(
            422,
            "batch_too_large",
            f"A batch holds at most {settings.batch_cap} items; got {len(body.items)}",
            {"max_items": settings.batch_cap},
        )
    decisions = decide_many(
        store=store,
        model=serving.model,
        fallback=serving.fallback,
        site=key.site,
        requests=[(item.customer_id, item.signals) for item in body.items],
        explain=explain,
    )
    metrics.count_decisions(decisions)
    return {"items": decisions}
