"""Bad arguments are refused before any request, with a hint (pure, no HTTP)."""

from __future__ import annotations

import pytest

from terra_auth._operations import check_id, check_language, check_redirect_url, providers_csv
from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import InvalidRequestError
from terra_auth.secret import Secret


def creds(env: Environment = Environment.TESTING, hosts: tuple[str, ...] = ()) -> TerraCredentials:
    return TerraCredentials(
        environment=env,
        dev_id="acme-dev",
        api_key=Secret("fake-key-val-0001"),
        allowed_redirect_hosts=hosts,
    )


def test_providers_are_upper_cased_deduplicated_and_joined() -> None:
    assert providers_csv(["fitbit", " Garmin ", "FITBIT"]) == "FITBIT,GARMIN"
    assert providers_csv("oura,withings") == "OURA,WITHINGS"
    assert providers_csv(None) is None


@pytest.mark.parametrize("bad", [["FIT BIT"], ["fitbit,garmin;drop"], [""], [], ["x"], [3]])
def test_bad_providers_are_refused_with_a_hint(bad: list[object]) -> None:
    with pytest.raises(InvalidRequestError) as info:
        providers_csv(bad)  # type: ignore[arg-type]
    assert info.value.hint


@pytest.mark.parametrize(
    ("url", "env", "ok"),
    [
        ("https://app.example.com/ok", Environment.PRODUCTION, True),
        ("http://app.example.com/ok", Environment.TESTING, True),
        ("http://app.example.com/ok", Environment.STAGING, False),
        ("http://localhost:8000/ok", Environment.PRODUCTION, True),
        ("http://127.0.0.1:8000/ok", Environment.PRODUCTION, True),
        ("javascript:alert(1)", Environment.TESTING, False),
        ("ftp://app.example.com/", Environment.TESTING, False),
        ("/relative/path", Environment.TESTING, False),
        ("https:///nohost", Environment.TESTING, False),
        ("", Environment.TESTING, False),
    ],
)
def test_redirect_url_rules(url: str, env: Environment, ok: bool) -> None:
    if ok:
        assert check_redirect_url("success_url", url, creds(env)) == url
    else:
        with pytest.raises(InvalidRequestError) as info:
            check_redirect_url("success_url", url, creds(env))
        assert "success_url" in str(info.value)
        assert info.value.hint


def test_allowlist_is_enforced_when_set() -> None:
    c = creds(Environment.PRODUCTION, ("app.example.com", "*.example.org", "localhost:3000"))
    assert check_redirect_url("u", "https://app.example.com/x", c)
    assert check_redirect_url("u", "https://a.b.example.org/x", c)
    assert check_redirect_url("u", "http://localhost:3000/x", c)
    for bad in (
        "https://evil.example.net/x",
        "http://localhost:4000/x",
        "https://example.org.evil.io/",
    ):
        with pytest.raises(InvalidRequestError) as info:
            check_redirect_url("u", bad, c)
        assert "TERRA_ALLOWED_REDIRECT_HOSTS" in (info.value.hint or "")


def test_ids_and_languages() -> None:
    assert check_id("user_id", "3f2a-1") == "3f2a-1"
    assert check_language("pt-BR") == "pt-BR"
    for bad in ("", "has space", "new\nline", "x" * 300):
        with pytest.raises(InvalidRequestError):
            check_id("user_id", bad)
    with pytest.raises(InvalidRequestError):
        check_language("english please")
