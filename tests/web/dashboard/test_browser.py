"""The dashboard in real headless Chromium: pages, the full report, filters, access, secrets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.outcomes import ReviewState
from tests.web.dashboard.conftest import Running
from tests.web.dashboard.seed import (
    DASH_TOKEN,
    DB_PASSWORD,
    GH_TOKEN,
    HOST,
    PAYMENTS,
    SHOP,
    Reviewed,
)

Shoot = Callable[[Any, str], Path]


@pytest.fixture
def page(browser: Any, site: Running) -> Iterator[Any]:
    """A logged-in tab: the dashboard token as the basic-auth password."""
    context = browser.new_context(
        base_url=site.url,
        viewport={"width": 1400, "height": 900},
        http_credentials={"username": "reader", "password": DASH_TOKEN},
    )
    tab = context.new_page()
    yield tab
    context.close()


def rows(page: Any, table: str) -> list[str]:
    return [r.inner_text() for r in page.locator(f"table#{table} tbody tr").all()]


def test_reviews_page_lists_every_review_with_its_state(page: Any, shoot: Shoot) -> None:
    response = page.goto("/")
    assert response.status == 200
    assert page.title() == "Reviews · gitops-bot"
    listed = rows(page, "reviews")
    assert len(listed) == 5
    assert any(f"{HOST}/{SHOP}" in r and "#7" in r and "failure" in r for r in listed)
    assert any(f"{HOST}/{PAYMENTS}" in r and "#4" in r and "running" in r for r in listed)
    assert page.locator(".state-failure").count() >= 1
    shoot(page, "reviews")


def test_full_report_shows_with_its_diff(
    page: Any, reviews: tuple[Reviewed, Reviewed], shoot: Shoot
) -> None:
    example, _ = reviews
    page.goto("/")
    page.locator("table#reviews tr", has_text="#7").get_by_role("link").first.click()
    page.wait_for_load_state()  # the click commits the navigation; the page may still be parsing
    assert page.url.endswith(f"/reviews/{HOST}/{SHOP}/7/{example.head}")
    report = page.locator("article.report")
    assert "failed" in report.locator("h3").first.inner_text()
    # The per-object sections are real <details> elements; open them all to read the diffs.
    sections = report.locator("details")
    assert sections.count() >= 3
    for i in range(sections.count()):
        sections.nth(i).evaluate("d => d.open = true")  # the test opens them; pages have no JS
    diff = report.locator("pre.diff").first
    assert diff.is_visible()
    assert report.locator("pre.diff span.add").count() > 0
    assert report.locator("pre.diff span.del").count() > 0
    assert "spec.replicas" in report.inner_text()
    assert "ghcr.io/example/shop:2.2.0" in report.inner_text()
    # The summary table of the report rendered as a table, aligned by class (CSP forbids style).
    assert report.locator("table td.al-right").count() > 0
    shoot(page, "review-report")


def test_review_filters_by_repo_and_state(page: Any, shoot: Shoot) -> None:
    page.goto("/")
    page.fill("input[name=repo]", PAYMENTS)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    listed = rows(page, "reviews")
    assert len(listed) == 3 and all(PAYMENTS in r for r in listed)
    page.select_option("select[name=state]", "running")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert "repo=acme%2Fpayments" in page.url and "state=running" in page.url
    listed = rows(page, "reviews")
    assert len(listed) == 1 and "#4" in listed[0]
    page.fill("input[name=repo]", SHOP)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert page.locator("p.empty").inner_text() == "No reviews match these filters."
    shoot(page, "reviews-filtered")


def test_audit_filters_by_actor_and_action(page: Any, shoot: Shoot) -> None:
    page.goto("/audit")
    assert len(rows(page, "audit")) == 5
    page.fill("input[name=actor]", "alice")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    listed = rows(page, "audit")
    assert len(listed) == 2 and all("alice" in r for r in listed)
    page.fill("input[name=actor]", "")
    page.fill("input[name=action]", "deploy")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    actions = [a.inner_text() for a in page.locator("table#audit td.action").all()]
    assert sorted(actions) == ["deploy.refused", "deploy.succeeded"]
    refused = page.locator("table#audit tr", has_text="deploy.refused").inner_text()
    assert "mallory" in refused and "without an approved review" in refused
    shoot(page, "audit-deploys")


def test_deployments_and_drift_pages(page: Any, shoot: Shoot) -> None:
    page.goto("/deployments")
    envs = [h.inner_text() for h in page.locator("section.env h2").all()]
    assert envs == ["production", "staging"]
    production = page.locator("section.env", has_text="production")
    assert production.locator(".state-failed").count() == 1
    assert production.locator(".state-refused").count() == 1
    assert "Secret/web/web-db" in production.inner_text() and "forbidden" in production.inner_text()
    page.locator("section.env", has_text="staging").get_by_role("link", name="#8").click()
    page.wait_for_load_state()
    assert "number=8" in page.url and len(rows(page, "reviews")) == 1
    page.goto("/deployments")
    shoot(page, "deployments")
    page.goto("/drift")
    assert page.locator("p.lead").inner_text().startswith("2 objects differ")
    assert page.locator(".state-drifted").inner_text() == "2 drifted"
    assert page.locator(".state-healed").count() == 1
    shoot(page, "drift")


def test_unauthenticated_and_wrong_token_are_refused(browser: Any, site: Running) -> None:
    paths = ("/", "/audit", f"/reviews/{HOST}/{SHOP}/7/{'0' * 40}", "/api/v1/reviews")
    for credentials in (None, {"username": "reader", "password": DASH_TOKEN + "x"}):
        context = browser.new_context(base_url=site.url, http_credentials=credentials)
        tab = context.new_page()
        try:
            response = tab.goto("/")
        except Exception as exc:
            # Headless Chromium, having no prompt to show, may abandon the navigation.
            assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)
        else:
            assert response.status == 401 and "acme" not in tab.content()
        for path in paths:
            response = context.request.get(path)
            assert response.status == 401, path
            assert response.headers["www-authenticate"].startswith("Basic ")
            assert "acme" not in response.text()
        context.close()
    context = browser.new_context(base_url=site.url)
    for path in paths:
        for token, status in (
            (DASH_TOKEN[:-1], 401),
            (DASH_TOKEN + "x", 401),
            (DASH_TOKEN, 404 if "/reviews/" in path else 200),
        ):
            response = context.request.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status == status, (path, token)
    context.close()


def test_no_secret_value_in_any_page(page: Any, site: Running) -> None:
    paths = ["/", "/deployments", "/drift", "/audit", "/audit?actor=mallory"]
    paths += [r["path"] for r in page.request.get("/api/v1/reviews").json()["reviews"]]
    assert len(paths) == 10
    masked = 0
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        html = page.content()
        for value in (DB_PASSWORD, GH_TOKEN, GH_TOKEN[4:], DASH_TOKEN):
            assert value not in html, (path, value)
        masked += html.count("***")
    assert masked >= 5  # the token in audit, deployments, the leaked report, the Secret diff


def test_report_html_is_sanitised(browser: Any, site: Running) -> None:
    hostile = (
        "### report\n\n<script>window.pwned = 1</script>\n\n"
        '<img src=x onerror="window.pwned = 2">\n\n'
        '<details open><summary onclick="window.pwned = 3">x</summary>\n\n'
        '[click](javascript:window.pwned=4) <a href="javascript:alert(1)">a</a>\n\n'
        '<iframe src="https://example.com"></iframe><style>body{display:none}</style>'
        "\n\n</details>\n"
    )
    store = site.services.store
    run_id = store.start_run("github", HOST, SHOP, 99, "f" * 40)
    store.finish_run(run_id, ReviewState.FAILURE, "hostile", None, hostile)
    context = browser.new_context(
        base_url=site.url, http_credentials={"username": "reader", "password": DASH_TOKEN}
    )
    tab = context.new_page()
    response = tab.goto(f"/reviews/{HOST}/{SHOP}/99/{'f' * 40}")
    assert response.status == 200
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    report = tab.locator("article.report")
    assert report.locator("script, img, iframe, style").count() == 0
    assert report.locator("[onclick], [onerror]").count() == 0
    assert all(
        not (a.get_attribute("href") or "").startswith("javascript")
        for a in report.locator("a").all()
    )
    assert report.locator("details summary").inner_text() == "x"
    assert tab.evaluate("window.pwned") is None
    context.close()
