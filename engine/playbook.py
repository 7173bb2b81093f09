"""The playbook: what staff do for each tier (cues), which perks cost something, tickets, holdout.

A playbook is a TOML file (``default_playbook.toml`` ships with tierline)::

    max_cues = 3                 # staff read two or three cues, never a list
    holdout_fraction = 0.05      # share of customers who get the default tier's treatment

    [tiers.vip]
    label = "VIP"
    color = "#5b2a86"            # the display's tier colour
    shape = "star"               # never colour alone
    tickets = [1, 199]           # the coat-check ticket range
    cues = [
      { code = "seat_fast", text = "Seat within 5 minutes" },
      { code = "welcome_coffee", text = "Offer a coffee on the house", perk = "coffee" },
    ]

    [perks.coffee]               # a cue that costs something: stock and a daily budget
    cost = 2.5
    stock = 500
    daily_budget = 150.0

    [[personal]]                 # signal-driven cues, added after the tier's own
    code = "car_dessert"
    text = "Dessert with the {car_brand} logo"
    tiers = ["vip"]
    when = { column = "car_brand", present = true }

    [display]                    # the staff display
    source_chips = true          # show where each guest came from (default false)

Every tier gets at least one cue (nobody is "ignore"). Holdout is stable per customer: a
hash of the id, so the same customer is always in or always out.
"""

from __future__ import annotations

import hashlib
import math
import string
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.errors import PlaybookError
from tierline.engine.playbook_schema import COLORS, SHAPES, read_playbook
from tierline.engine.spec import Rule
from tierline.engine.tiers import rule_predicate
from tierline.engine.values import category_text, is_missing, map_column

_HOLDOUT_KEY = hashlib.blake2b(digest_size=8, person=b"tierline-hold")
_NO_ID = bytes(8)  # a placeholder for a missing id, never held out

__all__ = ["DEFAULT_PLAYBOOK", "Cue", "Perk", "Playbook", "TierPlay"]

DEFAULT_PLAYBOOK = Path(__file__).with_name("default_playbook.toml")


@dataclass(frozen=True)
class Perk:
    """A cue that costs something; the store tracks its stock and daily spend."""

    name: str
    cost: float
    stock: int | None
    daily_budget: float | None
    text: str | None = None  # what people read (the manager's report); ``name`` is the key
    # give = "uplift": offered only where the arm of version ``uplift_model`` pays.
    give: str = "always"
    uplift_model: str | None = None
    arm: str | None = None

    @property
    def uplift_arm(self) -> str:
        return self.arm or self.name


@dataclass(frozen=True)
class Cue:
    """A short instruction for staff."""

    code: str
    text: str
    perk: str | None = None


@dataclass(frozen=True)
class TierPlay:
    """How one tier is shown and served."""

    tier: str
    label: str
    color: str
    shape: str
    tickets: tuple[int, int]
    cues: tuple[Cue, ...]


@dataclass(frozen=True)
class _Personal:
    cue: Cue
    tiers: frozenset[str] | None
    rule: Rule
    fields: tuple[str, ...]

    test: Any = None  # the rule's predicate, compiled once in __post_init__

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", rule_predicate(self.rule))


class Playbook:
    """A validated playbook. Build it with ``Playbook.load`` / ``Playbook.from_text``."""

    def __init__(
        self,
        *,
        text: str,
        max_cues: int,
        holdout_fraction: float,
        tiers: Mapping[str, TierPlay],
        perks: Mapping[str, Perk],
        personal: Sequence[_Personal],
        source_chips: bool = False,
    ) -> None:
        self.text = text
        # Off unless asked for: a campaign's name helps a host only where staff use them.
        self.source_chips = source_chips
        self.max_cues = max_cues
        self.holdout_fraction = holdout_fraction
        self.tiers = dict(tiers)
        self.perks = dict(perks)
        self._personal = tuple(personal)
        self.cue_codes = frozenset(
            [c.code for t in self.tiers.values() for c in t.cues]
            + [p.cue.code for p in self._personal]
        )
        # The signals personal cues read: their conditions' columns and their texts' fields.
        self.signal_names = frozenset(
            name for p in self._personal for name in (p.rule.column, *p.fields)
        )
        # Tiers the shipped playbook did not know, given a generic cue (``default``).
        self.generic_tiers: tuple[str, ...] = ()

    # -- loading ---------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, *, tiers: Sequence[str]) -> Playbook:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlaybookError(f"Playbook '{p}' cannot be read: {exc}") from exc
        return cls.from_text(text, tiers=tiers, source=str(p))

    @classmethod
    def default(cls, *, tiers: Sequence[str]) -> Playbook:
        """The shipped playbook; tiers it does not know get a generic entry of their own."""
        text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
        data = tomllib.loads(text)
        known = data.get("tiers", {})
        extra = [t for t in tiers if t not in known]
        if extra:
            text += _generic_entries(tiers, extra)
        playbook = cls.from_text(text, tiers=tiers, source="the default playbook")
        playbook.generic_tiers = tuple(extra)
        return playbook

    @classmethod
    def from_text(cls, text: str, *, tiers: Sequence[str], source: str) -> Playbook:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PlaybookError(f"{source} is not valid TOML: {exc}") from exc
        return _parse(data, text=text, tiers=tiers, source=source)

    @property
    def uplift_perks(self) -> dict[str, Perk]:
        """The perks given only where an uplift model says they pay."""
        return {n: p for n, p in self.perks.items() if p.give == "uplift"}

    # -- use -------------------------------------------------------------------------------
    def is_holdout(self, customer_id: str | None) -> bool:
        """Stable per customer: the same id is always in or always out of the holdout."""
        return bool(self.holdout_many([customer_id])[0])

    def holdout_many(self, customer_ids: Sequence[str | None]) -> np.ndarray:
        """``is_holdout`` of each id, as booleans: an id's 64-bit keyed hash below the
        fraction of 2^64 (the bound rounded up, so the integer comparison is exact)."""
        if self.holdout_fraction <= 0.0:
            return np.zeros(len(customer_ids), dtype=bool)
        keyed = _HOLDOUT_KEY.copy  # a copy of the keyed state, cheaper than a new one
        digests = bytearray()
        for customer_id in customer_ids:
            if customer_id is None:
                digests += _NO_ID
                continue
            hashed = keyed()
            hashed.update(customer_id.encode("utf-8"))
            digests += hashed.digest()
        bound = math.ceil(self.holdout_fraction * 2.0**64)
        held = np.frombuffer(bytes(digests), dtype=">u8") < np.uint64(min(bound, 2**64 - 1))
        if bound >= 2**64:  # every id (the largest hash too)
            held[:] = True
        held[[i for i, c in enumerate(customer_ids) if c is None]] = False
        return held

    def personal_matches(self, signals: Mapping[str, Any]) -> tuple[bool, ...]:
        """For each personal cue: do these signals satisfy its condition and fill its text?"""
        return tuple(
            item.test(signals.get(item.rule.column))
            and not any(is_missing(signals.get(f)) for f in item.fields)
            for item in self._personal
        )

    def personal_matches_many(self, frame: pd.DataFrame) -> np.ndarray:
        """``personal_matches`` for every row of a frame: a boolean matrix rows x personal cues."""
        out = np.zeros((len(frame), len(self._personal)), dtype=bool)
        for j, item in enumerate(self._personal):
            col = item.rule.column
            test = item.test
            hit = (
                map_column(frame[col], test, missing=test(None), dtype=bool)
                if col in frame.columns
                else np.full(len(frame), test(None))
            )
            for f in item.fields:
                if f not in frame.columns:
                    hit &= False
                else:
                    hit &= map_column(
                        frame[f], lambda v: not is_missing(v), missing=False, dtype=bool
                    )
            out[:, j] = hit
        return out

    def pick(
        self,
        *,
        tier: str,
        holdout: bool,
        matches: Sequence[bool],
        default_tier: str,
        available: Callable[[str], bool] | None = None,
    ) -> list[tuple[Cue, int | None]]:
        """The cues staff see, in order: the tier's own, then matching personal cues.

        A holdout customer gets the default tier's cues and no personal cues, whatever
        their tier, so uplift can be measured honestly. ``available(perk)`` is asked for
        each perk cue in turn, only while a place is left: a perk that is out of stock or
        over budget never appears and the next cue takes its place (a promise staff
        cannot keep is worse than none). Each cue comes with the index of its personal
        cue (whose text still has to be filled in) or None.
        """
        play = self.tiers[default_tier if holdout else tier]
        candidates: list[tuple[Cue, int | None]] = [(c, None) for c in play.cues]
        if not holdout:
            for j, item in enumerate(self._personal):
                if matches[j] and (item.tiers is None or tier in item.tiers):
                    candidates.append((item.cue, j))
        picked: list[tuple[Cue, int | None]] = []
        for cue, index in candidates:
            if len(picked) == self.max_cues:
                break
            if cue.perk is not None and available is not None and not available(cue.perk):
                continue
            picked.append((cue, index))
        return picked

    def cues_for(
        self,
        *,
        tier: str,
        signals: Mapping[str, Any],
        holdout: bool,
        default_tier: str,
        available: Callable[[str], bool] | None = None,
    ) -> list[Cue]:
        """The cues for one customer, with personal texts filled in from the signals."""
        picked = self.pick(
            tier=tier,
            holdout=holdout,
            matches=self.personal_matches(signals),
            default_tier=default_tier,
            available=available,
        )
        cues: list[Cue] = []
        for cue, j in picked:
            if j is not None:
                fields = self._personal[j].fields
                cue = Cue(
                    code=cue.code,
                    text=cue.text.format(**{f: category_text(signals.get(f)) for f in fields}),
                    perk=cue.perk,
                )
            cues.append(cue)
        return cues

    def cue_codes_many(
        self, *, tiers: np.ndarray, holdout: np.ndarray, frame: pd.DataFrame, default_tier: str
    ) -> np.ndarray:
        """Cue codes joined by ';' for every row, by the same ``pick`` as one customer gets."""
        matches = self.personal_matches_many(frame)
        # Few distinct (tier, holdout, matches) combinations exist; pick once per combination.
        bits = matches.astype(np.int64) @ (1 << np.arange(matches.shape[1], dtype=np.int64))
        tier_names = list(self.tiers)
        tier_idx = pd.Categorical(tiers, categories=tier_names).codes.astype(np.int64)
        combo = (tier_idx * 2 + holdout.astype(np.int64)) * (1 << matches.shape[1]) + bits
        uniques, inverse = np.unique(combo, return_inverse=True)
        texts = np.empty(len(uniques), dtype=object)
        for u, value in enumerate(uniques):
            first = int(np.argmax(combo == value))
            picked = self.pick(
                tier=str(tiers[first]),
                holdout=bool(holdout[first]),
                matches=matches[first],
                default_tier=default_tier,
            )
            texts[u] = ";".join(c.code for c, _ in picked)
        return texts[inverse]

    def ticket_range(self, tier: str) -> tuple[int, int]:
        return self.tiers[tier].tickets


def _generic_entries(all_tiers: Sequence[str], extra: Sequence[str]) -> str:
    """TOML for tiers the default playbook does not know: a polite generic cue each."""
    lines: list[str] = []
    for tier in extra:
        i = list(all_tiers).index(tier)
        lo = 1000 * (i + 1)
        lines += [
            "",
            f'[tiers."{tier}"]',
            f'label = "{tier.title()}"',
            f'color = "{COLORS[i % len(COLORS)]}"',
            f'shape = "{SHAPES[i % len(SHAPES)]}"',
            f"tickets = [{lo}, {lo + 999}]",
            f'cues = [{{ code = "serve_{tier}", text = "Serve as a {tier} guest: greet, seat, serve in order" }}]',
        ]
    return "\n".join(lines) + "\n"


def _parse(data: Mapping[str, Any], *, text: str, tiers: Sequence[str], source: str) -> Playbook:
    file = read_playbook(data, tiers=tiers, source=source)
    perks = {
        name: Perk(
            name=name,
            cost=p.cost,
            stock=p.stock,
            daily_budget=p.daily_budget,
            text=p.text,
            give=p.give,
            uplift_model=p.uplift_model,
            arm=p.arm,
        )
        for name, p in file.perks.items()
    }
    plays = {
        tier: TierPlay(
            tier=tier,
            label=str(t.label if "label" in t.model_fields_set else tier.title()),
            color=str(t.color if "color" in t.model_fields_set else COLORS[i % len(COLORS)]),
            shape=str(t.shape if "shape" in t.model_fields_set else SHAPES[i % len(SHAPES)]),
            tickets=t.tickets_at(i),
            cues=tuple(Cue(code=c.code, text=c.text, perk=c.perk) for c in t.cues),
        )
        for i, (tier, t) in enumerate(file.tiers.items())
    }
    personal = [
        _Personal(
            cue=Cue(code=p.code, text=p.text, perk=p.perk),
            tiers=None if p.tiers is None else frozenset(p.tiers),
            rule=Rule(tier="", column=p.when.column, op=p.when.op, value=p.when.value, name=p.code),
            fields=tuple(f for _, f, _, _ in string.Formatter().parse(p.text) if f),
        )
        for p in file.personal
    ]
    return Playbook(
        text=text,
        max_cues=file.max_cues,
        holdout_fraction=file.holdout_fraction,
        tiers=plays,
        perks=perks,
        personal=personal,
        source_chips=file.display.source_chips,
    )
