"""The comment's look: the golden comments rendered to HTML (CommonMark + tables, raw HTML as
GitHub allows it), opened in headless Chromium, checked and screenshotted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.report_html import page

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GOLDEN = Path(__file__).parent / "fixtures" / "report-golden"


def test_golden_comments_read_well_in_a_browser(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert os.access(CHROMIUM, os.X_OK), "chromium missing: run ./scripts/setup (as root)"
    shots = Path(os.environ.get("GITOPS_BOT_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1000, "height": 800})
            for name in ("quiet", "quiet-cut", "many-findings-cut", "failing"):
                html = tmp_path / f"{name}.html"
                html.write_text(page((GOLDEN / f"{name}.md").read_text(), name))
                tab.goto(html.as_uri())
                headline = tab.locator("h3").first.inner_text()
                assert headline.startswith("❌ gitops-bot review: failed"), name
                # the summary table is a real table; nothing widens the page sideways
                assert tab.locator("table").first.locator("tbody tr").count() >= 1
                assert tab.evaluate("document.documentElement.scrollWidth") <= 1000, name
                # failing targets are open, everything else folded: open them all to read
                opened = tab.locator("details[open]").count()
                assert opened >= 1, name
                sections = tab.locator("details")
                for i in range(sections.count()):
                    sections.nth(i).evaluate("d => d.open = true")
                diff = tab.locator("pre code.language-diff").first
                assert diff.is_visible() and diff.inner_text().startswith("---"), name
                path = shots / f"report-{name}.png"
                tab.screenshot(path=str(path), full_page=True)
                assert path.stat().st_size > 10_000, f"{name}: blank screenshot?"
                print(f"screenshot: {path}")
            # the quiet review: dangerous changes before the table, unchanged target one line
            tab.goto((tmp_path / "quiet.html").as_uri())
            order = tab.evaluate("""() => [...document.querySelectorAll('h4, table, details')]
                .slice(0, 3).map(e => e.tagName + ':' + e.textContent.slice(0, 20))""")
            assert order[0].startswith("H4:Dangerous changes") and order[1].startswith("TABLE")
            assert tab.get_by_text("renders the same at base and head").is_visible()
        finally:
            browser.close()
