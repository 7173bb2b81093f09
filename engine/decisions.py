"""One use case: decide for this customer (the one path of a decision, ARCHITECTURE.md).

The stored profile (if the id is known) is merged with the request's signals (the request
wins), the champion scores the merged record, each perk cue is checked against stock and
today's budget before it is shown, and the decision is stored and returned. With no
loadable model the decision still answers: the fallback's default tier and cues, marked
``degraded``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import NotFound
from engine.model import TierModel
from engine.playbook import Cue, Playbook
from engine.store import Store, new_decision_id

__all__ = [
    "SOURCE_SIGNALS",
    "Fallback",
    "check_in",
    "decide",
    "decide_many",
    "decision_rows",
    "prepare_many",
]

# Signals that say where a customer came from: a visit keeps them so staff can read how
# warm the lead is and the manager can total spend by campaign.
SOURCE_SIGNALS = ("campaign", "landing_page", "channel", "utm_source", "utm_medium", "referrer")


@dataclass(frozen=True)
class Fallback:
    """What to answer when no model can be loaded: the default tier and its playbook."""

    default_tier: str
    playbook: Playbook


def _cue_dict(cue: Cue) -> dict[str, Any]:
    return {"code": cue.code, "text": cue.text, "perk": cue.perk}


def _merged(
    store: Store, customer_id: str | None, signals: Mapping[str, Any] | None
) -> dict[str, Any]:
    profile = store.get_customer(customer_id) if customer_id is not None else None
    if profile is None and customer_id is not None and not signals:
        raise NotFound(f"Unknown customer '{customer_id}'; send signals to score a new customer")
    merged: dict[str, Any] = dict(profile["signals"]) if profile else {}
    merged.update(signals or {})
    return merged


def _decide_one(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    customer_id: str | None,
    signals: Mapping[str, Any],
    explain: bool,
    available: Callable[[str], bool],
) -> dict[str, Any]:
    if model is None:
        holdout = fallback.playbook.is_holdout(customer_id)
        cues = fallback.playbook.cues_for(
            tier=fallback.default_tier,
            signals=signals,
            holdout=holdout,
            default_tier=fallback.default_tier,
            available=available,
        )
        return {
            "customer_id": customer_id,
            "tier": fallback.default_tier,
            "confidence": 0.0,
            "score": 0.0,
            "cues": [_cue_dict(c) for c in cues],
            "reasons": [],
            "model_version": None,
            "holdout": holdout,
            "degraded": True,
        }
    scored = model.score_record(
        signals, customer_id=customer_id, explain=explain, perk_available=available
    )
    return {
        "customer_id": customer_id,
        "tier": scored.tier,
        "confidence": scored.confidence,
        "score": scored.score,
        "cues": [_cue_dict(c) for c in scored.cues],
        # A hard rule that decided the tier is the reason staff read first.
        "reasons": (
            [
                {
                    "feature": "rule",
                    "value": scored.rule,
                    "effect": 1.0,
                    "text": f"rule: {scored.rule}",
                }
            ]
            if scored.rule
            else []
        )
        + [
            {"feature": r.feature, "value": r.value, "effect": r.effect, "text": r.text}
            for r in scored.reasons
        ],
        "model_version": scored.model_version,
        "holdout": scored.holdout,
        "degraded": False,
    }


def decide(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    site: str,
    customer_id: str | None = None,
    signals: Mapping[str, Any] | None = None,
    explain: bool = True,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Score one customer, store the decision, and return it with its ``decision_id``."""
    return decide_many(
        store=store,
        model=model,
        fallback=fallback,
        site=site,
        requests=[(customer_id, signals)],
        explain=explain,
        today=today,
    )[0]


def decide_many(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    site: str,
    requests: Sequence[tuple[str | None, Mapping[str, Any] | None]],
    explain: bool = True,
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """``decide`` for several customers (the same code path), stored in one transaction."""
    decisions = prepare_many(
        store=store,
        model=model,
        fallback=fallback,
        requests=requests,
        explain=explain,
        today=today,
    )
    store.record_decisions(decision_rows(decisions, site=site))
    return decisions


def prepare_many(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    requests: Sequence[tuple[str | None, Mapping[str, Any] | None]],
    explain: bool = True,
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Everything of ``decide_many`` but the write: the decisions, each with the
    ``decision_id`` it will be stored under. Whoever calls this stores them
    (``store.record_decisions(decision_rows(...))``) before answering; the API does it for
    several requests at once (``api.group_commit``)."""
    merged = [
        (customer_id, _merged(store, customer_id, signals)) for customer_id, signals in requests
    ]
    return _decide_merged(
        store=store,
        model=model,
        fallback=fallback,
        merged=merged,
        explain=explain,
        today=today,
    )


def decision_rows(decisions: Sequence[Mapping[str, Any]], *, site: str) -> list[dict[str, Any]]:
    """What ``Store.record_decisions`` takes for decisions made at ``site``."""
    return [{**d, "site": site} for d in decisions]


def check_in(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    site: str,
    customer_id: str | None = None,
    signals: Mapping[str, Any] | None = None,
    party_size: int | None = None,
    explain: bool = True,
    today: dt.date | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The coat-check: decide, then open a visit with a ticket from the tier's range.

    Returns ``(visit, decision)``. The visit keeps where the customer came from (the
    ``SOURCE_SIGNALS`` of the merged profile and request) for the staff display.
    """
    merged = _merged(store, customer_id, signals)
    if party_size is not None and "party_size" not in (signals or {}):
        merged["party_size"] = party_size  # the request wins over the stored profile
    decisions = _decide_merged(
        store=store,
        model=model,
        fallback=fallback,
        merged=[(customer_id, merged)],
        explain=explain,
        today=today,
    )
    store.record_decisions(decision_rows(decisions, site=site))
    [decision] = decisions
    playbook = model.playbook if model is not None else fallback.playbook
    visit = store.open_visit(
        site=site,
        ticket_range=playbook.ticket_range(decision["tier"]),
        decision_id=decision["decision_id"],
        customer_id=customer_id,
        party_size=party_size,
        source={k: str(merged[k])[:200] for k in SOURCE_SIGNALS if merged.get(k) is not None},
    )
    return visit, decision


def _decide_merged(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    merged: Sequence[tuple[str | None, dict[str, Any]]],
    explain: bool,
    today: dt.date | None,
) -> list[dict[str, Any]]:
    day = today or dt.datetime.now(dt.UTC).date()

    def available(perk: str) -> bool:
        return store.take_perk(perk, day=day)

    return [
        {
            "decision_id": new_decision_id(),
            **_decide_one(
                store=store,
                model=model,
                fallback=fallback,
                customer_id=customer_id,
                signals=signals,
                explain=explain,
                available=available,
            ),
        }
        for customer_id, signals in merged
    ]
