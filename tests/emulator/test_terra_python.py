"""Terra's official Python client, unchanged, pointed at the emulator with base_url."""

from __future__ import annotations

import pytest

from terra_auth.emulator import Emulator

terra = pytest.importorskip("terra", reason="terra-python (the sdk extra) is not installed")


@pytest.mark.parametrize("prefix", ["/v2", "/api/v2"])
def test_official_client_runs_the_auth_flow(prefix: str) -> None:
    from terra import Terra

    with Emulator(seed=4, time_scale=0.001, deauth_delay=0) as emu:
        account = emu.environments["testing"]
        client = Terra(dev_id=account.dev_id, api_key=account.api_key, base_url=emu.url + prefix)

        integrations = client.integrations.fetch()
        assert "FITBIT" in integrations.providers and integrations.status == "success"

        session = client.authentication.generatewidgetsession(
            providers="FITBIT,GARMIN",
            language="en",
            reference_id="official-1",
            auth_success_redirect_url="https://app.example/ok",
            auth_failure_redirect_url="https://app.example/fail",
        )
        assert session.url == f"{emu.url}/widget/session/{session.session_id}"
        assert session.expires_in == 900

        token = client.authentication.generateauthtoken()
        assert token.expires_in == 180 and len(token.token) == 64

        link = client.authentication.authenticateuser(resource="OURA", reference_id="official-1")
        assert link.user_id and link.auth_url.startswith(f"{emu.url}/widget/login/")

        user = emu.connect("testing", provider="FITBIT", reference_id="official-1")
        info = client.user.getinfoforuserid(user_id=user["user_id"])
        assert info.user.user_id == user["user_id"] and info.user.reference_id == "official-1"
        by_reference = client.user.getinfoforuserid(reference_id="official-1")
        assert [u.user_id for u in by_reference] == [user["user_id"]]

        done = client.authentication.deauthenticateuser(user_id=user["user_id"])
        assert done.status == "success"
        assert emu.users == []
        (deauth,) = emu.wait_for_deliveries(1, event_type="deauth", delivered=False)
        assert deauth.payload["user"]["user_id"] == user["user_id"]


def test_official_client_sees_the_errors_it_expects() -> None:
    from terra import Terra
    from terra.core.api_error import ApiError

    with Emulator(seed=4) as emu:
        account = emu.environments["testing"]
        client = Terra(dev_id=account.dev_id, api_key="wrong", base_url=emu.url + "/v2")
        with pytest.raises(ApiError) as info:
            client.authentication.generateauthtoken()
        assert info.value.status_code == 401
        assert info.value.body["title"] == "unauthorized"
