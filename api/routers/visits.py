"""Visits: the coat-check check-in (a ticket in the tier's range), display, close, override."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import MetricsDep, ModelDep, PosKey, StaffKey, StoreDep
from api.errors import ApiError
from api.schemas import CloseRequest, OverrideRequest, VisitRequest
from engine.decisions import decide
from engine.errors import Conflict

router = APIRouter(prefix="/v1/visits", tags=["visits"])

Ticket = Annotated[int, Path(ge=0, le=1_000_000)]


@router.post("", status_code=201)
def check_in(
    body: VisitRequest,
    key: PosKey,
    store: StoreDep,
    serving: ModelDep,
    metrics: MetricsDep,
    explain: bool = True,
) -> dict[str, Any]:
    """Check a customer in: decide, then hand out a ticket from the tier's range."""
    signals = dict(body.signals or {})
    if body.party_size is not None:
        signals.setdefault("party_size", body.party_size)
    decision = decide(
        store=store,
        model=serving.model,
        fallback=serving.fallback,
        site=key.site,
        customer_id=body.customer_id,
        signals=signals or None,
        explain=explain,
    )
    metrics.count_decisions([decision])
    visit = store.open_visit(
        site=key.site,
        ticket_range=serving.playbook.ticket_range(decision["tier"]),
        decision_id=decision["decision_id"],
        customer_id=body.customer_id,
        party_size=body.party_size,
    )
    return {
        "ticket": visit["ticket"],
        "site": visit["site"],
        "opened_at": visit["opened_at"],
        "party_size": visit["party_size"],
        "decision": decision,
    }


@router.get("")
def list_visits(key: StaffKey, store: StoreDep) -> dict[str, Any]:
    """The open visits at the key's site, newest first (the staff display)."""
    return {"site": key.site, "items": store.list_open_visits(key.site)}


@router.get("/{ticket}")
def get_visit(ticket: Ticket, key: StaffKey, store: StoreDep) -> dict[str, Any]:
    """One visit at the key's site (the open one with this ticket, else its latest)."""
    visit = store.get_visit(key.site, ticket)
    decision = store.get_decision(visit["decision_id"])
    return {**visit, "tier": decision["tier"] if decision else None}


@router.post("/{ticket}/close")
def close_visit(ticket: Ticket, body: CloseRequest, key: PosKey, store: StoreDep) -> dict[str, Any]:
    """Close an open visit with what was spent; the ticket is free again."""
    return store.close_visit(key.site, ticket, spend=body.spend)


@router.post("/{ticket}/override")
def override_tier(
    ticket: Ticket, body: OverrideRequest, key: StaffKey, store: StoreDep, serving: ModelDep
) -> dict[str, Any]:
    """Override an open visit's tier with a reason; the override is audited."""
    tiers = list(serving.playbook.tiers)
    if body.tier not in tiers:
        raise ApiError(
            422,
            "unknown_tier",
            f"Tier '{body.tier}' is not one of {', '.join(tiers)}",
            {"tiers": tiers},
        )
    visit = store.get_visit(key.site, ticket)
    if visit["closed_at"] is not None:
        raise Conflict(f"Ticket {ticket} is closed; only an open visit can be overridden")
    decision = store.get_decision(visit["decision_id"])
    previous = decision["tier"] if decision else None
    store.audit(
        actor=key.id,
        action="override",
        subject=f"{key.site}/{ticket}",
        detail={
            "decision_id": visit["decision_id"],
            "from": previous,
            "to": body.tier,
            "reason": body.reason,
        },
    )
    return {
        "ticket": ticket,
        "site": key.site,
        "decision_id": visit["decision_id"],
        "previous_tier": previous,
        "tier": body.tier,
        "reason": body.reason,
    }
