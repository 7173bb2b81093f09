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
import itertools
import string
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierline.engine.errors import PlaybookError
from tierline.engine.spec import RULE_OPS, Rule
from tierline.engine.tiers import rule_predicate
from tierline.engine.values import category_text, is_missing, map_column

__all__ = ["DEFAULT_PLAYBOOK", "Cue", "Perk", "Playbook", "TierPlay"]

DEFAULT_PLAYBOOK = Path(__file__).with_name("default_playbook.toml")

_TOP_KEYS = {"max_cues", "holdout_fraction", "tiers", "perks", "personal", "display"}
_TIER_KEYS = {"label", "color", "shape", "tickets", "cues"}
_CUE_KEYS = {"code", "text", "perk"}
_PERK_KEYS = {"text", "cost", "stock", "daily_budget", "give", "uplift_model", "arm"}
GIVE_MODES = ("always", "uplift")
_PERSONAL_KEYS = {"code", "text", "perk", "tiers", "when"}
_DISPLAY_KEYS = {"source_chips"}


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


_SHAPES = ("star", "circle", "square", "triangle", "diamond", "hexagon")
_COLORS = ("#5b2a86", "#1f5f99", "#1b6e3c", "#8a4b08", "#7a1f3d", "#3d4852")


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
        if customer_id is None or self.holdout_fraction <= 0.0:
            return False
        digest = hashlib.blake2b(
            customer_id.encode("utf-8"), digest_size=8, person=b"tierline-hold"
        ).digest()
        return int.from_bytes(digest, "big") < self.holdout_fraction * 2.0**64

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
            f'color = "{_COLORS[i % len(_COLORS)]}"',
            f'shape = "{_SHAPES[i % len(_SHAPES)]}"',
            f"tickets = [{lo}, {lo + 999}]",
            f'cues = [{{ code = "serve_{tier}", text = "Serve as a {tier} guest: greet, seat, serve in order" }}]',
        ]
    return "\n".join(lines) + "\n"


def _keys(table: Any, allowed: set[str], where: str, source: str) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise PlaybookError(f"{source}: {where} must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PlaybookError(
            f"{source}: unknown key '{unknown[0]}' in {where} (allowed: {', '.join(sorted(allowed))})"
        )
    return table


def _cue(raw: Any, where: str, source: str, perks: Mapping[str, Perk], allowed: set[str]) -> Cue:
    c = _keys(raw, allowed, where, source)
    code, text = c.get("code"), c.get("text")
    if not isinstance(code, str) or not code or not isinstance(text, str) or not text:
        raise PlaybookError(f"{source}: {where} needs a non-empty code and text")
    perk = c.get("perk")
    if perk is not None and perk not in perks:
        raise PlaybookError(
            f"{source}: {where} names perk '{perk}', which is not declared under [perks]"
        )
    return Cue(code=code, text=text, perk=perk)


def _perk(name: str, raw: Any, source: str) -> Perk:
    p = _keys(raw, _PERK_KEYS, f"[perks.{name}]", source)
    cost, stock, budget = p.get("cost", 0.0), p.get("stock"), p.get("daily_budget")
    text = p.get("text")
    if isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0:
        raise PlaybookError(f"{source}: [perks.{name}] cost must be a number >= 0")
    if stock is not None and (isinstance(stock, bool) or not isinstance(stock, int) or stock < 0):
        raise PlaybookError(f"{source}: [perks.{name}] stock must be a whole number >= 0")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int | float) or budget < 0
    ):
        raise PlaybookError(f"{source}: [perks.{name}] daily_budget must be a number >= 0")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise PlaybookError(f"{source}: [perks.{name}] text must be a non-empty string")
    give, version, arm = p.get("give", "always"), p.get("uplift_model"), p.get("arm")
    if give not in GIVE_MODES:
        raise PlaybookError(
            f'{source}: [perks.{name}] give must be "always" or "uplift", got {give!r}'
        )
    if give == "uplift" and (not isinstance(version, str) or not version.strip()):
        raise PlaybookError(
            f'{source}: [perks.{name}] give = "uplift" needs uplift_model, the model version '
            f'whose uplift model decides who gets it (e.g. uplift_model = "v0007")'
        )
    if give != "uplift" and (version is not None or arm is not None):
        raise PlaybookError(
            f'{source}: [perks.{name}] uplift_model and arm apply only with give = "uplift"'
        )
    if arm is not None and (not isinstance(arm, str) or not arm.strip()):
        raise PlaybookError(f"{source}: [perks.{name}] arm must be a non-empty string")
    return Perk(
        name=name,
        cost=float(cost),
        stock=stock,
        daily_budget=None if budget is None else float(budget),
        text=text,
        give=give,
        uplift_model=version,
        arm=arm,
    )


def _parse(data: Mapping[str, Any], *, text: str, tiers: Sequence[str], source: str) -> Playbook:
    _keys(data, _TOP_KEYS, "the playbook", source)
    max_cues = data.get("max_cues", 3)
    if isinstance(max_cues, bool) or not isinstance(max_cues, int) or not 1 <= max_cues <= 5:
        raise PlaybookError(
            f"{source}: max_cues must be a whole number from 1 to 5, got {max_cues!r}"
        )
    holdout = data.get("holdout_fraction", 0.05)
    if (
        isinstance(holdout, bool)
        or not isinstance(holdout, int | float)
        or not 0.0 <= holdout < 0.5
    ):
        raise PlaybookError(
            f"{source}: holdout_fraction must be a number from 0 up to 0.5, got {holdout!r}"
        )

    perks = {
        name: _perk(name, raw, source)
        for name, raw in _keys(
            data.get("perks", {}), set(data.get("perks", {})), "[perks]", source
        ).items()
    }

    raw_tiers = _keys(data.get("tiers", {}), set(data.get("tiers", {})), "[tiers]", source)
    missing = [t for t in tiers if t not in raw_tiers]
    if missing:
        raise PlaybookError(
            f"{source}: tier '{missing[0]}' has no [tiers.{missing[0]}] entry; every tier needs at least one cue"
        )
    plays: dict[str, TierPlay] = {}
    codes: set[str] = set()
    ranges: list[tuple[int, int, str]] = []
    for i, tier in enumerate(tiers):
        t = _keys(raw_tiers[tier], _TIER_KEYS, f"[tiers.{tier}]", source)
        cues_raw = t.get("cues", [])
        if not isinstance(cues_raw, list) or not cues_raw:
            raise PlaybookError(
                f"{source}: [tiers.{tier}] needs at least one cue (nobody is 'ignore')"
            )
        cues = tuple(
            _cue(c, f"[tiers.{tier}] cue #{j + 1}", source, perks, _CUE_KEYS)
            for j, c in enumerate(cues_raw)
        )
        for c in cues:
            if c.code in codes:
                raise PlaybookError(
                    f"{source}: cue code '{c.code}' is used twice; codes must be unique"
                )
            codes.add(c.code)
        tickets = t.get("tickets", [1000 * (i + 1), 1000 * (i + 1) + 999])
        if (
            not isinstance(tickets, list)
            or len(tickets) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in tickets)
            or not 0 < tickets[0] <= tickets[1]
        ):
            raise PlaybookError(
                f"{source}: [tiers.{tier}] tickets must be [first, last] with 0 < first <= last"
            )
        ranges.append((tickets[0], tickets[1], tier))
        plays[tier] = TierPlay(
            tier=tier,
            label=str(t.get("label", tier.title())),
            color=str(t.get("color", _COLORS[i % len(_COLORS)])),
            shape=str(t.get("shape", _SHAPES[i % len(_SHAPES)])),
            tickets=(tickets[0], tickets[1]),
            cues=cues,
        )
    ranges.sort()
    for (_, hi, a), (lo, _, b) in itertools.pairwise(ranges):
        if lo <= hi:
            raise PlaybookError(f"{source}: ticket ranges of tiers '{a}' and '{b}' overlap")

    personal: list[_Personal] = []
    raw_personal = data.get("personal", [])
    if not isinstance(raw_personal, list):
        raise PlaybookError(f"{source}: [[personal]] must be an array of tables")
    for j, raw in enumerate(raw_personal):
        where = f"[[personal]] #{j + 1}"
        cue = _cue(raw, where, source, perks, _PERSONAL_KEYS)
        if cue.code in codes:
            raise PlaybookError(
                f"{source}: cue code '{cue.code}' is used twice; codes must be unique"
            )
        codes.add(cue.code)
        only = raw.get("tiers")
        # A playbook may describe more tiers than one model uses, so names are checked
        # against the playbook's own [tiers] tables rather than the spec's.
        if only is not None and (
            not isinstance(only, list) or any(x not in raw_tiers for x in only)
        ):
            raise PlaybookError(
                f"{source}: {where} tiers must list tiers defined under [tiers], got {only!r}"
            )
        when = _keys(raw.get("when"), {"column", *RULE_OPS}, f"{where} when", source)
        ops = [k for k in RULE_OPS if k in when]
        if not isinstance(when.get("column"), str) or len(ops) != 1:
            raise PlaybookError(
                f"{source}: {where} when needs a column and exactly one of {', '.join(RULE_OPS)}"
            )
        fields = tuple(f for _, f, _, _ in string.Formatter().parse(cue.text) if f)
        rule = Rule(tier="", column=when["column"], op=ops[0], value=when[ops[0]], name=cue.code)
        personal.append(
            _Personal(
                cue=cue, tiers=None if only is None else frozenset(only), rule=rule, fields=fields
            )
        )
    display = _keys(data.get("display", {}), _DISPLAY_KEYS, "[display]", source)
    chips = display.get("source_chips", False)
    if not isinstance(chips, bool):
        raise PlaybookError(
            f"{source}: [display] source_chips must be true or false, got {chips!r}"
        )
    return Playbook(
        text=text,
        max_cues=max_cues,
        holdout_fraction=float(holdout),
        tiers=plays,
        perks=perks,
        personal=personal,
        source_chips=chips,
    )
