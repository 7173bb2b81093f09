"""Customers: CRM lookup and upsert of profile signals (one, or many in a bulk sync), and
erasure (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import ValidationError

from tierline.api.answers import BulkAnswer, CustomerAnswer, ErasedAnswer
from tierline.api.deps import AdminKey, PosKey, SettingsDep, StoreDep
from tierline.api.errors import ApiError, clean_errors
from tierline.api.examples import documented
from tierline.api.schemas import BulkCustomers, CustomerId, CustomerItem, CustomerPut
from tierline.engine.errors import NotFound
from tierline.engine.store.bulk_customers import Profile

router = APIRouter(prefix="/v1/customers", tags=["customers"])
BULK_PATH = "/v1/customers/bulk"

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


@router.post("/bulk", response_model=BulkAnswer, responses=documented("customers_bulk", 400, 413))
def bulk_customers(
    body: BulkCustomers, key: PosKey, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Create or replace many profiles at once (a CRM's sync), all or none, as PUT scopes them."""
    if len(body.items) > settings.bulk_cap:
        raise ApiError(
            422,
            "bulk_too_large",
            f"A bulk sync holds at most {settings.bulk_cap} customers; got {len(body.items)}. "
            "Send them in several calls",
            {"max_items": settings.bulk_cap},
        )
    profiles = _checked(body.items)
    counts = store.upsert_customers(profiles, scope=store.profile_scope(key.site))
    return {"items": len(profiles), **counts}


def _checked(items: list[dict[str, Any]]) -> list[Profile]:
    """Every item as a profile, or a 422 listing each bad item (nothing is written)."""
    profiles: list[Profile] = []
    bad: list[dict[str, Any]] = []
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        try:
            checked = CustomerItem.model_validate(item)
        except ValidationError as error:
            bad.append({"index": index, "errors": clean_errors(error.errors())})
            continue
        if checked.customer_id in first:
            msg = f"customer_id repeats item {first[checked.customer_id]}; send each once"
            bad.append(
                {
                    "index": index,
                    "errors": [{"loc": ["customer_id"], "type": "duplicate", "msg": msg}],
                }
            )
            continue
        first[checked.customer_id] = index
        profiles.append((checked.customer_id, checked.signals))
    if bad:
        where = bad[0]["errors"][0]
        raise ApiError(
            422,
            "validation_error",
            f"{len(bad)} of {len(items)} items are invalid (nothing was stored); item "
            f"{bad[0]['index']}, {'.'.join(str(p) for p in where['loc'])}: {where['msg']}",
            {"items": bad},
        )
    return profiles


@router.delete("/{customer_id}", response_model=ErasedAnswer, responses=documented("erased", 404))
def erase_customer(customer_id: CustomerPath, key: AdminKey, store: StoreDep) -> dict[str, Any]:
    """Erase a customer: every site's profile goes; decisions, visits and outcomes keep their figures."""
    return store.erase_customer(customer_id, actor=key.id, detail={"key_name": key.name})
