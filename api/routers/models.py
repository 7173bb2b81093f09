"""Models: list versions, promote one, roll back (admin only; every change audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from tierline.api.deps import AdminKey, MetricsDep, ServingDep, StoreDep
from tierline.api.examples import documented
from tierline.api.schemas import NO_NUL

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", responses=documented("models"))
def list_models(key: AdminKey, serving: ServingDep) -> dict[str, Any]:
    """Every model version, oldest first, with the champion and the version served here."""
    registry = serving.registry
    items = []
    for version in registry.versions():
        info = registry.info(version)
        metrics = {k: v for k, v in info.metrics.items() if isinstance(v, int | float)}
        items.append(
            {
                "version": info.version,
                "created": info.created,
                "kind": info.target_kind,
                "champion": info.champion,
                "metrics": metrics,
            }
        )
    return {"champion": registry.champion(), "serving": serving.current.version, "items": items}


@router.post("/{version}/promote", responses=documented("promoted", 404, 409))
async def promote(
    version: Annotated[str, Path(min_length=1, max_length=50, pattern=NO_NUL)],
    key: AdminKey,
    serving: ServingDep,
    store: StoreDep,
    metrics: MetricsDep,
) -> dict[str, Any]:
    """Make a version the champion (verified first; tampered is 409, unknown 404)."""
    previous = await run_in_threadpool(serving.registry.promote, version)
    await run_in_threadpool(
        store.audit,
        actor=key.id,
        action="promote",
        subject=version,
        detail={"previous": previous},
    )
    await run_in_threadpool(serving.refresh)
    metrics.set_model(serving.current.version)
    return {"champion": version, "previous": previous, "serving": serving.current.version}


@router.post("/rollback", responses=documented("promoted", 409))
async def rollback(
    key: AdminKey, serving: ServingDep, store: StoreDep, metrics: MetricsDep
) -> dict[str, Any]:
    """Return the champion to the version it replaced."""
    current = serving.registry.champion()
    now = await run_in_threadpool(serving.registry.rollback)
    await run_in_threadpool(
        store.audit, actor=key.id, action="rollback", subject=now, detail={"previous": current}
    )
    await run_in_threadpool(serving.refresh)
    metrics.set_model(serving.current.version)
    return {"champion": now, "previous": current, "serving": serving.current.version}
