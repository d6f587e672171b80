"""Mounting into an existing FastAPI app, demo mode over HTTP, several environments, outages."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request

from terra_auth.environments import Environment
from terra_auth.errors import ConfigurationError
from terra_auth.service import create_app, terra_router
from terra_auth.service.demo import BackgroundServer
from terra_auth.service.settings import ServiceSettings

from .conftest import as_user, connect_via_emulator, delivered

# -- a host application with its own authentication ------------------------------------------
SESSIONS = {"token-alice": "alice", "token-bob": "bob"}


def bearer_user(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return SESSIONS.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None


def test_terra_router_mounts_into_an_existing_app(emulator, tmp_path):
    host = FastAPI()

    @host.get("/me")
    def me(user: Annotated[str | None, Depends(bearer_user)]) -> dict[str, str]:
        if user is None:
            raise HTTPException(401)
        return {"user": user}

    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'host.db'}")
    router = terra_router(
        settings,
        current_user=bearer_user,
        credentials={Environment.TESTING: emulator.credentials("testing")},
        prefix="/api/terra",
    )
    host.include_router(router)

    @host.get("/dashboard")
    def dashboard(user: Annotated[str | None, Depends(bearer_user)]) -> dict[str, int]:
        return {"wearables": len(router.core.connections(user or "-"))}

    with BackgroundServer(host) as server, httpx.Client(base_url=server.url) as http:
        emulator.set_webhook_url("testing", f"{server.url}/api/terra/webhooks")
        alice = {"authorization": "Bearer token-alice"}
        assert http.get("/me", headers=alice).json() == {"user": "alice"}
        assert http.post("/api/terra/widget-session").status_code == 401
        session = http.post("/api/terra/widget-session", headers=alice)
        assert session.status_code == 200 and session.json()["reference_id"] == "alice"
        before = delivered(emulator)
        emulator.connect("testing", provider="SUUNTO", reference_id="alice")
        emulator.wait_for_deliveries(before + 1, timeout=10.0)
        rows = http.get("/api/terra/connections", headers=alice).json()
        assert [r["provider"] for r in rows] == ["SUUNTO"]
        assert http.get("/dashboard", headers=alice).json() == {"wearables": 1}
        bob = {"authorization": "Bearer token-bob"}
        assert http.get("/api/terra/connections", headers=bob).json() == []
        # the landing page's script and style come from the mounted prefix
        page = http.get("/api/terra/failed", headers=alice).text
        assert 'src="/api/terra/assets/app.js"' in page
        assert http.get("/api/terra/assets/app.js").status_code == 200


def test_demo_login_over_http(make_service):
    service = make_service(current_user=None, demo=True)
    http = service.http
    assert http.post("/terra/widget-session").status_code == 401
    login = http.post(
        "/demo/login",
        data={"username": "alice", "next": "https://evil.example/"},
        params={"next": "https://evil.example/"},
    )
    assert login.status_code == 303 and login.headers["location"] == "/"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert http.post("/terra/widget-session").json()["reference_id"] == "alice"
    home = http.get("/")
    assert "Logged in as" in home.text and ">alice<" in home.text
    assert "script-src 'self'" in home.headers["content-security-policy"]
    # a forged cookie is nobody
    forged = httpx.Client(base_url=service.url, cookies={"terra_demo_user": "alice"})
    assert forged.post("/terra/widget-session").status_code == 401
    forged.close()
    assert http.post("/demo/login", data={"username": "<script>"}).status_code == 400
    logout = http.post("/demo/logout")
    assert logout.status_code == 303
    http.cookies.clear()
    assert http.get("/terra/connections").status_code == 401


def test_no_demo_routes_without_demo_mode(service):
    assert service.http.post("/demo/login", data={"username": "alice"}).status_code in (404, 405)
    assert service.http.get("/").status_code == 404


def test_create_app_refuses_demo_with_production(emulator, tmp_path):
    with pytest.raises(ConfigurationError) as info:
        create_app(
            ServiceSettings(
                environments=(Environment.PRODUCTION,), demo=True,
                database_url=f"sqlite:///{tmp_path / 'x.db'}",
            ),
            credentials={Environment.PRODUCTION: emulator.credentials("production")},
        )
    assert info.value.hint and "production" in str(info.value)


def test_connections_in_a_second_environment_are_disconnected_there(make_service, emulator):
    service = make_service(environments=("testing", "staging"))
    before = delivered(emulator)
    user = emulator.connect("staging", provider="WHOOP", reference_id="alice")
    emulator.wait_for_deliveries(before + 1, timeout=10.0)
    rows = service.http.get("/terra/connections", headers=as_user("alice")).json()
    assert [(r["provider"], r["environment"]) for r in rows] == [("WHOOP", "staging")]
    page = service.http.get("/terra/connected", params={"user_id": user["user_id"]},
                            headers=as_user("alice"))
    assert "data-outcome=confirmed" in page.text
    answer = service.http.delete(f"/terra/connections/{user['user_id']}", headers=as_user("alice"))
    assert answer.status_code == 202
    deauths = [r for r in emulator.requests if "deauthenticateUser" in r.path]
    assert [r.environment for r in deauths] == ["staging"]


def test_store_outage_answers_503(emulator, tmp_path):
    from terra_auth.store import Store

    broken = Store(f"sqlite:///{tmp_path / 'never-upgraded.db'}")  # no tables: unusable
    app = create_app(
        ServiceSettings(database_url="sqlite://"),
        current_user=lambda: "alice",
        credentials={Environment.TESTING: emulator.credentials("testing")},
        store=broken,
    )
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as http:
        answer = http.get("/terra/connections")
        assert answer.status_code == 503
        assert answer.headers["retry-after"] and answer.json()["error"] == "unavailable"
        # a Terra call does not need the store
        assert http.post("/terra/widget-session").status_code == 200
    broken.close()


def test_mobile_token_can_connect_an_sdk_provider_after_the_widget(service, emulator):
    # the widget's SDK-only providers redirect with user_id=null: the page shows nothing false
    page = service.http.get(
        "/terra/connected", params={"user_id": "null", "resource": "APPLE"},
        headers=as_user("alice"),
    )
    assert "data-outcome=unconfirmed" in page.text and "APPLE" not in page.text


def test_keep_alive_requests_are_not_delayed_by_nagle(service):
    # sockets bound without proto=IPPROTO_TCP lose asyncio's TCP_NODELAY: ~40 ms per request
    import statistics
    import time

    service.http.get("/terra/health")
    times = []
    for _ in range(15):
        started = time.perf_counter()
        assert service.http.get("/terra/health").status_code == 200
        times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.02, times


def test_openapi_describes_the_endpoints(service):
    schema = service.http.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/terra/widget-session", "/terra/mobile-token", "/terra/connections",
                 "/terra/connections/{terra_user_id}", "/terra/webhooks"):
        assert path in paths
    assert "/terra/connected" not in paths  # HTML pages are not API


def test_clients_open_with_the_app_and_close_on_shutdown_and_state_persists(emulator, tmp_path):
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'persist.db'}")
    credentials = {Environment.TESTING: emulator.credentials("testing")}

    def run_once(connect: bool) -> list[str]:
        app = create_app(settings, current_user=lambda: "alice", credentials=credentials)
        core = app.state.terra
        assert core.clients == {}  # nothing is opened before the app starts
        with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as http:
            assert set(core.clients) == {Environment.TESTING}
            if connect:
                emulator.set_webhook_url("testing", f"{server.url}/terra/webhooks")
                before = delivered(emulator)
                emulator.connect("testing", provider="FITBIT", reference_id="alice")
                emulator.wait_for_deliveries(before + 1, timeout=10.0)
            providers = [r["provider"] for r in http.get("/terra/connections").json()]
        assert core.clients == {}  # closed on shutdown
        return providers

    assert run_once(connect=True) == ["FITBIT"]
    assert run_once(connect=False) == ["FITBIT"]  # a restart keeps the connections


def test_provider_side_changes_show_in_the_connection_status(service, emulator):
    user = connect_via_emulator(emulator, service, "alice", provider="GARMIN")
    for event, status in (("connection_error", "degraded"), ("access_revoked", "revoked")):
        before = delivered(emulator)
        emulator.trigger("testing", user["user_id"], event)
        emulator.wait_for_deliveries(before + 1, timeout=10.0)
        rows = service.http.get("/terra/connections", headers=as_user("alice")).json()
        assert [(r["provider"], r["status"]) for r in rows] == [("GARMIN", status)]
    # a revoked connection can still be cleaned up at Terra by its owner
    answer = service.http.delete(f"/terra/connections/{user['user_id']}", headers=as_user("alice"))
    assert answer.status_code == 202
