"""Signed webhook delivery: signatures (checked by an independent HMAC), retries, lifecycle."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import httpx

from terra_auth.emulator import Emulator


def independent_verify(header: str, body: bytes, secret: str, tolerance: int = 300) -> bool:
    """terra-api.md section 6: t=<unix>,v1=<hex>; HMAC-SHA256(secret, t + "." + body); any v1."""
    t = None
    v1: list[str] = []
    for element in header.split(","):
        if "=" not in element:
            continue
        prefix, value = (part.strip() for part in element.strip().split("=", 1))
        if prefix == "t":
            t = value
        elif prefix == "v1":
            v1.append(value)
    assert t is not None and v1, header
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, sig) for sig in v1):
        return False
    return abs(int(time.time()) - int(t)) <= tolerance


def test_independent_verifier_matches_the_documented_vector() -> None:
    header = "t=1723808700,v1=da461831d52bbcc2cebeb4a2048a56e013726c049d784421bd4b27686f469964"
    body = b'{"type":"auth","status":"success"}'
    assert independent_verify(header, body, "whsec_test", tolerance=10**10)


def test_auth_webhook_is_signed_with_both_headers(receiver) -> None:
    with Emulator(seed=1, webhook_url=receiver.url + "/hooks", time_scale=0.001) as emu:
        user = emu.connect("testing", provider="GARMIN", reference_id="u1")
        (post,) = receiver.wait(1)
        delivery = emu.wait_for_deliveries(1)[0]
    secret = emu.environments["testing"].webhook_secret
    assert post.path == "/hooks"
    headers = {k.lower(): v for k, v in post.headers.items()}
    assert headers["terra-signature"] == headers["x-terra-signature"]
    assert independent_verify(headers["terra-signature"], post.body, secret)
    assert not independent_verify(headers["terra-signature"], post.body, "another-secret")
    assert headers["content-type"] == "application/json"
    assert headers["x-terra-trace-id"] == delivery.trace_id and headers["terra-reference"]
    payload = json.loads(post.body)
    assert payload["type"] == "auth" and payload["status"] == "success"
    assert payload["user"]["user_id"] == user["user_id"] and payload["reference_id"] == "u1"
    assert delivery.delivered and len(delivery.attempts) == 1


def test_environments_sign_with_their_own_secret(receiver) -> None:
    with Emulator(seed=1, webhook_url=receiver.url, time_scale=0.001) as emu:
        emu.connect("staging", provider="FITBIT")
        (post,) = receiver.wait(1)
    header = post.headers["terra-signature"]
    assert independent_verify(header, post.body, emu.environments["staging"].webhook_secret)
    assert not independent_verify(header, post.body, emu.environments["testing"].webhook_secret)


def test_non_2xx_and_timeouts_are_retried_with_the_same_trace_id(receiver) -> None:
    receiver.statuses = [500, 404, 302]
    with Emulator(seed=1, webhook_url=receiver.url, time_scale=0.002) as emu:
        emu.connect("testing", provider="FITBIT", reference_id="r")
        posts = receiver.wait(4)
        delivery = emu.wait_for_deliveries(1)[0]
    assert [a.status for a in delivery.attempts] == [500, 404, 302, 200]
    assert len({p.headers["X-Terra-Trace-Id"] for p in posts}) == 1
    assert all(p.body == posts[0].body for p in posts)
    gaps = [b.at - a.at for a, b in zip(delivery.attempts, delivery.attempts[1:])]
    # exponential backoff from 30 s, times the scale: at least 60 ms, 120 ms, 240 ms apart
    assert [round(g, 3) >= 30 * 2**i * 0.002 for i, g in enumerate(gaps)] == [True] * 3


def test_a_timeout_counts_as_a_failed_attempt(receiver) -> None:
    receiver.hang = threading.Event()
    with Emulator(
        seed=1, webhook_url=receiver.url, time_scale=0.0001, webhook_timeout=0.2
    ) as emu:
        emu.connect("testing", provider="FITBIT")
        assert emu.wait_for(lambda: bool(emu.deliveries and emu.deliveries[0].attempts))
        assert emu.deliveries[0].attempts[0].error == "timeout"
        receiver.hang.set()
        delivered = emu.wait_for_deliveries(1, timeout=5)
    assert delivered[0].attempts[-1].status == 200 and len(delivered[0].attempts) >= 2


def test_delivery_gives_up_after_max_attempts(receiver) -> None:
    receiver.statuses = [503] * 20
    with Emulator(seed=1, webhook_url=receiver.url, time_scale=0.00001, max_attempts=4) as emu:
        emu.connect("testing", provider="FITBIT")
        (delivery,) = emu.wait_for_deliveries(1, delivered=False)
    assert delivery.gave_up and not delivery.delivered and len(delivery.attempts) == 4


def test_unreachable_destination_is_retried_and_recorded() -> None:
    with Emulator(
        seed=1, webhook_url="http://127.0.0.1:9/nothing", time_scale=0.00001, max_attempts=3
    ) as emu:
        emu.connect("testing", provider="FITBIT")
        (delivery,) = emu.wait_for_deliveries(1, delivered=False)
    assert delivery.gave_up and all(a.error for a in delivery.attempts)


def test_reconnecting_the_same_account_sends_auth_and_user_reauth(receiver) -> None:
    with Emulator(seed=1, webhook_url=receiver.url, time_scale=0.001) as emu:
        old = emu.connect("testing", provider="OURA", reference_id="same")
        new = emu.connect("testing", provider="OURA", reference_id="same")
        posts = receiver.wait(3)
        users = emu.users
    types = [json.loads(p.body)["type"] for p in posts]
    assert types == ["auth", "auth", "user_reauth"]
    reauth = json.loads(posts[2].body)
    assert reauth["old_user"]["user_id"] == old["user_id"]
    assert reauth["new_user"]["user_id"] == new["user_id"]
    assert [u["user_id"] for u in users] == [new["user_id"]]


def test_deauth_webhook_follows_asynchronously(receiver) -> None:
    with Emulator(seed=1, webhook_url=receiver.url, time_scale=0.01, deauth_delay=2.0) as emu:
        user = emu.connect("testing", provider="FITBIT", reference_id="d")
        account = emu.environments["testing"]
        receiver.wait(1)
        started = time.monotonic()
        r = httpx.delete(
            f"{emu.url}/v2/auth/deauthenticateUser",
            params={"user_id": user["user_id"]},
            headers={"dev-id": account.dev_id, "x-api-key": account.api_key},
        )
        answered = time.monotonic() - started
        posts = receiver.wait(2)
        arrived = time.monotonic() - started
    assert r.status_code == 200
    deauth = json.loads(posts[1].body)
    assert deauth["type"] == "deauth" and deauth["user"]["user_id"] == user["user_id"]
    assert arrived >= 2.0 * 0.01 and answered < arrived  # deauth_delay x time_scale


def test_lifecycle_triggers(receiver) -> None:
    with Emulator(seed=1, webhook_url=receiver.url, time_scale=0.001) as emu:
        user = emu.connect("testing", provider="FITBIT", reference_id="t")
        uid = user["user_id"]
        emu.trigger("testing", uid, "connection_error")
        emu.trigger("testing", uid, "permission_change", scopes_added="nutrition", scopes_removed="weight")
        emu.trigger("testing", uid, "access_revoked")
        posts = receiver.wait(4)
    payloads = [json.loads(p.body) for p in posts]
    assert [p["type"] for p in payloads] == ["auth", "connection_error", "permission_change", "access_revoked"]
    change = payloads[2]
    assert change["scopes_added"] == "nutrition" and change["scopes_removed"] == "weight"
    assert "nutrition" in change["user"]["scopes"] and "weight" not in change["user"]["scopes"]
    assert payloads[3]["user"]["active"] is False


def test_cancelled_auth_in_2026_and_legacy_forms(receiver) -> None:
    for legacy in (False, True):
        with Emulator(
            seed=1, webhook_url=receiver.url, time_scale=0.001, legacy_auth_error=legacy
        ) as emu:
            emu.engine.fail_connection(
                "testing", provider="FITBIT", reference_id="c", reason="access_denied"
            )
            emu.wait_for_deliveries(1)
    first, second = (json.loads(p.body) for p in receiver.wait(2))
    assert first["type"] == "auth_cancelled" and "user" not in first
    assert second["type"] == "auth" and second["status"] == "error" and second["user"]


def test_rotation_with_overlap_signs_with_old_and_new(receiver) -> None:
    with Emulator(seed=1, webhook_url=receiver.url, time_scale=0.001) as emu:
        old = emu.environments["testing"].webhook_secret
        new = emu.rotate_secret("testing", overlap_seconds=60)
        emu.connect("testing", provider="FITBIT")
        receiver.wait(1)  # signed when sent, with the secrets valid at that moment
        emu.rotate_secret("testing")  # no overlap: `new` stops signing at once
        emu.connect("testing", provider="GARMIN")
        first, second = receiver.wait(2)
        newest = emu.environments["testing"].webhook_secret
    assert first.headers["terra-signature"].count("v1=") == 2
    assert independent_verify(first.headers["terra-signature"], first.body, old)
    assert independent_verify(first.headers["terra-signature"], first.body, new)
    assert second.headers["terra-signature"].count("v1=") == 2  # the 60 s overlap still runs
    assert independent_verify(second.headers["terra-signature"], second.body, newest)
    assert independent_verify(second.headers["terra-signature"], second.body, old)
    assert not independent_verify(second.headers["terra-signature"], second.body, new)


def test_events_without_destination_are_recorded_not_sent(emu: Emulator) -> None:
    emu.connect("testing", provider="FITBIT")
    (delivery,) = emu.deliveries
    assert delivery.url is None and delivery.attempts == [] and delivery.event_type == "auth"


def test_asgi_only_use_still_delivers_webhooks(receiver) -> None:
    import asyncio

    emu = Emulator(seed=1, webhook_url=receiver.url, time_scale=0.001)  # never start()ed
    account = emu.environments["testing"]

    async def complete_widget() -> httpx.Response:
        transport = httpx.ASGITransport(app=emu.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emu") as client:
            session = (
                await client.post(
                    "/api/widget/session",
                    headers={"dev-id": account.dev_id, "x-api-key": account.api_key},
                    json={"reference_id": "asgi"},
                )
            ).json()
            return await client.post(session["url"], data={"provider": "FITBIT", "outcome": "connect"})

    try:
        assert asyncio.run(complete_widget()).status_code == 302
        (post,) = receiver.wait(1)
        assert json.loads(post.body)["user"]["reference_id"] == "asgi"
    finally:
        emu.stop()
    emu.connect("testing", provider="OURA")  # after stop: recorded, not sent
    assert emu.deliveries[-1].attempts == []
