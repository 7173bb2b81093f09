"""Visits: the coat-check check-in (a ticket in the tier's range), display, close, override."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from tierline.api.answers import CheckInAnswer, VisitAnswer, VisitListAnswer
from tierline.api.deps import (
    MetricsDep,
    OptionalIdempotencyKey,
    PosKey,
    SettingsDep,
    SnapshotDep,
    StaffKey,
    StoreDep,
)
from tierline.api.errors import ApiError
from tierline.api.examples import documented
from tierline.api.schemas import CloseRequest, OverrideRequest, VisitRequest
from tierline.engine.decisions import check_in, override

router = APIRouter(prefix="/v1/visits", tags=["visits"])

Ticket = Annotated[int, Path(ge=0, le=1_000_000)]


@router.post(
    "",
    status_code=201,
    response_model=CheckInAnswer,
    responses=documented("check_in", 400, 404, 409, 413, status=201),
)
def create_visit(
    body: VisitRequest,
    key: PosKey,
    store: StoreDep,
    serving: SnapshotDep,
    metrics: MetricsDep,
    explain: bool = True,
) -> dict[str, Any]:
    """Check a customer in: decide, then hand out a ticket from the tier's range."""
    visit, decision = check_in(
        store=store,
        model=serving.model,
        fallback=serving.fallback,
        site=key.site,
        customer_id=body.customer_id,
        signals=body.signals,
        party_size=body.party_size,
        explain=explain,
    )
    metrics.count_decisions([decision])
    return {
        "ticket": visit["ticket"],
        "site": visit["site"],
        "opened_at": visit["opened_at"],
        "party_size": visit["party_size"],
        "decision": decision,
    }


@router.get("", response_model=VisitListAnswer, responses=documented("visits"))
def list_visits(
    key: StaffKey, store: StoreDep, serving: SnapshotDep, settings: SettingsDep
) -> dict[str, Any]:
    """The open visits at the key's site, newest first, with what the staff display needs:
    each visit's decision, the tier in force, where the customer came from and the cues
    already marked; plus each tier's label, colour and shape, whether decisions are
    coming from the fallback (``degraded``), and the display's settings for the site."""
    return {
        "site": key.site,
        "role": key.role,
        "degraded": serving.model is None,
        "model_version": serving.version,
        "tiers": [
            {"tier": t.tier, "label": t.label, "color": t.color, "shape": t.shape}
            for t in serving.playbook.tiers.values()
        ],
        "display": {
            "source_chips": serving.playbook.source_chips,
            "locale": settings.locale_for(key.site),
        },
        "items": store.list_open_visits(key.site),
    }


@router.get("/{ticket}", response_model=VisitAnswer, responses=documented("visit", 404))
def get_visit(ticket: Ticket, key: StaffKey, store: StoreDep) -> dict[str, Any]:
    """One visit at the key's site (the open one with this ticket, else its latest)."""
    return store.get_visit(key.site, ticket)


@router.post(
    "/{ticket}/close", response_model=VisitAnswer, responses=documented("closed", 400, 404, 409)
)
def close_visit(
    ticket: Ticket,
    body: CloseRequest,
    key: StaffKey,
    store: StoreDep,
    idempotency_key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Close an open visit with what was spent; the ticket is free again. A repeat with the
    same ``Idempotency-Key`` and spend returns the closed visit instead of a 409."""
    return store.close_visit(key.site, ticket, spend=body.spend, idempotency_key=idempotency_key)


@router.post(
    "/{ticket}/override",
    response_model=VisitAnswer,
    responses=documented("overridden", 400, 404, 409),
)
def override_tier(
    ticket: Ticket,
    body: OverrideRequest,
    key: StaffKey,
    store: StoreDep,
    serving: SnapshotDep,
    response: Response,
    idempotency_key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Override an open visit's tier with a reason; audited, and shown on the display with
    the new tier's cues. A repeat with the same ``Idempotency-Key`` returns the first
    answer without a second audit entry."""
    tiers = list(serving.playbook.tiers)
    if body.tier not in tiers:
        raise ApiError(
            422,
            "unknown_tier",
            f"Tier '{body.tier}' is not one of {', '.join(tiers)}",
            {"tiers": tiers},
        )
    visit, replay = override(
        store=store,
        playbook=serving.playbook,
        default_tier=serving.fallback.default_tier,
        site=key.site,
        ticket=ticket,
        tier=body.tier,
        reason=body.reason,
        actor=key.id,
        idempotency_key=idempotency_key,
    )
    response.headers["Idempotent-Replayed"] = "true" if replay else "false"
    return visit
