"""The staff display page itself: its CSP and script modules, markup shown as text, the key
kept out of URLs and logs, and the contrast and shapes of the tier colours."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest
from playwright.sync_api import Response, expect

from tests.api.conftest import PLAIN, VIP
from tests.api.display.conftest import STUDENT, Board, Live, card_for, check_in, sign_in
from tests.browser import contrast
from tests.conftest import ROOT
from tierline.api.routers.display import CSP

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

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


class _Scripts(HTMLParser):
    """The page's <script> tags (attributes and body) and any inline event handler."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self._body: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._body = []

    def handle_data(self, data: str) -> None:
        if self._body is not None:
            self._body.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._body is not None:
            self.scripts[-1]["body"] = "".join(self._body)
            self._body = None


def test_every_module_the_page_loads_is_served_as_javascript(live: Live, board: Board) -> None:
    """The page has no inline script, only its entry module; every module the browser then
    loads answers 200 as JavaScript with the CSP and no-cache, and they are exactly the .js
    files of api/display (none missing, none left out)."""
    page = board.page
    scripts: list[Response] = []
    page.on(
        "response", lambda r: scripts.append(r) if r.request.resource_type == "script" else None
    )
    shell = page.goto(f"{live.base}/display", wait_until="load")
    assert shell is not None
    html = _Scripts()
    html.feed(shell.text())
    assert html.scripts == [{"type": "module", "src": "display/display.js", "body": ""}]
    assert html.handlers == []

    loaded = {r.url.removeprefix(f"{live.base}/display/"): r for r in scripts}
    assert set(loaded) == {p.name for p in (ROOT / "api" / "display").glob("*.js")}
    assert len(scripts) == len(loaded)  # each module fetched once
    for name, response in loaded.items():
        headers = response.headers
        assert response.status == 200, name
        assert headers["content-type"] == "text/javascript; charset=utf-8", name
        assert headers["content-security-policy"] == CSP, name
        assert headers["cache-control"] == "no-cache", name
    # The entry module ran (after every module it imports): it put the cursor in the key field.
    expect(page.get_by_test_id("key-input")).to_be_focused()


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
