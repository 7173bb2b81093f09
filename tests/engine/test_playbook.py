"""The playbook: every tier has cues, perks are declared, holdout is stable per customer."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest

from tierline.engine.errors import PlaybookError
from tierline.engine.playbook import Playbook

TIERS = ["vip", "standard", "student"]
PLAYBOOK = Playbook.default(tiers=TIERS)


def test_default_playbook_covers_the_demo_tiers() -> None:
    """Each demo tier has a label, colour, shape, ticket range and at least one cue."""
    for tier in TIERS:
        play = PLAYBOOK.tiers[tier]
        assert play.cues and play.label and play.color.startswith("#") and play.shape
    assert PLAYBOOK.ticket_range("vip") == (1, 199)


def test_personal_cue_fills_its_template() -> None:
    """A VIP with a known car brand gets the brand dessert, with the brand in the text."""
    cues = PLAYBOOK.cues_for(
        tier="vip", signals={"car_brand": "Porsche"}, holdout=False, default_tier="standard"
    )
    assert [c.code for c in cues] == ["seat_fast", "welcome_coffee", "car_dessert"]
    assert cues[-1].text == "Dessert with the Porsche logo" and cues[-1].perk == "brand_dessert"
    cues = PLAYBOOK.cues_for(
        tier="standard", signals={"car_brand": "Porsche"}, holdout=False, default_tier="standard"
    )
    assert "car_dessert" not in [c.code for c in cues]


def test_cues_are_capped_at_max_cues() -> None:
    """Staff never see more than max_cues cues."""
    signals = {"car_brand": "Audi", "campaign": "spring_menu"}
    cues = PLAYBOOK.cues_for(tier="vip", signals=signals, holdout=False, default_tier="standard")
    assert len(cues) == PLAYBOOK.max_cues == 3


def test_holdout_gets_the_default_treatment() -> None:
    """A holdout customer gets the default tier's cues whatever their tier."""
    cues = PLAYBOOK.cues_for(
        tier="vip", signals={"car_brand": "Audi"}, holdout=True, default_tier="standard"
    )
    assert [c.code for c in cues] == [c.code for c in PLAYBOOK.tiers["standard"].cues]


def test_holdout_is_stable_and_near_its_fraction() -> None:
    """The same id is always in or out; about holdout_fraction of ids are in."""
    ids = [f"{i:08d}" for i in range(20000)]
    first = [PLAYBOOK.is_holdout(i) for i in ids]
    assert first == [PLAYBOOK.is_holdout(i) for i in ids]
    assert abs(np.mean(first) - PLAYBOOK.holdout_fraction) < 0.01
    assert PLAYBOOK.is_holdout(None) is False


@pytest.mark.parametrize("fraction", [0.0, 1e-12, 0.05, 0.5, 1 - 1e-16, 1.0])
def test_holdout_many_keeps_the_published_hash_rule(fraction: float) -> None:
    """Every id lands where it always has: its 8-byte BLAKE2b hash (person
    ``tierline-hold``), read big-endian, below ``fraction * 2**64``; a missing id never
    (a change here would move customers in or out of a running experiment)."""
    playbook = Playbook.default(tiers=TIERS)
    playbook.holdout_fraction = fraction
    ids: list[str | None] = [f"C{i:07d}" for i in range(5000)] + ["", "ü-7", None]

    def rule(customer_id: str | None) -> bool:
        if customer_id is None:
            return False
        digest = hashlib.blake2b(
            customer_id.encode("utf-8"), digest_size=8, person=b"tierline-hold"
        ).digest()
        return int.from_bytes(digest, "big") < fraction * 2.0**64

    assert playbook.holdout_many(ids).tolist() == [rule(i) for i in ids]


def test_batch_cue_codes_match_single_customer_cues() -> None:
    """cue_codes_many gives each row the codes cues_for gives that customer alone."""
    frame = pd.DataFrame(
        {
            "car_brand": ["Audi", None, "", "BMW", None],
            "campaign": ["spring_menu", "x", None, "spring_menu", "spring_menu"],
        }
    )
    tiers = np.array(["vip", "vip", "standard", "student", "vip"], dtype=object)
    holdout = np.array([False, False, False, False, True])
    codes = PLAYBOOK.cue_codes_many(
        tiers=tiers, holdout=holdout, frame=frame, default_tier="standard"
    )
    for i, row in enumerate(frame.to_dict("records")):
        single = PLAYBOOK.cues_for(
            tier=tiers[i], signals=row, holdout=bool(holdout[i]), default_tier="standard"
        )
        assert codes[i] == ";".join(c.code for c in single)


def test_a_perk_keeps_its_text() -> None:
    """A perk's text (what the manager reads) is kept; a perk without one has none."""
    text = "[perks.gift]\ntext = 'A gift from the chef'\n[perks.plain]\ncost = 1.0\n"
    for name, tier in (("vip", "a"), ("standard", "b"), ("student", "c")):
        text += f"[tiers.{name}]\ncues = [{{ code = '{tier}', text = 'T' }}]\n"
    perks = Playbook.from_text(text, tiers=TIERS, source="pb.toml").perks
    assert perks["gift"].text == "A gift from the chef" and perks["plain"].text is None


def test_source_chips_are_a_display_setting_off_by_default() -> None:
    """``[display] source_chips`` turns the display's source chips on; without it (the
    shipped playbook) they are off, and anything but true or false is refused by name."""
    text = "".join(
        f"[tiers.{name}]\ncues = [{{ code = '{code}', text = 'T' }}]\n"
        for name, code in (("vip", "a"), ("standard", "b"), ("student", "c"))
    )
    assert not Playbook.default(tiers=TIERS).source_chips
    assert not Playbook.from_text(text, tiers=TIERS, source="pb.toml").source_chips
    on = Playbook.from_text(text + "[display]\nsource_chips = true\n", tiers=TIERS, source="pb")
    assert on.source_chips
    for extra, needle in (
        ("[display]\nsource_chips = 'yes'", "[display] source_chips must be true or false"),
        ("[display]\nchips = true", "unknown key 'chips' in [display]"),
    ):
        with pytest.raises(PlaybookError, match=re.escape(needle)):
            Playbook.from_text(text + extra, tiers=TIERS, source="pb.toml")


def test_unknown_tiers_get_a_generic_entry() -> None:
    """The default playbook serves any tier set: unknown tiers get a generic polite cue."""
    pb = Playbook.default(tiers=["gold", "silver", "standard"])
    assert pb.tiers["gold"].cues[0].code == "serve_gold"
    assert pb.tiers["standard"].cues[0].code == "serve_in_order"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "[tiers.vip]\ncues=[{code='a', text='A'}]",
            "tier 'standard' has no [tiers.standard] entry",
        ),
        (
            "[tiers.vip]\ncues=[]\n[tiers.standard]\ncues=[{code='b',text='B'}]\n[tiers.student]\ncues=[{code='c',text='C'}]",
            "needs at least one cue",
        ),
        (
            "[tiers.vip]\ncues=[{code='a',text='A',perk='gift'}]\n[tiers.standard]\ncues=[{code='b',text='B'}]\n"
            "[tiers.student]\ncues=[{code='c',text='C'}]",
            "perk 'gift'",
        ),
        (
            "[tiers.vip]\ntickets=[1,300]\ncues=[{code='a',text='A'}]\n[tiers.standard]\ntickets=[200,400]\n"
            "cues=[{code='b',text='B'}]\n[tiers.student]\ncues=[{code='c',text='C'}]",
            "overlap",
        ),
        (
            "[tiers.vip]\ncues=[{code='a',text='A'}]\n[tiers.standard]\ncues=[{code='a',text='B'}]\n"
            "[tiers.student]\ncues=[{code='c',text='C'}]",
            "used twice",
        ),
        ("holdout_fraction = 0.9", "holdout_fraction"),
        ("[perks.gift]\ntext = 5", "[perks.gift] text"),
        ("[perks.gift]\ntext = '  '", "[perks.gift] text"),
        ("colour = 1", "unknown key 'colour'"),
        ("[tiers", "not valid TOML"),
    ],
)
def test_bad_playbooks_are_refused_by_name(text: str, needle: str) -> None:
    """Each playbook mistake raises PlaybookError naming the tier, cue, perk or key."""
    with pytest.raises(PlaybookError) as info:
        Playbook.from_text(text, tiers=TIERS, source="pb.toml")
    assert needle in str(info.value)
