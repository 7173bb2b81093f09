"""The staff display in a real Chromium against a real `tierline serve`: sign-in, live
check-ins, the staff actions and what they store, offline and degraded banners, markup in
signals, the key's privacy, contrast, the manager view, and the screenshots in docs/.

(Past 400 lines: one served demo and one browser are shared by every test here; issue 18
splits the file along the staff view and the manager view.)

One server (and one browser) serves the whole module; every test checks in its own guests
and finds their cards by ticket, so the tests do not depend on each other's order. The
tests that stop a server or need one without a model start their own, on the same database.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    ViewportSize,
    expect,
)

from tests.api.conftest import PLAIN, VIP
from tests.browser import (
    LiveServer,
    chromium,
    contrast,
    create_keys,
    key_id,
    server_env,
)
from tests.command import run
from tests.conftest import (
    ROOT,
    Trained,
    champion_rewritten,
    log_decisions,
    record_uplift_log,
    training_signals,
)
from tests.servers import free_port
from tierline.api.routers.display import CSP
from tierline.engine.registry import Registry
from tierline.engine.store import Store

SITE = "lyon"
ZONE = "Europe/Berlin"  # the manager's day at SITE; SHOTS_SITE's is UTC
SHOTS_SITE = "bistro"  # a site of its own, so the screenshots show only their guests
LOCALES = f"{SITE}=de-CH,{SHOTS_SITE}=en-US"
# The module's champion shows source chips (the trained playbook leaves them off).
CHIPS_ON = "\n[display]\nsource_chips = true\n"
STUDENT = {"student_verified": True, "campaign": "campus_flyer", "channel": "instagram"}
DOCS = ROOT / "docs"
# The screenshots are taken on every run; they replace the README's only when asked
# (`make screenshots`), so a test run does not leave the work tree changed.
UPDATE_DOCS = os.environ.get("TIERLINE_UPDATE_SCREENSHOTS") == "1"


@dataclass
class Live:
    """The module's server, its database and the keys made for it."""

    server: LiveServer
    db: Path
    keys: dict[str, str]
    tmp: Path

    @property
    def base(self) -> str:
        return self.server.base


@dataclass
class Board:
    """A fresh browser page, and what it did that a test may want to look at."""

    page: Page
    requests: list[Request] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def live(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`tierline serve` on a private copy of the trained registry (as `models_dir` makes,
    but once for the module) and a SQLite file, with keys from `tierline keys create`."""
    tmp = tmp_path_factory.mktemp("display")
    models = tmp / "models"
    shutil.copytree(trained.models, models)
    champion_rewritten(models, lambda meta: meta, playbook=lambda text: text + CHIPS_ON)
    db = tmp / "display.db"
    env = server_env(database=db, models=models) | {
        "TIERLINE_SITE_TIMEZONES": f"{SITE}={ZONE}",
        "TIERLINE_SITE_LOCALES": LOCALES,
    }
    server = LiveServer(env=env, port=free_port(), log=tmp / "server.log")
    server.start()
    try:
        keys = create_keys(
            {
                "staff": ("staff", SITE),
                "pos": ("pos", SITE),
                "admin": ("admin", SITE),
                "revocable": ("staff", SITE),
                # Each `keys create` costs about two seconds of CPU: the screenshots' guests
                # are checked in with the admin key, which may do all a pos key may.
                "shots_staff": ("staff", SHOTS_SITE),
                "shots_admin": ("admin", SHOTS_SITE),
            },
            env=server.env,
        )
        yield Live(server=server, db=db, keys=keys, tmp=tmp)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def board(browser: Browser) -> Iterator[Board]:
    """A new page at 1024x768 (the tablet) that fails the test on a script error or a CSP
    violation, whatever the test was looking at."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.set_default_timeout(10_000)
    board = Board(page=page)
    page.on("request", lambda request: board.requests.append(request))
    page.on("pageerror", lambda error: board.errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        board.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            board.csp_violations.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    try:
        yield board
        assert not board.errors, board.errors
        assert not board.csp_violations, board.csp_violations
    finally:
        context.close()


# -- helpers ---------------------------------------------------------------------------------


def sign_in(page: Page, base: str, key: str) -> None:
    """Open the display and sign in with ``key`` (pressing Enter, as staff would)."""
    page.goto(f"{base}/display")
    page.get_by_test_id("key-input").fill(key)
    page.get_by_test_id("key-input").press("Enter")
    expect(page.get_by_test_id("sign-out")).to_be_visible()


def check_in(
    live: Live, signals: dict[str, Any], *, party_size: int = 2, key: str = "pos"
) -> dict[str, Any]:
    """Check a walk-in guest in through the API (as the POS would), by signals alone: no
    customer id, so never in the holdout, whose guests get the default tier's cues."""
    response = httpx.post(
        f"{live.base}/v1/visits",
        json={"signals": signals, "party_size": party_size},
        headers={"X-API-Key": live.keys[key]},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    visit: dict[str, Any] = response.json()
    assert not visit["decision"]["holdout"]
    return visit


def card_for(page: Page, ticket: int) -> Locator:
    return page.locator(f'[data-testid="visit-card"][data-ticket="{ticket}"]')


def rows(db: Path, query: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def listed(live: Live, decision_id: str) -> dict[str, Any]:
    """The visit as GET /v1/visits lists it for the staff key."""
    items = httpx.get(
        f"{live.base}/v1/visits", headers={"X-API-Key": live.keys["staff"]}, timeout=10
    ).json()["items"]
    [view] = [v for v in items if v["decision_id"] == decision_id]
    return dict(view)


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


# -- the connection --------------------------------------------------------------------------


def test_the_offline_banner_comes_and_goes_with_the_server(live: Live, board: Board) -> None:
    """When the server stops, the offline banner shows within a few seconds; when it is
    back on the same port and database, the banner clears by itself and the key still works."""
    page = board.page
    spare = LiveServer(env=live.server.env, port=free_port(), log=live.tmp / "spare.log")
    spare.start()
    try:
        sign_in(page, spare.base, live.keys["staff"])
        expect(page.get_by_test_id("offline-banner")).to_be_hidden()
        spare.stop()
        expect(page.get_by_test_id("offline-banner")).to_be_visible(timeout=5_000)
        spare.start()
        expect(page.get_by_test_id("offline-banner")).to_be_hidden(timeout=5_000)
        expect(page.get_by_test_id("sign-out")).to_be_visible()
        visit = check_in(live, PLAIN)
        expect(card_for(page, visit["ticket"])).to_be_visible(timeout=3_000)
    finally:
        spare.stop()


def test_a_wrong_or_revoked_key_returns_to_sign_in_with_the_message(
    live: Live, board: Board
) -> None:
    """A wrong key shows the API's message and stays on sign-in, storing nothing; a key
    revoked while the display runs sends it back to sign-in with the message."""
    page = board.page
    page.goto(f"{live.base}/display")
    page.get_by_test_id("key-input").fill("tl_000000000000_" + "x" * 43)
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("error-message")).to_have_text("Unknown or revoked API key")
    expect(page.get_by_test_id("key-input")).to_be_visible()
    expect(page.get_by_test_id("sign-out")).to_be_hidden()
    expect(page.get_by_test_id("visit-card")).to_have_count(0)
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0

    key = live.keys["revocable"]
    page.get_by_test_id("key-input").fill(key)
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("sign-out")).to_be_visible()
    expect(page.get_by_test_id("error-message")).to_be_hidden()
    revoked = run("keys", "revoke", key_id(key), env=live.server.env)
    assert revoked.returncode == 0, revoked.stderr
    expect(page.get_by_test_id("key-input")).to_be_visible(timeout=5_000)
    expect(page.get_by_test_id("error-message")).to_contain_text("Unknown or revoked API key")
    assert page.evaluate("sessionStorage.length") == 0


def test_a_server_without_a_model_shows_the_degraded_banner(live: Live, board: Board) -> None:
    """A server with no loadable model answers with the default tier and says degraded; the
    display shows the degraded banner."""
    empty = live.tmp / "no-models"
    empty.mkdir(exist_ok=True)
    degraded = LiveServer(
        env={**live.server.env, "TIERLINE_MODELS": str(empty)},
        port=free_port(),
        log=live.tmp / "degraded.log",
    )
    degraded.start(ready=False)  # alive, never ready: /readyz is 503 without a model
    try:
        sign_in(board.page, degraded.base, live.keys["staff"])
        expect(board.page.get_by_test_id("degraded-banner")).to_be_visible(timeout=3_000)
    finally:
        degraded.stop()


# -- safety ----------------------------------------------------------------------------------


def test_markup_in_signals_and_reasons_shows_as_text(live: Live, board: Board) -> None:
    """Markup in a campaign, a car brand and an override reason is shown literally: no
    element is made from it and no script runs."""
    page = board.page
    campaign = "<img src=x onerror=alert(1)>"
    brand = "<img src=y onerror=alert(2)>"
    reason = "<b>bold</b><script>alert(3)</script>"
    visit = check_in(live, {**VIP, "campaign": campaign, "car_brand": brand})
    sign_in(page, live.base, live.keys["staff"])
    card = card_for(page, visit["ticket"])
    expect(card.get_by_test_id("card-source")).to_contain_text(campaign)
    for cue in visit["decision"]["cues"]:
        expect(card.get_by_test_id("cue-text").filter(has_text=cue["text"])).to_have_count(1)
    assert any(brand in c["text"] for c in visit["decision"]["cues"])
    overridden = httpx.post(
        f"{live.base}/v1/visits/{visit['ticket']}/override",
        json={"tier": "standard", "reason": reason},
        headers={"X-API-Key": live.keys["staff"]},
        timeout=10,
    )
    assert overridden.status_code == 200, overridden.text
    expect(card.get_by_test_id("override-marker")).to_contain_text(reason)
    page.wait_for_timeout(500)
    assert page.locator('[data-testid="visit-card"] img').count() == 0
    assert page.locator('[data-testid="visit-card"] b, main script').count() == 0
    assert board.dialogs == []


def test_the_page_has_its_csp_and_the_key_stays_out_of_urls_and_logs(
    live: Live, board: Board
) -> None:
    """The page and its assets come with the CSP; the key travels only in the X-API-Key
    header: never in a URL the page requests, in local storage, or in the server's log."""
    page = board.page
    response = page.goto(f"{live.base}/display")
    assert response is not None and response.headers["content-security-policy"] == CSP
    for asset in ("display.js", "display.css"):
        got = httpx.get(f"{live.base}/display/{asset}", timeout=10)
        assert got.status_code == 200 and got.headers["content-security-policy"] == CSP
    key = live.keys["staff"]
    visit = check_in(live, PLAIN)
    sign_in(page, live.base, key)
    card = card_for(page, visit["ticket"])
    card.locator('[data-testid="cue-accept"]').first.click()
    expect(card.locator('[data-testid="cue-accept"]').first).to_have_attribute(
        "aria-pressed", "true"
    )
    card.get_by_test_id("spend-input").fill("12")
    card.get_by_test_id("close-visit").click()
    expect(card).to_have_count(0)

    secret = key.split("_", 2)[2]
    api_calls = [r for r in board.requests if "/v1/" in r.url]
    assert {r.method for r in api_calls} >= {"GET", "POST"}
    assert all(secret not in r.url for r in board.requests)
    assert all(r.headers.get("x-api-key") == key for r in api_calls)
    assert page.evaluate("localStorage.length") == 0
    log = live.server.log.read_text()
    assert "GET /v1/visits" in log  # it is the access log we think it is
    assert all(k.split("_", 2)[2] not in log for k in live.keys.values())


# -- fit and finish --------------------------------------------------------------------------


def test_every_card_reads_at_wcag_aa_and_tiers_differ_by_shape(live: Live, board: Board) -> None:
    """On every card the text on the tier colour has a contrast of at least 4.5:1, as does
    the cue text on the card; each tier also has its own label and shape."""
    page = board.page
    visits = [check_in(live, s) for s in (VIP, PLAIN, STUDENT)]
    sign_in(page, live.base, live.keys["staff"])
    for visit in visits:
        expect(card_for(page, visit["ticket"])).to_be_visible()
    colours = "(el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]"
    shapes = {}
    for card in page.get_by_test_id("visit-card").all():
        band = card.get_by_test_id("tier-band")
        _, background = band.evaluate(colours)
        for part in ("card-ticket", "card-tier-label"):
            text, _ = card.get_by_test_id(part).evaluate(colours)
            assert contrast(text, background) >= 4.5, (part, text, background)
        cue, _ = card.get_by_test_id("cue-text").first.evaluate(colours)
        card_background = card.evaluate("(el) => getComputedStyle(el).backgroundColor")
        assert contrast(cue, card_background) >= 4.5
        shape = band.locator("svg > *").evaluate(
            "(el) => el.tagName + (el.getAttribute('points') || '')"
        )
        shapes[card.get_attribute("data-tier")] = shape
    assert {"vip", "standard", "student"} <= set(shapes)
    assert len({shapes[t] for t in ("vip", "standard", "student")}) == 3


def test_the_manager_view_shows_revenue_by_tier_and_perks(live: Live, board: Board) -> None:
    """An admin key gets a Manager tab with today's visits by tier, by campaign and the
    perks (by their playbook text) against their budget, as GET /v1/reports/day has them,
    for the day in the site's time zone."""
    page = board.page
    check_in(live, VIP)
    sign_in(page, live.base, live.keys["admin"])
    page.get_by_test_id("manager-tab").click()
    expect(page.get_by_test_id("manager-view")).to_be_visible()
    expect(page.get_by_test_id("report-by-tier")).to_contain_text("VIP")
    expect(page.get_by_test_id("report-by-campaign")).to_contain_text(str(VIP["campaign"]))
    report = httpx.get(
        f"{live.base}/v1/reports/day", headers={"X-API-Key": live.keys["admin"]}, timeout=10
    ).json()
    coffee = next(p for p in report["perks"] if p["perk"] == "coffee")
    assert coffee["text"] != "coffee"
    expect(page.get_by_test_id("report-perks")).to_contain_text(coffee["text"])
    assert report["timezone"] == ZONE
    expect(page.get_by_test_id("report-day")).to_contain_text(f"{report['day']} ({ZONE} time)")
    expect(page.get_by_test_id("total-visits")).to_contain_text(str(report["visits"]))
    page.get_by_test_id("floor-tab").click()
    expect(page.get_by_test_id("manager-view")).to_be_hidden()
    expect(page.get_by_test_id("visit-card").first).to_be_visible()


def test_a_pairing_code_signs_a_fresh_tablet_in_once(
    live: Live, board: Board, browser: Browser
) -> None:
    """The manager view issues a code shown big; a fresh browser profile types it and sees
    the staff floor (no Manager tab) with its guests; the same code in another fresh
    profile is refused with the API's message and stores nothing."""
    page = board.page
    sign_in(page, live.base, live.keys["admin"])
    page.get_by_test_id("manager-tab").click()
    page.get_by_test_id("pair-tablet").click()
    expect(page.get_by_test_id("pairing-code")).to_have_text(
        re.compile(r"^[2-9A-Z]{4}-[2-9A-Z]{4}$")
    )
    expect(page.get_by_test_id("pairing-expiry")).to_contain_text("Works once")
    code = page.get_by_test_id("pairing-code").inner_text()
    visit = check_in(live, PLAIN)

    def fresh_tablet() -> tuple[Page, list[str]]:
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        tablet = context.new_page()
        tablet.set_default_timeout(10_000)
        problems: list[str] = []
        tablet.on("pageerror", lambda error: problems.append(str(error)))
        tablet.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        tablet.goto(f"{live.base}/display")
        tablet.get_by_test_id("pair-input").fill(code.lower())
        tablet.get_by_test_id("pair-input").press("Enter")
        return tablet, problems

    tablet, problems = fresh_tablet()
    try:
        expect(tablet.get_by_test_id("sign-out")).to_be_visible()
        expect(card_for(tablet, visit["ticket"])).to_be_visible()
        expect(tablet.get_by_test_id("manager-tab")).to_be_hidden()
        expect(tablet.get_by_test_id("site-name")).to_contain_text(SITE)
        assert str(tablet.evaluate("sessionStorage.getItem('tierline.staffKey')")).startswith("tl_")
        assert not problems, problems
    finally:
        tablet.context.close()

    second, problems = fresh_tablet()
    try:
        expect(second.get_by_test_id("error-message")).to_contain_text("already used")
        expect(second.get_by_test_id("pair-input")).to_be_visible()
        expect(second.get_by_test_id("sign-out")).to_be_hidden()
        assert second.evaluate("sessionStorage.length + localStorage.length") == 0
        assert not problems, problems
    finally:
        second.context.close()
    [(name,)] = rows(
        live.db,
        "SELECT k.name FROM api_keys k JOIN pairing_codes p ON p.key_id = k.id "
        "WHERE k.role = 'staff' AND k.site = ?",
        SITE,
    )
    assert name.startswith("tablet paired ")


def test_the_manager_view_lists_a_drifted_signal(
    live: Live, board: Board, trained: Trained
) -> None:
    """Decisions whose guests all drive a car brand training never saw: the drift panel of
    the manager view lists that signal as act, with its PSI."""
    with Store.open(f"sqlite:///{live.db}") as store:
        log_decisions(store, [{**s, "car_brand": "Lada"} for s in training_signals(trained, 300)])
    page = board.page
    sign_in(page, live.base, live.keys["admin"])
    page.get_by_test_id("manager-tab").click()
    row = page.get_by_test_id("drift-row").filter(has_text="car_brand")
    expect(row).to_contain_text("act")
    report = httpx.get(
        f"{live.base}/v1/reports/drift", headers={"X-API-Key": live.keys["admin"]}, timeout=30
    ).json()
    [car] = [s for s in report["signals"] if s["signal"] == "car_brand"]
    assert car["band"] == "act"
    expect(row).to_contain_text(f"{car['psi']:.2f}")
    expect(page.get_by_test_id("drift-note")).to_contain_text(report["model_version"])


def test_the_manager_view_shows_the_measured_uplift(live: Live, board: Board) -> None:
    """The Manager tab's uplift panel has a row per tier and per perk of GET
    /v1/reports/uplift: the counts, the differences with their 95 % range and the net after
    the perk's cost; "not enough data yet" and no figure where a side is short."""
    with Store.open(f"sqlite:///{live.db}") as store:
        record_uplift_log(store, treated=40, held=30)
        record_uplift_log(store, treated=3, held=2, tier="student")
    report = httpx.get(
        f"{live.base}/v1/reports/uplift", headers={"X-API-Key": live.keys["admin"]}, timeout=10
    ).json()
    coffee = next(r for r in report["rows"] if r["tier"] == "vip" and r["perk"] == "coffee")
    assert coffee["enough_data"] and coffee["spend_difference"]["estimate"] == 20.0
    page = board.page
    sign_in(page, live.base, live.keys["admin"])
    page.get_by_test_id("manager-tab").click()
    rows = page.get_by_test_id("uplift-row")
    expect(rows).to_have_count(len(report["rows"]))
    shown = rows.filter(has_text="Coffee on the house").first
    expect(shown).to_contain_text("+20.00")
    low, high = (f"{coffee['spend_difference'][k]:+.2f}" for k in ("low", "high"))
    expect(shown).to_contain_text(f"{low} to {high}")
    expect(shown).to_contain_text(f"{coffee['net_value']['estimate']:+.2f}")
    short = rows.filter(has_text="Student")
    expect(short).to_have_count(2)
    expect(short.first).to_contain_text("Not enough data yet")
    expect(short.first).not_to_contain_text(" to ")


SHOT_GUESTS: list[tuple[dict[str, Any], int]] = [
    (VIP, 4),
    ({**PLAIN, "landing_page": "/menu"}, 2),
    (STUDENT, 2),
    (
        {
            **VIP,
            "car_brand": "Tesla",
            "campaign": "newsletter_june",
            "landing_page": "/tasting-menu",
            "channel": "email",
        },
        2,
    ),
    ({"visits_90d": 2, "spend_365d": 180.0, "campaign": "google_maps", "channel": "search"}, 3),
    ({"student_verified": True, "channel": "walk-in"}, 1),
]


def test_screenshots_for_the_docs(live: Live, browser: Browser, tmp_path: Path) -> None:
    """A tablet (1024x768), a phone (390x844) and the manager view, with realistic guests;
    saved to docs/ for the README by `make screenshots`, else to a temporary folder."""
    headers = {"X-API-Key": live.keys["shots_staff"]}
    for signals, party in SHOT_GUESTS[:2]:  # two earlier guests, gone: the day's revenue
        done = check_in(live, signals, party_size=party, key="shots_admin")
        closed = httpx.post(
            f"{live.base}/v1/visits/{done['ticket']}/close",
            json={"spend": 96.5 * party},
            headers=headers,
            timeout=10,
        )
        assert closed.status_code == 200, closed.text
    visits = [check_in(live, s, party_size=p, key="shots_admin") for s, p in SHOT_GUESTS]
    # Staff have already marked a few cues on the guests in the first row.
    for visit, mark, index in ((visits[3], "accepted", 0), (visits[4], "declined", 1)):
        decision = visit["decision"]
        marked = httpx.post(
            f"{live.base}/v1/outcomes",
            json={"decision_id": decision["decision_id"], mark: [decision["cues"][index]["code"]]},
            headers=headers | {"Idempotency-Key": uuid.uuid4().hex},
            timeout=10,
        )
        assert marked.status_code == 201, marked.text
    out = DOCS if UPDATE_DOCS else tmp_path
    out.mkdir(exist_ok=True)
    shots: list[tuple[str, ViewportSize, str]] = [
        ("tablet", {"width": 1024, "height": 768}, "shots_staff"),
        ("phone", {"width": 390, "height": 844}, "shots_staff"),
        ("manager", {"width": 1024, "height": 768}, "shots_admin"),
    ]
    for name, size, key in shots:
        context = browser.new_context(viewport=size)
        try:
            page = context.new_page()
            sign_in(page, live.base, live.keys[key])
            expect(page.get_by_test_id("visit-card")).to_have_count(len(visits))
            # It fits: nothing sideways to scroll, and the phone shows one column of cards.
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
            boxes = [c.bounding_box() for c in page.get_by_test_id("visit-card").all()]
            assert len({box["x"] for box in boxes if box}) == (1 if name == "phone" else 3)
            if name == "manager":
                page.get_by_test_id("manager-tab").click()
                expect(page.get_by_test_id("report-perks")).to_contain_text("Coffee on the house")
                expect(
                    page.get_by_test_id("report-drift").locator("tbody tr").first
                ).to_be_visible()
            page.screenshot(path=out / f"display-{name}.png", full_page=name == "manager")
        finally:
            context.close()
        assert (out / f"display-{name}.png").stat().st_size > 10_000
