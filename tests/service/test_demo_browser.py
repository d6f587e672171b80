"""End to end in headless Chromium: the demo's whole flow, with signed webhooks, offline.

Log in, connect a wearable through the emulator's hosted widget, see the connection appear once
the signed webhook lands, disconnect it, see it gone. Every browser request not addressed to
127.0.0.1 is aborted and fails the test.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from terra_auth.service.demo import Demo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium is not installed at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def test_demo_connect_and_disconnect_in_chromium(browser, tmp_path):
    from playwright.sync_api import expect

    with Demo(port=0, database_url=f"sqlite:///{tmp_path / 'demo.db'}") as demo:
        outside: list[str] = []
        console_errors: list[str] = []

        def only_loopback(route):
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context = browser.new_context()
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.set_default_timeout(15_000)

        page.goto(f"{demo.url}/")
        page.fill("#username", "alice")
        page.click("#login button[type=submit]")
        expect(page.locator("#user")).to_have_text("alice")
        cookie = next(c for c in context.cookies() if c["name"] == "terra_demo_user")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        expect(page.locator("#connections")).to_have_attribute("data-loaded", "1")
        expect(page.locator("#connections li")).to_have_count(0)

        # the service hands out a widget URL; the browser goes to the emulator's hosted widget
        page.click("#connect")
        page.wait_for_url(f"{demo.emulator_url}/widget/session/**")
        page.click("button[data-provider=FITBIT][data-outcome=connect]")

        # back on the service's landing page, reconciled with Terra
        page.wait_for_url(f"{demo.url}/terra/connected?**")
        expect(page.locator("#outcome")).to_have_attribute("data-outcome", "confirmed")
        expect(page.locator("#provider")).to_have_text("FITBIT")
        row = page.locator("#connections li[data-provider=FITBIT]")
        expect(row).to_have_count(1)  # appears once the signed auth webhook has landed
        expect(row.locator(".status")).to_have_text("connected")

        auth = demo.emulator.wait_for_deliveries(1, timeout=10.0, event_type="auth")
        assert auth[0].headers.get("terra-signature", "").startswith("t=")
        assert any(a.status == 200 for a in auth[0].attempts)

        # home page lists it; disconnect; the deauth webhook removes it
        page.click("#home")
        row = page.locator("#connections li[data-provider=FITBIT]")
        expect(row).to_have_count(1)
        row.locator("button.disconnect").click()
        expect(page.locator("#connections li")).to_have_count(0)
        expect(page.locator("#empty")).to_be_visible()
        deauth = demo.emulator.wait_for_deliveries(1, timeout=10.0, event_type="deauth")
        assert deauth[0].delivered

        context.close()
        assert outside == [], f"requests left 127.0.0.1: {outside}"
        assert console_errors == [], console_errors
