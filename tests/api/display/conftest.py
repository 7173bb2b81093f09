"""What the staff display's browser tests share: a real `tierline serve` with its keys, a
headless Chromium, a fresh page per test that fails on a script error or a CSP violation,
and the helpers that check guests in and find their cards.

One server and one browser serve every display test of a test process; every test checks in
its own guests and finds their cards by ticket, so the tests do not depend on each other's
order or file. The tests that stop a server or need one without a model start their own, on
the same database.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, expect

from tests.browser import LiveServer, chromium, create_keys, server_env
from tests.conftest import Trained, champion_rewritten
from tests.servers import free_port

SITE = "lyon"
ZONE = "Europe/Berlin"  # the manager's day at SITE; SHOTS_SITE's is UTC
SHOTS_SITE = "bistro"  # a site of its own, so the screenshots show only their guests
LOCALES = f"{SITE}=de-CH,{SHOTS_SITE}=en-US"
# The server's champion shows source chips (the trained playbook leaves them off).
CHIPS_ON = "\n[display]\nsource_chips = true\n"
STUDENT = {"student_verified": True, "campaign": "campus_flyer", "channel": "instagram"}


@dataclass
class Live:
    """The display tests' server, its database and the keys made for it."""

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
    but once per test module) and a SQLite file, with keys from `tierline keys create`."""
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


# Module-scoped, not session-scoped: Playwright's sync API keeps an event loop running
# while it is open, and a later test module on the same worker may start its own.
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
