"""Every error class through the emulator (fault injection, both error styles) and the retries,
counted from the emulator's request log. Nothing really sleeps: the policy records its waits.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from terra_auth.client import AsyncTerraClient, RetryPolicy, TerraClient
from terra_auth.errors import (
    AuthenticationError,
    GoneError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TerraApiError,
    TransportError,
)
from terra_auth.secret import Secret

OK = "http://localhost:8000/ok"


def statuses(emu: Any, endpoint: str) -> list[int]:
    return [r[2] for r in emu.requests if r[1].endswith(endpoint)]


def test_wrong_key_is_an_authentication_error_in_both_styles(any_emu: Any, fake_secret) -> None:
    creds = dataclasses.replace(any_emu.credentials("testing"), api_key=Secret(fake_secret("k")))
    with TerraClient(creds) as client:
        with pytest.raises(AuthenticationError) as info:
            client.generate_mobile_token()
    err = info.value
    assert err.status_code in (401, 403)
    assert err.message and "Terra answered" in str(err)
    assert "one environment" in (err.hint or "") and creds.key_fingerprint in (err.hint or "")
    assert statuses(any_emu, "/auth/generateAuthToken") == [err.status_code]  # never retried


def test_widget_endpoint_refuses_with_403_status_message(any_emu: Any, fake_secret) -> None:
    creds = dataclasses.replace(any_emu.credentials("testing"), api_key=Secret(fake_secret("k")))
    with TerraClient(creds) as client, pytest.raises(AuthenticationError) as info:
        client.generate_widget_session("u1", OK, OK)
    assert info.value.status_code == 403 and info.value.message.startswith("Forbidden")


def test_unknown_user_is_not_found_in_both_styles(any_emu: Any) -> None:
    with TerraClient(any_emu.credentials("testing")) as client:
        with pytest.raises(NotFoundError) as info:
            client.get_user("no-such-user")
    assert info.value.message == "user not found"
    assert statuses(any_emu, "/userInfo") == [404]


@pytest.mark.parametrize(
    ("status", "cls"),
    [(410, GoneError), (503, ServerError), (500, ServerError), (400, TerraApiError)],
)
def test_injected_statuses_map_to_the_tree(any_emu: Any, status: int, cls: type) -> None:
    any_emu.inject_fault("/auth/generateAuthToken", kind="status", status=status)
    with TerraClient(any_emu.credentials("testing"), retry=RetryPolicy.off()) as client:
        with pytest.raises(cls) as info:
            client.generate_mobile_token()
    assert type(info.value) is cls and info.value.status_code == status
    assert info.value.hint


def test_rate_limit_carries_retry_after(any_emu: Any) -> None:
    any_emu.inject_fault("/auth/generateAuthToken", kind="rate_limit", retry_after=7)
    with TerraClient(any_emu.credentials("testing"), retry=RetryPolicy.off()) as client:
        with pytest.raises(RateLimitedError) as info:
            client.generate_mobile_token()
    assert info.value.retry_after == 7 and "7 s" in (info.value.hint or "")


def test_5xx_is_retried_until_success(emu: Any, client: TerraClient, waits: list[float]) -> None:
    emu.inject_fault("/auth/generateAuthToken", kind="status", status=503, count=2)
    token = client.generate_mobile_token()
    assert token.token
    assert statuses(emu, "/auth/generateAuthToken") == [503, 503, 200]
    assert len(waits) == 2 and waits[1] >= waits[0] * 0  # jittered backoff, recorded


def test_429_honours_retry_after(emu: Any, client: TerraClient, waits: list[float]) -> None:
    emu.inject_fault("/auth/generateAuthToken", kind="rate_limit", retry_after=3, count=1)
    client.generate_mobile_token()
    assert statuses(emu, "/auth/generateAuthToken") == [429, 200]
    assert waits == [3.0]


def test_attempts_are_bounded(emu: Any, client: TerraClient, waits: list[float]) -> None:
    emu.inject_fault("/auth/generateAuthToken", kind="status", status=502, count=10)
    with pytest.raises(ServerError):
        client.generate_mobile_token()
    assert statuses(emu, "/auth/generateAuthToken") == [502, 502, 502]
    assert len(waits) == 2


def test_total_time_is_bounded(emu: Any, creds: Any, waits: Any) -> None:
    policy = RetryPolicy(attempts=10, timeout=1.0, wait_initial=0.4, wait_jitter=0, sleep=waits)
    emu.inject_fault("/auth/generateAuthToken", kind="status", status=503, count=10)
    with TerraClient(creds, retry=policy) as client, pytest.raises(ServerError):
        client.generate_mobile_token()
    assert waits == [0.4]  # the next wait (0.8) would pass the 1 s budget
    assert len(statuses(emu, "/auth/generateAuthToken")) == 2


def test_other_4xx_are_never_retried(emu: Any, client: TerraClient, waits: list[float]) -> None:
    emu.inject_fault("/auth/generateAuthToken", kind="status", status=400, count=5)
    with pytest.raises(TerraApiError):
        client.generate_mobile_token()
    assert statuses(emu, "/auth/generateAuthToken") == [400] and waits == []


def test_retries_can_be_switched_off(emu: Any, creds: Any) -> None:
    emu.inject_fault("/auth/generateAuthToken", kind="status", status=503, count=1)
    with TerraClient(creds, retry=RetryPolicy.off()) as client, pytest.raises(ServerError):
        client.generate_mobile_token()
    assert statuses(emu, "/auth/generateAuthToken") == [503]


def test_dropped_connections_are_transport_errors_and_retried(
    emu: Any, client: TerraClient, waits: list[float]
) -> None:
    emu.inject_fault("/auth/generateAuthToken", kind="drop", count=1)
    assert client.generate_mobile_token().token
    assert len(waits) == 1
    emu.inject_fault("/auth/generateAuthToken", kind="drop")
    with pytest.raises(TransportError) as info:
        client.generate_mobile_token()
    assert info.value.kind in ("protocol", "unreachable") and info.value.hint


def test_timeout_is_a_transport_error(emu: Any, creds: Any) -> None:
    slow = dataclasses.replace(creds, timeout=0.2, connect_timeout=0.2)
    emu.inject_fault("/integrations", kind="latency", latency=1.0, count=1)
    with TerraClient(slow, retry=RetryPolicy.off()) as client:
        with pytest.raises(TransportError) as info:
            client.list_integrations()
    assert info.value.kind == "timeout" and "TERRA_TIMEOUT" in (info.value.hint or "")


@pytest.mark.anyio
async def test_async_retries_count_the_same(emu: Any, creds: Any, waits: Any) -> None:
    policy = RetryPolicy(attempts=3, async_sleep=waits.async_sleep)
    emu.inject_fault("/api/widget/session", kind="status", status=503, count=2)
    async with AsyncTerraClient(creds, retry=policy) as client:
        await client.generate_widget_session("u1", OK, OK)
        emu.inject_fault("/auth/generateAuthToken", kind="rate_limit", retry_after=2, count=1)
        await client.generate_mobile_token()
    assert statuses(emu, "/api/widget/session") == [503, 503, 200]
    assert statuses(emu, "/auth/generateAuthToken") == [429, 200]
    assert waits[-1] == 2.0 and len(waits) == 3


@pytest.mark.anyio
async def test_async_errors(any_emu: Any, fake_secret) -> None:
    bad = dataclasses.replace(any_emu.credentials("testing"), api_key=Secret(fake_secret("k")))
    async with AsyncTerraClient(bad) as client:
        with pytest.raises(AuthenticationError):
            await client.get_user("x")
    async with AsyncTerraClient(any_emu.credentials("testing")) as client:
        with pytest.raises(NotFoundError):
            await client.get_user("no-such-user")


def test_the_budget_also_caps_a_slow_attempt(emu: Any, creds: Any, waits: Any) -> None:
    policy = RetryPolicy(attempts=5, timeout=0.3, sleep=waits)
    emu.inject_fault("/auth/generateAuthToken", kind="latency", latency=1.5, count=1)
    started = time.monotonic()
    with TerraClient(creds, retry=policy) as client, pytest.raises(TransportError) as info:
        client.generate_mobile_token()  # the credentials allow 30 s; the policy allows 0.3 s
    assert info.value.kind == "timeout" and time.monotonic() - started < 1.2
    assert waits == []  # no budget left for another attempt
