"""Decisions: score one customer or a batch (the one decision path in engine.decisions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import MetricsDep, ModelDep, PosKey, SettingsDep, StoreDep, on_store
from api.errors import ApiError
from api.examples import documented
from api.group_commit import DecisionWriter
from api.metrics import Metrics
from api.schemas import BatchRequest, DecisionRequest
from api.serving import Serving
from engine.decisions import decide_many, decision_rows, prepare_many
from engine.store import Store

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.post("", responses=documented("decision", 400, 404, 413))
async def create_decision(
    body: DecisionRequest,
    key: PosKey,
    request: Request,
    explain: bool = True,
) -> dict[str, Any]:
    """Score one customer (known id, signals, or both) and store the decision."""
    # The busiest route reads the app's state itself rather than through StoreDep,
    # ModelDep and MetricsDep: each dependency FastAPI resolves costs about 20 µs of CPU.
    state = request.app.state
    store: Store = state.store
    serving: Serving = state.serving.current
    metrics: Metrics = state.metrics
    writer: DecisionWriter = state.decision_writer
    decisions = await on_store(
        store,
        prepare_many,
        store=store,
        model=serving.model,
        fallback=serving.fallback,
        requests=[(body.customer_id, body.signals)],
        explain=explain,
    )
    await writer.write(decision_rows(decisions, site=key.site))  # stored before the answer
    metrics.count_decisions(decisions)
    return decisions[0]


@router.post("/batch", responses=documented("decisions", 400, 404, 413))
def create_decisions(
    body: BatchRequest,
    key: PosKey,
    store: StoreDep,
    serving: ModelDep,
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
