"""The Flask blueprint shares the core: same answers, through Flask's test client."""

from __future__ import annotations

import json
import uuid

import pytest

from terra_auth.environments import Environment
from terra_auth.service.settings import ServiceSettings
from terra_auth.webhooks import sign_webhook

flask = pytest.importorskip("flask", reason="Flask is an optional extra: pip install terra-auth[flask]")


_opened = []


@pytest.fixture(autouse=True)
def _close_cores():
    yield
    while _opened:
        _opened.pop().close()


@pytest.fixture
def flask_app(emulator, tmp_path):
    return make_flask_app(emulator, tmp_path)


def make_flask_app(emulator, tmp_path, **changes):
    def current_user() -> str | None:
        return flask.request.headers.get("X-Test-User") or None

    settings = ServiceSettings(
        database_url=f"sqlite:///{tmp_path / 'flask.db'}",
        public_url="http://127.0.0.1:5000",
        mobile_token_limit=1,
        **changes,
    )
    from terra_auth.service import terra_blueprint

    bp = terra_blueprint(
        settings,
        current_user=current_user,
        credentials={Environment.TESTING: emulator.credentials("testing")},
    )
    app = flask.Flask(__name__)
    app.register_blueprint(bp)
    _opened.append(bp.core)
    return app


def _auth_event(reference_id: str, user_id: str) -> bytes:
    return json.dumps(
        {
            "type": "auth",
            "status": "success",
            "reference_id": reference_id,
            "user": {"user_id": user_id, "provider": "WITHINGS", "reference_id": reference_id,
                     "scopes": "weight", "active": True},
        }
    ).encode()


def test_flask_blueprint_flow(flask_app, emulator):
    client = flask_app.test_client()
    assert client.post("/terra/widget-session").status_code == 401
    assert client.get("/terra/connections").status_code == 401

    alice = {"X-Test-User": "alice"}
    session = client.post("/terra/widget-session", headers=alice, json={"reference_id": "bob"})
    assert session.status_code == 200
    assert session.get_json()["reference_id"] == "alice"
    assert session.get_json()["url"].startswith(emulator.url)

    assert client.post("/terra/mobile-token", headers=alice).status_code == 200
    limited = client.post("/terra/mobile-token", headers=alice)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1

    # a real Terra user for alice, and its signed auth webhook delivered to the blueprint
    user = emulator.connect("testing", provider="WITHINGS", reference_id="alice")
    body = _auth_event("alice", user["user_id"])
    secret = emulator.environments["testing"].webhook_secret
    forged = client.post("/terra/webhooks", data=body, headers={"terra-signature": "t=1,v1=00"})
    assert forged.status_code == 401
    signed = {"terra-signature": sign_webhook(body, secret), "x-terra-trace-id": str(uuid.uuid4())}
    assert client.post("/terra/webhooks", data=body, headers=signed).status_code == 200

    rows = client.get("/terra/connections", headers=alice).get_json()
    assert [(r["user_id"], r["provider"]) for r in rows] == [(user["user_id"], "WITHINGS")]
    assert client.get("/terra/connections", headers={"X-Test-User": "bob"}).get_json() == []
    assert client.delete(f"/terra/connections/{user['user_id']}",
                         headers={"X-Test-User": "bob"}).status_code == 404

    page = client.get(f"/terra/connected?user_id={user['user_id']}", headers=alice)
    assert page.status_code == 200 and b"data-outcome=confirmed" in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]

    gone = client.delete(f"/terra/connections/{user['user_id']}", headers=alice)
    assert gone.status_code == 202
    assert any("deauthenticateUser" in r[1] for r in emulator.requests)


def test_flask_oversized_webhook_is_refused(emulator, tmp_path):
    app = make_flask_app(emulator, tmp_path, webhook_max_bytes=4096)
    body = b'{"type": "auth", "pad": "' + b"x" * 8192 + b'"}'
    signature = sign_webhook(body, emulator.environments["testing"].webhook_secret)
    answer = app.test_client().post("/terra/webhooks", data=body,
                                    headers={"terra-signature": signature})
    assert answer.status_code == 413


def test_flask_disconnect_of_a_user_terra_no_longer_knows(flask_app, emulator):
    import httpx

    client = flask_app.test_client()
    alice = {"X-Test-User": "alice"}
    user = emulator.connect("testing", provider="WITHINGS", reference_id="alice")
    body = _auth_event("alice", user["user_id"])
    signed = {
        "terra-signature": sign_webhook(body, emulator.environments["testing"].webhook_secret),
        "x-terra-trace-id": str(uuid.uuid4()),
    }
    assert client.post("/terra/webhooks", data=body, headers=signed).status_code == 200
    # Terra deletes the user (control plane); its deauth webhook never reaches this app
    with httpx.Client(base_url=emulator.url, timeout=10.0) as control:
        gone = control.post("/_emulator/trigger", json={
            "environment": "testing", "user_id": user["user_id"], "event": "deauth"})
        assert gone.status_code == 200

    answer = client.delete(f"/terra/connections/{user['user_id']}", headers=alice)

    assert [r.status for r in emulator.requests if "deauthenticateUser" in r.path] == [404]
    assert answer.status_code == 200
    assert answer.get_json() == {"user_id": user["user_id"], "status": "disconnected"}
    assert client.get("/terra/connections", headers=alice).get_json() == []
    store = flask_app.blueprints["terra"].core.store
    assert [a.reason for a in store.local_actions()] == ["terra_user_not_found"]
    assert [e.type for e in store.events()] == ["auth"]
    assert client.delete(f"/terra/connections/{user['user_id']}", headers=alice).status_code == 404
    assert len(store.local_actions()) == 1
