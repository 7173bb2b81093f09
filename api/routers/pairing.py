"""Tablet pairing: an admin issues a short-lived code for their site, and a tablet spends it
once on its own staff key, instead of someone typing a 56-character key into it.

Redeeming takes no key (the tablet has none yet), so it is limited per client address
(``pairing_attempts_per_minute``): every attempt takes a token, whatever its answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from tierline.api.answers import PairedAnswer, PairingAnswer
from tierline.api.deps import AdminKey, StoreDep, on_store
from tierline.api.errors import ApiError
from tierline.api.examples import documented
from tierline.api.limits import RateLimiter
from tierline.api.schemas import PairingRedeem, PairingRequest

router = APIRouter(prefix="/v1/pairing", tags=["pairing"])


@router.post(
    "",
    status_code=201,
    response_model=PairingAnswer,
    responses=documented("pairing", 400, status=201),
)
async def issue_code(
    key: AdminKey,
    store: StoreDep,
    body: Annotated[
        PairingRequest | None,
        Body(openapi_examples={"ten minutes": {"value": {"minutes": 10}}}),
    ] = None,
) -> dict[str, Any]:
    """Issue a pairing code for the admin key's site (default 10 minutes); audited."""
    minutes = (body or PairingRequest()).minutes
    return await on_store(
        store, store.issue_pairing, site=key.site, issued_by=key.id, minutes=minutes
    )


@router.post(
    "/redeem",
    status_code=201,
    response_model=PairedAnswer,
    responses=documented("paired", 400, 404, 410, status=201, keyed=False),
)
async def redeem_code(body: PairingRedeem, request: Request, store: StoreDep) -> dict[str, Any]:
    """Spend a pairing code on a new staff key for its site (no key needed; the code is
    single use); 404 for a code never issued, 410 for one spent or expired."""
    client = request.client.host if request.client else ""
    limiter: RateLimiter = request.app.state.pairing_limiter
    wait = await limiter.admit(f"pairing:{client}")
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            "Too many pairing attempts from this address; retry after "
            f"{RateLimiter.retry_after(wait)} s",
            {"retry_after_seconds": round(wait, 3)},
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )
    plaintext, record = await on_store(store, store.redeem_pairing, code=body.code, client=client)
    fields = ("id", "role", "site", "name")
    return {"key": plaintext, **{name: record[name] for name in fields}}
