"""The model report in a real Chromium: its charts take up room, nothing is fetched, no
script runs, it fits a tablet's width, and the screenshot in docs/ for the README."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Request

from tests.browser import chromium
from tests.conftest import ROOT, Trained
from tierline.training.report import build_report, write_report

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

DOCS = ROOT / "docs"
# Taken on every run; it replaces the README's only when asked (`make screenshots`), so a
# test run does not leave the work tree changed.
UPDATE_DOCS = os.environ.get("TIERLINE_UPDATE_SCREENSHOTS") == "1"


def test_report_renders_its_charts_offline(trained: Trained, tmp_path: Path) -> None:
    """Opened from disk, the champion's report draws four charts of non-zero size, makes no
    request but the file's own, logs no error, fits 1024 pixels, and is photographed."""
    _, html = build_report(models=trained.models)
    path = tmp_path / "report.html"
    write_report(html, path)
    requests: list[str] = []
    problems: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: problems.append(str(error)))

        def on_console(message: ConsoleMessage) -> None:
            if message.type in {"error", "warning"}:
                problems.append(message.text)

        page.on("console", on_console)
        page.on("requestfailed", lambda request: problems.append(_failed(request)))
        page.goto(path.as_uri())
        charts = page.locator("svg.chart")
        assert charts.count() == 4
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100, box
        # The bars and lines inside are drawn too, not only their frames.
        bars = page.locator("#importance svg.chart rect").first.bounding_box()
        assert bars is not None and bars["width"] > 10
        line = page.locator("#gains svg.chart polyline").first.bounding_box()
        assert line is not None and line["width"] > 300
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        out = DOCS if UPDATE_DOCS else tmp_path
        page.screenshot(path=out / "report.png", full_page=True)
        context.close()
    assert requests == [path.as_uri()]
    assert problems == []
    assert (out / "report.png").stat().st_size > 10_000


def _failed(request: Request) -> str:
    return f"request failed: {request.url}"
