"""Wire shapes and response parsing, with respx standing in for Terra (unit level).

The emulator-backed tests cover the same operations end to end; these pin the exact requests
and the odd answers (old field names, HTML pages) that are awkward to produce otherwise.
"""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from terra_auth import __version__
from terra_auth.client import AsyncTerraClient, RetryPolicy, TerraClient
from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import (
    AuthenticationError,
    GoneError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TerraApiError,
)
from terra_auth.secret import Secret

BASE = "https://terra.test/api/v2"
WIDGET = "https://terra.test/api/widget/session"


@pytest.fixture
def creds(fake_secret) -> TerraCredentials:
    return TerraCredentials(
        environment=Environment.TESTING,
        dev_id="acme-testing-1",
        api_key=Secret(fake_secret("key")),
        api_base_url=BASE,
        widget_session_url=WIDGET,
        streaming_url="https://ws.terra.test",
    )


@pytest.fixture
def client(creds):
    waits: list[float] = []
    with TerraClient(creds, retry=RetryPolicy(attempts=3, sleep=waits.append)) as c:
        c.waits = waits  # type: ignore[attr-defined]
        yield c


SESSION = {
    "session_id": "s1",
    "url": "https://widget.test/session/s1",
    "status": "success",
    "expires_in": 900,
}


@respx.mock
def test_headers_are_exact(client, creds) -> None:
    route = respx.post(WIDGET).respond(json=SESSION)
    client.generate_widget_session("u1", "https://a.test/ok", "https://a.test/no")
    headers = route.calls[0].request.headers
    assert headers["dev-id"] == "acme-testing-1"
    assert headers["x-api-key"] == creds.api_key.reveal()
    assert headers["user-agent"] == f"terra-auth/{__version__}"
    raw_names = [k for k, _ in route.calls[0].request.headers.raw]
    assert b"dev-id" in raw_names and b"x-api-key" in raw_names


@respx.mock
def test_widget_body_shape(client) -> None:
    route = respx.post(WIDGET).respond(json={**SESSION, "extra_field": 1})
    s = client.generate_widget_session(
        "u1",
        "https://a.test/ok",
        "https://a.test/no",
        providers=["garmin", "fitbit"],
        language="en",
        show_disconnect=True,
    )
    body = json.loads(route.calls[0].request.content)
    assert body == {
        "reference_id": "u1",
        "auth_success_redirect_url": "https://a.test/ok",
        "auth_failure_redirect_url": "https://a.test/no",
        "providers": "GARMIN,FITBIT",
        "language": "en",
        "show_disconnect": True,
    }
    assert (s.expires_at - s.received_at).total_seconds() == 900
    assert s.model_extra == {"status": "success", "extra_field": 1}


@respx.mock
def test_mobile_token_reference_id_goes_in_the_query(client) -> None:
    tokens = respx.post(f"{BASE}/auth/tokens").respond(json={"token": "ab" * 32, "expires_in": 180})
    old = respx.post(f"{BASE}/auth/generateAuthToken").respond(
        json={"token": "cd" * 32, "expires_in": 180}
    )
    t = client.generate_mobile_token(reference_id="u 1".replace(" ", "-"))
    assert tokens.calls[0].request.url.params["reference_id"] == "u-1"
    assert tokens.calls[0].request.content == b""
    assert t.reference_id == "u-1" and t.expires_in == 180
    assert "ab" * 32 not in repr(t)
    client.generate_mobile_token()
    assert old.called


@respx.mock
def test_authenticate_and_deauthenticate_use_the_query(client) -> None:
    auth = respx.post(f"{BASE}/auth/authenticateUser").respond(
        json={"status": "success", "user_id": "u-9", "auth_url": "https://fitbit.test/oauth"}
    )
    deauth = respx.delete(f"{BASE}/auth/deauthenticateUser").respond(json={"status": "success"})
    link = client.authenticate_user("fitbit", "ref-1", "https://a.test/ok", "https://a.test/no")
    assert auth.calls[0].request.url.params["resource"] == "FITBIT"
    assert "resource" not in json.loads(auth.calls[0].request.content)
    assert link.user_id == "u-9"
    client.deauthenticate_user("u-9")
    assert deauth.calls[0].request.url.params["user_id"] == "u-9"
    assert deauth.calls[0].request.content == b""


@respx.mock
@pytest.mark.parametrize("field", ["sdk_providers", "sdk_resource"])
def test_integrations_read_both_sdk_field_names(client, field) -> None:
    respx.get(f"{BASE}/integrations").respond(
        json={"providers": ["FITBIT", "GARMIN"], field: ["APPLE"], "status": "success"}
    )
    got = client.list_integrations()
    assert [(i.provider, i.sdk_only) for i in got] == [
        ("FITBIT", False),
        ("GARMIN", False),
        ("APPLE", True),
    ]
    assert [i.provider for i in client.list_integrations(sdk=False)] == ["FITBIT", "GARMIN"]


@respx.mock
def test_user_shapes(client) -> None:
    user = {
        "user_id": "u1",
        "provider": "OURA",
        "reference_id": "r",
        "scopes": "a,b",
        "active": True,
        "created_at": None,
        "last_webhook_update": "2026-06-28T17:40:52.118000+00:00",
        "new": 1,
    }
    respx.get(f"{BASE}/userInfo", params={"reference_id": "r"}).respond(json=[user])
    respx.get(f"{BASE}/userInfo", params={"user_id": "u1"}).respond(
        json={"user": user, "status": "success"}
    )
    respx.post(f"{BASE}/bulkUserInfo").respond(json=[user, user])
    respx.get(f"{BASE}/subscriptions").respond(json={"users": [user], "status": "success"})
    assert client.find_users("r")[0].scope_set == {"a", "b"}
    assert client.get_user("u1").last_webhook_update is not None
    assert len(client.bulk_user_info(["u1", "u1"])) == 2
    assert client.bulk_user_info([]) == []
    assert [u.user_id for u in client.iter_users()] == ["u1"]  # the legacy unpaginated shape


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (
            401,
            {
                "type": "about:blank",
                "title": "unauthorized",
                "instance": "/x",
                "detail": "dev-id or x-api-key headers are missing",
            },
            AuthenticationError,
            "dev-id or x-api-key headers are missing",
        ),
        (
            403,
            {"status": "error", "message": "Invalid API key"},
            AuthenticationError,
            "Invalid API key",
        ),
        (
            404,
            {"status": "error", "message": "Invalid dev-id was provided"},
            AuthenticationError,
            "Invalid dev-id",
        ),
        (
            404,
            {"type": "about:blank", "title": "not found", "instance": "/x"},
            NotFoundError,
            "not found",
        ),
        (
            410,
            {"type": "about:blank", "title": "gone", "instance": "/x", "detail": "use the new one"},
            GoneError,
            "use the new one",
        ),
        (
            400,
            {"status": "error", "message": "invalid reference"},
            TerraApiError,
            "invalid reference",
        ),
    ],
)
def test_error_styles(client, status, body, cls, message) -> None:
    respx.post(f"{BASE}/auth/generateAuthToken").respond(
        status, json=body, headers={"x-terra-trace-id": "tr-42"}
    )
    with pytest.raises(cls) as info:
        client.generate_mobile_token()
    assert type(info.value) is cls
    assert message in str(info.value) and "tr-42" in str(info.value)
    assert info.value.status_code == status and info.value.trace_id == "tr-42"
    assert info.value.hint


@respx.mock
def test_html_500_on_widget_gives_the_data_source_hint(client) -> None:
    route = respx.post(WIDGET).respond(500, html="<html><body>Internal Server Error</body></html>")
    with pytest.raises(ServerError) as info:
        client.generate_widget_session("u1", "https://a.test/ok", "https://a.test/no")
    assert "HTML" in str(info.value) and "data sources" in (info.value.hint or "")
    assert route.call_count == 3  # 5xx retried up to attempts


@respx.mock
def test_retry_after_http_date_and_long_waits(client) -> None:
    route = respx.post(f"{BASE}/auth/generateAuthToken").respond(
        429, json={"detail": "rate limit exceeded"}, headers={"Retry-After": "120"}
    )
    with pytest.raises(RateLimitedError) as info:
        client.generate_mobile_token()
    assert info.value.retry_after == 120 and route.call_count == 1  # too long to wait
    assert client.waits == []


@respx.mock
def test_html_200_means_a_wrong_base_url(client) -> None:
    respx.get(f"{BASE}/integrations").respond(200, html="<!doctype html><title>Landing</title>")
    with pytest.raises(TerraApiError) as info:
        client.list_integrations()
    assert "TERRA_API_BASE_URL" in (info.value.hint or "")


@respx.mock
def test_deauth_retried_after_a_read_timeout_treats_404_as_done(client) -> None:
    route = respx.delete(f"{BASE}/auth/deauthenticateUser").mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.Response(404, json={"detail": "user not found"}),
        ]
    )
    client.deauthenticate_user("u-1")  # the first attempt went through; the user is gone
    assert route.call_count == 2


@respx.mock
def test_deauth_404_after_a_connect_failure_is_still_not_found(client) -> None:
    respx.delete(f"{BASE}/auth/deauthenticateUser").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(404, json={"detail": "user not found"}),
        ]
    )
    with pytest.raises(NotFoundError):
        client.deauthenticate_user("u-1")


@respx.mock
def test_an_answer_that_does_not_fit_is_a_terra_api_error(client) -> None:
    respx.get(f"{BASE}/userInfo").respond(json=[{"user_id": "u1"}])  # no provider
    with pytest.raises(TerraApiError) as info:
        client.find_users("r")
    assert "provider" in str(info.value) and info.value.hint


@respx.mock
def test_odd_timestamps_do_not_fail_a_user_list(client) -> None:
    respx.get(f"{BASE}/userInfo").respond(
        json=[{"user_id": "u1", "provider": "OURA", "created_at": "yesterday-ish"}]
    )
    (user,) = client.find_users("r")
    assert user.created_at is None


@respx.mock
@pytest.mark.anyio
async def test_sync_and_async_send_the_same_requests(creds) -> None:
    routes = [
        respx.post(WIDGET).respond(json=SESSION),
        respx.post(f"{BASE}/auth/tokens").respond(json={"token": "ab" * 32, "expires_in": 180}),
        respx.post(f"{BASE}/auth/authenticateUser").respond(
            json={"user_id": "u", "auth_url": "https://p.test/"}
        ),
    ]

    def sent() -> list[tuple[str, str, bytes, dict[str, str]]]:
        out = []
        for route in routes:
            for call in route.calls:
                r = call.request
                out.append((r.method, str(r.url), r.content, dict(r.headers)))
        for route in routes:
            route.calls.clear()  # type: ignore[attr-defined]
        return out

    args = ("u1", "https://a.test/ok", "https://a.test/no")
    with TerraClient(creds) as c:
        c.generate_widget_session(*args, providers=["oura"], show_disconnect=False)
        c.generate_mobile_token("u1")
        c.authenticate_user("oura", *args, language="de")
    sync_requests = sent()
    async with AsyncTerraClient(creds) as a:
        await a.generate_widget_session(*args, providers=["oura"], show_disconnect=False)
        await a.generate_mobile_token("u1")
        await a.authenticate_user("oura", *args, language="de")
    assert sent() == sync_requests and len(sync_requests) == 3
