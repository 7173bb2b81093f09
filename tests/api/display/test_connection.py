"""The staff display when the connection or the key fails: the offline banner comes and goes
with the server, a wrong or revoked key returns to sign-in, no model shows degraded."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.api.conftest import PLAIN
from tests.api.display.conftest import Board, Live, card_for, check_in, sign_in
from tests.browser import LiveServer, key_id
from tests.command import run
from tests.servers import free_port

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

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
