"""The staff display's manager view (admin keys): today's report, pairing a tablet, the drift
panel and the measured uplift."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import PLAIN, VIP
from tests.api.display.conftest import SITE, ZONE, Board, Live, card_for, check_in, rows, sign_in
from tests.conftest import Trained, log_decisions, record_uplift_log, training_signals
from tierline.engine.store import Store

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


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
