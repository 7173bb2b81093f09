"""One use case: decide for this customer (the one path of a decision, ARCHITECTURE.md).

The stored profile (if the id is known; the chain's or the site's own, as the store's
``profiles`` says) is merged with the request's signals (the request
wins), the champion scores the merged record, and the decision is stored and returned.
Perks move in the transaction that stores the decision: scoring picks the cues as if every
perk were available, and a decision whose cues name a perk has them picked again while its
row is written, each perk cue taken there against stock and today's budget (a refused one
gives its place to the next cue). The answer carries the cues as stored. With no loadable
model the decision still answers: the fallback's default tier and cues, marked
``degraded``. Each decision lists the signal names of its request that nothing uses
(``ignored_signals``, see ``engine.signals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tierline.engine.errors import NotFound
from tierline.engine.model import TierModel
from tierline.engine.perk_offer import PerkOffer, offered_and
from tierline.engine.playbook import Cue, Playbook
from tierline.engine.signals import SOURCE_SIGNALS, ignored_signals, refuse_unknown
from tierline.engine.store import Store, new_decision_id
from tierline.engine.store.perks import Take

__all__ = [
    "SOURCE_SIGNALS",
    "Fallback",
    "check_in",
    "decide",
    "decide_many",
    "override",
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
    store: Store, customer_id: str | None, signals: Mapping[str, Any] | None, *, scope: str
) -> dict[str, Any]:
    profile = store.get_customer(customer_id, scope=scope) if customer_id is not None else None
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


@dataclass(frozen=True, slots=True)
class _CuePick:
    """A decision's cues picked again while its row is written, each perk cue taken in
    that transaction (``engine.store.perks.CuePick``); the answer gets the cues stored."""

    playbook: Playbook
    tier: str
    signals: Mapping[str, Any]
    holdout: bool
    default_tier: str
    day: dt.date
    decision: dict[str, Any]
    offer: PerkOffer | None = None

    @property
    def perks(self) -> Collection[str]:
        return self.playbook.perks.keys()

    def __call__(self, take: Take) -> list[dict[str, Any]]:
        cues = self.playbook.cues_for(
            tier=self.tier,
            signals=self.signals,
            holdout=self.holdout,
            default_tier=self.default_tier,
            available=(
                (lambda perk: take(perk, self.day))
                if self.offer is None
                else offered_and(self.offer, lambda perk: take(perk, self.day))
            ),
        )
        self.decision["cues"] = [_cue_dict(c) for c in cues]
        return self.decision["cues"]


def _decide_one(
    *,
    model: TierModel | None,
    fallback: Fallback,
    customer_id: str | None,
    signals: Mapping[str, Any],
    ignored: list[str],
    explain: bool,
    day: dt.date,
) -> tuple[dict[str, Any], _CuePick | None]:
    """The decision, its cues picked as if every perk were available, and the pick that
    takes its perks when it is stored (None when its cues name no perk: fewer perks
    available cannot bring one in)."""
    offer: PerkOffer | None = None
    if model is None:
        playbook, default_tier = fallback.playbook, fallback.default_tier
        decision = _fallback_decision(fallback, customer_id, signals)
    else:
        playbook, default_tier = model.playbook, model.spec.default_tier
        decision, offer = _model_decision(model, customer_id, signals, explain=explain)
    decision["ignored_signals"] = ignored
    if not any(cue["perk"] is not None for cue in decision["cues"]):
        return decision, None
    pick = _CuePick(
        playbook=playbook,
        tier=decision["tier"],
        signals=signals,
        holdout=decision["holdout"],
        default_tier=default_tier,
        day=day,
        decision=decision,
        offer=offer,
    )
    return decision, pick


def _fallback_decision(
    fallback: Fallback, customer_id: str | None, signals: Mapping[str, Any]
) -> dict[str, Any]:
    holdout = fallback.playbook.is_holdout(customer_id)
    cues = fallback.playbook.cues_for(
        tier=fallback.default_tier,
        signals=signals,
        holdout=holdout,
        default_tier=fallback.default_tier,
    )
    return {
        "decision_id": new_decision_id(),
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


def _model_decision(
    model: TierModel, customer_id: str | None, signals: Mapping[str, Any], *, explain: bool
) -> tuple[dict[str, Any], PerkOffer | None]:
    """The decision, and whether its give = "uplift" perks may be offered."""
    scored = model.score_record(signals, customer_id=customer_id, explain=explain)
    # A hard rule that decided the tier is the reason staff read first.
    rule = (
        [{"feature": "rule", "value": scored.rule, "effect": 1.0, "text": f"rule: {scored.rule}"}]
        if scored.rule
        else []
    )
    # Whether an uplift perk pays is said whether or not the answer explains the tier.
    perk_reasons = [] if scored.offer is None else scored.offer.reasons()
    return {
        "decision_id": new_decision_id(),
        "customer_id": customer_id,
        "tier": scored.tier,
        "confidence": scored.confidence,
        "score": scored.score,
        "cues": [_cue_dict(c) for c in scored.cues],
        "reasons": rule
        + perk_reasons
        + [
            {"feature": r.feature, "value": r.value, "effect": r.effect, "text": r.text}
            for r in scored.reasons
        ],
        "model_version": scored.model_version,
        "holdout": scored.holdout,
        "degraded": False,
    }, scored.offer


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
    """``decide`` for several customers (the same code path), stored in one transaction
    with the perks they take. A refusal of unknown signals names the items that sent them
    when ``batch``."""
    decisions, rows = prepare_many(
        store=store,
        model=model,
        fallback=fallback,
        site=site,
        requests=requests,
        explain=explain,
        today=today,
        batch=batch,
    )
    store.record_decisions(rows)
    return decisions


def prepare_many(
    *,
    store: Store,
    model: TierModel | None,
    fallback: Fallback,
    site: str,
    requests: Sequence[Request],
    explain: bool = True,
    today: dt.date | None = None,
    batch: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Everything of ``decide_many`` but the write: ``(decisions, rows)``, each decision
    with the ``decision_id`` it will be stored under. Whoever calls this stores the rows
    (``store.record_decisions(rows)``) before answering with the decisions, whose perk
    cues are final only once their rows are stored; the API stores the rows of several
    requests at once (``api.group_commit``)."""
    ignored = _ignored(model, requests, batch=batch)
    scope = store.profile_scope(site)
    merged = [
        (customer_id, _merged(store, customer_id, signals, scope=scope), names)
        for (customer_id, signals), names in zip(requests, ignored, strict=True)
    ]
    return _decide_merged(
        model=model, fallback=fallback, site=site, merged=merged, explain=explain, today=today
    )


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
    """The coat-check: decide and open a visit with a ticket from the tier's range, the
    visit, the decision and its perks in one transaction.

    Returns ``(visit, decision)``. The visit keeps where the customer came from (the
    ``SOURCE_SIGNALS`` of the merged profile and request) for the staff display.
    """
    [ignored] = _ignored(model, [(customer_id, signals)], batch=False)
    merged = _merged(store, customer_id, signals, scope=store.profile_scope(site))
    if party_size is not None and "party_size" not in (signals or {}):
        merged["party_size"] = party_size  # the request wins over the stored profile
    [decision], [row] = _decide_merged(
        model=model,
        fallback=fallback,
        site=site,
        merged=[(customer_id, merged, ignored)],
        explain=explain,
        today=today,
    )
    playbook = model.playbook if model is not None else fallback.playbook
    visit = store.check_in(
        decision=row,
        ticket_range=playbook.ticket_range(decision["tier"]),
        party_size=party_size,
        source={k: str(merged[k])[:200] for k in SOURCE_SIGNALS if merged.get(k) is not None},
    )
    return visit, decision


def _decide_merged(
    *,
    model: TierModel | None,
    fallback: Fallback,
    site: str,
    merged: Sequence[tuple[str | None, dict[str, Any], list[str]]],
    explain: bool,
    today: dt.date | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    day = today or dt.datetime.now(dt.UTC).date()
    decisions: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for customer_id, signals, ignored in merged:
        decision, pick = _decide_one(
            model=model,
            fallback=fallback,
            customer_id=customer_id,
            signals=signals,
            ignored=ignored,
            explain=explain,
            day=day,
        )
        decisions.append(decision)
        row = {**decision, "site": site, "signals": signals}
        if pick is not None:
            row["pick_cues"] = pick
        rows.append(row)
    return decisions, rows


def override(
    *,
    store: Store,
    playbook: Playbook,
    default_tier: str,
    site: str,
    ticket: int,
    tier: str,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
    today: dt.date | None = None,
) -> tuple[dict[str, Any], bool]:
    """A staff override of an open visit's tier (``Store.override_visit``), its cues picked
    again for ``tier`` by ``playbook`` as for a decision, perks taken under the same rules
    in the override's transaction. The signals are the customer's stored profile and
    where they came from: a decision does not keep the request's signals."""
    visit = store.get_visit(site, ticket)
    customer_id = visit["customer_id"]
    scope = store.profile_scope(site)
    profile = store.get_customer(customer_id, scope=scope) if customer_id else None
    signals = {**(profile["signals"] if profile else {}), **(visit["source"] or {})}
    pick = _CuePick(
        playbook=playbook,
        tier=tier,
        signals=signals,
        holdout=bool(visit["decision"].get("holdout")),
        default_tier=default_tier,
        day=today or dt.datetime.now(dt.UTC).date(),
        decision={},
    )
    return store.override_visit(
        site,
        ticket,
        tier=tier,
        reason=reason,
        actor=actor,
        idempotency_key=idempotency_key,
        pick_cues=pick,
    )
