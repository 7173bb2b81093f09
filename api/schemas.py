"""Request bodies: strict (``"12"`` is not a number) and closed (unknown fields are 422).
The answers are in ``api.answers``."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, model_validator
from pydantic_core import CoreSchema, core_schema

from tierline.engine.store.customers import CUSTOMER_ID_PATTERN
from tierline.engine.store.pairing import DEFAULT_MINUTES, MAX_MINUTES
from tierline.engine.store.perks import MAX_STOCK

__all__ = [
    "CUSTOMER_ID_PATTERN",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_SPEND",
    "NO_NUL",
    "SIGNAL_VALUE_MESSAGE",
    "BatchRequest",
    "BulkCustomers",
    "CloseRequest",
    "CustomerId",
    "CustomerItem",
    "CustomerPut",
    "DecisionRequest",
    "OutcomeRequest",
    "OverrideRequest",
    "PairingRedeem",
    "PairingRequest",
    "PerkPut",
    "Signals",
    "VisitRequest",
]

# Every string the API takes: PostgreSQL text cannot hold NUL, so no backend accepts it.
# A pattern is checked by pydantic's Rust core and shows in the OpenAPI schema.
NO_NUL = r"^[^\x00]*$"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SIGNAL_VALUE_MESSAGE = (
    "Input should be text without the NUL character (\\u0000), a finite number "
    "(within about ±1.8e308), true, false or null"
)


class _OneSignalError:
    """One error naming the signal, instead of one per member of the value's union (the
    first of which, "should be a valid string", would mislead for a number too large)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.custom_error_schema(
            handler(source),
            custom_error_type="signal_value",
            custom_error_message=SIGNAL_VALUE_MESSAGE,
        )


SignalName = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
# Integers past the 64-bit range are read as the nearest float; past the float range
# (and NaN, Infinity) they are refused: the feature step could not hold them.
SignalValue = Annotated[
    Annotated[str, Field(pattern=NO_NUL)]
    | Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | bool
    | None,
    _OneSignalError(),
]
Signals = dict[SignalName, SignalValue]
CustomerId = Annotated[str, Field(min_length=1, max_length=128, pattern=CUSTOMER_ID_PATTERN)]
# Far above any party's bill, and small enough that a day's sum stays a finite number.
MAX_SPEND = 1e9
Money = Annotated[float, Field(ge=0, le=MAX_SPEND, allow_inf_nan=False)]
CueCode = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DecisionRequest(_Body):
    """A customer to score: a known id, signals, or both (the request's signals win)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"customer_id": "c-1042", "signals": {"campaign": "spring_menu", "party_size": 2}}
            ]
        }
    )

    customer_id: CustomerId | None = None
    signals: Signals | None = None

    @model_validator(mode="after")
    def _either(self) -> Self:
        if self.customer_id is None and not self.signals:
            raise ValueError("send a customer_id, signals, or both")
        return self


class BatchRequest(_Body):
    """Several customers to score in one call (capped by the server's batch_cap)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"customer_id": "c-1042"},
                        {"signals": {"campaign": "student_night", "student_verified": True}},
                    ]
                }
            ]
        }
    )

    items: list[DecisionRequest] = Field(min_length=1)


class CustomerPut(_Body):
    """A customer's profile signals, replacing the stored ones (CRM sync)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"signals": {"loyalty_member": True, "visits_90d": 4}}]}
    )

    signals: Signals


class CustomerItem(_Body):
    """One profile of a bulk sync: the customer's id and signals (replacing the stored
    ones)."""

    customer_id: CustomerId
    signals: Signals


class BulkCustomers(_Body):
    """Profiles to create or replace in one call (at most the server's bulk_cap), each
    ``{"customer_id", "signals"}`` as a ``CustomerItem``: the route checks every item
    and lists each bad one, so the envelope takes them as plain objects."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"customer_id": "c-1042", "signals": {"visits_90d": 4}},
                        {"customer_id": "c-2077", "signals": {"loyalty_member": True}},
                    ]
                }
            ]
        }
    )

    items: list[dict[str, Any]] = Field(min_length=1)


class VisitRequest(DecisionRequest):
    """A check-in: the customer to score, and optionally the party size."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "c-1042",
                    "signals": {"campaign": "spring_menu", "landing_page": "/book"},
                    "party_size": 2,
                }
            ]
        }
    )

    party_size: int | None = Field(default=None, ge=1, le=500)


class CloseRequest(_Body):
    """Closing a visit: what the party spent."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"spend": 84.5}]})

    spend: Money


class OverrideRequest(_Body):
    """A staff override of a visit's tier, with the reason (audited)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tier": "vip", "reason": "Regular for twenty years"}]}
    )

    tier: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)


class OutcomeRequest(_Body):
    """What happened after a decision."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision_id": "3f9c0d6e2b8a4c1d9e7f6a5b4c3d2e1f",
                    "spend": 84.5,
                    "accepted": ["seat_fast"],
                    "declined": ["welcome_coffee"],
                    "converted": True,
                    "note": "Liked the terrace; asked about the tasting menu",
                }
            ]
        }
    )

    decision_id: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    spend: Money | None = None
    accepted: list[CueCode] = Field(default_factory=list, max_length=20)
    declined: list[CueCode] = Field(default_factory=list, max_length=20)
    converted: bool | None = None
    note: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class PerkPut(_Body):
    """An admin's restock of a perk: the units in stock, and the daily budget if given
    (null: no budget; left out: kept)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"stock": 200, "daily_budget": 150.0}, {"stock": 50}]}
    )

    stock: int = Field(ge=0, le=MAX_STOCK)
    daily_budget: Money | None = None


class PairingRequest(_Body):
    """An admin's request for a pairing code for their site, valid for ``minutes``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"minutes": 10}, {}]})

    minutes: int = Field(default=DEFAULT_MINUTES, ge=1, le=MAX_MINUTES)


class PairingRedeem(_Body):
    """A pairing code as the tablet's user typed it (case, spaces and dashes are free)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "K7QM-3XRD"}]})

    code: str = Field(min_length=1, max_length=40, pattern=NO_NUL)
