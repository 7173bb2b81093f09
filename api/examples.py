"""Response examples for the OpenAPI document (``/docs``): what each route answers, and the
one error shape with an example per status a route can give.

Kept apart from the routers so a route's decorator says only ``responses=documented(...)``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tierline.api.answers import DecisionAnswer, ErrorBody

__all__ = ["DECISION", "VISIT_VIEW", "documented"]

_CUES = [
    {"code": "seat_fast", "text": "Seat within 5 minutes", "perk": None},
    {"code": "welcome_coffee", "text": "Offer a coffee on the house", "perk": "coffee"},
]
DECISION: dict[str, Any] = {
    "decision_id": "3f9c0d6e2b8a4c1d9e7f6a5b4c3d2e1f",
    "customer_id": "c-1042",
    "tier": "vip",
    "confidence": 0.91,
    "score": 0.87,
    "cues": _CUES,
    "reasons": [
        {
            "feature": "visits_90d",
            "value": "14",
            "effect": 1.42,
            "text": "visits_90d = 14, raises vip",
        }
    ],
    "model_version": "v0003",
    "holdout": False,
    "degraded": False,
    "ignored_signals": ["visits_09d"],
}
VISIT_VIEW: dict[str, Any] = {
    "site": "lyon",
    "ticket": 12,
    "decision_id": DECISION["decision_id"],
    "customer_id": "c-1042",
    "party_size": 2,
    "opened_at": "2026-11-26T19:04:11.532000Z",
    "closed_at": None,
    "spend": None,
    "source": {"campaign": "spring_menu", "landing_page": "/book", "channel": "email"},
    "tier": "vip",
    "override": None,
    "decision": {
        k: v
        for k, v in DECISION.items()
        if k not in {"decision_id", "customer_id", "ignored_signals"}
    },
    "accepted": ["seat_fast"],
    "declined": [],
}
OUTCOME: dict[str, Any] = {
    "id": "9a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "idempotency_key": "pos-7-20261126-0042",
    "decision_id": DECISION["decision_id"],
    "spend": 84.5,
    "accepted": ["seat_fast"],
    "declined": ["welcome_coffee"],
    "converted": True,
    "note": "Liked the terrace; asked about the tasting menu",
    "created_at": "2026-11-26T20:31:02.118000Z",
}

PERK: dict[str, Any] = {
    "name": "coffee",
    "cost": 2.5,
    "stock": 493,
    "daily_budget": 150.0,
    "declared_stock": 500,
    "declared_budget": 150.0,
    "issued": 7,
    "spent": 17.5,
}

DRIFT: dict[str, Any] = {
    "model_version": "v0003",
    "since": "2026-11-19T00:00:00Z",
    "until": "2026-11-26T00:00:00Z",
    "decisions": 1840,
    "min_decisions": 100,
    "enough": True,
    "message": None,
    "band": "act",
    "signals": [
        {
            "signal": "campaign",
            "kind": "categorical",
            "psi": 0.412,
            "band": "act",
            "rows": 1840,
            "missing_share": 0.05,
            "training_missing_share": 0.28,
            "bins": [
                {"bin": "spring_menu", "training": 0.11, "window": 0.52},
                {"bin": "(other)", "training": 0.0, "window": 0.08},
                {"bin": "(missing)", "training": 0.28, "window": 0.05},
            ],
        },
        {
            "signal": "visits_90d",
            "kind": "numeric",
            "psi": 0.021,
            "band": "stable",
            "rows": 1840,
            "missing_share": 0.0,
            "training_missing_share": 0.0,
            "bins": [
                {"bin": "≤ 0", "training": 0.49, "window": 0.47},
                {"bin": "> 3", "training": 0.1, "window": 0.11},
                {"bin": "(missing)", "training": 0.0, "window": 0.0},
            ],
        },
    ],
}

# name -> the typed answer of a route that serialises its answer itself (response_model=None)
MODELS: dict[str, type[BaseModel]] = {"decision": DecisionAnswer}

# name -> example body of a successful response
SUCCESS: dict[str, Any] = {
    "decision": DECISION,
    "decisions": {"items": [DECISION]},
    "customer": {
        "id": "c-1042",
        "signals": {"loyalty_member": True, "visits_90d": 4, "campaign": "spring_menu"},
        "updated_at": "2026-11-26T18:00:00Z",
    },
    "customers_bulk": {"items": 2, "inserted": 1, "updated": 0, "unchanged": 1},
    "check_in": {
        "ticket": 12,
        "site": "lyon",
        "opened_at": "2026-11-26T19:04:11.532000Z",
        "party_size": 2,
        "decision": DECISION,
    },
    "visits": {
        "site": "lyon",
        "role": "staff",
        "degraded": False,
        "model_version": "v0003",
        "tiers": [
            {"tier": "vip", "label": "VIP", "color": "#5b2a86", "shape": "star"},
            {"tier": "standard", "label": "Standard", "color": "#1f5f99", "shape": "circle"},
        ],
        "items": [VISIT_VIEW],
    },
    "visit": VISIT_VIEW,
    "closed": {**VISIT_VIEW, "closed_at": "2026-11-26T20:30:40Z", "spend": 84.5},
    "overridden": {
        **VISIT_VIEW,
        "tier": "vip",
        "decision": {**VISIT_VIEW["decision"], "tier": "standard"},
        "override": {
            "tier": "vip",
            "reason": "Regular for twenty years",
            "at": "2026-11-26T19:06:00Z",
            "by": "4be1c0ffee42",
        },
    },
    "outcome": OUTCOME,
    "report": {
        "site": "lyon",
        "day": "2026-11-26",
        "timezone": "Europe/Paris",
        "visits": 48,
        "spend": 2210.5,
        "by_tier": [
            {"tier": "standard", "visits": 35, "open": 6, "spend": 1320.0},
            {"tier": "vip", "visits": 9, "open": 2, "spend": 790.5},
        ],
        "by_campaign": [{"campaign": "spring_menu", "visits": 12, "spend": 640.0}],
        "perks": [
            {
                "perk": "coffee",
                "text": "Coffee on the house",
                "issued": 7,
                "spent": 17.5,
                "stock_left": 493,
                "daily_budget": 150.0,
            }
        ],
    },
    "drift": DRIFT,
    "uplift": {
        "site": "lyon",
        "since": "2026-09-01",
        "until": "2026-11-30",
        "timezone": "Europe/Paris",
        "customers": 3412,
        "anonymous_decisions": 5210,
        "min_customers": 30,
        "confidence": 0.95,
        "rows": [
            {
                "tier": "vip",
                "perk": None,
                "treated": {"customers": 812, "conversion_rate": 0.64, "spend_per_customer": 91.2},
                "holdout": {"customers": 44, "conversion_rate": 0.55, "spend_per_customer": 80.1},
                "enough_data": True,
                "note": None,
                "conversion_difference": {"estimate": 0.09, "low": -0.06, "high": 0.24},
                "spend_difference": {"estimate": 11.1, "low": 1.9, "high": 20.3},
                "cost_per_customer": 3.1,
                "net_value": {"estimate": 8.0, "low": -1.2, "high": 17.2},
            },
            {
                "tier": "vip",
                "perk": "brand_dessert",
                "treated": {"customers": 21, "conversion_rate": None, "spend_per_customer": None},
                "holdout": {"customers": 44, "conversion_rate": None, "spend_per_customer": None},
                "enough_data": False,
                "note": "not enough data yet: 21 treated and 44 holdout customers, 30 of each "
                "needed",
                "conversion_difference": None,
                "spend_difference": None,
                "cost_per_customer": None,
                "net_value": None,
            },
        ],
    },
    "models": {
        "champion": "v0003",
        "serving": "v0003",
        "items": [
            {
                "version": "v0003",
                "created": "2026-11-26T03:00:00Z",
                "kind": "class",
                "champion": True,
                "metrics": {"macro_f1": 0.943, "accuracy": 0.951},
            }
        ],
    },
    "promoted": {"champion": "v0003", "previous": "v0002", "serving": "v0003"},
    "erased": {"profile": True, "decisions": 12, "visits": 5, "outcomes": 4},
    "perks": {"day": "2026-11-26", "items": [PERK]},
    "perk": {k: v for k, v in PERK.items() if k not in ("issued", "spent")},
    "pairing": {"code": "K7QM-3XRD", "site": "lyon", "expires_at": "2026-11-26T18:10:00Z"},
    "paired": {
        "key": "tl_4be1c0ffee42_" + "x" * 43,
        "id": "4be1c0ffee42",
        "role": "staff",
        "site": "lyon",
        "name": "tablet paired 2026-11-26 18:02 UTC",
    },
}

_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("Malformed JSON", "malformed_json", "The request body is not valid JSON"),
    401: ("No key, or an unknown or revoked one", "unauthorized", "Missing X-API-Key header"),
    403: (
        "The key's role is too low",
        "forbidden",
        "This route needs a pos key or higher; key 4be1c0ffee42 is staff",
    ),
    404: ("Not found (or another site's)", "not_found", "No visit with ticket 12 at this site"),
    409: (
        "Conflicts with the stored state",
        "conflict",
        "Ticket 12 at site 'lyon' is already closed",
    ),
    410: (
        "The pairing code was already used or has expired",
        "gone",
        "This pairing code has expired; ask for a new one",
    ),
    413: ("Body over the size limit", "payload_too_large", "The request body exceeds 65536 bytes"),
    422: (
        "Invalid body or parameters (or, under a spec that refuses them, unknown signals: "
        "code unknown_signals, details.signals)",
        "validation_error",
        "signals.visits_90d: Input should be a valid number",
    ),
    429: (
        "Rate limited (see Retry-After)",
        "rate_limited",
        "Too many requests for key 4be1c0ffee42; retry after 2 s",
    ),
    503: ("The store is unreachable", "store_unavailable", "The store cannot be reached"),
}


# Every keyed route can answer these: no or a bad key, too low a role, a bad header or
# parameter, too many requests, a store that cannot check the key.
_KEYED_ERRORS = (401, 403, 422, 429, 503)
# A route without a key (redeeming a pairing code) cannot answer 401 or 403.
_UNKEYED_ERRORS = (422, 429, 503)


def documented(
    success: str, *errors: int, status: int = 200, keyed: bool = True
) -> dict[int | str, Any]:
    """``responses=`` for a route: the success example named ``success`` and, for each
    status in ``errors`` and in ``_KEYED_ERRORS`` (``_UNKEYED_ERRORS`` for a route that
    takes no key), the ``ErrorBody`` schema with an example."""
    responses: dict[int | str, Any] = {
        status: {"content": {"application/json": {"example": SUCCESS[success]}}}
    }
    if success in MODELS:
        responses[status]["model"] = MODELS[success]
    for code in sorted({*errors, *(_KEYED_ERRORS if keyed else _UNKEYED_ERRORS)}):
        responses[code] = _error_doc(code)
    return responses


def _error_doc(code: int) -> dict[str, Any]:
    """The OpenAPI response for the error status ``code``: ``ErrorBody``, with an example."""
    description, name, message = _ERRORS[code]
    return {
        "model": ErrorBody,
        "description": description,
        "content": {
            "application/json": {
                "example": {"error": {"code": name, "message": message, "details": None}}
            }
        },
    }
