"""The answers, typed for the OpenAPI document: every route's success body and the one error
body. Closed (``extra="forbid"``): a field the document does not name is a server fault,
not a silent addition to the contract.

Kept whole (over 400 lines): the answers of every route read best side by side, as the OpenAPI document shows them.

The routes declare these as ``response_model`` and FastAPI validates what they return,
except ``POST /v1/decisions``: the decision lane serialises its answer itself, so the
model there documents it only (a test checks the answers against it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BulkAnswer",
    "CheckInAnswer",
    "CueAnswer",
    "CustomerAnswer",
    "DecisionAnswer",
    "DecisionBatchAnswer",
    "DisplaySettings",
    "DriftAnswer",
    "ErasedAnswer",
    "ErrorBody",
    "HealthAnswer",
    "ModelListAnswer",
    "OutcomeAnswer",
    "PairedAnswer",
    "PairingAnswer",
    "PerkAnswer",
    "PerkListAnswer",
    "PromotedAnswer",
    "ReadyAnswer",
    "ReasonAnswer",
    "ReportAnswer",
    "UpliftAnswer",
    "VisitAnswer",
    "VisitListAnswer",
]

SignalValue = str | int | float | bool | None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Answer):
    """What went wrong: a stable code, a sentence for people, and structured details."""

    code: str = Field(description="Stable, machine-readable, e.g. `validation_error`.")
    message: str = Field(description="What happened and what to do next.")
    details: Any = Field(description="Structured context (the fields at fault, ...), or null.")


class ErrorBody(_Answer):
    """The one error shape of every 4xx and 5xx answer."""

    error: ErrorDetail


class CueAnswer(_Answer):
    """A cue staff read; ``perk`` names what it costs, if anything."""

    code: str
    text: str
    perk: str | None


class ReasonAnswer(_Answer):
    """One contribution to the tier: a feature (or ``rule``), its value, its effect."""

    feature: str
    value: str
    effect: float
    text: str


class VisitDecision(_Answer):
    """The decision behind a visit (who and where are the visit's own fields)."""

    tier: str
    confidence: float
    score: float
    cues: list[CueAnswer]
    reasons: list[ReasonAnswer]
    model_version: str | None
    holdout: bool
    degraded: bool


class DecisionAnswer(VisitDecision):
    """A stored decision: the tier, the cues, why, and what was ignored."""

    decision_id: str
    customer_id: str | None
    ignored_signals: list[str] = Field(
        description="The request's signal names that nothing uses (not a model input, a "
        "hard rule's column, a playbook cue's, a source signal or party_size), sorted; "
        "usually a misspelling. Empty when no model is loaded (degraded)."
    )


class DecisionBatchAnswer(_Answer):
    """The decisions of a batch, in the order of its items."""

    items: list[DecisionAnswer]


class CheckInAnswer(_Answer):
    """A check-in: the ticket from the tier's range and the decision behind it."""

    ticket: int
    site: str
    opened_at: dt.datetime
    party_size: int | None
    decision: DecisionAnswer


class CustomerAnswer(_Answer):
    """A customer's stored profile signals."""

    id: str
    signals: dict[str, SignalValue]
    updated_at: dt.datetime


class BulkAnswer(_Answer):
    """What a bulk sync did: profiles sent, new, replaced, and already stored as sent."""

    items: int
    inserted: int
    updated: int
    unchanged: int


class OverrideAnswer(_Answer):
    """A staff override in force: the tier, why, when and by which key."""

    tier: str
    reason: str
    at: dt.datetime
    by: str = Field(description="The id of the key that overrode.")


class VisitAnswer(_Answer):
    """A visit as the staff display shows it."""

    site: str
    ticket: int
    decision_id: str
    customer_id: str | None
    party_size: int | None
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    spend: float | None
    source: dict[str, str] | None = Field(description="Where the customer came from.")
    tier: str = Field(description="The tier in force: the override's, else the decision's.")
    override: OverrideAnswer | None
    decision: VisitDecision
    cues: list[CueAnswer] = Field(description="The cues in force (an override re-picks them).")
    accepted: list[str]
    declined: list[str]


class TierStyle(_Answer):
    """How the display draws a tier."""

    tier: str
    label: str
    color: str
    shape: str


class DisplaySettings(_Answer):
    """How the staff display shows the key's site."""

    source_chips: bool = Field(
        description="Whether cards name where a guest came from (playbook `[display]`)."
    )
    locale: str | None = Field(
        description="The site's BCP 47 locale for times (`TIERLINE_SITE_LOCALES`), or null: "
        "the browser's own."
    )


class VisitListAnswer(_Answer):
    """The open visits at the key's site, newest first, with what the display needs."""

    site: str
    role: str
    degraded: bool
    model_version: str | None
    tiers: list[TierStyle]
    display: DisplaySettings
    items: list[VisitAnswer]


class OutcomeAnswer(_Answer):
    """A recorded outcome (a replay answers the first one)."""

    id: str
    idempotency_key: str
    decision_id: str
    spend: float | None
    accepted: list[str]
    declined: list[str]
    converted: bool | None
    note: str | None
    created_at: dt.datetime


class TierDay(_Answer):
    tier: str
    visits: int
    open: int
    spend: float


class CampaignDay(_Answer):
    campaign: str
    visits: int
    spend: float


class PerkDay(_Answer):
    perk: str
    text: str = Field(description="The playbook's text for the perk (its name if none).")
    issued: int
    spent: float
    stock_left: int | None = Field(description="null: unlimited.")
    daily_budget: float | None = Field(description="null: no budget.")


class ReportAnswer(_Answer):
    """One day, midnight to midnight in the site's time zone, at the key's site."""

    site: str
    day: dt.date
    timezone: str
    visits: int
    spend: float
    by_tier: list[TierDay]
    by_campaign: list[CampaignDay]
    perks: list[PerkDay]


class DriftBin(_Answer):
    bin: str = Field(description="A category, `(other)`, `(missing)`, or a numeric range.")
    training: float = Field(description="The training rows' share in the bin.")
    window: float = Field(description="The window's share in the bin.")


class DriftSignal(_Answer):
    """One model input: its population stability index and band."""

    signal: str
    kind: str = Field(description="numeric, categorical or boolean.")
    psi: float = Field(description="Sum over bins of (window - training) * ln(window / training).")
    band: str = Field(description="stable (< 0.1), watch (< 0.25) or act (>= 0.25).")
    rows: int
    missing_share: float
    training_missing_share: float
    bins: list[DriftBin]


class DriftAnswer(_Answer):
    """Drift of the decisions logged in a window (every site and model version) against
    the serving model's training rows, most drifted signal first."""

    model_version: str
    since: dt.datetime
    until: dt.datetime = Field(description="Not included (the midnight after the last day).")
    decisions: int = Field(description="Decisions in the window that kept their signals.")
    min_decisions: int
    enough: bool = Field(description="false: too few decisions for figures; see message.")
    message: str | None
    band: str | None = Field(description="The worst signal's band; null without figures.")
    signals: list[DriftSignal]


class UpliftArm(_Answer):
    """One arm of a comparison: its customers and, with enough data, its figures."""

    customers: int
    conversion_rate: float | None = Field(description="null: not enough data yet.")
    spend_per_customer: float | None = Field(description="null: not enough data yet.")


class UpliftInterval(_Answer):
    """Treated minus holdout, with the bounds of its 95 % interval."""

    estimate: float
    low: float
    high: float


class UpliftRow(_Answer):
    """A tier (``perk`` null: all its treated customers) or one perk within a tier,
    treated against the tier's holdout. Below the minimum sample: the counts, a note, and
    no figure."""

    tier: str
    perk: str | None
    treated: UpliftArm
    holdout: UpliftArm
    enough_data: bool
    note: str | None = Field(description="Why there are no figures (not enough data yet).")
    conversion_difference: UpliftInterval | None
    spend_difference: UpliftInterval | None
    cost_per_customer: float | None = Field(
        description="The treated arm's perk cost per customer minus the holdout's."
    )
    net_value: UpliftInterval | None = Field(
        description="Spend difference minus the cost, per treated customer."
    )


class UpliftAnswer(_Answer):
    """Measured uplift at the key's site over the decisions of ``[since, until]`` (the
    site's days): one customer per customer id, by their first decision in the window."""

    site: str
    since: dt.date | None
    until: dt.date | None
    timezone: str
    customers: int = Field(description="Known customers counted (one each).")
    anonymous_decisions: int = Field(
        description="Decisions without a customer id, left out: never held out, no control."
    )
    min_customers: int = Field(description="Customers each arm needs before any figure.")
    confidence: float
    rows: list[UpliftRow]


class ErasedAnswer(_Answer):
    """What an erasure scrubbed: the profile (if there was one) and how many rows."""

    profile: bool
    decisions: int
    visits: int
    outcomes: int


class PerkAnswer(_Answer):
    """A perk's stock left, daily budget and what the playbook declared; with the day's
    use when listed."""

    name: str
    cost: float
    stock: int | None = Field(description="null: unlimited.")
    daily_budget: float | None = Field(description="null: no budget.")
    declared_stock: int | None
    declared_budget: float | None
    issued: int | None = None
    spent: float | None = None


class PerkListAnswer(_Answer):
    """Every perk, with its use on ``day`` (UTC)."""

    day: dt.date
    items: list[PerkAnswer]


class ModelItem(_Answer):
    version: str
    created: str
    kind: str
    champion: bool
    metrics: dict[str, int | float]


class ModelListAnswer(_Answer):
    """Every model version, oldest first."""

    champion: str | None
    serving: str | None = Field(description="The version this server answers with.")
    items: list[ModelItem]


class PromotedAnswer(_Answer):
    """The champion after a promotion or a rollback, and the one before."""

    champion: str
    previous: str | None
    serving: str | None


class HealthAnswer(_Answer):
    status: str


class ReadyAnswer(_Answer):
    status: str
    model: str | None
    store: bool


class PairingAnswer(_Answer):
    """A new pairing code (shown only this once) and when it stops working."""

    code: str = Field(description="8 characters shown as ABCD-EFGH; case and dashes are free.")
    site: str
    expires_at: dt.datetime


class PairedAnswer(_Answer):
    """The staff key a pairing code was spent on (shown only this once)."""

    key: str
    id: str
    role: str
    site: str
    name: str | None
