"""Canary: the API key, the signing secret and the service's own keys never leave the server.

Success and failure paths are exercised; every response (status line, headers, body) and every
log record (the service's and uvicorn's, captured from logging and from the process output)
is searched for each planted value.
"""

from __future__ import annotations

import time
import uuid

from terra_auth.secret import Secret
from terra_auth.webhooks import sign_webhook

from .conftest import as_user, connect_via_emulator, delivered


def test_no_key_or_secret_in_any_response_page_or_log(make_service, emulator, all_logs, capfd, fake_secret):
    reference_key = fake_secret("refkey")
    session_key = fake_secret("cookie")
    service = make_service(reference_key=Secret(reference_key), session_key=Secret(session_key))
    account = emulator.environments["testing"]
    canaries = {
        "api key": account.api_key,
        "signing secret": account.webhook_secret,
        "reference key": reference_key,
        "session key": session_key,
    }
    answers = []
    http = service.http
    user = as_user("alice")

    # success paths
    answers.append(http.post("/terra/widget-session", headers=user))
    answers.append(http.post("/terra/mobile-token", headers=user))
    ref = answers[-1].json()["reference_id"]
    connected = connect_via_emulator(emulator, service, ref)
    answers.append(http.get("/terra/connections", headers=user))
    answers.append(http.get("/terra/connected", params={"user_id": connected["user_id"]}, headers=user))
    answers.append(http.get("/terra/failed", headers=user))
    answers.append(http.get("/terra/health"))
    answers.append(http.get("/terra/assets/app.js"))
    answers.append(http.get("/openapi.json"))
    before = delivered(emulator)
    answers.append(http.delete(f"/terra/connections/{connected['user_id']}", headers=user))
    emulator.wait_for_deliveries(before + 1, timeout=10.0)
    # Terra no longer knows a user (deleted on its side, its webhook lost): 200 disconnected
    second = connect_via_emulator(emulator, service, ref)
    emulator.set_webhook_url("testing", None)
    emulator.trigger("testing", second["user_id"], "deauth")
    answers.append(http.delete(f"/terra/connections/{second['user_id']}", headers=user))
    assert answers[-1].json()["status"] == "disconnected"
    # a correctly signed body that does not parse: 200 unparsed, stored, logged
    junk = b"signed but not json"
    answers.append(http.post("/terra/webhooks", content=junk, headers={
        "terra-signature": sign_webhook(junk, account.webhook_secret)}))
    assert answers[-1].json()["status"] == "unparsed"

    # failure paths
    answers.append(http.post("/terra/widget-session"))
    answers.append(http.delete(f"/terra/connections/{uuid.uuid4()}", headers=user))
    body = b'{"type":"auth","status":"success"}'
    for signature in (
        sign_webhook(body, fake_secret("forged"), int(time.time())),
        sign_webhook(body, account.webhook_secret, int(time.time()) - 9999),
        "t=1,v1=" + "0" * 64,
    ):
        answers.append(
            http.post("/terra/webhooks", content=body, headers={"terra-signature": signature})
        )
    emulator.inject_fault("*", kind="status", status=401, count=5)
    answers.append(http.post("/terra/widget-session", headers=user))
    answers.append(http.get("/terra/connected", params={"user_id": "x"}, headers=user))
    emulator.clear_faults() if hasattr(emulator, "clear_faults") else None

    assert {a.status_code for a in answers} >= {200, 202, 401, 404, 502}
    out, err = capfd.readouterr()
    texts = [
        f"{a.status_code} {a.headers!r} {a.text}" for a in answers
    ] + [all_logs.text, out, err, repr(service.core), repr(service.settings)]
    for name, value in canaries.items():
        assert value and len(value) >= 8
        leaks = [t[:200] for t in texts if value in t]
        assert not leaks, f"the {name} leaked: {leaks}"
