"""The data API as Terra serves it: both prefixes, credentials, shapes, lifetimes."""

from __future__ import annotations

import base64

import httpx
import pytest

from terra_auth.emulator import Emulator

PREFIXES = ["/v2", "/api/v2"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_integrations_are_public_and_name_sdk_providers(http: httpx.Client, prefix: str) -> None:
    body = http.get(f"{prefix}/integrations").json()
    assert body["status"] == "success"
    assert "FITBIT" in body["providers"] and "APPLE" in body["sdk_providers"]


def test_detailed_integrations_are_scoped_by_dev_id(
    emu: Emulator, http: httpx.Client, auth: dict[str, str]
) -> None:
    everything = http.get("/v2/integrations/detailed").json()["providers"]
    scoped = http.get("/v2/integrations/detailed", headers={"dev-id": auth["dev-id"]}).json()
    names = {p["provider"] for p in scoped["providers"]}
    assert len(everything) > len(names) > 0
    assert "PELOTON" not in names and all(p["enabled"] for p in everything)
    with_sdk = http.get("/v2/integrations/detailed", params={"sdk": "true"}).json()["providers"]
    assert "APPLE" in {p["provider"] for p in with_sdk}
    assert set(everything[0]) >= {"provider", "name", "icon", "setup", "enabled", "types"}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_widget_session_shape_and_url(
    emu: Emulator, http: httpx.Client, auth: dict[str, str], prefix: str
) -> None:
    r = http.post(
        f"{prefix}/auth/generateWidgetSession",
        headers=auth,
        json={"reference_id": "u1", "providers": "FITBIT,oura"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success" and body["expires_in"] == 900
    assert body["url"] == f"{emu.url}/widget/session/{body['session_id']}"
    assert r.headers["x-terra-trace-id"] and r.headers["terra-reference"]


@pytest.mark.parametrize("path", ["/api/widget/session", "/widget/api/session"])
def test_new_widget_endpoint_at_both_paths(
    http: httpx.Client, auth: dict[str, str], path: str
) -> None:
    ok = http.post(path, headers=auth, json={"reference_id": "u1"})
    assert ok.status_code == 200 and ok.json()["expires_in"] == 900
    bad = http.post(path, headers={**auth, "x-api-key": "wrong"}, json={})
    assert bad.status_code == 403
    assert bad.json()["status"] == "error" and bad.headers["content-type"] == "application/json"
    malformed = http.post(path, headers=auth, json={"providers": ["FITBIT"]})
    assert malformed.status_code == 400 and "providers" in malformed.json()["message"]


def test_legacy_widget_answers_410_when_switched(emu: Emulator, http: httpx.Client, auth) -> None:
    emu.environments["testing"].legacy_widget_gone = True
    r = http.post("/v2/auth/generateWidgetSession", headers=auth, json={})
    assert r.status_code == 410
    assert r.json()["title"] == "gone" and "/api/widget/session" in r.json()["detail"]
    assert http.post("/api/widget/session", headers=auth, json={}).status_code == 200


def test_legacy_widget_requires_a_body(http: httpx.Client, auth: dict[str, str]) -> None:
    r = http.post("/v2/auth/generateWidgetSession", headers=auth)
    assert r.status_code == 400 and "at least {}" in r.json()["detail"]


@pytest.mark.parametrize(
    ("style", "status", "content_type", "field"),
    [
        ("problem", 401, "application/problem+json", "detail"),
        ("legacy", 401, "application/json", "message"),
        ("forbidden", 403, "application/json", "message"),
    ],
)
def test_credential_errors_in_each_style(
    style: str, status: int, content_type: str, field: str
) -> None:
    with Emulator(seed=1, error_style=style) as emu, httpx.Client(base_url=emu.url) as http:
        account = emu.environments["testing"]
        missing = http.get("/api/v2/userInfo?user_id=x")
        wrong = http.get(
            "/api/v2/userInfo?user_id=x",
            headers={"dev-id": account.dev_id, "x-api-key": "not-the-key"},
        )
        other_env = http.get(
            "/api/v2/userInfo?user_id=x",
            headers={
                "dev-id": account.dev_id,
                "x-api-key": emu.environments["production"].api_key,
            },
        )
        for r in (missing, wrong, other_env):
            assert r.status_code == status
            assert r.headers["content-type"] == content_type
            assert r.json()[field]
        if style == "problem":
            assert missing.json()["instance"] == "/api/v2/userInfo?user_id=x"
            assert missing.json()["title"] == "unauthorized"


def test_error_style_per_request_header(http: httpx.Client) -> None:
    r = http.get("/v2/subscriptions", headers={"x-emulator-error-style": "legacy"})
    assert r.status_code == 401 and r.json() == {
        "status": "error",
        "message": "dev-id or x-api-key headers are missing",
    }


def test_mobile_tokens_at_both_names(http: httpx.Client, auth: dict[str, str]) -> None:
    a = http.post("/v2/auth/generateAuthToken", headers=auth).json()
    b = http.post("/api/v2/auth/tokens?reference_id=u9", headers=auth).json()
    for token in (a, b):
        assert token["status"] == "success" and token["expires_in"] == 180
        assert len(token["token"]) == 64 and int(token["token"], 16) >= 0
    assert a["token"] != b["token"]


@pytest.mark.parametrize("where", ["query", "body"])
def test_authenticate_user_reads_resource_from_query_or_body(
    emu: Emulator, http: httpx.Client, auth: dict[str, str], where: str
) -> None:
    kwargs = (
        {"params": {"resource": "garmin"}, "json": {"reference_id": "u2"}}
        if where == "query"
        else {"json": {"resource": "GARMIN", "reference_id": "u2"}}
    )
    r = http.post("/v2/auth/authenticateUser", headers=auth, **kwargs)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success" and body["user_id"]
    assert body["auth_url"].startswith(f"{emu.url}/widget/login/")


def test_authenticate_user_errors(http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.post("/v2/auth/authenticateUser", headers=auth).status_code == 400
    unknown = http.post("/v2/auth/authenticateUser?resource=NOPE", headers=auth)
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["detail"]


def test_user_info_shapes(emu: Emulator, http: httpx.Client, auth: dict[str, str]) -> None:
    first = emu.connect("testing", provider="FITBIT", reference_id="ref-1")
    emu.connect("testing", provider="OURA", reference_id="ref-1")
    one = http.get("/v2/userInfo", params={"user_id": first["user_id"]}, headers=auth).json()
    assert one["status"] == "success" and one["is_authenticated"] is True
    assert one["user"]["user_id"] == first["user_id"] and "last_polled_at" in one["user"]
    many = http.get("/v2/userInfo", params={"reference_id": "ref-1"}, headers=auth).json()
    assert isinstance(many, list) and {u["provider"] for u in many} == {"FITBIT", "OURA"}
    missing = http.get("/v2/userInfo", params={"user_id": "nope"}, headers=auth)
    assert missing.status_code == 404 and missing.json()["detail"] == "user not found"
    assert http.get("/v2/userInfo", headers=auth).status_code == 400


def test_users_are_invisible_across_environments(
    emu: Emulator, http: httpx.Client, auth: dict[str, str]
) -> None:
    other = emu.connect("staging", provider="FITBIT", reference_id="r")
    r = http.get("/v2/userInfo", params={"user_id": other["user_id"]}, headers=auth)
    assert r.status_code == 404


def test_subscriptions_unpaginated_and_paginated(
    emu: Emulator, http: httpx.Client, auth: dict[str, str]
) -> None:
    ids = [emu.connect("testing", provider="FITBIT", reference_id=f"r{i}")["user_id"] for i in range(5)]
    flat = http.get("/v2/subscriptions", headers=auth).json()
    assert [u["user_id"] for u in flat["users"]] == ids
    seen = []
    page: int | None = 0
    while page is not None:
        data = http.get(
            "/v2/subscriptions", params={"page": page, "per_page": 2}, headers=auth
        ).json()["data"]
        assert data["max_page"] == 2
        seen += [u["user_id"] for u in data["results"]]
        page = data["next"]
    assert seen == ids
    assert http.get("/v2/subscriptions?page=x", headers=auth).status_code == 400


def test_bulk_user_info(emu: Emulator, http: httpx.Client, auth: dict[str, str]) -> None:
    a = emu.connect("testing", provider="FITBIT", reference_id="a")
    b = emu.connect("testing", provider="GARMIN", reference_id="b")
    r = http.post("/v2/bulkUserInfo", headers=auth, json=[a["user_id"], b["user_id"], "zzz"])
    assert {u["user_id"] for u in r.json()} == {a["user_id"], b["user_id"]}
    assert http.post("/v2/bulkUserInfo", headers=auth, json={"ids": []}).status_code == 400
    assert http.post("/v2/bulkUserInfo", headers=auth, json=["zzz"]).status_code == 404


def test_deauthenticate_is_a_delete_with_query(
    emu: Emulator, http: httpx.Client, auth: dict[str, str]
) -> None:
    user = emu.connect("testing", provider="FITBIT", reference_id="x")
    r = http.delete("/api/v2/auth/deauthenticateUser", params={"user_id": user["user_id"]}, headers=auth)
    assert r.status_code == 200 and r.json() == {"status": "success"}
    again = http.delete("/api/v2/auth/deauthenticateUser", params={"user_id": user["user_id"]}, headers=auth)
    assert again.status_code == 404
    gone = http.get("/v2/userInfo", params={"user_id": user["user_id"]}, headers=auth)
    assert gone.status_code == 404


def test_user_cap_in_testing_but_not_production() -> None:
    with Emulator(seed=2, user_cap=2) as emu, httpx.Client(base_url=emu.url) as http:
        for i in range(2):
            emu.connect("testing", provider="FITBIT", reference_id=f"r{i}")
        from terra_auth.errors import InvalidRequestError

        with pytest.raises(InvalidRequestError, match="cap"):
            emu.connect("testing", provider="FITBIT", reference_id="r3")
        r = http.post("/_emulator/connect", json={"environment": "testing", "provider": "OURA"})
        assert r.status_code == 409
        for i in range(3):
            emu.connect("production", provider="FITBIT", reference_id=f"r{i}")


def test_streaming_token_endpoints(emu: Emulator, http: httpx.Client, auth: dict[str, str]) -> None:
    user = emu.connect("testing", provider="FITBIT", reference_id="s")
    r = http.post("/streaming/auth/user", params={"id": user["user_id"]}, headers=auth)
    assert r.status_code == 200 and len(r.json()["token"]) == 64
    basic = base64.b64encode(f"{auth['dev-id']}:{auth['x-api-key']}".encode()).decode()
    d = http.post("/streaming/auth/developer", headers={"authorization": f"Basic {basic}"})
    assert d.status_code == 200 and d.json()["token"] != r.json()["token"]
    assert http.post("/streaming/auth/developer").status_code == 400
    bad = http.post("/streaming/auth/developer", headers={**auth, "x-api-key": "no"})
    assert bad.status_code == 403
    other = emu.connect("staging", provider="FITBIT")
    assert http.post("/streaming/auth/user", params={"id": other["user_id"]}, headers=auth).status_code == 403


def test_request_log_counts_each_attempt(emu: Emulator, http: httpx.Client, auth) -> None:
    http.get("/v2/integrations")
    http.post("/v2/auth/generateAuthToken", headers=auth)
    log = emu.requests
    assert ("GET", "/v2/integrations", 200, None) in log
    assert ("POST", "/v2/auth/generateAuthToken", 200, "testing") in log


def test_seeded_emulators_are_deterministic() -> None:
    a, b = Emulator(seed=42), Emulator(seed=42)
    assert a.environments["testing"].dev_id == b.environments["testing"].dev_id
    assert a.environments["testing"].api_key == b.environments["testing"].api_key
    assert a.connect("production", provider="FITBIT")["user_id"] == b.connect(
        "production", provider="FITBIT"
    )["user_id"]
    assert Emulator(seed=43).environments["testing"].dev_id != a.environments["testing"].dev_id
    for env in ("testing", "staging", "production"):
        assert a.environments[env].dev_id.startswith(f"emulator-{env}-")


def test_asgi_app_works_with_httpx_asgi_transport() -> None:
    import asyncio

    emu = Emulator(seed=3)
    account = emu.environments["testing"]

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=emu.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emu") as client:
            return await client.post(
                "/api/v2/auth/generateAuthToken",
                headers={"dev-id": account.dev_id, "x-api-key": account.api_key},
            )

    r = asyncio.run(call())
    assert r.status_code == 200 and r.json()["expires_in"] == 180


def test_unknown_routes_answer_in_the_error_style(http: httpx.Client) -> None:
    r = http.get("/api/v2/nothing?x=1")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["instance"] == "/api/v2/nothing?x=1" and "GET /api/v2/nothing" in r.json()["detail"]
    wrong_method = http.get("/v2/auth/generateAuthToken", headers={"x-emulator-error-style": "legacy"})
    assert wrong_method.status_code == 405 and wrong_method.json()["status"] == "error"


def test_streaming_tokens_are_single_use(emu: Emulator, http: httpx.Client, auth) -> None:
    token = http.post("/streaming/auth/developer", headers=auth).json()["token"]
    first = http.post("/streaming/identify", json={"token": token})
    assert first.status_code == 200 and first.json()["kind"] == "developer"
    again = http.post("/streaming/identify", json={"token": token})
    assert again.status_code == 403 and "already used" in again.json()["message"]
    late = http.post("/streaming/auth/developer", headers=auth).json()["token"]
    emu.clock.advance(181)
    assert http.post("/streaming/identify", json={"token": late}).status_code == 403


def test_a_reconnect_replaces_every_earlier_connection_of_the_tuple(emu: Emulator) -> None:
    a = emu.connect("testing", provider="APPLE", reference_id=None)
    b = emu.connect("testing", provider="APPLE", reference_id="p")
    emu.engine.state.users[a["user_id"]].reference_id = "p"  # two earlier connections for the tuple
    c = emu.connect("testing", provider="APPLE", reference_id="p")
    assert [u["user_id"] for u in emu.users] == [c["user_id"]]
    olds = {d.payload["old_user"]["user_id"] for d in emu.deliveries if d.event_type == "user_reauth"}
    assert olds == {a["user_id"], b["user_id"]}
