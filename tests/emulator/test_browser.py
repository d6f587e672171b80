"""Headless Chromium completes the hosted widget: success URL and a signed auth webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from terra_auth.emulator import Emulator

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium is not at {CHROMIUM}"),
]


def test_browser_connects_through_the_widget(receiver) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with Emulator(seed=12, webhook_url=receiver.url + "/terra/webhooks", time_scale=0.001) as emu:
        account = emu.environments["testing"]
        session = httpx.post(
            f"{emu.url}/api/widget/session",
            headers={"dev-id": account.dev_id, "x-api-key": account.api_key},
            json={
                "reference_id": "browser-user",
                "providers": "FITBIT,GARMIN",
                "auth_success_redirect_url": receiver.url + "/landing/success",
                "auth_failure_redirect_url": receiver.url + "/landing/failure",
            },
        ).json()
        external: list[str] = []
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page()
            page.on(
                "request",
                lambda r: external.append(r.url)
                if not r.url.startswith(("http://127.0.0.1", "data:", "about:"))
                else None,
            )
            page.goto(session["url"])
            assert page.locator("form[data-provider]").count() == 2
            page.click('form[data-provider="GARMIN"] button[data-outcome="connect"]')
            page.wait_for_url(receiver.url + "/landing/success*", timeout=10_000)
            landed = page.url
            assert "landed /landing/success" in page.content()
            browser.close()
        posts = [r for r in receiver.wait(2) if r.path == "/terra/webhooks"]
        (user,) = emu.users
    params = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
    assert params == {"user_id": user["user_id"], "resource": "GARMIN", "reference_id": "browser-user"}
    assert external == []
    (hook,) = posts
    payload = json.loads(hook.body)
    assert payload["type"] == "auth" and payload["user"]["user_id"] == user["user_id"]
    header = hook.headers["terra-signature"]
    t = header.split(",")[0].removeprefix("t=")
    expected = hmac.new(
        account.webhook_secret.encode(), f"{t}.".encode() + hook.body, hashlib.sha256
    ).hexdigest()
    assert f"v1={expected}" in header.split(",")
