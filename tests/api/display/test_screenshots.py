"""The screenshots of the staff display in docs/, taken with realistic guests on a tablet, a
phone and the manager view."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ViewportSize, expect

from tests.api.conftest import PLAIN, VIP
from tests.api.display.conftest import STUDENT, Live, check_in, sign_in
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

DOCS = ROOT / "docs"
# The screenshots are taken on every run; they replace the README's only when asked
# (`make screenshots`), so a test run does not leave the work tree changed.
UPDATE_DOCS = os.environ.get("TIERLINE_UPDATE_SCREENSHOTS") == "1"


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
