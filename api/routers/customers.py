"""Customers: CRM lookup and upsert of profile signals, and erasure (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from tierline.api.deps import AdminKey, PosKey, StoreDep
from tierline.api.examples import documented
from tierline.api.schemas import NO_NUL, CustomerPut
from tierline.engine.errors import NotFound

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CustomerPath = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL)]


@router.get("/{customer_id}", responses=documented("customer", 404))
def get_customer(customer_id: CustomerPath, key: PosKey, store: StoreDep) -> dict[str, Any]:
    """Look up a known customer's stored profile."""
    customer = store.get_customer(customer_id)
    if customer is None:
        raise NotFound(f"Unknown customer '{customer_id}'")
    return customer


@router.put("/{customer_id}", responses=documented("customer", 400, 413))
def put_customer(
    customer_id: CustomerPath, body: CustomerPut, key: PosKey, store: StoreDep
) -> dict[str, Any]:
    """Create or replace a customer's profile signals (CRM sync)."""
    return store.upsert_customer(customer_id, body.signals)


@router.delete("/{customer_id}", responses=documented("erased", 404))
def erase_customer(customer_id: CustomerPath, key: AdminKey, store: StoreDep) -> dict[str, Any]:
    """Erase a customer: the profile goes; decisions, visits and outcomes keep their figures."""
    return store.erase_customer(customer_id, actor=key.id, detail={"key_name": key.name})
