"""Security of the service over real HTTP: authentication, ownership, webhooks, redirects.

Every test runs the real service (uvicorn on a free loopback port, SQLite file, real Terra
clients) against the real emulator, whose signed webhooks flow back to the service.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from terra_auth.secret import Secret
from terra_auth.webhooks import sign_webhook

from .conftest import as_user, connect_via_emulator, delivered

USER_ENDPOINTS = [
    ("POST", "/terra/widget-session"),
    ("POST", "/terra/mobile-token"),
    ("GET", "/terra/connections"),
    ("DELETE", "/terra/connections/00000000-0000-0000-0000-000000000000"),
]


@pytest.mark.parametrize(("method", "path"), USER_ENDPOINTS)
def test_unauthenticated_calls_are_rejected(service, emulator, method, path):
    answer = service.http.request(method, path)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"
    # nothing reached Terra on behalf of nobody
    assert not [r for r in emulator.requests if "widget" in r[1] or "auth/" in r[1]]


def test_landing_page_without_login_shows_nothing(service):
    answer = service.http.get("/terra/connected", params={"user_id": "x", "resource": "FITBIT"})
    assert answer.status_code == 401
    assert "Please log in" in answer.text and "FITBIT" not in answer.text


def _session(emulator, session_id):
    state = emulator.state() if callable(getattr(emulator, "state", None)) else None
    if state is None:
        state = httpx.get(f"{emulator.url}/_emulator/state").json()
    sessions = [s for s in _walk(state) if isinstance(s, dict) and s.get("session_id") == session_id]
    assert sessions, f"session {session_id} not in the emulator's state"
    return sessions[0]


def _walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_widget_session_uses_the_logged_in_user_and_server_redirects(service, emulator):
    evil = "https://evil.example/steal"
    answer = service.http.post(
        "/terra/widget-session",
        params={"reference_id": "bob", "auth_success_redirect_url": evil},
        json={"reference_id": "bob", "auth_success_redirect_url": evil, "success_url": evil},
        headers=as_user("alice"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["reference_id"] == "alice"
    assert body["url"].startswith(emulator.url)
    session = _session(emulator, body["session_id"])
    assert session["reference_id"] == "alice"
    # completing the widget sends the browser back to the configured landing page only
    before = delivered(emulator)
    done = httpx.post(body["url"], data={"provider": "FITBIT", "outcome": "connect"})
    assert done.status_code == 302
    location = done.headers["location"]
    assert location.startswith(service.url + "/terra/connected?"), location
    assert "evil" not in location
    emulator.wait_for_deliveries(before + 1, timeout=10.0)
    landing = service.http.get(location.removeprefix(service.url), headers=as_user("alice"))
    assert "data-outcome=confirmed" in landing.text and ">FITBIT<" in landing.text
    cancelled = service.http.post("/terra/widget-session", headers=as_user("alice")).json()
    back = httpx.post(cancelled["url"], data={"provider": "OURA", "outcome": "cancel"})
    assert back.headers["location"].startswith(service.url + "/terra/failed?")


def test_mobile_sdk_flow_connects_the_user(service, emulator):
    token = service.http.post("/terra/mobile-token", headers=as_user("alice")).json()
    before = delivered(emulator)
    sdk = httpx.post(
        f"{emulator.url}/mobile-sdk/connect",
        json={"token": token["token"], "provider": "APPLE", "reference_id": "bob"},
    )
    assert sdk.status_code == 200, sdk.text
    emulator.wait_for_deliveries(before + 1, timeout=10.0)
    rows = service.http.get("/terra/connections", headers=as_user("alice")).json()
    assert [r["provider"] for r in rows] == ["APPLE"]
    assert service.http.get("/terra/connections", headers=as_user("bob")).json() == []


def test_a_user_sees_and_disconnects_only_their_own_connections(service, emulator):
    alice = connect_via_emulator(emulator, service, "alice", provider="FITBIT")
    connect_via_emulator(emulator, service, "bob", provider="GARMIN")

    mine = service.http.get("/terra/connections", headers=as_user("alice")).json()
    assert [(c["user_id"], c["provider"], c["status"]) for c in mine] == [
        (alice["user_id"], "FITBIT", "connected")
    ]
    assert mine[0]["since"] and mine[0]["last_event_at"]
    theirs = service.http.get("/terra/connections", headers=as_user("bob")).json()
    assert [c["provider"] for c in theirs] == ["GARMIN"]
    assert service.http.get("/terra/connections", headers=as_user("carol")).json() == []

    # bob cannot disconnect alice's wearable, and cannot tell it exists
    other = service.http.delete(f"/terra/connections/{alice['user_id']}", headers=as_user("bob"))
    missing = service.http.delete(f"/terra/connections/{uuid.uuid4()}", headers=as_user("bob"))
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()
    assert not [r for r in emulator.requests if "deauthenticateUser" in r[1]]
    assert len(service.http.get("/terra/connections", headers=as_user("alice")).json()) == 1

    # alice can; the deauth webhook lands and the connection is gone
    before = delivered(emulator)
    mine = service.http.delete(f"/terra/connections/{alice['user_id']}", headers=as_user("alice"))
    assert mine.status_code == 202, mine.text
    assert emulator.wait_for_deliveries(before + 1, timeout=10.0) is not False
    assert service.http.get("/terra/connections", headers=as_user("alice")).json() == []
    history = service.http.get(
        "/terra/connections", params={"include_disconnected": "true"}, headers=as_user("alice")
    ).json()
    assert [c["status"] for c in history] == ["disconnected"]
    # a disconnected connection cannot be "disconnected" again through Terra
    again = service.http.delete(f"/terra/connections/{alice['user_id']}", headers=as_user("alice"))
    assert again.status_code == 404


def test_mobile_token_is_bound_to_the_user_and_rate_limited(make_service):
    service = make_service(mobile_token_limit=2, mobile_token_window=600)
    for _ in range(2):
        answer = service.http.post("/terra/mobile-token", headers=as_user("alice"))
        assert answer.status_code == 200, answer.text
        token = answer.json()
        assert set(token) == {"token", "expires_at", "reference_id"}
        assert answer.headers["cache-control"] == "no-store"  # tokens are never cached
        assert token["reference_id"] == "alice" and token["token"]
    limited = service.http.post("/terra/mobile-token", headers=as_user("alice"))
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 600
    assert limited.json()["error"] == "rate_limited"
    assert service.http.post("/terra/mobile-token", headers=as_user("bob")).status_code == 200


def _auth_body(reference_id: str) -> bytes:
    user_id = str(uuid.uuid4())
    return json.dumps(
        {
            "type": "auth",
            "status": "success",
            "message": "User has successfully authenticated",
            "reference_id": reference_id,
            "version": "2022-03-16",
            "user": {
                "user_id": user_id,
                "provider": "FITBIT",
                "reference_id": reference_id,
                "scopes": "activity",
                "active": True,
            },
        }
    ).encode()


def _post_webhook(service, body: bytes, signature: str | None, trace: str | None = None):
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["terra-signature"] = signature
    headers["x-terra-trace-id"] = trace or str(uuid.uuid4())
    return service.http.post("/terra/webhooks", content=body, headers=headers)


def test_forged_stale_unsigned_and_wrong_environment_webhooks_store_nothing(
    make_service, emulator, fake_secret
):
    service = make_service()  # serves testing only
    testing_secret = emulator.environments["testing"].webhook_secret
    staging_secret = emulator.environments["staging"].webhook_secret
    body = _auth_body("mallory")
    now = int(time.time())
    cases = {
        "forged": sign_webhook(body, fake_secret("whsec"), now),
        "stale": sign_webhook(body, testing_secret, now - 3600),
        "future": sign_webhook(body, testing_secret, now + 3600),
        "wrong_environment": sign_webhook(body, staging_secret, now),
        "unsigned": None,
        "garbage": "t=abc,v1=zz",
    }
    for name, signature in cases.items():
        answer = _post_webhook(service, body, signature)
        assert answer.status_code == 401, (name, answer.text)
    # a valid signature over another body
    other = sign_webhook(_auth_body("mallory"), testing_secret, now)
    assert _post_webhook(service, body, other).status_code == 401
    assert service.store.connections_for("mallory") == []
    assert service.store.count_events() == 0
    assert service.http.get("/terra/connections", headers=as_user("mallory")).json() == []


def test_replayed_delivery_has_no_second_effect(service, emulator):
    connect_via_emulator(emulator, service, "alice")
    delivery = next(d for d in emulator.deliveries if d.delivered)
    events = service.store.count_events()
    answer = service.http.post("/terra/webhooks", content=delivery.body, headers=delivery.headers)
    assert answer.status_code == 200 and answer.json()["duplicate"] is True
    assert service.store.count_events() == events
    assert len(service.http.get("/terra/connections", headers=as_user("alice")).json()) == 1
    # replaying it with a fresh timestamp but the old signature fails
    header = delivery.headers.get("terra-signature") or delivery.headers["X-Terra-Signature"]
    parts = dict(p.split("=", 1) for p in header.split(","))
    tampered = f"t={int(parts['t']) + 1},v1={parts['v1']}"
    assert _post_webhook(service, delivery.body, tampered).status_code == 401


def test_oversized_webhook_gets_413(make_service, emulator):
    service = make_service(webhook_max_bytes=1024)
    body = b"{" + b" " * 4096 + b"}"
    signature = sign_webhook(body, emulator.environments["testing"].webhook_secret)
    assert _post_webhook(service, body, signature).status_code == 413
    assert service.store.count_events() == 0


@pytest.mark.parametrize("param", ["next", "redirect", "return_to", "url", "success_url"])
def test_no_open_redirect_from_landing_pages(service, param):
    evil = "https://evil.example/phish"
    for path in ("/terra/connected", "/terra/failed"):
        answer = service.http.get(path, params={param: evil}, headers=as_user("alice"))
        assert answer.status_code == 200
        assert "location" not in answer.headers
        assert "evil.example" not in answer.text


def test_landing_page_reconciles_with_terra_not_the_query(service, emulator):
    alice = connect_via_emulator(emulator, service, "alice", provider="OURA")
    bob = connect_via_emulator(emulator, service, "bob", provider="GARMIN")

    real = service.http.get(
        "/terra/connected",
        params={"user_id": alice["user_id"], "resource": "OURA", "reference_id": "alice"},
        headers=as_user("alice"),
    )
    assert 'data-outcome=confirmed' in real.text and ">OURA<" in real.text

    for forged_id in (bob["user_id"], str(uuid.uuid4())):
        forged = service.http.get(
            "/terra/connected",
            params={"user_id": forged_id, "resource": "WHOOP", "reference_id": "bob"},
            headers=as_user("alice"),
        )
        assert "data-outcome=unconfirmed" in forged.text
        assert forged_id not in forged.text and "WHOOP" not in forged.text
        assert "GARMIN" not in forged.text


def test_pseudonymous_reference_ids_keep_user_ids_away_from_terra(make_service, emulator, fake_secret):
    service = make_service(reference_key=Secret(fake_secret("refkey")))
    answer = service.http.post("/terra/widget-session", headers=as_user("alice@example.com"))
    reference_id = answer.json()["reference_id"]
    assert reference_id.startswith("ta_") and "alice" not in reference_id
    assert _session(emulator, answer.json()["session_id"])["reference_id"] == reference_id
    connect_via_emulator(emulator, service, reference_id)
    rows = service.http.get("/terra/connections", headers=as_user("alice@example.com")).json()
    assert len(rows) == 1
    assert "alice" not in json.dumps([r.body for r in emulator.requests if hasattr(r, "body")])


def test_terra_failure_is_a_clean_502(service, emulator):
    emulator.inject_fault("*", kind="status", status=500, count=10)
    answer = service.http.post("/terra/widget-session", headers=as_user("alice"))
    assert answer.status_code == 502
    assert answer.json()["error"] == "upstream_error"
    assert "Traceback" not in answer.text
