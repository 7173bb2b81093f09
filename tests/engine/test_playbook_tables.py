"""The playbook's tables as a person writes them: each mistake refused by name, in reading order."""

from __future__ import annotations

import pytest

from tierline.engine.errors import PlaybookError
from tierline.engine.playbook import Playbook

TIERS = ["vip", "standard"]
OK = "[tiers.vip]\ncues = [{ code = 'a', text = 'A' }]\n[tiers.standard]\ncues = [{ code = 'b', text = 'B' }]\n"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("perks = 5\n" + OK, "pb.toml: [perks] must be a table"),
        ("tiers = 5\n", "pb.toml: [tiers] must be a table"),
        (
            OK
            + "[[personal]]\ncode = 'p'\ntext = 'P'\ntiers = [[1]]\nwhen = { column = 'x', present = true }\n",
            "pb.toml: [[personal]] #1 tiers must list tiers defined under [tiers], got [[1]]",
        ),
        (
            OK.replace("text = 'A' }", "text = 'A', perk = ['x'] }"),
            "pb.toml: [tiers.vip] cue #1 names perk '['x']', which is not declared under [perks]",
        ),
        ("[perks.gift]\ncost = -1\n" + OK, "pb.toml: [perks.gift] cost must be a number >= 0"),
        (
            "[perks.gift]\ngive = 'uplift'\n" + OK,
            'pb.toml: [perks.gift] give = "uplift" needs uplift_model',
        ),
        (
            OK + "[[personal]]\ncode = 'p'\ntext = 'P'\nwhen = { column = 'x' }\n",
            "pb.toml: [[personal]] #1 when needs a column and exactly one of equals, in, min",
        ),
        (
            OK
            + "[[personal]]\ncode = 'p'\ntext = 'With {brand'\nwhen = { column = 'x', present = true }\n",
            "pb.toml: [[personal]] #1 text 'With {brand' is not a valid template",
        ),
        (
            OK.replace("[tiers.vip]\n", "[tiers.vip]\ntickets = [5, 1]\n"),
            "pb.toml: [tiers.vip] tickets must be [first, last] with 0 < first <= last",
        ),
    ],
)
def test_playbook_mistakes_are_refused_by_name(text: str, needle: str) -> None:
    """A table of the wrong shape, a wrong value or a dangling name raises PlaybookError
    naming the file, the table and the key, never another exception."""
    with pytest.raises(PlaybookError) as info:
        Playbook.from_text(text, tiers=TIERS, source="pb.toml")
    assert needle in str(info.value)


def test_a_cue_is_refused_before_the_tickets_of_its_tier() -> None:
    """With two mistakes in one tier, the one read first (its cues) is named."""
    text = OK.replace("[tiers.vip]\n", "[tiers.vip]\ntickets = [5, 1]\n").replace(
        "{ code = 'a', text = 'A' }", "{ code = 'a' }"
    )
    with pytest.raises(
        PlaybookError, match=r"\[tiers.vip\] cue #1 needs a non-empty code and text"
    ):
        Playbook.from_text(text, tiers=TIERS, source="pb.toml")


def test_tiers_the_spec_does_not_use_are_not_checked() -> None:
    """A playbook may describe more tiers than one model uses; those are not read."""
    playbook = Playbook.from_text(OK + "[tiers.other]\ncues = 5\n", tiers=TIERS, source="pb")
    assert list(playbook.tiers) == TIERS
    assert playbook.ticket_range("standard") == (2000, 2999)
