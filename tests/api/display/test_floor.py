"""The staff display's floor in a real Chromium: a check-in shows within two seconds with its
tier, cues and source; the cue, override and close actions store what they say, once."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Browser, expect

from tests.api.conftest import PLAIN, VIP
from tests.api.display.conftest import (
    SHOTS_SITE,
    SITE,
    Board,
    Live,
    card_for,
    check_in,
    listed,
    rows,
    sign_in,
)
from tests.browser import key_id
from tierline.engine.registry import Registry

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

# -- the floor -------------------------------------------------------------------------------


def test_a_check_in_shows_within_two_seconds_with_tier_cues_and_source(
    live: Live, board: Board
) -> None:
    """A guest checked in through the API appears on a signed-in display within 2 s, with the
    tier in force, the decision's cues and reason, where they came from and the party size."""
    page = board.page
    sign_in(page, live.base, live.keys["staff"])
    expect(page.get_by_test_id("manager-tab")).to_be_hidden()  # staff keys see the floor only
    for signals, tier, party in ((VIP, "vip", 5), (PLAIN, "standard", 2)):
        started = time.monotonic()
        visit = check_in(live, signals, party_size=party)
        decision = visit["decision"]
        assert decision["tier"] == tier
        card = card_for(page, visit["ticket"])
        expect(card).to_be_visible(timeout=2_000)
        assert time.monotonic() - started < 2.0
        expect(card).to_have_attribute("data-tier", tier)
        expect(card.get_by_test_id("card-ticket")).to_have_text(str(visit["ticket"]))
        expect(card.get_by_test_id("card-tier-label")).to_have_text(
            {"vip": "VIP", "standard": "Standard"}[tier], ignore_case=True
        )
        expect(card.get_by_test_id("cue-text")).to_have_text([c["text"] for c in decision["cues"]])
        if tier == "vip":  # a perk's text keeps the capitals its signal was written with
            expect(card.get_by_test_id("cue-text")).to_contain_text(
                ["Dessert with the Porsche logo"]
            )
        expect(card.get_by_test_id("card-reason")).to_contain_text(decision["reasons"][0]["text"])
        expect(card.get_by_test_id("card-source")).to_contain_text(str(signals["campaign"]))
        expect(card.get_by_test_id("card-party")).to_contain_text(str(party))
        expect(card.get_by_test_id("card-age")).to_have_text("just now")
    expect(card_for(page, visit["ticket"]).get_by_test_id("card-source")).to_contain_text(
        str(PLAIN["channel"])
    )
    expect(page.get_by_test_id("degraded-banner")).to_be_hidden()
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()
    # The lookup finds a card by its number; the tier filter shows one tier.
    page.get_by_test_id("ticket-lookup").fill(str(visit["ticket"]))
    expect(page.locator('[data-testid="visit-card"]:visible')).to_have_count(1)
    expect(card_for(page, visit["ticket"])).to_be_visible()
    page.get_by_test_id("ticket-lookup").fill("")
    page.locator('[data-testid="tier-filter"][data-tier="vip"]').click()
    expect(card_for(page, visit["ticket"])).to_be_hidden()
    for card in page.locator('[data-testid="visit-card"]:visible').all():
        expect(card).to_have_attribute("data-tier", "vip")


def test_source_chips_follow_the_champions_playbook(live: Live, board: Board) -> None:
    """Cards name where a guest came from only while the champion's playbook says
    ``[display] source_chips = true``; a champion without it hides them within a poll."""
    page = board.page
    visit = check_in(live, {**PLAIN, "campaign": "chips_check"})
    sign_in(page, live.base, live.keys["staff"])
    source = card_for(page, visit["ticket"]).get_by_test_id("card-source")
    expect(source).to_contain_text("chips_check")
    registry = Registry(live.tmp / "models")
    chips = registry.champion()
    assert chips is not None
    versions = registry.versions()
    plain = versions[versions.index(chips) - 1]  # the one the fixture rewrote
    registry.promote(plain)
    try:
        expect(source).to_be_hidden(timeout=3_000)
        expect(page.locator('[data-testid="visit-card"] .chip')).to_have_count(0)
    finally:
        registry.promote(chips)
    expect(source).to_contain_text("chips_check", timeout=3_000)


def test_the_clock_follows_the_sites_locale(live: Live, browser: Browser) -> None:
    """The display's clock is formatted in the site's locale (TIERLINE_SITE_LOCALES), not
    the browser's: 24-hour at a de-CH site, AM/PM at an en-US one, in the same browser."""
    shown = {}
    for key, site in (("staff", SITE), ("shots_staff", SHOTS_SITE)):
        context = browser.new_context(locale="fr-FR")  # neither site's
        try:
            page = context.new_page()
            sign_in(page, live.base, live.keys[key])
            expect(page.get_by_test_id("last-updated")).to_contain_text("Updated")
            shown[site] = page.get_by_test_id("last-updated").inner_text()
        finally:
            context.close()
    assert re.fullmatch(r"Updated \d{2}:\d{2}:\d{2}", shown[SITE]), shown
    assert re.fullmatch(r"Updated \d{2}:\d{2}:\d{2}\s(AM|PM)", shown[SHOTS_SITE]), shown


def test_accepting_a_cue_stores_one_outcome_even_on_a_double_tap(live: Live, board: Board) -> None:
    """A double-click on a cue's accept button posts once (one outcome row, with an
    Idempotency-Key); the listing then has the cue accepted, and a decline is stored too."""
    page = board.page
    visit = check_in(live, PLAIN)
    decision_id = visit["decision"]["decision_id"]
    first, second = (c["code"] for c in visit["decision"]["cues"][:2])
    sign_in(page, live.base, live.keys["staff"])
    card = card_for(page, visit["ticket"])
    accept = card.locator(f'[data-testid="cue-accept"][data-cue="{first}"]')
    accept.dblclick()
    expect(accept).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(1_200)  # room for a second post, and a poll, to do harm
    stored = rows(
        live.db, "SELECT accepted, declined FROM outcomes WHERE decision_id = ?", decision_id
    )
    assert [(json.loads(a), json.loads(d)) for a, d in stored] == [([first], [])]
    posts = [r for r in board.requests if r.method == "POST" and r.url.endswith("/v1/outcomes")]
    assert len(posts) == 1 and posts[0].headers["idempotency-key"]
    assert first in listed(live, decision_id)["accepted"]

    decline = card.locator(f'[data-testid="cue-decline"][data-cue="{second}"]')
    decline.click()
    expect(decline).to_have_attribute("aria-pressed", "true")
    expect(accept).to_have_attribute("aria-pressed", "true")
    assert second in listed(live, decision_id)["declined"]
    keys = {r.headers["idempotency-key"] for r in board.requests if r.url.endswith("/v1/outcomes")}
    assert len(keys) == 2  # one key per intended action
    # Signed in for the tab's life: a reload keeps the key and shows the stored marks.
    page.reload()
    expect(accept).to_have_attribute("aria-pressed", "true")
    expect(decline).to_have_attribute("aria-pressed", "true")


def test_an_override_needs_a_reason_and_is_audited(live: Live, board: Board) -> None:
    """Changing a tier asks for a reason (refused on the page without one), survives polls
    while typed, writes one audit row and turns the card to the new tier with a marker."""
    page = board.page
    visit = check_in(live, PLAIN)
    ticket = visit["ticket"]
    sign_in(page, live.base, live.keys["staff"])
    card = card_for(page, ticket)
    card.get_by_test_id("override-open").click()
    card.get_by_test_id("override-tier").select_option("vip")
    card.get_by_test_id("override-save").click()
    expect(page.get_by_test_id("error-message")).to_contain_text("reason")
    reason = card.get_by_test_id("override-reason")
    reason.fill("Regular; knows the chef")
    page.wait_for_timeout(1_300)  # at least one poll: it must not wipe the typing
    expect(reason).to_have_value("Regular; knows the chef")
    expect(card.get_by_test_id("override-tier")).to_have_value("vip")
    card.get_by_test_id("override-save").click()
    expect(card).to_have_attribute("data-tier", "vip")
    expect(card.get_by_test_id("card-tier-label")).to_have_text("VIP", ignore_case=True)
    expect(card.get_by_test_id("override-marker")).to_contain_text("Regular; knows the chef")
    audit = rows(
        live.db,
        "SELECT actor, detail FROM audit WHERE action = 'override' AND subject = ?",
        f"{SITE}/{ticket}",
    )
    assert len(audit) == 1
    actor, detail = audit[0]
    assert actor == key_id(live.keys["staff"])
    wanted = {"from": "standard", "to": "vip", "reason": "Regular; knows the chef"}
    assert json.loads(detail).items() >= wanted.items()
    page.wait_for_timeout(1_200)  # the next listings agree
    expect(card).to_have_attribute("data-tier", "vip")


def test_closing_a_visit_with_its_spend_removes_the_card(live: Live, board: Board) -> None:
    """Close posts the spend as a JSON number; the card goes, the row holds the spend, and a
    spend that is not a number is refused on the page."""
    page = board.page
    visit = check_in(live, PLAIN)
    ticket, decision_id = visit["ticket"], visit["decision"]["decision_id"]
    sign_in(page, live.base, live.keys["staff"])
    card = card_for(page, ticket)
    spend = card.get_by_test_id("spend-input")
    spend.fill("lots")
    card.get_by_test_id("close-visit").click()
    expect(page.get_by_test_id("error-message")).to_contain_text("spent")
    spend.fill("84.50")
    page.wait_for_timeout(1_300)  # at least one poll: it must not wipe the typing
    expect(spend).to_have_value("84.50")
    with page.expect_request(lambda r: r.url.endswith(f"/v1/visits/{ticket}/close")) as sent:
        card.get_by_test_id("close-visit").click()
    assert json.loads(sent.value.post_data or "") == {"spend": 84.5}
    assert sent.value.headers["idempotency-key"]
    expect(card).to_have_count(0)
    stored = rows(live.db, "SELECT spend, closed_at FROM visits WHERE decision_id = ?", decision_id)
    assert stored[0][0] == 84.5 and stored[0][1] is not None
    page.wait_for_timeout(1_200)  # a listing read before the close must not bring it back
    expect(card).to_have_count(0)
