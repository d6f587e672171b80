"""Canary: planted API keys and signing secrets never appear in answers, logs, reprs or errors."""

from __future__ import annotations

import logging

import httpx
import pytest

from terra_auth.emulator import Emulator
from terra_auth.errors import TerraAuthError


def test_planted_secrets_never_leak(fake_secret, caplog: pytest.LogCaptureFixture, receiver) -> None:
    caplog.set_level(logging.DEBUG)
    key, secret = fake_secret("canary-key"), fake_secret("canary-secret")
    config = {"accounts": {"testing": {"api_key": key, "webhook_secret": secret}}}
    seen: list[str] = []
    receiver.statuses = [500]
    with Emulator(config=config, time_scale=0.0001, webhook_url=receiver.url, max_attempts=3) as emu:
        account = emu.environments["testing"]
        good = {"dev-id": account.dev_id, "x-api-key": key}
        with httpx.Client(base_url=emu.url) as http:
            user = http.post("/_emulator/connect", json={"provider": "FITBIT", "reference_id": "c"}).json()
            requests = [
                http.get("/v2/integrations/detailed", headers=good),
                http.post("/v2/auth/generateWidgetSession", headers=good, json={"reference_id": "c"}),
                http.post("/api/widget/session", headers={"dev-id": account.dev_id, "x-api-key": key + "x"}, json={}),
                http.post("/v2/auth/generateAuthToken", headers={"x-api-key": key}),
                http.get("/v2/userInfo", params={"user_id": user["user_id"]}, headers=good),
                http.get("/v2/userInfo", params={"user_id": key}, headers=good),
                http.post("/streaming/auth/developer", headers={"dev-id": account.dev_id, "x-api-key": "x" + key}),
                http.post("/_emulator/rotate-secret", json={"environment": "testing", "overlap_seconds": 30}),
                http.post("/_emulator/trigger", json={"user_id": user["user_id"], "event": "deauth"}),
                http.get("/_emulator/state"),
                http.get("/_emulator/accounts"),
                http.get("/_emulator/requests"),
                http.post("/_emulator/faults", json={"path": key, "kind": "status"}),
            ]
            emu.wait_for_deliveries(2, timeout=5)
            requests.append(http.get("/_emulator/deliveries"))
        for r in requests:
            seen.append(r.text)
            seen.extend(f"{k}: {v}" for k, v in r.headers.items())
        seen += [repr(account), str(account), repr(emu.environments), repr(emu.deliveries)]
        seen += [repr(emu.credentials("testing")), str(emu.requests)]
        with pytest.raises(TerraAuthError) as info:
            emu.set_webhook_url("testing", "ftp://" + key)
        seen.append(str(info.value) + str(info.value.hint))
    # the emulator's and its server's logs (the test's own httpx client logs its URLs)
    ours = [r for r in caplog.records if r.name.startswith(("terra_auth", "uvicorn"))]
    seen += [r.getMessage() for r in ours]
    text = "\n".join(seen)
    assert "emulator-testing-" in text  # the canary looked at real output
    assert key not in text
    assert secret not in text
