"""Every client operation against the real emulator over loopback, sync and async."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from terra_auth.client import AsyncTerraClient, RetryPolicy, TerraClient
from terra_auth.errors import AuthenticationError, GoneError, InvalidRequestError, NotFoundError

OK = "http://localhost:8000/terra/ok"
FAILED = "http://localhost:8000/terra/failed"


def test_list_integrations(client: TerraClient) -> None:
    basic = client.list_integrations()
    codes = {i.provider for i in basic}
    assert {"FITBIT", "GARMIN", "APPLE"} <= codes
    assert next(i for i in basic if i.provider == "APPLE").sdk_only
    detailed = client.list_integrations(detailed=True)
    fitbit = next(i for i in detailed if i.provider == "FITBIT")
    assert fitbit.name and fitbit.icon and fitbit.icon.endswith(".webp")
    with_sdk = client.list_integrations(detailed=True, sdk=True)
    assert "APPLE" in {i.provider for i in with_sdk} - {i.provider for i in detailed}


def test_widget_session_opens_in_the_emulator(client: TerraClient, hits: Any) -> None:
    before = datetime.now(UTC)
    session = client.generate_widget_session(
        "user-42", OK, FAILED, providers=["fitbit", "garmin"], language="en"
    )
    assert session.session_id and session.expires_in == 900
    assert before + timedelta(seconds=899) <= session.expires_at
    page = httpx.get(session.url)
    assert page.status_code == 200 and "FITBIT" in page.text.upper()
    assert hits("/api/widget/session") == 1
    assert hits("/auth/generateWidgetSession") == 0


def test_legacy_widget_when_configured(
    emu: Any, creds: Any, policy: RetryPolicy, hits: Any
) -> None:
    legacy = dataclasses.replace(creds, use_legacy_widget=True)
    with TerraClient(legacy, retry=policy) as client:
        session = client.generate_widget_session("user-42", OK, FAILED)
        assert session.url.startswith(emu.url)
        assert client.uses_legacy_widget
    assert hits("/auth/generateWidgetSession") == 1
    assert hits("/api/widget/session") == 0


def test_mobile_tokens(client: TerraClient, hits: Any) -> None:
    unbound = client.generate_mobile_token()
    bound = client.generate_mobile_token(reference_id="user-42")
    assert unbound.token != bound.token and len(bound.token) >= 32
    assert bound.expires_in == 180 and bound.reference_id == "user-42"
    assert hits("/auth/generateAuthToken") == 1 and hits("/auth/tokens") == 1


def test_authenticate_user_then_users(emu: Any, client: TerraClient) -> None:
    link = client.authenticate_user("fitbit", "user-42", OK, FAILED, language="en")
    assert link.user_id and link.auth_url.startswith(emu.url)
    connected = emu.connect("testing", provider="GARMIN", reference_id="user-42")
    emu.connect("testing", provider="OURA", reference_id="someone-else")
    mine = client.find_users("user-42")
    assert connected["user_id"] in {u.user_id for u in mine}
    assert all(u.reference_id == "user-42" for u in mine)
    user = client.get_user(connected["user_id"])
    assert user.provider == "GARMIN" and user.active
    assert {u.user_id for u in client.bulk_user_info([connected["user_id"]])} == {
        connected["user_id"]
    }
    everyone = {u.user_id for u in client.iter_users(per_page=1)}  # one user per page
    assert connected["user_id"] in everyone and len(everyone) >= 2
    assert client.find_users("nobody-has-this") == []


def test_deauthenticate_user(emu: Any, client: TerraClient) -> None:
    user = emu.connect("testing", provider="FITBIT", reference_id="user-7")
    client.deauthenticate_user(user["user_id"])
    with pytest.raises(NotFoundError) as info:
        client.get_user(user["user_id"])
    assert "user not found" in str(info.value)
    with pytest.raises(NotFoundError):
        client.deauthenticate_user(user["user_id"])


def test_streaming_tokens(emu: Any, client: TerraClient, hits: Any) -> None:
    user = emu.connect("testing", provider="FITBIT", reference_id="user-8")
    producer = client.generate_streaming_token(user["user_id"])
    consumer = client.generate_developer_token()
    assert producer.kind == "user" and producer.user_id == user["user_id"]
    assert consumer.kind == "developer" and consumer.token != producer.token
    assert producer.token not in repr(producer)
    assert hits("/streaming/auth/user") == 1 and hits("/streaming/auth/developer") == 1


def test_bad_redirect_is_refused_before_any_request(emu: Any, creds: Any, hits: Any) -> None:
    prod = dataclasses.replace(creds, allowed_redirect_hosts=("localhost",))
    with TerraClient(prod) as client:
        with pytest.raises(InvalidRequestError) as info:
            client.generate_widget_session("u1", "https://evil.example.net/x", FAILED)
    assert "TERRA_ALLOWED_REDIRECT_HOSTS" in (info.value.hint or "")
    assert len(emu.requests) == 0


def test_410_switches_to_the_new_endpoint_and_remembers(
    emu: Any, creds: Any, policy: RetryPolicy, hits: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emu.environments["testing"], "legacy_widget_gone", True)
    legacy = dataclasses.replace(creds, use_legacy_widget=True)
    with TerraClient(legacy, retry=policy) as client:
        first = client.generate_widget_session("user-1", OK, FAILED)
        second = client.generate_widget_session("user-2", OK, FAILED)
        assert first.session_id != second.session_id
        assert not client.uses_legacy_widget
    assert hits("/auth/generateWidgetSession") == 1  # asked once, then remembered
    assert hits("/api/widget/session") == 2
    assert [r[2] for r in emu.requests if r[1].endswith("generateWidgetSession")] == [410]


# ------------------------------------------------------------------ async


@pytest.mark.anyio
async def test_async_every_operation(emu: Any, creds: Any, policy: RetryPolicy) -> None:
    user = emu.connect("testing", provider="FITBIT", reference_id="async-1")
    async with AsyncTerraClient(creds, retry=policy) as client:
        assert any(i.provider == "FITBIT" for i in await client.list_integrations())
        assert await client.list_integrations(detailed=True)
        session = await client.generate_widget_session("async-1", OK, FAILED, providers="oura")
        assert session.url.startswith(emu.url)
        token = await client.generate_mobile_token(reference_id="async-1")
        assert token.expires_in == 180
        link = await client.authenticate_user("GARMIN", "async-1", OK, FAILED)
        assert link.auth_url
        assert (await client.get_user(user["user_id"])).provider == "FITBIT"
        assert user["user_id"] in {u.user_id for u in await client.find_users("async-1")}
        assert await client.bulk_user_info([user["user_id"]])
        assert user["user_id"] in {u.user_id async for u in client.iter_users(per_page=1)}
        assert (await client.generate_streaming_token(user["user_id"])).kind == "user"
        assert (await client.generate_developer_token()).kind == "developer"
        assert (await client.check()).ok
        await client.deauthenticate_user(user["user_id"])
        with pytest.raises(NotFoundError):
            await client.get_user(user["user_id"])


@pytest.mark.anyio
async def test_async_410_fallback(
    emu: Any, creds: Any, hits: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emu.environments["testing"], "legacy_widget_gone", True)
    legacy = dataclasses.replace(creds, use_legacy_widget=True)
    async with AsyncTerraClient(legacy) as client:
        await client.generate_widget_session("user-1", OK, FAILED)
        await client.generate_widget_session("user-2", OK, FAILED)
    assert hits("/auth/generateWidgetSession") == 1 and hits("/api/widget/session") == 2


def test_streaming_token_for_a_user_of_another_environment(emu: Any, client: TerraClient) -> None:
    stranger = emu.connect("staging", provider="FITBIT", reference_id="elsewhere")
    with pytest.raises(AuthenticationError) as info:
        client.generate_streaming_token(stranger["user_id"])
    assert info.value.status_code == 403
    assert "another dev-id or environment" in (info.value.hint or "")
