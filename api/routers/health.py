"""Health: liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from tierline.api.answers import ErrorBody, HealthAnswer, ReadyAnswer
from tierline.api.deps import MetricsDep, SnapshotDep, StoreDep
from tierline.api.errors import error_body
from tierline.api.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthAnswer)
async def healthz() -> dict[str, Any]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyAnswer,
    responses={503: {"model": ErrorBody, "description": "No model loaded, or no store"}},
)
def readyz(store: StoreDep, serving: SnapshotDep) -> dict[str, Any] | JSONResponse:
    """Ready only when a model is loaded and the store answers (503 otherwise)."""
    store_ok = store.ping()
    checks = {"model": serving.version, "store": store_ok}
    if serving.model is None or not store_ok:
        why = "no model loaded (degraded)" if serving.model is None else "store unreachable"
        return JSONResponse(error_body("not_ready", f"Not ready: {why}", checks), status_code=503)
    return {"status": "ready", **checks}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics_text(metrics: MetricsDep, serving: SnapshotDep) -> Response:
    """Prometheus text format: requests, latency, decisions by tier, fallbacks, model (all
    workers of this server summed)."""
    metrics.set_model(serving.version)
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
