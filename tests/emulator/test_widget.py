"""The hosted widget pages, provider-login pages, redirects and the mobile-SDK simulation."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from terra_auth.emulator import Emulator


def _session(http: httpx.Client, auth: dict[str, str], **body: str) -> dict[str, str]:
    r = http.post("/api/widget/session", headers=auth, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_widget_page_lists_the_session_providers(http: httpx.Client, auth) -> None:
    session = _session(http, auth, providers="FITBIT,GARMIN")
    page = http.get(session["url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert set(re.findall(r'<form[^>]*data-provider="([A-Z_]+)"', page.text)) == {"FITBIT", "GARMIN"}
    assert "http://" not in page.text.replace(str(http.base_url), "")  # nothing from the internet


def test_connect_redirects_to_success_with_terra_parameters(
    emu: Emulator, http: httpx.Client, auth
) -> None:
    session = _session(
        http,
        auth,
        reference_id="user-7",
        auth_success_redirect_url="https://app.example/ok?from=terra",
        auth_failure_redirect_url="https://app.example/fail",
    )
    r = http.post(session["url"], data={"provider": "FITBIT", "outcome": "connect"})
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith("https://app.example/ok?from=terra&")
    params = _query(location)
    assert params["resource"] == "FITBIT" and params["reference_id"] == "user-7"
    (user,) = emu.users
    assert params["user_id"] == user["user_id"] and user["reference_id"] == "user-7"
    auth_event = emu.deliveries[0].payload
    assert auth_event["widget_session_id"] == session["session_id"]


def test_reference_id_is_the_literal_null_when_absent(http: httpx.Client, auth) -> None:
    session = _session(http, auth, auth_success_redirect_url="myapp://done")
    r = http.post(session["url"], data={"provider": "OURA", "outcome": "connect"})
    assert r.headers["location"].startswith("myapp://done?")
    assert _query(r.headers["location"])["reference_id"] == "null"


@pytest.mark.parametrize(("outcome", "reason"), [("cancel", "user_cancelled"), ("deny", "access_denied")])
def test_cancel_and_deny_go_to_the_failure_url(
    emu: Emulator, http: httpx.Client, auth, outcome: str, reason: str
) -> None:
    session = _session(
        http, auth, reference_id="r", auth_failure_redirect_url="https://app.example/fail"
    )
    r = http.post(session["url"], data={"provider": "FITBIT", "outcome": outcome})
    assert r.headers["location"].startswith("https://app.example/fail?")
    assert _query(r.headers["location"])["reason"] == reason
    assert emu.users == []
    event = emu.deliveries[0].payload
    assert event == {
        "type": "auth_cancelled",
        "status": "error",
        "flow_id": session["session_id"],
        "reason": reason,
        "reference_id": "r",
    }


def test_default_end_pages_when_no_urls(emu: Emulator, http: httpx.Client, auth) -> None:
    session = _session(http, auth)
    r = http.post(session["url"], data={"provider": "GARMIN", "outcome": "connect"})
    assert r.headers["location"].startswith(f"{emu.url}/widget/session/demo/success?")
    landing = http.get(r.headers["location"])
    assert landing.status_code == 200 and "GARMIN" in landing.text


def test_a_used_session_shows_an_error_page(http: httpx.Client, auth) -> None:
    session = _session(http, auth)
    http.post(session["url"], data={"provider": "FITBIT", "outcome": "connect"})
    again = http.get(session["url"])
    assert again.status_code == 410 and "already been used" in again.text
    assert http.post(session["url"], data={"provider": "FITBIT", "outcome": "connect"}).status_code == 410


def test_an_expired_session_shows_an_error_page(emu: Emulator, http: httpx.Client, auth) -> None:
    session = _session(http, auth)
    emu.clock.advance(899)
    assert http.get(session["url"]).status_code == 200
    emu.clock.advance(2)
    page = http.get(session["url"])
    assert page.status_code in (404, 410) and "expired" in page.text


def test_unknown_provider_or_outcome_is_refused(http: httpx.Client, auth) -> None:
    session = _session(http, auth, providers="FITBIT")
    r = http.post(session["url"], data={"provider": "GARMIN", "outcome": "connect"})
    assert r.status_code == 400 and "listed providers" in r.text


def test_sdk_provider_in_widget_redirects_with_null_user(emu: Emulator, http: httpx.Client, auth) -> None:
    session = _session(http, auth, providers="APPLE", auth_success_redirect_url="https://a.example/ok")
    r = http.post(session["url"], data={"provider": "APPLE", "outcome": "connect"})
    assert _query(r.headers["location"])["user_id"] == "null" and emu.users == []


def test_authenticate_user_login_page_keeps_the_preassigned_user_id(
    emu: Emulator, http: httpx.Client, auth
) -> None:
    link = http.post(
        "/v2/auth/authenticateUser",
        params={"resource": "WITHINGS"},
        headers=auth,
        json={"reference_id": "w", "auth_success_redirect_url": "https://a.example/ok"},
    ).json()
    page = http.get(link["auth_url"])
    assert page.status_code == 200 and "WITHINGS" in page.text
    r = http.post(link["auth_url"].split("?")[0], data={"provider": "WITHINGS", "outcome": "connect"})
    params = _query(r.headers["location"])
    assert params["user_id"] == link["user_id"] and params["resource"] == "WITHINGS"
    assert emu.users[0]["user_id"] == link["user_id"]
    assert http.get(link["auth_url"]).status_code == 410


def test_mobile_sdk_token_is_single_use_and_expires(emu: Emulator, http: httpx.Client, auth) -> None:
    token = http.post("/api/v2/auth/tokens?reference_id=m1", headers=auth).json()["token"]
    r = http.post("/mobile-sdk/connect", json={"token": token, "provider": "APPLE"})
    assert r.status_code == 200
    user = r.json()["user"]
    assert user["provider"] == "APPLE" and user["reference_id"] == "m1"
    assert emu.deliveries[-1].payload["type"] == "auth"
    reused = http.post("/mobile-sdk/connect", json={"token": token})
    assert reused.status_code == 409 and "already used" in reused.json()["message"]
    late = http.post("/v2/auth/generateAuthToken", headers=auth).json()["token"]
    emu.clock.advance(181)
    expired = http.post("/mobile-sdk/connect", json={"token": late})
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
    assert http.post("/mobile-sdk/connect", content=b"").status_code == 400


def test_mobile_reinstall_replaces_the_connection(emu: Emulator, http: httpx.Client, auth) -> None:
    ids = []
    for _ in range(2):
        token = http.post("/api/v2/auth/tokens?reference_id=phone", headers=auth).json()["token"]
        ids.append(http.post("/mobile-sdk/connect", json={"token": token}).json()["user"]["user_id"])
    assert [u["user_id"] for u in emu.users] == [ids[1]]
    reauth = [d.payload for d in emu.deliveries if d.event_type == "user_reauth"]
    assert reauth and reauth[0]["old_user"]["user_id"] == ids[0]
    assert json.loads(emu.deliveries[-1].body)["new_user"]["user_id"] == ids[1]


def test_show_disconnect_lists_and_disconnects_existing_connections(
    emu: Emulator, http: httpx.Client, auth
) -> None:
    user = emu.connect("testing", provider="OURA", reference_id="sd")
    emu.connect("testing", provider="GARMIN", reference_id="someone-else")
    session = _session(http, auth, reference_id="sd")
    assert "data-connected" not in http.get(session["url"]).text  # only when asked
    r = http.post("/api/widget/session", headers=auth, json={"reference_id": "sd", "show_disconnect": "true"})
    url = r.json()["url"]
    page = http.get(url).text
    assert re.findall(r'data-connected="([A-Z]+)"', page) == ["OURA"]
    done = http.post(url + "/disconnect", data={"user_id": user["user_id"]})
    assert done.status_code == 303
    assert [u["reference_id"] for u in emu.users] == ["someone-else"]
    assert emu.wait_for_deliveries(1, event_type="deauth", delivered=False)
    bad = http.post("/api/widget/session", headers=auth, json={"show_disconnect": 3})
    assert bad.status_code == 400
