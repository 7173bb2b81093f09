"""Perks: stock left and today's use, and an admin's restock (admin keys; restocks audited).

Perks are shared by every site of the store, as their stock and budget are.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from tierline.api.answers import PerkAnswer, PerkListAnswer
from tierline.api.deps import AdminKey, StoreDep, on_store
from tierline.api.examples import documented
from tierline.api.schemas import NO_NUL, PerkPut
from tierline.engine.store.perks import KEEP

router = APIRouter(prefix="/v1/perks", tags=["perks"])

PerkName = Annotated[str, Path(min_length=1, max_length=100, pattern=NO_NUL)]


@router.get("", response_model=PerkListAnswer, responses=documented("perks"))
async def list_perks(
    key: AdminKey,
    store: StoreDep,
    day: dt.date | None = Query(default=None, description="UTC day, YYYY-MM-DD; default today"),
) -> dict[str, Any]:
    """Every perk with its stock left, its budget, what the playbook declared, and the
    units issued and money spent on one UTC day."""
    day = day or dt.datetime.now(dt.UTC).date()
    items = await on_store(store, store.list_perks, day=day)
    return {"day": day.isoformat(), "items": [_public(p) for p in items]}


@router.put("/{name}", response_model=PerkAnswer, responses=documented("perk", 400, 404, 413))
async def set_perk(name: PerkName, body: PerkPut, key: AdminKey, store: StoreDep) -> dict[str, Any]:
    """Restock a perk (and set its daily budget if given); audited. A later playbook sync
    keeps this until the playbook declares another stock or budget."""
    budget = body.daily_budget if "daily_budget" in body.model_fields_set else KEEP
    perk = await on_store(
        store, store.set_perk, name=name, stock=body.stock, daily_budget=budget, actor=key.id
    )
    return _public(perk)


def _public(perk: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": perk["name"],
        "cost": perk["cost"],
        "stock": perk["stock"],
        "daily_budget": perk["daily_budget"],
        "declared_stock": perk["declared_stock"],
        "declared_budget": perk["declared_budget"],
        **({"issued": perk["issued"], "spent": perk["spent"]} if "issued" in perk else {}),
    }
