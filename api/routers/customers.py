"""Customers: CRM lookup and upsert of profile signals, and erasure (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from tierline.api.answers import CustomerAnswer, ErasedAnswer
from tierline.api.deps import AdminKey, PosKey, StoreDep
from tierline.api.examples import documented
from tierline.api.schemas import CustomerId, CustomerPut
from tierline.engine.errors import NotFound

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CustomerPath = Annotated[CustomerId, Path()]


@router.get("/{customer_id}", response_model=CustomerAnswer, responses=documented("customer", 404))
def get_customer(customer_id: CustomerPath, key: PosKey, store: StoreDep) -> dict[str, Any]:
    """Look up a known customer's stored profile (the chain's, or the key's site's own)."""
    customer = store.get_customer(customer_id, scope=store.profile_scope(key.site))
    if customer is None:
        raise NotFound(f"Unknown customer '{customer_id}'")
    return customer


@router.put(
    "/{customer_id}", response_model=CustomerAnswer, responses=documented("customer", 400, 413)
)
def put_customer(
    customer_id: CustomerPath, body: CustomerPut, key: PosKey, store: StoreDep
) -> dict[str, Any]:
    """Create or replace a customer's profile signals (CRM sync), as the GET scopes it."""
    return store.upsert_customer(customer_id, body.signals, scope=store.profile_scope(key.site))


@router.delete("/{customer_id}", response_model=ErasedAnswer, responses=documented("erased", 404))
def erase_customer(customer_id: CustomerPath, key: AdminKey, store: StoreDep) -> dict[str, Any]:
    """Erase a customer: every site's profile goes; decisions, visits and outcomes keep their figures."""
    return store.erase_customer(customer_id, actor=key.id, detail={"key_name": key.name})
