"""One use case: decide for this customer (the one path of a decision, ARCHITECTURE.md).

The stored profile (if the id is known) is merged with the request's signals (the request
wins), the champion scores the merged record, each perk cue is checked against stock and
today's budget before it is shown, and the decision is stored and returned. With no
loadable model the decision still answers: the fallback's default tier and cues, marked
``degraded``. Each decision lists the signal names of its request that nothing uses
(``ignored_signals``, see ``engine.signals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import NotFound
from engine.model import TierModel
from engine.playbook import Cue, Playbook
from engine.signals import SOURCE_SIGNALS, ignored_signals, refuse_unknown
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

Request = tuple[str | None, Mapping[str, Any] | None]  # (customer id, the request's signals)


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


def _ignored(
    model: TierModel | None, requests: Sequence[Request], *, batch: bool
) -> list[list[str]]:
    """Each request's ignored signals; refused here, before anything is scored or taken,
    when the model's spec says ``unknown_signals = "refuse"``."""
    if model is None:
        # The fallback cannot tell a misspelt name from a feature of the model it stands
        # in for, and ``degraded`` already says the signals went unused: it reports none.
        return [[] for _ in requests]
    known = model.known_signals
    ignored = [ignored_signals(signals, known) for _, signals in requests]
    if model.spec.unknown_signals == "refuse":
        refuse_unknown(ignored, version=model.version, batch=batch)
    return ignored


def _decide_one(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    customer_id: str | None,
    signals: Mapping[str, Any],
    ignored: list[str],
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
            "ignored_signals": ignored,
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
        "ignored_signals": ignored,
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
        batch=False,
    )[0]


def decide_many(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    site: str,
    requests: Sequence[Request],
    explain: bool = True,
    today: dt.date | None = None,
    batch: bool = True,
) -> list[dict[str, Any]]:
    """``decide`` for several customers (the same code path), stored in one transaction.
    A refusal of unknown signals names the items that sent them when ``batch``."""
    decisions = prepare_many(
        store=store,
        model=model,
        fallback=fallback,
        requests=requests,
        explain=explain,
        today=today,
        batch=batch,
    )
    store.record_decisions(decision_rows(decisions, site=site))
    return decisions


def prepare_many(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    requests: Sequence[Request],
    explain: bool = True,
    today: dt.date | None = None,
    batch: bool = False,
) -> list[dict[str, Any]]:
    """Everything of ``decide_many`` but the write: the decisions, each with the
    ``decision_id`` it will be stored under. Whoever calls this stores them
    (``store.record_decisions(decision_rows(...))``) before answering; the API does it for
    several requests at once (``api.group_commit``)."""
    ignored = _ignored(model, requests, batch=batch)
    merged = [
        (customer_id, _merged(store, customer_id, signals), names)
        for (customer_id, signals), names in zip(requests, ignored, strict=True)
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
    [ignored] = _ignored(model, [(customer_id, signals)], batch=False)
    merged = _merged(store, customer_id, signals)
    if party_size is not None and "party_size" not in (signals or {}):
        merged["party_size"] = party_size  # the request wins over the stored profile
    decisions = _decide_merged(
        store=store,
        model=model,
        fallback=fallback,
        merged=[(customer_id, merged, ignored)],
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
    merged: Sequence[tuple[str | None, dict[str, Any], list[str]]],
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
                ignored=ignored,
                explain=explain,
                available=available,
            ),
        }
        for customer_id, signals, ignored in merged
    ]
