"""The pytest plugin as users get it (entry point pytest11): fixtures in a user's suite."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_plugin_fixtures_in_a_user_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx, json
        import pytest

        def test_connect(terra_emulator, terra_credentials):
            user = terra_emulator.connect("testing", provider="FITBIT", reference_id="u1")
            r = httpx.get(terra_credentials.api_base_url + "/userInfo",
                          params={"user_id": user["user_id"]},
                          headers={"dev-id": terra_credentials.dev_id,
                                   "x-api-key": terra_credentials.api_key.reveal()})
            assert r.json()["user"]["reference_id"] == "u1"

        @pytest.mark.terra_emulator(error_style="legacy")
        def test_marker_options(terra_emulator):
            r = httpx.get(terra_emulator.url + "/v2/subscriptions")
            assert r.json()["status"] == "error"

        def test_sign(sign_terra_webhook):
            headers = sign_terra_webhook({"type": "auth"}, "whsec_test", timestamp=1723808700)
            assert headers["terra-signature"] == headers["X-Terra-Signature"]
            assert headers["terra-signature"].startswith("t=1723808700,v1=")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_sign_helper_matches_the_documented_vector() -> None:
    from terra_auth.testing import sign_terra_webhook

    headers = sign_terra_webhook(
        '{"type":"auth","status":"success"}', "whsec_test", timestamp=1723808700
    )
    assert headers["terra-signature"] == (
        "t=1723808700,v1=da461831d52bbcc2cebeb4a2048a56e013726c049d784421bd4b27686f469964"
    )
