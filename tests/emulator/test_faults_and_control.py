"""Injected faults, the control plane over HTTP, and flat memory through pruning."""

from __future__ import annotations

import time

import httpx
import pytest

from terra_auth.emulator import Emulator
from terra_auth.errors import InvalidRequestError


def test_status_fault_for_the_next_n_requests(emu: Emulator, http: httpx.Client, auth) -> None:
    emu.inject_fault("/auth/generateAuthToken", kind="status", status=503, count=2)
    codes = [http.post(p, headers=auth).status_code for p in
             ["/v2/auth/generateAuthToken", "/api/v2/auth/generateAuthToken", "/v2/auth/generateAuthToken"]]
    assert codes == [503, 503, 200]
    failed = http.post("/v2/auth/generateAuthToken", headers=auth)
    assert failed.status_code == 200
    log = [r for r in emu.requests if r.path.endswith("/auth/generateAuthToken")]
    assert [r.status for r in log] == [503, 503, 200, 200] and log[0].environment == "testing"


def test_status_fault_body_follows_the_error_style(emu: Emulator, http: httpx.Client, auth) -> None:
    emu.inject_fault("/userInfo", kind="status", status=502, count=1)
    r = http.get("/v2/userInfo?user_id=x", headers=auth)
    assert r.status_code == 502 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "bad gateway" and r.json()["instance"] == "/v2/userInfo?user_id=x"
    assert r.headers["x-terra-trace-id"]


def test_rate_limit_fault_carries_retry_after_and_terra_headers(
    emu: Emulator, http: httpx.Client, auth
) -> None:
    emu.inject_fault("/subscriptions", kind="rate_limit", retry_after=7, count=1)
    r = http.get("/api/v2/subscriptions", headers=auth)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7" and r.headers["x-terra-ratelimit-rule"] == "r2"
    assert r.headers["x-terra-ratelimit-remaining"] == "0"
    assert r.json()["detail"] == "rate limit exceeded"
    assert http.get("/api/v2/subscriptions", headers=auth).status_code == 200


def test_dropped_connection_is_a_transport_error(emu: Emulator, auth) -> None:
    emu.inject_fault("/integrations", kind="drop", count=1)
    with httpx.Client(base_url=emu.url) as http:
        with pytest.raises(httpx.TransportError):
            http.get("/v2/integrations")
        assert http.get("/v2/integrations").status_code == 200
    assert [r.status for r in emu.requests] == [0, 200]  # a dropped request is logged as 0


def test_latency_fault_delays_the_answer(emu: Emulator, http: httpx.Client) -> None:
    emu.inject_fault("/integrations", kind="latency", latency=0.3, count=1)
    started = time.monotonic()
    assert http.get("/v2/integrations").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_rate_faults_are_seeded_and_deterministic() -> None:
    def run() -> list[int]:
        with Emulator(seed=11) as emu, httpx.Client(base_url=emu.url) as http:
            emu.inject_fault("*", kind="status", status=500, rate=0.5)
            return [http.get("/v2/integrations").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second and 500 in first and 200 in first


def test_bad_fault_definitions_are_refused_with_a_hint(emu: Emulator, http: httpx.Client) -> None:
    with pytest.raises(InvalidRequestError) as info:
        emu.inject_fault("/x", kind="explode")
    assert info.value.hint and "latency" in info.value.hint
    r = http.post("/_emulator/faults", json={"path": "x", "kind": "status"})
    assert r.status_code == 400 and "must start with" in r.json()["message"]


def test_control_plane_connect_trigger_state_and_reset(
    emu: Emulator, http: httpx.Client, receiver
) -> None:
    assert http.post("/_emulator/webhook-url", json={"url": receiver.url}).status_code == 200
    user = http.post(
        "/_emulator/connect",
        json={"environment": "testing", "provider": "FITBIT", "reference_id": "c1"},
    ).json()
    assert user["reference_id"] == "c1"
    r = http.post(
        "/_emulator/trigger",
        json={"environment": "testing", "user_id": user["user_id"], "event": "access_revoked"},
    )
    assert r.status_code == 200
    posts = receiver.wait(2)
    assert [p.headers["X-Terra-Trace-Id"] for p in posts]
    state = http.get("/_emulator/state").json()
    assert state["users"][0]["active"] is False and len(state["accounts"]) == 3
    deliveries = http.get("/_emulator/deliveries").json()
    assert [d["event_type"] for d in deliveries] == ["auth", "access_revoked"]
    assert http.get("/_emulator/requests").json()[0]["path"] == "/_emulator/webhook-url"
    unknown = http.post(
        "/_emulator/trigger", json={"user_id": "nope", "event": "deauth", "environment": "testing"}
    )
    assert unknown.status_code == 404 and unknown.json()["hint"]
    bad_env = http.post("/_emulator/connect", json={"environment": "moon", "provider": "FITBIT"})
    assert bad_env.status_code == 400 and "moon" in bad_env.json()["message"]
    assert http.post("/_emulator/reset").status_code == 200
    assert http.get("/_emulator/state").json()["users"] == []


def test_control_plane_faults_clock_style_and_accounts(emu: Emulator, http: httpx.Client, auth) -> None:
    http.post("/_emulator/faults", json={"path": "/auth/tokens", "kind": "status", "status": 500, "count": 1})
    assert len(http.get("/_emulator/faults").json()) == 1
    assert http.post("/v2/auth/tokens", headers=auth).status_code == 500
    assert http.get("/_emulator/faults").json() == []
    http.post("/_emulator/faults", json={"path": "*", "kind": "latency", "latency": 0})
    assert http.delete("/_emulator/faults").json()["status"] == "success"

    session = http.post("/api/widget/session", headers=auth, json={}).json()
    http.post("/_emulator/clock/advance", json={"seconds": 901})
    assert http.get(session["url"]).status_code == 404

    http.post("/_emulator/error-style", json={"style": "legacy"})
    assert http.get("/v2/subscriptions").json()["status"] == "error"
    assert http.post("/_emulator/error-style", json={"style": "weird"}).status_code == 400

    r = http.post("/_emulator/accounts/testing", json={"legacy_widget_gone": True, "user_cap": 1})
    assert r.json()["legacy_widget_gone"] is True
    assert http.post("/v2/auth/generateWidgetSession", headers=auth, json={}).status_code == 410


def test_rotate_secret_over_http_returns_only_fingerprints(emu: Emulator, http: httpx.Client) -> None:
    before = emu.environments["testing"].webhook_secret
    r = http.post("/_emulator/rotate-secret", json={"environment": "testing", "overlap_seconds": 5})
    after = emu.environments["testing"].webhook_secret
    assert after != before and before not in r.text and after not in r.text
    assert r.json()["webhook_secret_fingerprint"] == emu.environments["testing"].secret_fingerprint


def test_expired_sessions_and_tokens_are_pruned(emu: Emulator) -> None:
    state = emu.engine.state
    for i in range(2000):
        state.new_session("testing", providers=("FITBIT",), reference_id=str(i),
                          success_url=None, failure_url=None, language=None)
        state.new_mobile_token("testing", reference_id=None)
    assert len(state.sessions) == 2000 and len(state.mobile_tokens) == 2000
    emu.clock.advance(181)
    state.prune()
    assert len(state.mobile_tokens) == 0 and len(state.sessions) == 2000
    emu.clock.advance(720)
    state.new_session("testing", providers=("FITBIT",), reference_id=None,
                      success_url=None, failure_url=None, language=None)
    assert len(state.sessions) == 1


def test_write_env_files_mode_0600_and_never_overwrite(emu: Emulator, tmp_path) -> None:
    existing = tmp_path / ".env.terra.staging"
    existing.write_text("KEEP=1\n")
    written = emu.write_env_files(tmp_path)
    assert sorted(p.name for p in written) == [".env.terra.production", ".env.terra.testing"]
    text = (tmp_path / ".env.terra.testing").read_text()
    assert f"TERRA_API_BASE_URL={emu.url}/api/v2" in text
    assert f"TERRA_WIDGET_SESSION_URL={emu.url}/api/widget/session" in text
    assert f"TERRA_STREAMING_URL={emu.url}/streaming" in text
    assert f"TERRA_DEV_ID={emu.environments['testing'].dev_id}" in text
    assert (tmp_path / ".env.terra.testing").stat().st_mode & 0o777 == 0o600
    assert existing.read_text() == "KEEP=1\n"
    assert ".env.terra*" in (tmp_path / ".gitignore").read_text().splitlines()
    emu.write_env_files(tmp_path)  # a second run adds no second .gitignore entry
    assert (tmp_path / ".gitignore").read_text().count(".env.terra*") == 1


def test_credentials_point_at_the_emulator(emu: Emulator) -> None:
    creds = emu.credentials("staging")
    account = emu.environments["staging"]
    assert creds.dev_id == account.dev_id and creds.api_key.reveal() == account.api_key
    assert creds.api_base_url == f"{emu.url}/api/v2"
    assert creds.widget_session_url == f"{emu.url}/api/widget/session"
    assert creds.streaming_url == f"{emu.url}/streaming"
    assert creds.webhook_secrets[0].value.reveal() == account.webhook_secret


def test_control_plane_settings_switch_the_failed_auth_form(emu: Emulator, http: httpx.Client, auth) -> None:
    r = http.post("/_emulator/settings", json={"legacy_auth_error": True, "deauth_delay": 0})
    assert r.json()["legacy_auth_error"] is True
    session = http.post("/api/widget/session", headers=auth, json={"reference_id": "s"}).json()
    http.post(session["url"], data={"provider": "FITBIT", "outcome": "deny"})
    payload = emu.deliveries[-1].payload
    assert payload["type"] == "auth" and payload["status"] == "error" and payload["reason"] == "access_denied"
    assert http.post("/_emulator/settings", json={"time_scale": -1}).status_code == 400


def test_bad_emulator_options_are_clear_errors() -> None:
    from terra_auth.errors import ConfigurationError

    with pytest.raises(InvalidRequestError) as info:
        Emulator(time_scale=-1)
    assert "time_scale" in str(info.value) and info.value.hint
    with pytest.raises(InvalidRequestError, match="error style"):
        Emulator(error_style="fancy")
    with pytest.raises(ConfigurationError, match="unknown environment"):
        Emulator(config={"accounts": {"moon": {}}})
    with pytest.raises(ConfigurationError, match="unknown provider"):
        Emulator(config={"accounts": {"testing": {"enabled_providers": ["NOKIA3310"]}}})


def test_control_plane_wrong_types_are_400_not_500(emu: Emulator, http: httpx.Client) -> None:
    r = http.post("/_emulator/faults", json={"path": "/x", "kind": "status", "count": "two"})
    assert r.status_code == 400 and r.json()["hint"]
    r = http.post("/_emulator/faults", json={"path": "/x", "kind": "latency", "latency": "slow"})
    assert r.status_code == 400
