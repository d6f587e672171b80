"""Settings, reference ids, the rate limiter, the demo cookie and page escaping."""

from __future__ import annotations

import pytest

from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import ConfigurationError, InvalidRequestError
from terra_auth.secret import Secret
from terra_auth.service.auth import DemoLogin, load_current_user
from terra_auth.service.core import Landing, RateLimiter, ServiceCore, reference_id_for
from terra_auth.service.pages import demo_page, landing_page
from terra_auth.service.settings import ServiceSettings


def test_settings_from_env_reads_service_variables_only():
    s = ServiceSettings.from_env(
        {
            "TERRA_SERVICE_ENVIRONMENTS": "stage, testing",
            "DATABASE_URL": "postgresql+psycopg://db/terra",
            "TERRA_SERVICE_PUBLIC_URL": "https://app.example.com/",
            "TERRA_SERVICE_MOBILE_TOKEN_LIMIT": "3",
            "TERRA_SERVICE_WEBHOOK_MAX_BYTES": "2_000_000",
            "TERRA_API_KEY": "ignored-here",
        }
    )
    assert s.environments == (Environment.STAGING, Environment.TESTING)
    assert s.primary_environment is Environment.STAGING
    assert s.success_url == "https://app.example.com/terra/connected"
    assert s.failure_url == "https://app.example.com/terra/failed"
    assert s.mobile_token_limit == 3
    assert s.webhook_max_bytes == 2_000_000
    assert s.auto_migrate is True and s.demo is False


def test_settings_fall_back_to_terra_env():
    assert ServiceSettings.from_env({"TERRA_ENV": "prod"}).environments == (
        Environment.PRODUCTION,
    )
    assert ServiceSettings.from_env({}).environments == (Environment.TESTING,)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"TERRA_SERVICE_MOBILE_TOKEN_LIMIT": "many"}, "TERRA_SERVICE_MOBILE_TOKEN_LIMIT"),
        ({"TERRA_SERVICE_MOBILE_TOKEN_WINDOW": "0"}, "TERRA_SERVICE_MOBILE_TOKEN_WINDOW"),
        ({"TERRA_SERVICE_DEMO": "maybe"}, "TERRA_SERVICE_DEMO"),
        ({"TERRA_SERVICE_SUCCESS_URL": "/relative"}, "TERRA_SERVICE_SUCCESS_URL"),
        ({"TERRA_SERVICE_FAILURE_URL": "javascript:alert(1)"}, "TERRA_SERVICE_FAILURE_URL"),
        ({"TERRA_SERVICE_ENVIRONMENTS": "moon"}, "moon"),
        ({"TERRA_SERVICE_CURRENT_USER": "not a path"}, "TERRA_SERVICE_CURRENT_USER"),
    ],
)
def test_bad_settings_name_the_variable_and_hint(environ, named):
    with pytest.raises(ConfigurationError) as info:
        ServiceSettings.from_env(environ)
    assert named in str(info.value)
    assert info.value.hint


def test_redirects_the_terra_client_would_refuse_are_refused_at_start(fake_secret):
    with pytest.raises(ConfigurationError) as info:
        ServiceSettings.from_env({"TERRA_SERVICE_SUCCESS_URL": "myapp://terra/connected"})
    assert "TERRA_SERVICE_SUCCESS_URL" in str(info.value)
    staging = TerraCredentials(
        Environment.STAGING, "dev-staging", Secret(fake_secret("key")),
        allowed_redirect_hosts=("app.example.com",),
    )
    plain_http = ServiceSettings(
        environments=(Environment.STAGING,), public_url="http://app.example.com"
    )
    with pytest.raises(ConfigurationError) as info:
        ServiceCore(plain_http, {Environment.STAGING: staging})
    assert "https" in str(info.value) and "staging" in str(info.value)
    elsewhere = ServiceSettings(
        environments=(Environment.STAGING,), public_url="https://other.example.com"
    )
    with pytest.raises(ConfigurationError) as info:
        ServiceCore(elsewhere, {Environment.STAGING: staging})
    assert "TERRA_ALLOWED_REDIRECT_HOSTS" in (info.value.hint or "")
    ok = ServiceSettings(environments=(Environment.STAGING,), public_url="https://app.example.com")
    assert ServiceCore(ok, {Environment.STAGING: staging}).settings is ok


def test_demo_login_is_refused_with_production():
    with pytest.raises(ConfigurationError) as info:
        ServiceSettings.from_env({"TERRA_SERVICE_DEMO": "1", "TERRA_ENV": "production"})
    assert "production" in str(info.value) and "TERRA_SERVICE_DEMO" in (info.value.hint or "")
    assert info.value.guard == "demo_login_production"


def test_demo_login_is_refused_with_production_credentials(fake_secret):
    # the served name says testing, but the credentials handed over are production ones
    creds = TerraCredentials(Environment.PRODUCTION, "dev-prod", Secret(fake_secret("key")))
    with pytest.raises(ConfigurationError) as info:
        ServiceCore(ServiceSettings(demo=True), {Environment.TESTING: creds})
    assert info.value.guard == "demo_login_production"


def test_missing_credentials_for_a_served_environment():
    with pytest.raises(ConfigurationError) as info:
        ServiceCore(ServiceSettings(environments=(Environment.STAGING,)), {})
    assert "staging" in str(info.value) and info.value.hint


def test_pseudonymous_reference_ids(fake_secret):
    key = Secret(fake_secret("refkey"))
    ref = reference_id_for("alice@example.com", key)
    assert ref.startswith("ta_") and "alice" not in ref
    assert ref == reference_id_for("alice@example.com", Secret(key.reveal()))
    assert ref != reference_id_for("bob@example.com", key)
    assert ref != reference_id_for("alice@example.com", Secret(fake_secret("other")))
    assert reference_id_for("alice", None) == "alice"


def test_rate_limiter_window_and_retry_after():
    now = [100.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    assert limiter.hit("a") is None
    now[0] = 110.0
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(50.0)  # the first hit leaves the window at 160
    assert limiter.hit("b") is None  # per user
    now[0] = 160.0
    assert limiter.hit("a") is None


def test_demo_cookie_roundtrip_and_forgery(fake_secret):
    login = DemoLogin(Secret(fake_secret("cookie")))
    value = login.issue("alice")
    assert login.read(value) == "alice"
    assert login.read(value[:-2] + "xx") is None
    assert DemoLogin(Secret(fake_secret("other"))).read(value) is None
    assert login.read(None) is None
    with pytest.raises(InvalidRequestError) as info:
        login.issue("<script>")
    assert info.value.hint
    options = login.cookie_options(secure=False)
    assert options["httponly"] is True and options["samesite"] == "lax"


def test_load_current_user_errors():
    assert callable(load_current_user("terra_auth.service.auth:no_user"))
    with pytest.raises(ConfigurationError) as info:
        load_current_user("no_such_module_xyz:f")
    assert "TERRA_SERVICE_CURRENT_USER" in (info.value.hint or "")


def test_pages_escape_every_value():
    html = demo_page("<b>x</b>", demo_login=True)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    page = landing_page(
        Landing("success", logged_in=True, confirmed_provider="<img src=x>"), home_url="/"
    )
    assert "<img src=x>" not in page
    assert "<script>" not in page.replace('<script src="/terra/assets/app.js" defer>', "")


def test_every_setting_is_documented():
    from pathlib import Path

    from terra_auth.service.settings import VARIABLES

    docs = (Path(__file__).resolve().parents[2] / "docs" / "service.md").read_text()
    missing = [name for name in VARIABLES if f"`{name}" not in docs]
    assert missing == [], f"document these in docs/service.md: {missing}"


def test_current_user_ids_are_checked(fake_secret):
    from terra_auth.service.core import _check_user

    assert _check_user(42) == "42"
    assert _check_user("alice") == "alice"
    for bad in ("", "x" * 300, True, 1.5, b"alice"):
        with pytest.raises(ConfigurationError) as info:
            _check_user(bad)
        assert "current_user" in str(info.value) and info.value.hint


def test_user_ids_with_spaces_need_the_reference_key(fake_secret):
    creds = {Environment.TESTING: TerraCredentials(Environment.TESTING, "d", Secret(fake_secret("k")))}
    plain = ServiceCore(ServiceSettings(), creds)
    with pytest.raises(ConfigurationError) as info:
        plain.reference_id("Alice Smith")
    assert "TERRA_SERVICE_REFERENCE_KEY" in (info.value.hint or "")
    keyed = ServiceCore(ServiceSettings(reference_key=Secret(fake_secret("ref"))), creds)
    assert keyed.reference_id("Alice Smith").startswith("ta_")


def test_a_failed_start_closes_what_it_opened(tmp_path, fake_secret):
    creds = {Environment.TESTING: TerraCredentials(Environment.TESTING, "d", Secret(fake_secret("k")))}
    from terra_auth.service.demo import bind_socket
    from terra_auth.store import StoreUnavailable

    sock = bind_socket("127.0.0.1", 0)  # a port where nothing listens once closed
    port = sock.getsockname()[1]
    sock.close()
    core = ServiceCore(
        ServiceSettings(database_url=f"postgresql+psycopg://terra@127.0.0.1:{port}/terra"), creds
    )
    with pytest.raises(StoreUnavailable) as info:
        core.start()
    assert info.value.hint
    assert core.clients == {} and core._owned == []


def test_an_unusable_sqlite_path_is_a_configuration_error(tmp_path, fake_secret):
    creds = {Environment.TESTING: TerraCredentials(Environment.TESTING, "d", Secret(fake_secret("k")))}
    (tmp_path / "a-file").write_text("not a directory")
    core = ServiceCore(ServiceSettings(database_url=f"sqlite:///{tmp_path / 'a-file' / 'x.db'}"), creds)
    with pytest.raises(ConfigurationError) as info:
        core.start()
    assert "DATABASE_URL" in (info.value.hint or "") and "a-file" in str(info.value)
    assert core.clients == {}
